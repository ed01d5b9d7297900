/** Versions: their order, the supersede rule, and the hybrid logical clock. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, supersedes, unversioned, VersionClock, type Version } from '../../src/store/version.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';

function v(clock: number, server: string = A): Version {
  return { clock, server };
}

describe('compareVersions', () => {
  const cases: ReadonlyArray<{ name: string; a: Version; b: Version; order: -1 | 0 | 1 }> = [
    { name: 'a smaller clock is older', a: v(1, A), b: v(2, A), order: -1 },
    { name: 'a larger clock is newer', a: v(3, A), b: v(2, A), order: 1 },
    { name: 'the clock decides before the server', a: v(1, B), b: v(2, A), order: -1 },
    { name: 'the clock decides before the server, the other way', a: v(2, A), b: v(1, B), order: 1 },
    { name: 'equal clocks fall back to the server string', a: v(5, A), b: v(5, B), order: -1 },
    { name: 'equal clocks, greater server string', a: v(5, B), b: v(5, A), order: 1 },
    { name: 'servers compare as strings, not as ports', a: v(5, '127.0.0.1:10'), b: v(5, '127.0.0.1:9'), order: -1 },
    { name: 'the same clock and server are equal', a: v(7, A), b: v(7, A), order: 0 },
    { name: 'unversioned copies of one creator are equal', a: unversioned(A), b: unversioned(A), order: 0 },
    { name: 'an unversioned copy is older than any real write', a: unversioned(B), b: v(1, A), order: -1 },
  ];
  for (const { name, a, b, order } of cases) {
    test(name, () => {
      assert.equal(Math.sign(compareVersions(a, b)), order);
      assert.equal(Math.sign(compareVersions(b, a)), -order || 0, 'the order is antisymmetric');
    });
  }

  test('sorts a shuffled list by clock, then by server', () => {
    const sorted = [v(0, A), v(0, B), v(1, A), v(1, B), v(2, '10.0.0.1:1'), v(2, A), v(10, A)];
    const shuffled = [sorted[4]!, sorted[0]!, sorted[6]!, sorted[2]!, sorted[5]!, sorted[1]!, sorted[3]!];
    assert.deepEqual([...shuffled].sort(compareVersions), sorted);
  });
});

describe('unversioned', () => {
  test('is clock 0 with the creator as server', () => {
    assert.deepEqual(unversioned(B), { clock: 0, server: B });
  });
});

describe('supersedes', () => {
  const cases: ReadonlyArray<{ name: string; incoming: Version; held: Version | undefined; wins: boolean }> = [
    { name: 'anything replaces nothing held', incoming: v(1), held: undefined, wins: true },
    { name: 'an unversioned copy replaces nothing held', incoming: unversioned(A), held: undefined, wins: true },
    { name: 'a newer clock replaces', incoming: v(2), held: v(1), wins: true },
    { name: 'an equal clock with a greater server replaces', incoming: v(2, B), held: v(2, A), wins: true },
    { name: 'an older clock does not replace', incoming: v(1), held: v(2), wins: false },
    { name: 'an equal clock with a smaller server does not replace', incoming: v(2, A), held: v(2, B), wins: false },
    { name: 'an equal version is the same write and does not replace', incoming: v(3), held: v(3), wins: false },
    { name: 'equal unversioned copies replace (the original overwrites on every PUT)', incoming: v(0), held: v(0), wins: true },
    { name: 'an unversioned copy does not replace a real write', incoming: unversioned(A), held: v(1, A), wins: false },
    { name: 'an unversioned copy of a greater creator replaces a smaller one', incoming: unversioned(B), held: unversioned(A), wins: true },
    { name: 'an unversioned copy of a smaller creator does not replace', incoming: unversioned(A), held: unversioned(B), wins: false },
  ];
  for (const { name, incoming, held, wins } of cases) {
    test(name, () => {
      assert.equal(supersedes(incoming, held), wins);
    });
  }
});

describe('VersionClock', () => {
  test('takes the wall clock (whole milliseconds) when it is ahead, and its own server', () => {
    const clock = new VersionClock(A);
    assert.deepEqual(clock.next(1000.7), { clock: 1000, server: A });
    assert.deepEqual(clock.next(5000), { clock: 5000, server: A });
  });

  const walls: ReadonlyArray<{ name: string; nows: number[] }> = [
    { name: 'the wall clock moves forward', nows: [100, 200, 300, 400] },
    { name: 'the wall clock stands still', nows: [500, 500, 500, 500, 500] },
    { name: 'the wall clock goes backwards', nows: [1000, 900, 800, 10, 0] },
    { name: 'the wall clock jumps around', nows: [50, 50.9, 49, 60, 60, 1, 61, 61.5] },
  ];
  for (const { name, nows } of walls) {
    test(`next is strictly increasing when ${name}`, () => {
      const clock = new VersionClock(B);
      const made = nows.map((now) => clock.next(now));
      for (let i = 1; i < made.length; i++) {
        assert.ok(made[i]!.clock > made[i - 1]!.clock, `version ${i} (${made[i]!.clock}) after ${made[i - 1]!.clock}`);
        assert.equal(compareVersions(made[i]!, made[i - 1]!), 1);
        assert.equal(supersedes(made[i]!, made[i - 1]!), true);
      }
    });
  }

  test('observe moves the clock past a version seen from elsewhere', () => {
    const clock = new VersionClock(A);
    clock.next(100);
    clock.observe(v(10_000, B));
    const next = clock.next(200);
    assert.ok(next.clock > 10_000, `next clock ${next.clock}`);
    assert.equal(next.server, A);
    assert.equal(supersedes(next, v(10_000, B)), true);
  });

  test('observe of an older version does not move the clock back', () => {
    const clock = new VersionClock(A);
    const first = clock.next(5000);
    clock.observe(v(10, B));
    const next = clock.next(0);
    assert.equal(next.clock, first.clock + 1);
  });

  test('a version made after observing an equal clock is newer than it, whatever the servers', () => {
    const clock = new VersionClock(A); // A sorts before B
    clock.observe(v(700, B));
    const next = clock.next(700);
    assert.equal(supersedes(next, v(700, B)), true);
  });

  const HOUR = 3_600_000;
  const stamps: ReadonlyArray<{ name: string; now: number; held: Version | undefined }> = [
    { name: 'nothing is held', now: 5000, held: undefined },
    { name: 'the held version is older than the wall clock', now: 5000, held: v(10, B) },
    { name: 'the held version is an hour ahead of the wall clock', now: 5000, held: v(5000 + HOUR, B) },
    { name: 'the held version is 10 s ahead, by a server that sorts after this one', now: 5000, held: v(15_000, B) },
    { name: 'the held version has the very clock of the wall, by a server that sorts after', now: 5000, held: v(5000, B) },
    { name: 'the held version is unversioned', now: 5000, held: unversioned(B) },
  ];
  for (const { name, now, held } of stamps) {
    test(`stamp supersedes what is held, from a fresh clock, when ${name}`, () => {
      const clock = new VersionClock(A); // a restart: nothing made or seen yet
      const stamped = clock.stamp(now, held);
      assert.equal(stamped.server, A);
      assert.equal(supersedes(stamped, held), true, `${JSON.stringify(stamped)} over ${JSON.stringify(held)}`);
      assert.ok(stamped.clock >= Math.floor(now), 'never behind the wall clock');
    });
  }

  test('stamp follows the wall clock when what is held is older, and the clock moves on from it', () => {
    const clock = new VersionClock(A);
    assert.deepEqual(clock.stamp(5000, v(10, B)), v(5000, A));
    const ahead = clock.stamp(5000, v(9000, B));
    assert.deepEqual(ahead, v(9001, A));
    assert.ok(clock.next(5000).clock > ahead.clock, 'later versions are newer still');
  });

  test('peek tells where the clock stands (the wall clock, or past it after observing) without moving it', () => {
    const clock = new VersionClock(A);
    assert.equal(clock.peek(5000.9), 5000);
    clock.observe(v(9000, B));
    assert.equal(clock.peek(5000), 9000);
    assert.equal(clock.peek(5000), 9000, 'peeking makes no version');
    assert.equal(clock.next(5000).clock, 9001);
  });
});
