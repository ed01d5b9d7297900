/** Membership: a convergent view (entries merged by a total order, ring order from a tree of placements). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compareEntries, inRing, Membership, treeOrder, type Member, type Status } from '../../src/ring/membership.js';
import { prng, shuffle } from '../random.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';
const C = '127.0.0.1:4045';
const D = '127.0.0.1:4046';
const X = '127.0.0.1:4050';
const Y = '127.0.0.1:4051';

const STATUSES: readonly Status[] = ['alive', 'suspect', 'dead', 'left'];

function entry(address: string, incarnation: number, status: Status, placed: number, after?: string): Member {
  return after === undefined ? { address, incarnation, status, placed } : { address, incarnation, status, after, placed };
}

function pick<T>(items: readonly T[], random: () => number): T {
  assert.ok(items.length > 0, 'pick from an empty list');
  return items[Math.floor(random() * items.length)]!;
}

/** Splits a list into consecutive batches of 1 to `max` entries. */
function batches<T>(items: readonly T[], random: () => number, max = 8): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length;) {
    const size = 1 + Math.floor(random() * max);
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

function key(member: Member): string {
  return JSON.stringify([member.address, member.incarnation, member.status, member.after ?? null, member.placed]);
}

function sign(n: number): number {
  return n > 0 ? 1 : n < 0 ? -1 : 0;
}

/** A ring A -> B -> C on A's replica (B placed after A, C after B). */
function ringOfThree(): Membership {
  const m = new Membership(A, 0);
  assert.equal(m.place(B, 1), true);
  assert.equal(m.place(C, 2, B), true);
  assert.deepEqual(m.ring(), [A, B, C]);
  return m;
}

/** A fresh replica for `self` that has merged `entries`. */
function replicaOf(self: string, entries: readonly Member[], now = 0): Membership {
  const m = new Membership(self, 0);
  m.merge(entries, now);
  return m;
}

describe('compareEntries', () => {
  const cases: ReadonlyArray<{ name: string; a: Member; b: Member }> = [
    { name: 'a higher incarnation beats a lower one, alive over dead', a: entry(X, 2, 'alive', 1, A), b: entry(X, 1, 'dead', 1, A) },
    { name: 'a higher incarnation beats a lower one, alive over left', a: entry(X, 1, 'alive', 1, A), b: entry(X, 0, 'left', 1, A) },
    { name: 'a higher incarnation beats a later placement', a: entry(X, 1, 'alive', 1, A), b: entry(X, 0, 'alive', 99, B) },
    { name: 'same incarnation: suspect beats alive', a: entry(X, 3, 'suspect', 1, A), b: entry(X, 3, 'alive', 1, A) },
    { name: 'same incarnation: suspect beats a later-placed alive', a: entry(X, 3, 'suspect', 1, A), b: entry(X, 3, 'alive', 50, B) },
    { name: 'same incarnation: dead beats suspect', a: entry(X, 0, 'dead', 1, A), b: entry(X, 0, 'suspect', 1, A) },
    { name: 'same incarnation: dead beats alive', a: entry(X, 0, 'dead', 1, A), b: entry(X, 0, 'alive', 9, A) },
    { name: 'same incarnation: left beats suspect', a: entry(X, 0, 'left', 1, A), b: entry(X, 0, 'suspect', 1, A) },
    { name: 'same incarnation: left beats alive', a: entry(X, 0, 'left', 1, A), b: entry(X, 0, 'alive', 1, A) },
    { name: 'same incarnation: left beats dead', a: entry(X, 0, 'left', 1, A), b: entry(X, 0, 'dead', 1, A) },
    { name: 'same incarnation: left beats a later-placed dead', a: entry(X, 0, 'left', 1, A), b: entry(X, 0, 'dead', 7, B) },
    { name: 'same incarnation and status: the later placement wins', a: entry(X, 0, 'alive', 5, A), b: entry(X, 0, 'alive', 4, B) },
  ];
  for (const { name, a, b } of cases) {
    test(name, () => {
      assert.ok(compareEntries(a, b) > 0, `${key(a)} should beat ${key(b)}`);
      assert.ok(compareEntries(b, a) < 0, `${key(b)} should lose to ${key(a)}`);
    });
  }

  // Every combination of a few values: small enough to check all pairs and the sorted order.
  const universe: Member[] = [];
  for (const incarnation of [0, 1, 2])
    for (const status of STATUSES)
      for (const placed of [0, 5, 9]) for (const after of [undefined, A, C]) universe.push(entry(X, incarnation, status, placed, after));

  test(`is a strict total order on ${universe.length} distinct entries of one address`, () => {
    for (const a of universe) {
      assert.equal(compareEntries(a, a), 0, `${key(a)} equals itself`);
      for (const b of universe) {
        if (a === b) continue;
        assert.notEqual(compareEntries(a, b), 0, `${key(a)} and ${key(b)} differ, so one must win`);
        assert.equal(sign(compareEntries(a, b)), -sign(compareEntries(b, a)), `antisymmetric on ${key(a)}, ${key(b)}`);
      }
    }
    // Transitive: once sorted, every earlier entry is below every later one.
    const sorted = [...universe].sort(compareEntries);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        assert.ok(compareEntries(sorted[i]!, sorted[j]!) < 0, `${key(sorted[i]!)} < ${key(sorted[j]!)}`);
      }
    }
  });

  // Folded copies of one placement: by anchor, forgotten hops and slot.
  const folded: Member[] = [];
  for (const status of ['alive', 'dead'] as const)
    for (const after of [A, C])
      for (const via of [
        undefined,
        [{ address: B, placed: 1 }],
        [
          { address: B, placed: 1 },
          { address: D, placed: 2 },
        ],
      ])
        for (const slot of [undefined, { address: B, placed: 1 }, { address: D, placed: 3 }])
          folded.push({ ...entry(X, 0, status, 5, after), via, slot });

  test(`is a strict total order on ${folded.length} folded copies of one placement, and merge keeps the winner in any order`, () => {
    const text = (m: Member) => JSON.stringify(m);
    for (const a of folded) {
      for (const b of folded) {
        if (a === b) continue;
        assert.notEqual(compareEntries(a, b), 0, `${text(a)} and ${text(b)} differ, so one must win`);
        assert.equal(sign(compareEntries(a, b)), -sign(compareEntries(b, a)), `antisymmetric on ${text(a)}, ${text(b)}`);
        const winner = compareEntries(a, b) > 0 ? a : b;
        for (const m of [replicaOf(D, [a, b]), replicaOf(D, [b, a])]) assert.equal(compareEntries(m.get(X)!, winner), 0);
      }
    }
    const sorted = [...folded].sort(compareEntries);
    for (let i = 0; i + 1 < sorted.length; i++)
      for (let j = i + 1; j < sorted.length; j++) assert.ok(compareEntries(sorted[i]!, sorted[j]!) < 0);
  });

  test('merge keeps, for each address, the entry that compareEntries ranks highest, in any order', () => {
    for (const a of universe) {
      for (const b of universe) {
        const winner = compareEntries(a, b) >= 0 ? a : b;
        const together = replicaOf(D, [a, b]);
        const reversed = replicaOf(D, [b, a]);
        const apart = new Membership(D, 0);
        apart.merge([b], 0);
        apart.merge([a], 0);
        for (const m of [together, reversed, apart]) assert.deepEqual(m.get(X), winner, `${key(a)} vs ${key(b)}`);
      }
    }
  });
});

