/** ItemStore over MemoryPersistence: merge rules, tombstones, contents, digest. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BucketDigest, bucketOf } from '../../src/store/digest.js';
import { INLINE_LIMIT, ItemStore, metaFields } from '../../src/store/items.js';
import { MemoryPersistence } from '../../src/store/memory.js';
import { compareVersions, unversioned, type Version } from '../../src/store/version.js';
import { prng, shuffle } from '../random.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';
const NOW = 1_000_000;

function v(clock: number, server: string = A): Version {
  return { clock, server };
}

function sha1Hex(bytes: Buffer | string): string {
  return createHash('sha1').update(bytes).digest('hex');
}

function newStore(): Promise<ItemStore> {
  return ItemStore.open(new MemoryPersistence());
}

/** Bytes that differ from one offset to the next, so a wrong range shows. */
function pattern(length: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return bytes;
}

describe('ItemStore.apply merge rules', () => {
  test('a first copy is stored and read back', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    assert.equal(await store.apply('a', { version: v(1), content: 'hello' }, NOW), true);
    const held = await store.get('a');
    assert.equal(held?.content, 'hello');
    assert.deepEqual(held?.meta.version, v(1));
    assert.equal(held?.meta.deleted, false);
    assert.equal(held?.meta.storedAt, NOW);
    assert.equal(store.size, 1);
  });

  const cases: ReadonlyArray<{ name: string; held: Version; incoming: Version; applied: boolean }> = [
    { name: 'a newer clock replaces', held: v(5), incoming: v(6), applied: true },
    { name: 'an equal clock from a greater server replaces', held: v(5, A), incoming: v(5, B), applied: true },
    { name: 'an older clock is refused', held: v(5), incoming: v(4), applied: false },
    { name: 'an equal clock from a smaller server is refused', held: v(5, B), incoming: v(5, A), applied: false },
    { name: 'an equal version is refused', held: v(5), incoming: v(5), applied: false },
    { name: 'an equal unversioned copy replaces', held: unversioned(A), incoming: unversioned(A), applied: true },
    { name: 'an unversioned copy is refused over a real write', held: v(1), incoming: unversioned(B), applied: false },
  ];
  for (const { name, held, incoming, applied } of cases) {
    test(name, async (t) => {
      const store = await newStore();
      t.after(() => store.close());
      assert.equal(await store.apply('item', { version: held, content: 'first' }, NOW), true);
      const digestBefore = store.digest.toWire();
      assert.equal(await store.apply('item', { version: incoming, content: 'second' }, NOW + 1), applied);
      const now = await store.get('item');
      assert.equal(now?.content, applied ? 'second' : 'first');
      assert.deepEqual(now?.meta.version, applied ? incoming : held);
      assert.equal(now?.meta.storedAt, applied ? NOW + 1 : NOW);
      if (!applied) assert.deepEqual(store.digest.toWire(), digestBefore, 'a refused copy leaves the digest alone');
    });
  }

  test('an empty live item is found, with size 0', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    assert.equal(await store.apply('empty', { version: v(1), content: '' }, NOW), true);
    const held = await store.get('empty');
    assert.equal(held?.content, '');
    assert.equal(held?.meta.size, 0);
  });
});

