/** BucketDigest: an order-independent summary of (name, version, deleted) over 256 buckets. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BUCKETS, BucketDigest, bucketOf, digestOf as digestOfEntries, type DigestEntry } from '../../src/store/digest.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';

function entry(clock: number, server: string = A, deleted = false): DigestEntry {
  return { version: { clock, server }, deleted };
}

const SET: ReadonlyArray<[string, DigestEntry]> = [
  ['alpha', entry(1)],
  ['beta', entry(2, B)],
  ['gamma', entry(3, A, true)],
  ['delta', entry(0, B)],
  ['épsilon', entry(17)],
  ['zeta/../eta', entry(5, B, true)],
  ['', entry(9)],
];

function digestOf(entries: ReadonlyArray<[string, DigestEntry]>): BucketDigest {
  const digest = new BucketDigest();
  for (const [name, e] of entries) digest.update(name, undefined, e);
  return digest;
}

/** Deterministic permutations, so a failure can be replayed. */
function permutations<T>(items: readonly T[], count: number, seed: number): T[][] {
  let state = seed;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const result: T[][] = [];
  for (let n = 0; n < count; n++) {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    result.push(copy);
  }
  return result;
}

describe('bucketOf', () => {
  test('is an integer in 0..255 and the same on every call', () => {
    for (let i = 0; i < 2000; i++) {
      const name = `item-${i}`;
      const bucket = bucketOf(name);
      assert.ok(Number.isInteger(bucket) && bucket >= 0 && bucket < BUCKETS, `${name} -> ${bucket}`);
      assert.equal(bucketOf(name), bucket);
    }
  });

  test('spreads names over the buckets', () => {
    const used = new Set(Array.from({ length: 4000 }, (_, i) => bucketOf(`n${i}`)));
    assert.ok(used.size > 240, `only ${used.size} buckets used`);
  });

  test('takes odd names too', () => {
    for (const name of ['', '../../etc/passwd', '\u{1F600}', 'a'.repeat(255)]) {
      const bucket = bucketOf(name);
      assert.ok(bucket >= 0 && bucket < BUCKETS);
      assert.equal(bucketOf(name), bucket);
    }
  });
});

describe('BucketDigest', () => {
  test('an empty digest is 256 zero values of 16 hex digits', () => {
    const wire = new BucketDigest().toWire();
    assert.equal(wire.length, BUCKETS);
    for (const value of wire) assert.equal(value, '0000000000000000');
  });

  test('every wire value is 16 hex digits', () => {
    for (const value of digestOf(SET).toWire()) assert.match(value, /^[0-9a-f]{16}$/);
  });

  test('the same entries in different orders give equal digests', () => {
    const reference = digestOf(SET).toWire();
    assert.notDeepEqual(reference, new BucketDigest().toWire());
    for (const order of permutations(SET, 50, 7)) {
      assert.deepEqual(digestOf(order).toWire(), reference, `order ${order.map(([name]) => name).join(',')}`);
    }
  });

  test('reaching the same state through different histories gives equal digests', () => {
    const direct = digestOf([['x', entry(3)]]);
    const stepwise = new BucketDigest();
    stepwise.update('x', undefined, entry(1));
    stepwise.update('x', entry(1), entry(2, B, true));
    stepwise.update('x', entry(2, B, true), entry(3));
    assert.deepEqual(stepwise.toWire(), direct.toWire());
  });

  test('an update and its reverse give back the original digest', () => {
    const digest = digestOf(SET);
    const original = digest.toWire();
    digest.update('alpha', entry(1), entry(2));
    assert.notDeepEqual(digest.toWire(), original);
    digest.update('alpha', entry(2), entry(1));
    assert.deepEqual(digest.toWire(), original);

    digest.update('new', undefined, entry(4));
    assert.notDeepEqual(digest.toWire(), original);
    digest.update('new', entry(4), undefined);
    assert.deepEqual(digest.toWire(), original);

    digest.update('beta', entry(2, B), undefined);
    assert.notDeepEqual(digest.toWire(), original);
    digest.update('beta', undefined, entry(2, B));
    assert.deepEqual(digest.toWire(), original);
  });

  const changes: ReadonlyArray<{ name: string; item: string; before: DigestEntry; after: DigestEntry }> = [
    { name: 'a newer clock', item: 'alpha', before: entry(1), after: entry(2) },
    { name: 'another server', item: 'alpha', before: entry(1), after: entry(1, B) },
    { name: 'the deleted flag alone', item: 'beta', before: entry(2, B), after: entry(2, B, true) },
  ];
  for (const { name, item, before, after } of changes) {
    test(`differing names exactly the bucket of an item changed by ${name}`, () => {
      const ours = digestOf(SET);
      const theirs = digestOf(SET);
      assert.deepEqual(ours.differing(theirs.toWire()), []);
      theirs.update(item, before, after);
      assert.deepEqual(ours.differing(theirs.toWire()), [bucketOf(item)]);
      assert.deepEqual(theirs.differing(ours.toWire()), [bucketOf(item)]);
    });
  }

  test('differing names every changed bucket, in order, and no other', () => {
    const names = Array.from({ length: 300 }, (_, i) => `item-${i}`);
    const ours = digestOf(names.map((name) => [name, entry(1)]));
    const theirs = digestOf(names.map((name) => [name, entry(1)]));
    const changed = ['item-3', 'item-77', 'item-150', 'item-299'];
    for (const name of changed) theirs.update(name, entry(1), entry(2));
    theirs.update('only-theirs', undefined, entry(1));
    const expected = [...new Set([...changed, 'only-theirs'].map(bucketOf))].sort((a, b) => a - b);
    assert.deepEqual(ours.differing(theirs.toWire()), expected);
  });

  test('differing treats a missing or short peer digest as differing everywhere it is missing', () => {
    const ours = new BucketDigest();
    assert.deepEqual(
      ours.differing([]),
      Array.from({ length: BUCKETS }, (_, i) => i),
    );
    const short = ours.toWire().slice(0, 10);
    assert.deepEqual(
      ours.differing(short),
      Array.from({ length: BUCKETS - 10 }, (_, i) => i + 10),
    );
  });
});

describe('digestOf', () => {
  test('the digest of some entries is the one a BucketDigest holding just those has, in any order', () => {
    const some = SET.filter(([name]) => name !== 'beta');
    const held = new BucketDigest();
    for (const [name, e] of [...some].reverse()) held.update(name, undefined, e);
    assert.deepEqual(digestOfEntries(some), held.toWire());
    assert.notDeepEqual(digestOfEntries(some), digestOfEntries(SET));
  });
});