describe('treeOrder', () => {
  test('walks placements depth-first, latest sibling first, roots oldest first', () => {
    const order = treeOrder([
      entry(A, 0, 'alive', 0),
      entry(B, 0, 'alive', 1, A),
      entry(C, 0, 'alive', 3, A),
      entry(D, 0, 'alive', 2, B),
      entry(X, 0, 'alive', 10), // a second, younger root
      entry(Y, 0, 'alive', 4, '10.0.0.1:1'), // placed after a member nobody knows: a root
    ]).map((m) => m.address);
    assert.deepEqual(order, [A, C, B, D, Y, X]);
  });

  test('a member placed after itself is a root, listed once', () => {
    const order = treeOrder([entry(A, 0, 'alive', 0), entry(B, 0, 'alive', 1, B)]).map((m) => m.address);
    assert.deepEqual(order, [A, B]);
  });
});

describe('Membership ring order', () => {
  test('a newcomer placed after X sits right after X', () => {
    const m = ringOfThree();
    assert.equal(m.place(X, 10, B), true);
    assert.deepEqual(m.ring(), [A, B, X, C]);
    assert.equal(m.get(X)?.after, B);
    assert.equal(m.get(X)?.status, 'alive');
    assert.equal(m.get(X)?.incarnation, 0);
  });

  test('a newcomer placed after the last member closes the circle', () => {
    const m = ringOfThree();
    m.place(X, 10, C);
    assert.deepEqual(m.ring(), [A, B, C, X]);
  });

  test('place() defaults to this server as the anchor', () => {
    const m = ringOfThree();
    m.place(X, 10);
    assert.deepEqual(m.ring(), [A, X, B, C]);
  });

  test('two newcomers placed after the same member: the later one comes first', () => {
    const m = ringOfThree();
    m.place(X, 10, B);
    m.place(Y, 20, B);
    assert.deepEqual(m.ring(), [A, B, Y, X, C]);
  });

  test('a placement is later than every one already known even when the clock says otherwise', () => {
    const m = new Membership(A, 0);
    m.merge([entry(B, 0, 'alive', 1000, A)], 0);
    assert.equal(m.place(X, 5), true); // our clock is behind the one that placed B
    assert.deepEqual(m.ring(), [A, X, B]);
    assert.ok(m.get(X)!.placed > 1000);
  });

  test('concurrent placements after the same member get one order on every replica (seed 11)', () => {
    const random = prng(11);
    const base = ringOfThree().all();
    const r1 = replicaOf(A, base);
    const r2 = replicaOf(C, base);
    r1.place(X, 10, B);
    r2.place(Y, 10, B); // same time, same anchor: the address breaks the tie
    const placements = [...r1.all(), ...r2.all()];
    const views = [r1, r2, replicaOf(B, [])].map((m) => {
      for (const batch of batches(shuffle(placements, random), random, 3)) m.merge(batch, 20);
      return m.ring();
    });
    for (const ring of views.slice(1)) assert.deepEqual(ring, views[0]);
    assert.deepEqual(views[0]!.slice(0, 2), [A, B]);
    assert.deepEqual(new Set(views[0]!.slice(2, 4)), new Set([X, Y]));
    assert.equal(views[0]![4], C);
  });

  test('concurrent placements at different members each sit right after their anchor', () => {
    const base = ringOfThree().all();
    const r1 = replicaOf(A, base);
    const r2 = replicaOf(C, base);
    r1.place(X, 10, A);
    r2.place(Y, 11, C);
    r1.merge(r2.all(), 12);
    r2.merge(r1.all(), 12);
    assert.deepEqual(r1.ring(), [A, X, B, C, Y]);
    assert.deepEqual(r2.ring(), r1.ring());
    assert.deepEqual(r2.all(), r1.all());
  });

  test('a dead member leaves the ring but still anchors the members placed after it', () => {
    const m = ringOfThree();
    m.place(X, 10, B);
    assert.equal(m.declareDead(B), true);
    assert.deepEqual(m.ring(), [A, X, C]);
    assert.deepEqual(
      m.all().map((e) => e.address),
      [A, B, X, C],
    );
    assert.equal(m.get(B)?.status, 'dead');
    // Another replica that learns it all sees the same.
    const other = replicaOf(D, m.all());
    assert.deepEqual(
      other.ring().filter((a) => a !== D),
      [A, X, C],
    );
  });

  test('a member placed after a dead one after its death still sits where it was', () => {
    const m = ringOfThree();
    m.declareDead(B);
    assert.equal(m.place(X, 10, B), true);
    assert.deepEqual(m.ring(), [A, X, C]);
  });

  const cycles: ReadonlyArray<{ name: string; entries: Member[] }> = [
    { name: 'A after B, B after A', entries: [entry(A, 0, 'alive', 2, B), entry(B, 0, 'alive', 3, A)] },
    {
      name: 'A after B, B after A, with a root C',
      entries: [entry(C, 0, 'alive', 0), entry(A, 0, 'alive', 2, B), entry(B, 0, 'alive', 3, A)],
    },
    {
      name: 'A -> B -> C -> A, with X placed after C',
      entries: [entry(A, 0, 'alive', 4, C), entry(B, 0, 'alive', 2, A), entry(C, 0, 'alive', 3, B), entry(X, 0, 'alive', 5, C)],
    },
  ];
  for (const { name, entries } of cycles) {
    test(`a cycle of placements (${name}) yields every member once, in one order on every replica`, () => {
      const addresses = entries.map((e) => e.address);
      const random = prng(entries.length);
      const rings = addresses.flatMap((self) =>
        [0, 1, 2].map(() => {
          const m = new Membership(self, 0);
          for (const batch of batches(shuffle(entries, random), random, 2)) m.merge(batch, 0);
          return m;
        }),
      );
      for (const m of rings) {
        assert.equal(m.ring().length, addresses.length);
        assert.deepEqual(new Set(m.ring()), new Set(addresses));
        assert.deepEqual(m.ring(), rings[0]!.ring());
        assert.deepEqual(m.all(), rings[0]!.all());
      }
    });
  }

  test('ten servers joining at once through three anchors end in one ring of 13 (seed 2025)', () => {
    const random = prng(2025);
    const P = ['127.0.0.1:5001', '127.0.0.1:5002', '127.0.0.1:5003'];
    const N = Array.from({ length: 10 }, (_, i) => `127.0.0.1:${6000 + i}`);
    const p0 = new Membership(P[0]!, 0);
    p0.place(P[1]!, 1);
    p0.place(P[2]!, 2, P[1]);
    const anchors = [p0, replicaOf(P[1]!, p0.all(), 3), replicaOf(P[2]!, p0.all(), 3)];
    for (const m of anchors) assert.deepEqual(m.ring(), P);
    // Each anchor places its newcomers on its own replica, knowing nothing of the others'.
    const newcomers: Membership[] = [];
    N.forEach((address, i) => {
      const anchor = anchors[i % 3]!;
      const now = 10 + i;
      const fresh = new Membership(address, now); // started just before its INSERT arrived
      assert.equal(anchor.place(address, now), true);
      fresh.merge(anchor.all(), now);
      newcomers.push(fresh);
    });
    for (const [i, m] of anchors.entries()) assert.equal(m.ring().length, 3 + N.filter((_, j) => j % 3 === i).length);
    // Gossip: everybody merges everybody, in random orders, until nothing changes.
    const all = [...anchors, ...newcomers];
    for (let round = 0; round < 5; round++) {
      let changed = false;
      for (const to of shuffle(all, random)) for (const from of shuffle(all, random)) changed = to.merge(from.all(), 30).changed || changed;
      if (!changed) break;
    }
    const expected = [P[0], N[9], N[6], N[3], N[0], P[1], N[7], N[4], N[1], P[2], N[8], N[5], N[2]];
    for (const m of all) {
      assert.deepEqual(m.ring(), expected, `ring on ${m.self}`);
      assert.deepEqual(m.all(), all[0]!.all(), `entries on ${m.self}`);
      assert.equal(m.incarnation, 0);
    }
    assert.equal(new Set(expected).size, 13);
  });

  test('a newcomer whose clock is ahead of its anchor still sits right after the anchor', () => {
    // The anchor (clock at ~100) places B; B's process started at 500 on its own clock.
    const anchor = new Membership(A, 0);
    anchor.place(C, 1);
    const joiner = new Membership(B, 500);
    anchor.place(B, 100);
    assert.deepEqual(anchor.ring(), [A, B, C]);
    joiner.merge(anchor.all(), 500);
    anchor.merge(joiner.all(), 101);
    assert.equal(joiner.get(B)?.after, A, 'the joiner should adopt the placement its anchor gave it');
    assert.deepEqual(joiner.ring(), [A, B, C]);
    assert.deepEqual(anchor.ring(), [A, B, C]);
  });
});