describe('ItemStore tombstones', () => {
  test('a tombstone hides the item from get but head shows it deleted', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    await store.apply('a', { version: v(1), content: 'alive' }, NOW);
    assert.equal(await store.apply('a', { version: v(2), deleted: true, content: '' }, NOW + 5), true);
    assert.equal(await store.get('a'), undefined);
    const head = store.head('a');
    assert.equal(head?.deleted, true);
    assert.deepEqual(head?.version, v(2));
    assert.equal(head?.size, 0);
    assert.equal(head?.storedAt, NOW + 5);
    assert.equal(store.size, 1, 'the tombstone is still held');
    await assert.rejects(store.readRange('a', 0, 10));
  });

  test('a tombstone drops whatever content it is given', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    await store.apply('a', { version: v(1), deleted: true, encoding: 'base64', content: 'aGVsbG8=' }, NOW);
    const head = store.head('a');
    assert.equal(head?.size, 0);
    assert.equal(head?.encoding, undefined);
    assert.equal(head?.hash, sha1Hex(''));
  });

  test('a stale copy arriving after a tombstone is refused', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    await store.apply('a', { version: v(2), content: 'alive' }, NOW);
    await store.apply('a', { version: v(3), deleted: true, content: '' }, NOW);
    for (const stale of [v(2), v(1), v(3), unversioned(B)]) {
      assert.equal(await store.apply('a', { version: stale, content: 'zombie' }, NOW), false, `clock ${stale.clock}`);
    }
    assert.equal(await store.get('a'), undefined);
    assert.deepEqual(store.head('a')?.version, v(3));
    assert.equal(store.head('a')?.deleted, true);
  });

  test('a newer copy after a tombstone brings the item back', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    await store.apply('a', { version: v(3), deleted: true, content: '' }, NOW);
    assert.equal(await store.apply('a', { version: v(4), content: 'again' }, NOW), true);
    assert.equal((await store.get('a'))?.content, 'again');
  });

  test('collectTombstones removes only tombstones stored before the time, and updates the digest', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    await store.apply('live-old', { version: v(1), content: 'kept' }, 100);
    await store.apply('tomb-old', { version: v(2), deleted: true, content: '' }, 100);
    await store.apply('tomb-older', { version: v(3), deleted: true, content: '' }, 50);
    await store.apply('tomb-at', { version: v(4), deleted: true, content: '' }, 200);
    await store.apply('tomb-young', { version: v(5), deleted: true, content: '' }, 300);
    await store.apply('live-young', { version: v(6), content: 'kept too' }, 300);

    assert.equal(await store.collectTombstones(200), 2);

    assert.deepEqual([...store.entries()].map(([name]) => name).sort(), ['live-old', 'live-young', 'tomb-at', 'tomb-young']);
    assert.equal(store.head('tomb-old'), undefined);
    assert.equal(store.head('tomb-older'), undefined);
    assert.equal(store.head('tomb-at')?.deleted, true, 'stored exactly at the time: not before it');
    assert.equal(store.head('tomb-young')?.deleted, true);
    assert.equal((await store.get('live-old'))?.content, 'kept');
    assert.equal((await store.get('live-young'))?.content, 'kept too');

    const expected = new BucketDigest();
    for (const [name, meta] of store.entries()) expected.update(name, undefined, meta);
    assert.deepEqual(store.digest.toWire(), expected.toWire());

    assert.equal(await store.collectTombstones(200), 0, 'nothing left to collect');
  });

  test('a collected name takes any copy again', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    await store.apply('a', { version: v(9), deleted: true, content: '' }, 100);
    await store.collectTombstones(101);
    assert.equal(await store.apply('a', { version: v(1), content: 'back' }, 200), true);
    assert.equal((await store.get('a'))?.content, 'back');
  });

  test('collectTombstones counts only the tombstones it removed', async (t) => {
    const persistence = new MemoryPersistence();
    let removed = 0;
    const remove = persistence.remove.bind(persistence);
    persistence.remove = (name: string) => {
      removed++;
      return remove(name);
    };
    const store = await ItemStore.open(persistence);
    t.after(() => store.close());
    await store.apply('t1', { version: v(1), deleted: true, content: '' }, 100);
    await store.apply('t2', { version: v(1), deleted: true, content: '' }, 100);
    // A newer copy of t2 arrives while the collection is running.
    const collecting = store.collectTombstones(200);
    const revived = store.apply('t2', { version: v(2), content: 'alive' }, 150);
    const [count, applied] = await Promise.all([collecting, revived]);
    assert.equal(applied, true);
    assert.equal((await store.get('t2'))?.content, 'alive', 'the revived item is kept');
    assert.equal(store.head('t1'), undefined);
    assert.equal(count, removed, `returned ${count}, removed ${removed}`);
  });
});