describe('Membership convergence (randomized)', () => {
  const POOL = Array.from({ length: 12 }, (_, i) => `127.0.0.1:${4043 + i}`);
  /** Never suspected, declared dead, crashed or leaving: their replicas need no refutation. */
  const STEADY = new Set(POOL.slice(0, 3));
  const SUSPICION_MS = 6;

  /**
   * Servers that join, place newcomers after members of their own view,
   * crash and restart, suspect, declare dead, expire suspicions, leave and
   * gossip (refuting when accused). Returns every entry any of them ever held.
   * The STEADY members only ever act; the others are also acted upon.
   */
  function simulate(seed: number, steps: number): Member[] {
    const random = prng(seed);
    const running = new Map<string, Membership>([[POOL[0]!, new Membership(POOL[0]!, 0)]]);
    const unused = POOL.slice(1);
    const down = new Set<string>();
    const bag = new Map<string, Member>();
    let now = 0;
    for (let step = 0; step < steps; step++) {
      now += 1 + Math.floor(random() * 3);
      const procs = [...running.values()];
      const p = pick(procs, random);
      const others = procs.filter((q) => q !== p);
      const r = random();
      if (r < 0.2 && (unused.length > 0 || down.size > 0)) {
        // A newcomer (or a restarted server) sends INSERT to p, which places it after one of its members.
        const address = unused.length > 0 && (down.size === 0 || random() < 0.6) ? unused.shift()! : pick([...down], random);
        down.delete(address);
        const fresh = new Membership(address, now);
        p.place(address, now, pick(p.ring(), random));
        fresh.merge(p.all(), now);
        running.set(address, fresh);
      } else if (r < 0.27 && procs.length > 2 && !STEADY.has(p.self)) {
        running.delete(p.self); // crashes silently
        down.add(p.self);
      } else if (r < 0.4) {
        const target = p.ring().filter((a) => a !== p.self && !STEADY.has(a));
        if (target.length > 0) p.suspect(pick(target, random), now);
      } else if (r < 0.47) {
        const target = p.ring().filter((a) => a !== p.self && !STEADY.has(a));
        if (target.length > 0) p.declareDead(pick(target, random));
      } else if (r < 0.53) {
        p.expireSuspicions(now, SUSPICION_MS);
      } else if (r < 0.56 && procs.length > 2 && !STEADY.has(p.self)) {
        p.leave();
        pick(others, random).merge(p.all(), now);
        running.delete(p.self);
        down.add(p.self);
      } else if (others.length > 0) {
        const q = pick(others, random);
        q.merge(p.all(), now);
        if (random() < 0.5) p.merge(q.all(), now);
      }
      for (const m of running.values()) for (const e of m.all()) bag.set(key(e), e);
    }
    return [...bag.values()];
  }

  function accused(bag: readonly Member[]): Set<string> {
    return new Set(bag.filter((e) => e.status !== 'alive').map((e) => e.address));
  }

  /** A fresh replica for `self` fed `bag` in a shuffled order, in random batches. */
  function feed(self: string, bag: readonly Member[], random: () => number): { m: Membership; refuted: boolean } {
    const m = new Membership(self, 0);
    let refuted = false;
    for (const batch of batches(shuffle(bag, random), random)) refuted = m.merge(batch, 0).refuted || refuted;
    return { m, refuted };
  }

  function assertRingConsistent(m: Membership): void {
    const ring = m.ring();
    assert.equal(new Set(ring).size, ring.length, `no member twice in ${m.self}'s ring`);
    assert.deepEqual(
      ring,
      m
        .all()
        .filter((e) => inRing(e.status))
        .map((e) => e.address),
    );
  }

  for (const seed of [1, 7, 42, 2024, 31337]) {
    test(`every replica fed the same entries in any order and batching ends identical (seed ${seed})`, () => {
      const bag = simulate(seed, 300);
      const statuses = new Set(bag.map((e) => e.status));
      for (const status of STATUSES) assert.ok(statuses.has(status), `the simulation produced ${status} entries`);
      assert.ok(
        bag.some((e) => e.incarnation > 0),
        'the simulation produced refutations or restarts',
      );
      const addresses = [...new Set(bag.map((e) => e.address))];
      const random = prng(seed * 7919);

      // Replicas whose own address was never accused: one round of merging suffices.
      const quiet = addresses.filter((a) => !accused(bag).has(a));
      assert.ok(quiet.length >= 2, `at least two never-accused members (${quiet.length})`);
      const quietReplicas = quiet.flatMap((self) => [0, 1, 2].map(() => feed(self, bag, random)));
      for (const { m, refuted } of quietReplicas) {
        assert.equal(refuted, false);
        assert.deepEqual(m.all(), quietReplicas[0]!.m.all(), `entries on ${m.self}`);
        assert.deepEqual(m.ring(), quietReplicas[0]!.m.ring(), `ring on ${m.self}`);
        assertRingConsistent(m);
      }
      assert.ok(quietReplicas[0]!.m.ring().length >= 2);

      // Every address, accused ones included: they refute, and once their own entries are gossiped everybody agrees.
      const replicas = addresses.flatMap((self) => [0, 1].map(() => feed(self, bag, random).m));
      const own = replicas.map((m) => m.get(m.self)!);
      for (const m of replicas) {
        for (const batch of batches(shuffle(own, random), random, 4)) assert.equal(m.merge(batch, 0).refuted, false);
      }
      for (const m of replicas) {
        assert.deepEqual(m.all(), replicas[0]!.all(), `entries on ${m.self} after the refutations spread`);
        assert.deepEqual(m.ring(), replicas[0]!.ring(), `ring on ${m.self} after the refutations spread`);
        assertRingConsistent(m);
        assert.equal(m.get(m.self)?.status, 'alive');
      }

      // Idempotent: the same entries again change nothing.
      for (const m of [...quietReplicas.map((q) => q.m), ...replicas]) {
        const before = m.all();
        assert.deepEqual(m.merge(bag, 1), { changed: false, refuted: false }, `merging again on ${m.self}`);
        assert.deepEqual(m.merge(m.all(), 1), { changed: false, refuted: false });
        assert.deepEqual(m.all(), before);
      }
    });

    test(`merging two halves in either order gives the same view (seed ${seed})`, () => {
      const bag = simulate(seed, 200);
      const random = prng(seed + 1);
      const quiet = [...new Set(bag.map((e) => e.address))].filter((a) => !accused(bag).has(a));
      assert.ok(quiet.length > 0);
      for (let trial = 0; trial < 10; trial++) {
        const self = pick(quiet, random);
        const shuffled = shuffle(bag, random);
        const cut = Math.floor(random() * (shuffled.length + 1));
        const first = shuffled.slice(0, cut);
        const second = shuffled.slice(cut);
        const ab = replicaOf(self, first);
        ab.merge(second, 0);
        const ba = replicaOf(self, second);
        ba.merge(first, 0);
        const once = replicaOf(self, bag);
        assert.deepEqual(ab.all(), ba.all(), `trial ${trial}: order of halves`);
        assert.deepEqual(ab.ring(), ba.ring());
        assert.deepEqual(ab.all(), once.all(), `trial ${trial}: halves vs all at once`);
      }
    });
  }
});

describe('Membership refutation', () => {
  /** A's replica in a ring A -> B, with incarnation `incarnation` (reached by refuting). */
  function selfAt(incarnation: number): Membership {
    const m = new Membership(A, 0);
    m.place(B, 1);
    if (incarnation > 0) m.merge([entry(A, incarnation - 1, 'suspect', 0)], 2);
    assert.equal(m.incarnation, incarnation);
    return m;
  }

  const cases: ReadonlyArray<{ status: Status; own: number; claimed: number }> = [
    { status: 'suspect', own: 0, claimed: 0 },
    { status: 'dead', own: 0, claimed: 0 },
    { status: 'left', own: 0, claimed: 0 },
    { status: 'suspect', own: 2, claimed: 2 },
    { status: 'dead', own: 1, claimed: 4 },
    { status: 'suspect', own: 0, claimed: 3 },
  ];
  for (const { status, own, claimed } of cases) {
    test(`a claim that this server is ${status} at incarnation ${claimed} (ours ${own}) is refuted with ${claimed + 1}`, () => {
      const m = selfAt(own);
      const result = m.merge([entry(A, claimed, status, 0)], 10);
      assert.deepEqual(result, { changed: true, refuted: true });
      assert.equal(m.get(A)?.status, 'alive');
      assert.equal(m.incarnation, claimed + 1);
      assert.deepEqual(m.ring(), [A, B]);
    });
  }

  test('a claim about an older incarnation is not refuted again', () => {
    const m = selfAt(2);
    const before = m.all();
    assert.deepEqual(m.merge([entry(A, 1, 'dead', 0)], 10), { changed: false, refuted: false });
    assert.deepEqual(m.all(), before);
  });

  for (const accusation of ['suspect', 'dead'] as const) {
    test(`the refutation, merged into the server that thought us ${accusation}, beats the accusation`, () => {
      const accuser = ringOfThree();
      const accused = replicaOf(B, accuser.all());
      if (accusation === 'suspect') assert.equal(accuser.suspect(B, 10), true);
      else assert.equal(accuser.declareDead(B), true);
      assert.equal(accuser.get(B)?.status, accusation);

      const result = accused.merge(accuser.all(), 11);
      assert.equal(result.refuted, true);
      assert.equal(accused.incarnation, 1);

      accuser.merge(accused.all(), 12);
      assert.equal(accuser.get(B)?.status, 'alive');
      assert.equal(accuser.get(B)?.incarnation, 1);
      assert.deepEqual(accuser.ring(), [A, B, C]);
      assert.deepEqual(accuser.all(), accused.all());
    });
  }

  test('a server that has left is not brought back by claims that it is gone', () => {
    const m = selfAt(0);
    const left = m.leave();
    assert.equal(left.status, 'left');
    assert.equal(left.incarnation, 1);
    for (const status of ['dead', 'suspect', 'left'] as const) {
      assert.equal(m.merge([entry(A, 1, status, 0)], 10).refuted, false, status);
      assert.equal(m.merge([entry(A, 5, status, 0)], 10).refuted, false, status);
      assert.equal(m.get(A)?.status, 'left');
    }
    assert.deepEqual(m.ring(), [B]);
  });

  test('a leaving server is dropped by the others and its leave beats an older death', () => {
    const m = ringOfThree();
    const leaver = replicaOf(B, m.all());
    m.declareDead(B);
    leaver.leave();
    m.merge(leaver.all(), 5);
    assert.equal(m.get(B)?.status, 'left');
    assert.deepEqual(m.ring(), [A, C]);
  });
});