describe('ItemStore converges whatever the order', () => {
  interface Write {
    name: string;
    version: Version;
    deleted?: boolean;
    encoding?: 'base64';
    content: string;
  }

  // Several versions per name, tombstones among them (sometimes the newest), text and bytes.
  const writes: Write[] = [];
  const servers = [A, B, '[::1]:4046'];
  for (let n = 0; n < 8; n++) {
    const name = `item-${n}`;
    for (let k = 0; k < 5; k++) {
      const version = v(10 + ((n + k * 5) % 4), servers[(n + k) % servers.length]!);
      if (writes.some((w) => w.name === name && compareVersions(w.version, version) === 0)) continue;
      const deleted = k === (n * 2) % 5;
      const bytes = k % 2 === 0;
      writes.push(
        deleted
          ? { name, version, deleted: true, content: '' }
          : bytes
            ? { name, version, encoding: 'base64', content: pattern(20 + k, n).toString('base64') }
            : { name, version, content: `${name} v${version.clock}@${version.server} é` },
      );
    }
  }
  // The same write delivered twice is normal; include a few duplicates.
  writes.push({ ...writes[0]! }, { ...writes[7]! }, { ...writes[13]! });

  const newest = new Map<string, Write>();
  for (const w of writes) {
    const held = newest.get(w.name);
    if (!held || compareVersions(w.version, held.version) > 0) newest.set(w.name, w);
  }

  test('the fixture has tombstones both newest and superseded', () => {
    const newestDeleted = [...newest.values()].filter((w) => w.deleted).length;
    assert.ok(newestDeleted > 0 && newestDeleted < newest.size, `${newestDeleted} of ${newest.size} names end deleted`);
    assert.ok(
      writes.some((w) => w.deleted && newest.get(w.name) !== w),
      'some tombstone is superseded',
    );
  });

  const SEED = 20240611;
  test(`the same writes in 60 shuffled orders end identical, newest wins (seed ${SEED})`, async () => {
    const random = prng(SEED);
    let reference: string[] | undefined;
    for (let round = 0; round < 60; round++) {
      const order = shuffle(writes, random);
      const store = await newStore();
      try {
        if (round % 2 === 0) {
          for (const w of order) await store.apply(w.name, w, NOW + round);
        } else {
          // Fired all at once, without waiting for one another.
          await Promise.all(order.map((w) => store.apply(w.name, w, NOW + round)));
        }
        const where = `round ${round}, order ${order.map((w) => `${w.name}@${w.version.clock}`).join(' ')}`;
        const wire = store.digest.toWire();
        reference ??= wire;
        assert.deepEqual(wire, reference, `digest differs in ${where}`);
        assert.equal(store.size, newest.size, where);
        for (const [name, w] of newest) {
          const head = store.head(name);
          assert.deepEqual(head?.version, w.version, `${name} version in ${where}`);
          assert.equal(head?.deleted, w.deleted === true, `${name} deleted in ${where}`);
          const held = await store.get(name);
          if (w.deleted) assert.equal(held, undefined, `${name} in ${where}`);
          else assert.equal(held?.content, w.content, `${name} content in ${where}`);
        }
      } finally {
        await store.close();
      }
    }
  });
});

describe('ItemStore contents', () => {
  test('reader: any range of an inline or a blob item, from the version it opened whatever replaces it', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    for (const [name, length] of [
      ['inline', 300],
      ['blob', 1024 * 1024 + 5000],
    ] as const) {
      const first = pattern(length, 1);
      await store.apply(name, { version: v(1), encoding: 'base64', content: first.toString('base64') }, NOW);
      const reader = (await store.reader(name))!;
      await store.apply(name, { version: v(2), encoding: 'base64', content: pattern(length, 2).toString('base64') }, NOW);
      assert.deepEqual(reader.meta.version, v(1));
      assert.ok((await reader.content.read(100, 150)).equals(first.subarray(100, 250)), `${name}: the version opened`);
      assert.equal((await reader.content.read(length - 10, 100)).length, 10, `${name}: a read past the end gives what is left`);
      await reader.content.close();
    }
    await store.apply('gone', { version: v(1), deleted: true, content: '' }, NOW);
    assert.equal(await store.reader('gone'), undefined);
  });

  test('base64 content: size is the decoded byte length and readRange returns the right bytes', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    const bytes = pattern(300);
    const content = bytes.toString('base64');
    await store.apply('bin', { version: v(1), encoding: 'base64', content }, NOW);
    const held = await store.get('bin');
    assert.equal(held?.meta.size, 300);
    assert.equal(held?.meta.encoding, 'base64');
    assert.equal(held?.content, content);
    const ranges: Array<[number, number, Buffer]> = [
      [0, 300, bytes],
      [0, 1, bytes.subarray(0, 1)],
      [10, 20, bytes.subarray(10, 30)],
      [299, 10, bytes.subarray(299)],
      [250, 1000, bytes.subarray(250)],
      [300, 5, Buffer.alloc(0)],
      [400, 5, Buffer.alloc(0)],
    ];
    for (const [offset, length, expected] of ranges) {
      assert.deepEqual(await store.readRange('bin', offset, length), expected, `range ${offset}+${length}`);
    }
  });

  test('text content: size is the UTF-8 byte length and readRange returns UTF-8 bytes', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    const content = 'héllo wörld \u{1F600}';
    await store.apply('text', { version: v(1), content }, NOW);
    const bytes = Buffer.from(content, 'utf8');
    assert.equal(store.head('text')?.size, bytes.length);
    assert.equal(store.head('text')?.encoding, undefined);
    assert.deepEqual(await store.readRange('text', 1, 4), bytes.subarray(1, 5));
  });

  test('readRange of an item not held throws', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    await assert.rejects(store.readRange('nothing', 0, 1), /no item nothing/);
  });

  const large: ReadonlyArray<{ name: string; make: () => { encoding?: 'base64'; content: string; bytes: Buffer } }> = [
    {
      name: 'base64',
      make: () => {
        const bytes = pattern(Math.ceil((INLINE_LIMIT * 3) / 4) + 1000, 3);
        return { encoding: 'base64', content: bytes.toString('base64'), bytes };
      },
    },
    {
      name: 'text',
      make: () => {
        const content = 'abcé'.repeat(Math.ceil(INLINE_LIMIT / 4) + 10);
        return { content, bytes: Buffer.from(content, 'utf8') };
      },
    },
  ];
  for (const { name, make } of large) {
    test(`${name} content larger than INLINE_LIMIT goes through a staged blob and reads back`, async (t) => {
      const persistence = new MemoryPersistence();
      const store = await ItemStore.open(persistence);
      t.after(() => store.close());
      const { encoding, content, bytes } = make();
      assert.ok(content.length > INLINE_LIMIT);
      assert.equal(await store.apply('big', { version: v(1), encoding, content }, NOW), true);
      assert.equal(persistence.readInline('big'), undefined, 'not kept inline');
      const held = await store.get('big');
      assert.equal(held?.meta.size, bytes.length);
      assert.equal(held?.meta.hash, sha1Hex(bytes));
      assert.ok(held?.content === content, 'whole content reads back');
      const middle = Math.floor(bytes.length / 2);
      assert.deepEqual(await store.readRange('big', middle, 4096), bytes.subarray(middle, middle + 4096));
      assert.deepEqual(await store.readRange('big', bytes.length - 10, 100), bytes.subarray(bytes.length - 10));

      // A refused older large copy changes nothing.
      assert.equal(await store.apply('big', { version: v(0, A), content: 'x'.repeat(INLINE_LIMIT + 1) }, NOW), false);
      assert.equal(store.head('big')?.hash, sha1Hex(bytes));

      // A small newer copy replaces the blob.
      assert.equal(await store.apply('big', { version: v(2), content: 'small now' }, NOW), true);
      assert.equal((await store.get('big'))?.content, 'small now');
      assert.deepEqual(await store.readRange('big', 0, 5), Buffer.from('small'));
    });
  }

  const hashes: ReadonlyArray<{ name: string; encoding?: 'base64'; content: string; bytes: Buffer }> = [
    { name: 'text', content: 'hello', bytes: Buffer.from('hello') },
    { name: 'multibyte text', content: 'ünïcødé', bytes: Buffer.from('ünïcødé', 'utf8') },
    { name: 'text beyond the BMP', content: 'snow ☃ and 😀', bytes: Buffer.from('snow ☃ and 😀', 'utf8') },
    { name: 'base64 bytes', encoding: 'base64', content: pattern(64).toString('base64'), bytes: pattern(64) },
    { name: 'empty', content: '', bytes: Buffer.alloc(0) },
  ];
  for (const { name, encoding, content, bytes } of hashes) {
    test(`meta.hash is the SHA-1 of the content bytes (${name})`, async (t) => {
      const store = await newStore();
      t.after(() => store.close());
      await store.apply('h', { version: v(1), encoding, content }, NOW);
      assert.equal(store.head('h')?.hash, sha1Hex(bytes));
      assert.equal(store.head('h')?.hash, sha1Hex(bytes), 'asked again');
      assert.equal(metaFields(store.head('h')!).hash, sha1Hex(bytes), 'in the plain record a disk store writes');
      assert.equal(store.head('h')?.size, bytes.length);
    });
  }
});