describe('Membership suspicion', () => {
  const TIMEOUT = 80;

  test('suspect() marks an alive member suspect, still in the ring; not itself, not twice, not the dead', () => {
    const m = ringOfThree();
    assert.equal(m.suspect(B, 100), true);
    assert.equal(m.get(B)?.status, 'suspect');
    assert.deepEqual(m.ring(), [A, B, C]);
    assert.equal(m.suspect(B, 110), false);
    assert.equal(m.suspect(A, 100), false);
    assert.equal(m.get(A)?.status, 'alive');
    m.declareDead(C);
    assert.equal(m.suspect(C, 100), false);
    assert.equal(m.suspect(X, 100), false);
  });

  const cases: ReadonlyArray<{ since: number; at: number; dead: boolean }> = [
    { since: 100, at: 100, dead: false },
    { since: 100, at: 100 + TIMEOUT - 1, dead: false },
    { since: 100, at: 100 + TIMEOUT, dead: true },
    { since: 100, at: 1000, dead: true },
  ];
  for (const { since, at, dead } of cases) {
    test(`suspected at ${since}, checked at ${at} with a timeout of ${TIMEOUT}: ${dead ? 'dead' : 'still suspect'}`, () => {
      const m = ringOfThree();
      m.suspect(B, since);
      assert.deepEqual(m.expireSuspicions(at, TIMEOUT), dead ? [B] : []);
      assert.equal(m.get(B)?.status, dead ? 'dead' : 'suspect');
      assert.deepEqual(m.ring(), dead ? [A, C] : [A, B, C]);
    });
  }

  test('an old suspicion expires while a young one stays', () => {
    const m = ringOfThree();
    m.place(X, 3);
    m.suspect(B, 100);
    m.suspect(X, 150);
    assert.deepEqual(m.expireSuspicions(200, TIMEOUT), [B]);
    assert.equal(m.get(X)?.status, 'suspect');
    assert.deepEqual(m.expireSuspicions(230, TIMEOUT), [X]);
    assert.deepEqual(m.expireSuspicions(10_000, TIMEOUT), []);
  });

  test('a suspicion learned from another server expires from when it was learned', () => {
    const m = ringOfThree();
    const suspected = { ...m.get(B)!, status: 'suspect' as const };
    m.merge([suspected], 500);
    assert.equal(m.get(B)?.status, 'suspect');
    assert.deepEqual(m.expireSuspicions(500 + TIMEOUT - 1, TIMEOUT), []);
    assert.deepEqual(m.expireSuspicions(500 + TIMEOUT, TIMEOUT), [B]);
  });

  test('a refutation cancels the pending suspicion, so it never expires into dead', () => {
    const m = ringOfThree();
    m.suspect(B, 100);
    const refutation = { ...m.get(B)!, status: 'alive' as const, incarnation: 1 };
    assert.equal(m.merge([refutation], 120).changed, true);
    assert.equal(m.get(B)?.status, 'alive');
    assert.deepEqual(m.expireSuspicions(100_000, TIMEOUT), []);
    assert.equal(m.get(B)?.status, 'alive');
    assert.deepEqual(m.ring(), [A, B, C]);
  });

  test('a suspicion of a newer incarnation is timed from when it was heard, not from the older one', () => {
    // B was suspected here at 100; B refuted (incarnation 1), somebody suspected it again and only
    // that reached us at 150. It is a new suspicion: B has until 150 + TIMEOUT to refute it.
    const m = ringOfThree();
    m.suspect(B, 100);
    m.merge([{ ...m.get(B)!, status: 'suspect', incarnation: 1 }], 150);
    assert.deepEqual(m.expireSuspicions(150 + TIMEOUT - 1, TIMEOUT), []);
    assert.equal(m.get(B)?.status, 'suspect');
  });
});

describe('Membership.mergePlainList', () => {
  test('adds unknown members right after their predecessor in the list', () => {
    const m = new Membership(A, 0);
    m.place(B, 1);
    assert.equal(m.mergePlainList([A, X, B, Y], 10), true);
    assert.deepEqual(m.ring(), [A, X, B, Y]);
    assert.equal(m.get(X)?.after, A);
    assert.equal(m.get(Y)?.after, B);
    assert.equal(m.get(X)?.status, 'alive');
  });

  test('adds a run of unknown members in list order, wrapping to the front', () => {
    const m = new Membership(B, 0);
    assert.equal(m.mergePlainList([X, Y, B], 10), true);
    assert.deepEqual(m.ring(), [B, X, Y]);
  });

  test("declares dead the members right after its creator that the list leaves out (the creator's dead successors)", () => {
    const m = ringOfThree();
    assert.equal(m.mergePlainList([A, C], 10, A), true);
    assert.equal(m.get(B)?.status, 'dead');
    assert.deepEqual(m.ring(), [A, C]);
  });

  test('keeps members the list leaves out elsewhere: its creator may not have heard of them yet', () => {
    const m = ringOfThree();
    m.place(X, 5, C);
    // Lists from before X joined after C, started by A and by B: what follows each of them in our ring, they list.
    assert.equal(m.mergePlainList([A, B, C], 10, A), false);
    assert.equal(m.mergePlainList([A, B, C], 10, B), false);
    assert.deepEqual(m.ring(), [A, B, C, X]);
  });

  test('refuses a list without this server', () => {
    const m = ringOfThree();
    const before = m.all();
    assert.equal(m.mergePlainList([B, C, X], 10), false);
    assert.deepEqual(m.all(), before);
  });

  test('changes nothing when the list is our ring', () => {
    const m = ringOfThree();
    assert.equal(m.mergePlainList([B, C, A], 10), false);
    assert.deepEqual(m.ring(), [A, B, C]);
  });

  for (const gone of ['dead', 'left'] as const) {
    test(`does not bring back a member we hold ${gone}: an older list still names it`, () => {
      const m = ringOfThree();
      m.merge([{ ...entry(B, 1, gone, 1, A), since: 5 }], 5);
      const held = m.get(B);
      assert.equal(m.mergePlainList([A, B, C], 10, C), false);
      assert.deepEqual(m.get(B), held);
      assert.deepEqual(m.ring(), [A, C]);
    });
  }

  test('adds an unknown member right after its predecessor even when our clock is behind the placements we hold', () => {
    // B was placed (by a server whose clock is ahead) at 100; the UPDATE reaches us at 50 on our clock.
    const m = new Membership(A, 0);
    m.place(B, 100);
    assert.equal(m.mergePlainList([A, X, B], 50), true);
    assert.deepEqual(m.ring(), [A, X, B]);
  });
});

describe('Membership.place', () => {
  const refused: ReadonlyArray<{ name: string; newcomer: string; anchor: string }> = [
    { name: 'after itself', newcomer: B, anchor: B },
    { name: 'after an unknown anchor', newcomer: X, anchor: Y },
    { name: 'where it already is', newcomer: C, anchor: B },
    { name: 'where it already is, across the end of the ring', newcomer: A, anchor: C },
  ];
  for (const { name, newcomer, anchor } of refused) {
    test(`refuses to place a member ${name}`, () => {
      const m = ringOfThree();
      const before = m.all();
      assert.equal(m.place(newcomer, 10, anchor), false);
      assert.deepEqual(m.all(), before);
    });
  }

  test('moves a known alive member to its new place with a newer placement', () => {
    const m = ringOfThree();
    assert.equal(m.place(B, 10, C), true);
    assert.deepEqual(m.ring(), [A, C, B]);
    assert.equal(m.get(B)?.incarnation, 0);
  });

  for (const gone of ['dead', 'left'] as const) {
    test(`placing a member known ${gone} (a restart) raises its incarnation so it beats the ${gone} entry everywhere`, () => {
      const m = ringOfThree();
      const other = replicaOf(D, m.all());
      if (gone === 'dead') m.declareDead(B);
      else m.merge([replicaOf(B, m.all()).leave()], 5);
      const before = m.get(B)!;
      assert.equal(before.status, gone);
      other.merge(m.all(), 6);
      assert.equal(m.place(B, 10, C), true);
      assert.equal(m.get(B)?.status, 'alive');
      assert.equal(m.get(B)?.incarnation, before.incarnation + 1);
      assert.ok(compareEntries(m.get(B)!, before) > 0);
      assert.deepEqual(m.ring(), [A, C, B]);
      other.merge(m.all(), 11);
      assert.equal(other.get(B)?.status, 'alive');
      assert.deepEqual(
        other.ring().filter((a) => a !== D),
        [A, C, B],
      );
    });
  }

  test('placing a suspected member (a quick restart) beats the suspicion everywhere', () => {
    const m = ringOfThree();
    const other = replicaOf(C, m.all()); // a member of the ring: its own entry is part of what it gossips
    m.suspect(B, 5);
    other.merge(m.all(), 6); // the suspicion has spread
    assert.equal(m.place(B, 10, C), true);
    assert.deepEqual(m.ring(), [A, C, B]);
    other.merge(m.all(), 11);
    m.merge(other.all(), 12);
    assert.equal(other.get(B)?.status, 'alive', 'the new placement should beat the suspicion');
    assert.equal(other.get(B)?.after, C);
    assert.deepEqual(m.ring(), [A, C, B], 'the placer should keep its own placement after gossip');
  });
});