describe('ItemStore concurrency', () => {
  const orders: ReadonlyArray<{ name: string; clocks: number[]; large?: number[] }> = [
    { name: 'newest in the middle', clocks: [1, 3, 2] },
    { name: 'newest first', clocks: [5, 4, 3, 2, 1] },
    { name: 'newest last', clocks: [1, 2, 3, 4, 5] },
    { name: 'a large older copy issued before a small newer one', clocks: [2, 3], large: [2] },
    { name: 'a large newer copy issued before a small older one', clocks: [3, 2], large: [3] },
    { name: 'a small newer copy issued before a large older one', clocks: [3, 2], large: [2] },
    { name: 'large copies only', clocks: [1, 3, 2], large: [1, 2, 3] },
  ];
  for (const { name, clocks, large = [] } of orders) {
    test(`apply calls for one name issued without waiting end with the newest: ${name}`, async (t) => {
      const store = await newStore();
      t.after(() => store.close());
      const contentOf = (clock: number): string => (large.includes(clock) ? `${clock}:`.padEnd(INLINE_LIMIT + 10, 'L') : `small ${clock}`);
      const results = await Promise.all(clocks.map((clock) => store.apply('x', { version: v(clock), content: contentOf(clock) }, NOW)));
      const top = Math.max(...clocks);
      assert.equal(results[clocks.indexOf(top)], true, 'the newest was applied');
      assert.deepEqual(store.head('x')?.version, v(top));
      const held = await store.get('x');
      assert.ok(held?.content === contentOf(top), `content is that of clock ${top}`);
      assert.equal(held?.meta.hash, sha1Hex(contentOf(top)));
      const expected = new BucketDigest();
      expected.update('x', undefined, { version: v(top), deleted: false });
      assert.deepEqual(store.digest.toWire(), expected.toWire());
    });
  }

  test('a small newer copy that comes while a staged copy of the same name is being written waits for it, and ends newest', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    const bytes = pattern(100_000);
    const staged = await store.stage();
    await staged.append([bytes]);
    const hash = await staged.hash();
    const meta = { version: v(1), deleted: false, encoding: 'base64' as const, size: bytes.length, storedAt: NOW, hash };
    // Issued in the same turn: the small one must not be applied at once, under the larger one's write.
    const results = await Promise.all([store.applyStaged('x', meta, staged), store.apply('x', { version: v(2), content: 'small' }, NOW)]);
    assert.deepEqual(results, [true, true]);
    assert.deepEqual(store.head('x')?.version, v(2));
    assert.equal(store.head('x')?.size, 5);
    assert.equal((await store.get('x'))?.content, 'small');
  });
});

describe('ItemStore.listBuckets', () => {
  test('returns exactly the names in the asked buckets, tombstones included', async (t) => {
    const store = await newStore();
    t.after(() => store.close());
    const names = Array.from({ length: 200 }, (_, i) => `name-${i}`);
    for (const [i, name] of names.entries()) {
      await store.apply(name, { version: v(i + 1), deleted: i % 5 === 0, content: i % 5 === 0 ? '' : name }, NOW);
    }
    const asked = new Set([bucketOf('name-0'), bucketOf('name-17'), bucketOf('name-123')]);
    const listed = store.listBuckets(asked);
    const expected = names.filter((name) => asked.has(bucketOf(name))).sort();
    assert.deepEqual(listed.map(([name]) => name).sort(), expected);
    assert.ok(expected.includes('name-0') && expected.includes('name-17'));
    for (const [name, meta] of listed) assert.deepEqual(meta, store.head(name));
    assert.equal(store.head('name-0')?.deleted, true);
    assert.deepEqual(store.listBuckets(new Set()), []);
    assert.equal(store.listBuckets(new Set(Array.from({ length: 256 }, (_, i) => i))).length, names.length);
  });
});

describe('ItemStore.watchVersions', () => {
  test('is called with every version held at once, then with every copy stored, and not with copies refused', async () => {
    const store = await newStore();
    await store.apply('a.txt', { version: v(10), content: 'a' }, NOW);
    await store.apply('b.txt', { version: v(30, B), deleted: true, content: '' }, NOW);
    const seen: Version[] = [];
    store.watchVersions((version) => seen.push(version));
    assert.deepEqual([...seen].sort(compareVersions), [v(10), v(30, B)]);

    seen.length = 0;
    assert.equal(await store.apply('a.txt', { version: v(5), content: 'stale' }, NOW), false);
    assert.equal(await store.apply('a.txt', { version: v(40, B), content: 'newer' }, NOW), true);
    assert.equal(await store.apply('c.txt', { version: v(50), deleted: true, content: '' }, NOW), true);
    assert.deepEqual(seen, [v(40, B), v(50)]);
  });
});