describe('Membership forgetting', () => {
  const DAY = 86_400_000;
  const SEEDS = process.env.MEMBERSHIP_SEEDS ? process.env.MEMBERSHIP_SEEDS.split(',').map(Number) : [3, 17, 99, 512, 4242];
  const E = '127.0.0.1:4047';

  /**
   * A's replica: A, then B after A, C after B, E after B (later, so before C),
   * D after C: the ring A B E C D. Forgets after a day when `forgetting`.
   */
  function tree(forgetAfterMs = DAY): Membership {
    const m = new Membership(A, 0, forgetAfterMs);
    m.place(B, 1, A);
    m.place(C, 2, B);
    m.place(D, 3, C);
    m.place(E, 4, B);
    assert.deepEqual(m.ring(), [A, B, E, C, D]);
    return m;
  }

  test('a dead member is dropped once it has been dead for the limit, not before; alive ones and this server stay', () => {
    const m = tree();
    assert.equal(m.declareDead(D, 100), true);
    assert.deepEqual(m.forgetExpired(100 + DAY - 1), []);
    assert.equal(m.get(D)?.status, 'dead');
    assert.deepEqual(m.forgetExpired(100 + DAY), [D]);
    assert.equal(m.get(D), undefined);
    assert.deepEqual(
      m.all().map((e) => e.address),
      [A, B, E, C],
    );
    assert.deepEqual(m.forgetExpired(100 + 10 * DAY), []);
    assert.equal(m.get(A)?.status, 'alive');
  });

  test('a member that left is forgotten like a dead one, timed from its leaving', () => {
    const b = new Membership(B, 0, DAY);
    b.merge(tree(Infinity).all(), 5);
    b.leave(50);
    const m = tree();
    m.merge([b.get(B)!], 60);
    assert.equal(m.get(B)?.status, 'left');
    assert.deepEqual(m.forgetExpired(50 + DAY), [B]);
    assert.equal(m.get(B), undefined);
  });

  test('a death learned without a time is timed from when this server learned it', () => {
    const m = tree();
    m.merge([entry(D, 0, 'dead', 3, C)], 10);
    assert.equal(m.get(D)?.since, 10);
    assert.deepEqual(m.forgetExpired(10 + DAY - 1), []);
    assert.deepEqual(m.forgetExpired(10 + DAY), [D]);
  });

  test('a death declared without a time is timed from the next look at what to forget', () => {
    const m = tree();
    m.declareDead(D);
    assert.equal(m.get(D)?.since, undefined);
    assert.deepEqual(m.forgetExpired(20), []);
    assert.equal(m.get(D)?.since, 20);
    assert.deepEqual(m.forgetExpired(20 + DAY), [D]);
  });

  test('by default nothing is forgotten', () => {
    const m = tree(Infinity);
    m.declareDead(D, 0);
    assert.deepEqual(m.forgetExpired(1000 * DAY), []);
    assert.equal(m.get(D)?.status, 'dead');
  });

  test('forgetting an anchor keeps the order of the ring; the members after it carry its placement', () => {
    const m = tree();
    m.declareDead(B, 10);
    assert.deepEqual(m.ring(), [A, E, C, D]);
    assert.deepEqual(m.forgetExpired(10 + DAY), [B]);
    assert.equal(m.get(B), undefined);
    assert.deepEqual(m.ring(), [A, E, C, D]);
    assert.deepEqual(m.get(C), { address: C, incarnation: 0, status: 'alive', placed: 2, after: A, via: [{ address: B, placed: 1 }] });
    assert.deepEqual(m.get(E)?.via, [{ address: B, placed: 1 }]);
    // A replica that never knew B takes the same order from the folded entries.
    const fresh = replicaOf(X, m.all());
    assert.deepEqual(
      fresh.ring().filter((a) => a !== X),
      [A, E, C, D],
    );
  });

  test('a chain of forgotten anchors folds the same in either order; the one below a single member is not kept as a hop', () => {
    const orders = [
      [B, C],
      [C, B],
    ].map(([first, second]) => {
      const m = tree();
      m.declareDead(first!, 10);
      m.forgetExpired(10);
      m.declareDead(second!, 20 + DAY);
      m.forgetExpired(20 + 2 * DAY);
      return m;
    });
    for (const m of orders) {
      assert.deepEqual(m.ring(), [A, E, D]);
      // B had C and E below it: a hop. C had only D: D takes its slot.
      assert.deepEqual(m.get(D)?.via, [{ address: B, placed: 1 }]);
      assert.deepEqual(m.get(D)?.slot, { address: C, placed: 2 });
    }
    assert.deepEqual(orders[0]!.all(), orders[1]!.all());
  });

  test('a forgotten member does not come back from a replica that has not forgotten it; both keep one order', () => {
    const early = tree();
    early.declareDead(B, 10);
    const late = new Membership(C, 0, DAY);
    late.merge(early.all(), 11);
    early.forgetExpired(10 + DAY);
    // `late` has not run its forgetting yet: its entries still hold B and the old placements.
    const result = early.merge(late.all(), 10 + DAY);
    assert.deepEqual(result, { changed: false, refuted: false });
    assert.equal(early.get(B), undefined);
    assert.deepEqual(early.ring(), [A, E, C, D]);
    // The other way round: `late` takes the folded entries and keeps its order with B still held.
    late.merge(early.all(), 10 + DAY - 5);
    assert.deepEqual(late.ring(), early.ring());
    assert.equal(late.get(B)?.status, 'dead');
    late.forgetExpired(10 + DAY);
    assert.deepEqual(late.all(), early.all());
  });

  test('a newer entry still placed after a forgotten anchor is folded as it is merged', () => {
    const m = tree();
    m.declareDead(B, 10);
    m.forgetExpired(10 + DAY);
    // C refuted a suspicion on a server where B is still known: incarnation 1, placed after B.
    m.merge([entry(C, 1, 'alive', 2, B)], 10 + DAY);
    assert.deepEqual(m.get(C), { address: C, incarnation: 1, status: 'alive', placed: 2, after: A, via: [{ address: B, placed: 1 }] });
    assert.deepEqual(m.ring(), [A, E, C, D]);
  });

  test('a chain of restarts, each joining through the last: the survivor takes the first forgotten slot and carries no hops', () => {
    // A, then B after A, C after B, D after C, E after D; B, C and D restarted away (dead).
    const m = new Membership(A, 0, DAY);
    const chain = [B, C, D, E];
    chain.forEach((address, i) => m.place(address, i + 1, i === 0 ? A : chain[i - 1]));
    m.place(X, 10, A);
    for (const address of [B, C, D]) m.declareDead(address, 20);
    const before = m.ring();
    assert.deepEqual(before, [A, X, E]);
    assert.deepEqual(m.forgetExpired(20 + DAY), [B, C, D]);
    assert.deepEqual(m.ring(), before);
    assert.deepEqual(m.get(E), { address: E, incarnation: 0, status: 'alive', placed: 4, after: A, slot: { address: B, placed: 1 } });
    // A server that never knew B, C or D takes the same order from what remains.
    assert.deepEqual(
      replicaOf(Y, m.all())
        .ring()
        .filter((address) => address !== Y),
      before,
    );
  });

  test('a newer copy of a member still placed after a forgotten one takes back the slot its older copy took', () => {
    const m = new Membership(A, 0, DAY);
    m.place(B, 1);
    m.place(C, 2, B);
    m.place(X, 3);
    m.declareDead(B, 10);
    m.forgetExpired(10 + DAY);
    assert.deepEqual(m.get(C)?.slot, { address: B, placed: 1 });
    // C refuted a suspicion on a server that still knows B: incarnation 1, placed after B.
    m.merge([entry(C, 1, 'alive', 2, B)], 10 + DAY);
    assert.deepEqual(m.get(C), { address: C, incarnation: 1, status: 'alive', placed: 2, after: A, slot: { address: B, placed: 1 } });
    assert.deepEqual(m.ring(), [A, X, C]);
  });

  test('a slot taken by one member where others hung below the forgotten one too is given back', () => {
    // A server that did not know D merged C into B's slot; D, also placed after B (later, so before C), shows up.
    const m = new Membership(A, 0, DAY);
    m.merge([{ ...entry(C, 0, 'alive', 2, A), slot: { address: B, placed: 1 } }, entry(X, 0, 'alive', 3, A)], 5);
    assert.deepEqual(m.ring(), [A, X, C]);
    m.merge([{ ...entry(D, 0, 'alive', 4, A), via: [{ address: B, placed: 1 }] }], 6);
    assert.deepEqual(m.get(C)?.via, [{ address: B, placed: 1 }]);
    assert.equal(m.get(C)?.slot, undefined);
    assert.deepEqual(m.ring(), [A, X, D, C]);
  });

  test('of two times of one death, the earlier wins everywhere', () => {
    const early = { ...entry(D, 0, 'dead', 3, C), since: 5 };
    const late = { ...entry(D, 0, 'dead', 3, C), since: 9 };
    assert.ok(compareEntries(early, late) > 0);
    assert.ok(compareEntries(late, early) < 0);
    // More forgotten placements folded in wins over fewer, for one placement.
    const folded = { ...entry(C, 0, 'alive', 2, A), via: [{ address: B, placed: 1 }] };
    assert.ok(compareEntries(folded, entry(C, 0, 'alive', 2, B)) > 0);
  });

  for (const seed of SEEDS) {
    test(`random rings: forgetting any dead members on any replicas, in any order, keeps one ring order (seed ${seed})`, () => {
      const random = prng(seed);
      const POOL = Array.from({ length: 14 }, (_, i) => `127.0.0.1:${5000 + i}`);
      const origin = new Membership(POOL[0]!, 0, DAY);
      for (let i = 1; i < POOL.length; i++) origin.place(POOL[i]!, i, pick(origin.ring(), random));
      const dying = shuffle(POOL.slice(1), random).slice(0, 6);
      dying.forEach((address, i) => origin.declareDead(address, 100 + i));
      const expected = origin.ring();
      const bag = origin.all();
      const survivors = POOL.filter((address) => !dying.includes(address));
      const replicas = survivors.map((self) => {
        const m = new Membership(self, 0, DAY);
        for (const batch of batches(shuffle(bag, random), random, 4)) m.merge(batch, 200);
        return m;
      });
      // Each replica forgets at its own moment; some merge views of others first, before or after forgetting.
      for (let step = 0; step < 40; step++) {
        const m = pick(replicas, random);
        const now = 200 + Math.floor(random() * 2 * DAY);
        if (random() < 0.3) m.forgetExpired(now);
        else m.merge(pick(replicas, random).all(), now);
        assert.deepEqual(m.ring(), expected, `step ${step}: ${m.self}'s ring`);
      }
      const end = 300 + 2 * DAY;
      for (const m of replicas) m.forgetExpired(end);
      for (let i = 0; i < 3; i++) for (const m of replicas) for (const other of shuffle(replicas, random)) m.merge(other.all(), end);
      for (const m of replicas) {
        assert.deepEqual(m.ring(), expected);
        assert.deepEqual(m.all(), replicas[0]!.all(), `${m.self}'s entries`);
        assert.ok(m.all().every((e) => !dying.includes(e.address)));
        assert.deepEqual(m.merge(bag, end), { changed: false, refuted: false }, 'the old entries bring nothing back');
      }
      // Old and folded copies together, in any order and batching, give one view.
      const mixed = [...bag, ...replicas[0]!.all()];
      const fresh = [0, 1, 2].map(() => {
        const m = new Membership(survivors[0]!, 0, DAY);
        for (const batch of batches(shuffle(mixed, random), random, 3)) m.merge(batch, end);
        return m;
      });
      for (const m of fresh) {
        assert.deepEqual(m.all(), replicas[0]!.all());
        assert.deepEqual(m.ring(), expected);
      }
      // A chain of forgotten placements names each forgotten member once, none of them held.
      for (const e of replicas[0]!.all()) {
        const chain = [e.after, ...(e.via ?? []).map((hop) => hop.address), ...(e.slot ? [e.slot.address] : []), e.address];
        assert.equal(new Set(chain).size, chain.length, `${e.address}'s chain`);
        assert.ok([...(e.via ?? []), ...(e.slot ? [e.slot] : [])].every((hop) => dying.includes(hop.address)));
      }
    });
  }

  for (const mode of ['newest', 'random'] as const) {
    for (const seed of SEEDS.slice(0, 3)) {
      test(`100 rolling restarts joining through the ${mode} member, forgotten in any order: one ring order, bounded via (seed ${seed})`, () => {
        const random = prng(seed);
        const HOUR = DAY / 24;
        const stable = [0, 1, 2].map((i) => `127.0.0.1:${6000 + i}`);
        // The reference never forgets: its ring is the order every replica must keep.
        const reference = new Membership(stable[0]!, 0, Infinity);
        reference.place(stable[1]!, 1);
        reference.place(stable[2]!, 2, stable[1]);
        const replicas = stable.map((self) => new Membership(self, 0, DAY));
        const rolling: string[] = [];
        for (let i = 0; i < 100; i++) {
          const now = 10 + (i + 1) * 3 * HOUR;
          const live = reference.ring();
          const anchor = mode === 'newest' ? (rolling.at(-1) ?? stable[0]!) : pick(live, random);
          const newcomer = `127.0.0.1:${7000 + i}`;
          reference.place(newcomer, now, anchor);
          rolling.push(newcomer);
          // The restart's old instance dies (its replacement has a new address): keep two to four rolling members.
          if (rolling.length > 2 + Math.floor(random() * 3)) reference.declareDead(rolling.shift()!, now);
          for (const m of shuffle(replicas, random)) {
            if (random() < 0.5) m.forgetExpired(now + Math.floor(random() * HOUR));
            const other = pick(replicas, random);
            if (random() < 0.5) m.merge(other.all(), now);
            for (const batch of batches(shuffle(reference.all(), random), random, 6)) m.merge(batch, now);
            if (random() < 0.5) m.forgetExpired(now);
            assert.deepEqual(m.ring(), reference.ring(), `restart ${i}: ${m.self}'s ring`);
            // However long the history: joining through the newest leaves no hops, random anchors a few.
            const bound = mode === 'newest' ? 1 : 3;
            for (const e of m.all()) assert.ok((e.via?.length ?? 0) <= bound, `restart ${i}: ${e.address} carries ${e.via?.length} hops`);
          }
        }
        const end = 10 + 400 * 3 * HOUR;
        for (const m of replicas) m.forgetExpired(end);
        for (const m of replicas) for (const other of replicas) m.merge(other.all(), end);
        for (const m of replicas) {
          assert.deepEqual(m.ring(), reference.ring());
          assert.deepEqual(m.all(), replicas[0]!.all());
          // Once the dead are forgotten, what remains is a handful of entries with at most a hop or two each.
          assert.ok(m.all().length <= reference.ring().length, 'only live members are left');
          for (const e of m.all()) assert.ok((e.via?.length ?? 0) <= 2, `${e.address} carries ${e.via?.length} hops`);
        }
      });
    }
  }
});
