/** Uploads: large items arriving part by part over an ItemStore. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CoopError } from '../../src/errors.js';
import { Uploads } from '../../src/store/uploads.js';
import type { Encoding, UploadPart } from '../../src/protocol/messages.js';
import { ItemStore, type Staged } from '../../src/store/items.js';
import { MemoryPersistence } from '../../src/store/memory.js';
import { DiskPersistence } from '../../src/store/durable.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Version } from '../../src/store/version.js';

const A = '127.0.0.1:4043';
const NOW = 5_000;
const KEY = 'upload-1';
const ITEM = 'big-item';

function v(clock: number, server: string = A): Version {
  return { clock, server };
}

function sha1Hex(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

function pattern(length: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 29 + seed * 53 + (i >> 8)) & 0xff;
  return bytes;
}

/** Splits `bytes` into parts of at most `size` bytes. */
function parts(bytes: Buffer, size: number): Array<{ offset: number; chunk: Buffer }> {
  const result: Array<{ offset: number; chunk: Buffer }> = [];
  for (let offset = 0; offset < bytes.length; offset += size) result.push({ offset, chunk: bytes.subarray(offset, offset + size) });
  return result;
}

interface Setup {
  store: ItemStore;
  uploads: Uploads;
  discarded: () => number;
}

/** An ItemStore over memory whose staged areas report when they are discarded. */
async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<Setup> {
  const store = await ItemStore.open(new MemoryPersistence());
  const uploads = new Uploads(store);
  t.after(async () => {
    await uploads.clear();
    await store.close();
  });
  let discards = 0;
  const stage = store.stage.bind(store);
  store.stage = async (...args): Promise<Staged> => {
    const staged = await stage(...args);
    const discard = staged.discard.bind(staged);
    staged.discard = async () => {
      discards++;
      await discard();
    };
    return staged;
  };
  return { store, uploads, discarded: () => discards };
}

function send(
  uploads: Uploads,
  offset: number,
  chunk: Buffer,
  size: number,
  options: {
    key?: string;
    item?: string;
    version?: Version;
    encoding?: Encoding | undefined;
    now?: number;
    hashing?: boolean;
    sha1?: string;
  } = {},
): Promise<boolean> {
  const key = options.key ?? KEY;
  const part: UploadPart = { upload: key, offset, size, sha1: options.sha1 };
  const encoding = 'encoding' in options ? options.encoding : 'base64';
  return uploads.receive(key, options.item ?? ITEM, options.version ?? v(1), encoding, part, [chunk], options.now ?? NOW, options.hashing);
}

async function sendAll(uploads: Uploads, bytes: Buffer, partSize: number, version = v(1)): Promise<boolean[]> {
  const results: boolean[] = [];
  for (const { offset, chunk } of parts(bytes, partSize)) results.push(await send(uploads, offset, chunk, bytes.length, { version }));
  return results;
}

function isBadField(err: unknown): boolean {
  return err instanceof CoopError && err.code === 'BAD_FIELD';
}

async function assertStored(store: ItemStore, bytes: Buffer, version: Version): Promise<void> {
  const meta = store.head(ITEM);
  assert.ok(meta, 'the item is stored');
  assert.deepEqual(meta.version, version);
  assert.equal(meta.size, bytes.length);
  assert.equal(meta.hash, sha1Hex(bytes));
  assert.equal(meta.deleted, false);
  assert.deepEqual(await store.readRange(ITEM, 0, bytes.length), bytes);
  assert.equal((await store.get(ITEM))?.content, bytes.toString('base64'));
}

describe('Uploads with parts in flight', () => {
  test('parts that come while the one before is still being written are written after it; only the last one completes the item', async (t) => {
    const { store, uploads } = await setup(t);
    // Each write waits until the test lets it go, in any order it likes: the uploads must keep the parts in order.
    const releases: Array<() => void> = [];
    const stage = store.stage.bind(store);
    store.stage = async (): Promise<Staged> => {
      const staged = await stage();
      const append = staged.append.bind(staged);
      staged.append = (bytes) => new Promise<void>((resolve) => releases.push(() => void append(bytes).then(resolve)));
      return staged;
    };
    const bytes = pattern(1000);
    const chunks = parts(bytes, 300);
    const first = send(uploads, 0, chunks[0]!.chunk, bytes.length);
    await waitForLength(releases, 1);
    releases[0]!();
    assert.equal(await first, false);
    const rest = chunks.slice(1).map(({ offset, chunk }) => send(uploads, offset, chunk, bytes.length));
    const done: boolean[] = [];
    rest.forEach((received, i) => void received.then((last) => (done[i] = last)));
    // The second part's write has started; the third and fourth wait behind it, not beside it.
    await waitForLength(releases, 2);
    assert.equal(releases.length, 2, 'one write at a time');
    for (let i = 1; i < chunks.length; i++) {
      await waitForLength(releases, i + 1);
      releases[i]!();
    }
    assert.deepEqual(await Promise.all(rest), [false, false, true], 'the part that ends the item completes it, not the ones before');
    await assertStored(store, bytes, v(1));
  });
});

/** Resolves once `list` holds `length` entries (writes start a turn or two after their part is received). */
async function waitForLength(list: readonly unknown[], length: number): Promise<void> {
  for (let turns = 0; list.length < length; turns++) {
    if (turns > 1000) assert.fail(`${list.length} writes started, not ${length}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('Uploads in order', () => {
  const shapes: ReadonlyArray<{ name: string; size: number; part: number }> = [
    { name: 'several equal parts', size: 1200, part: 300 },
    { name: 'a short last part', size: 1000, part: 300 },
    { name: 'a single part', size: 256, part: 256 },
    { name: 'one-byte parts', size: 17, part: 1 },
  ];
  for (const { name, size, part } of shapes) {
    test(`parts in order assemble the item: ${name}`, async (t) => {
      const { store, uploads } = await setup(t);
      const bytes = pattern(size);
      const results = await sendAll(uploads, bytes, part, v(7));
      assert.deepEqual(
        results,
        results.map((_, i) => i === results.length - 1),
        'only the last part completes the upload',
      );
      await assertStored(store, bytes, v(7));
      assert.equal(uploads.versionOf(KEY), undefined, 'a finished upload is closed');
    });
  }

  test('the item is not visible until the last part', async (t) => {
    const { store, uploads } = await setup(t);
    const bytes = pattern(900);
    const [first, second, third] = parts(bytes, 300);
    assert.equal(await send(uploads, first!.offset, first!.chunk, 900), false);
    assert.equal(await send(uploads, second!.offset, second!.chunk, 900), false);
    assert.equal(store.head(ITEM), undefined);
    assert.deepEqual(uploads.versionOf(KEY), v(1));
    assert.equal(await send(uploads, third!.offset, third!.chunk, 900), true);
    await assertStored(store, bytes, v(1));
  });

  test('a text upload (no encoding) reads back as UTF-8', async (t) => {
    const { store, uploads } = await setup(t);
    const text = 'héllo wörld, '.repeat(50);
    const bytes = Buffer.from(text, 'utf8');
    for (const { offset, chunk } of parts(bytes, 100)) await send(uploads, offset, chunk, bytes.length, { encoding: undefined });
    assert.equal((await store.get(ITEM))?.content, text);
    assert.equal(store.head(ITEM)?.encoding, undefined);
  });

  test('a finished upload of an older version than held does not replace it', async (t) => {
    const { store, uploads, discarded } = await setup(t);
    await store.apply(ITEM, { version: v(10), content: 'newer' }, NOW);
    const before = discarded();
    await sendAll(uploads, pattern(600), 200, v(3));
    assert.equal((await store.get(ITEM))?.content, 'newer');
    assert.equal(discarded(), before + 1, 'the staged bytes were discarded');
  });

  test('two uploads under different keys do not mix', async (t) => {
    const { store, uploads } = await setup(t);
    const one = pattern(400, 1);
    const two = pattern(400, 2);
    for (const { offset, chunk } of parts(one, 100)) {
      assert.equal(store.head('one'), undefined);
      await send(uploads, offset, chunk, 400, { key: 'k1', item: 'one' });
      await send(uploads, offset, two.subarray(offset, offset + 100), 400, { key: 'k2', item: 'two' });
    }
    assert.deepEqual(await store.readRange('one', 0, 400), one);
    assert.deepEqual(await store.readRange('two', 0, 400), two);
  });
});

describe('Uploads out of order', () => {
  const bad: ReadonlyArray<{ name: string; offset: number; size?: number; item?: string; length?: number }> = [
    { name: 'a part that skips ahead', offset: 600 },
    { name: 'a part that goes back', offset: 100 },
    { name: 'a part for another item', offset: 300, item: 'other-item' },
    { name: 'a part with another total size', offset: 300, size: 1300 },
    { name: 'a part that runs past the size', offset: 300, length: 1000 },
  ];
  for (const { name, offset, size = 1200, item = ITEM, length = 300 } of bad) {
    test(`${name} throws BAD_FIELD and does not corrupt the upload`, async (t) => {
      const { store, uploads } = await setup(t);
      const bytes = pattern(1200);
      const all = parts(bytes, 300);
      assert.equal(await send(uploads, 0, all[0]!.chunk, 1200), false);
      await assert.rejects(send(uploads, offset, pattern(length, 9), size, { item }), isBadField);
      assert.equal(store.head(ITEM), undefined);
      assert.equal(store.head('other-item'), undefined);
      for (const { offset: at, chunk } of all.slice(1)) await send(uploads, at, chunk, 1200);
      await assertStored(store, bytes, v(1));
    });
  }

  test('a part repeated after it was taken (its round sent again) is a no-op and does not corrupt the upload', async (t) => {
    const { store, uploads } = await setup(t);
    const bytes = pattern(900);
    const all = parts(bytes, 300);
    await send(uploads, 0, all[0]!.chunk, 900);
    await send(uploads, 300, all[1]!.chunk, 900);
    assert.equal(await send(uploads, 300, all[1]!.chunk, 900), false);
    assert.equal(await send(uploads, 0, all[0]!.chunk, 900), false, 'the first part again does not restart the upload');
    assert.equal(await send(uploads, 600, all[2]!.chunk, 900), true);
    await assertStored(store, bytes, v(1));
    // Once the item is whole, any part of that version again is a no-op too.
    assert.equal(await send(uploads, 600, all[2]!.chunk, 900), false);
    assert.equal(await send(uploads, 0, all[0]!.chunk, 900), false);
    assert.equal(uploads.versionOf(KEY), undefined, 'no upload reopened');
    await assertStored(store, bytes, v(1));
  });

  test('a part repeated while the first copy is still being written is taken once and does not corrupt the upload', async (t) => {
    const { store, uploads } = await setup(t);
    const bytes = pattern(900);
    const all = parts(bytes, 300);
    await send(uploads, 0, all[0]!.chunk, 900);
    // The same part delivered twice at once (a resent round crossing the first copy).
    const outcomes = await Promise.all([send(uploads, 300, all[1]!.chunk, 900), send(uploads, 300, all[1]!.chunk, 900)]);
    assert.deepEqual(outcomes, [false, false]);
    assert.equal(await send(uploads, 600, all[2]!.chunk, 900), true, 'exactly one copy of the part was taken');
    await assertStored(store, bytes, v(1));
  });

  test('a part of another version at a taken offset still throws BAD_FIELD', async (t) => {
    const { uploads } = await setup(t);
    const bytes = pattern(900);
    await send(uploads, 0, bytes.subarray(0, 300), 900, { version: v(1) });
    await send(uploads, 300, bytes.subarray(300, 600), 900, { version: v(1) });
    await assert.rejects(send(uploads, 300, bytes.subarray(300, 600), 900, { version: v(2) }), isBadField);
  });

  test('a part at a later offset with no upload begun throws BAD_FIELD', async (t) => {
    const { store, uploads } = await setup(t);
    await assert.rejects(send(uploads, 300, pattern(300), 900, { key: 'never-started' }), isBadField);
    assert.equal(uploads.versionOf('never-started'), undefined);
    assert.equal(store.head(ITEM), undefined);
  });

  test('a first part longer than the size throws BAD_FIELD', async (t) => {
    const { store, uploads } = await setup(t);
    await assert.rejects(send(uploads, 0, pattern(20), 10), isBadField);
    assert.equal(store.head(ITEM), undefined);
  });
});

describe('Uploads restart', () => {
  test('a new part at offset 0 restarts the upload', async (t) => {
    const { store, uploads, discarded } = await setup(t);
    const old = pattern(900, 1);
    const fresh = pattern(600, 2);
    await send(uploads, 0, old.subarray(0, 300), 900, { version: v(1) });
    await send(uploads, 300, old.subarray(300, 600), 900, { version: v(1) });
    assert.deepEqual(uploads.versionOf(KEY), v(1));

    assert.equal(await send(uploads, 0, fresh.subarray(0, 300), 600, { version: v(2) }), false);
    assert.equal(discarded(), 1, 'the first attempt was discarded');
    assert.deepEqual(uploads.versionOf(KEY), v(2));
    // The old upload's next part no longer follows.
    await assert.rejects(send(uploads, 600, old.subarray(600), 900, { version: v(1) }), isBadField);
    assert.equal(await send(uploads, 300, fresh.subarray(300), 600, { version: v(2) }), true);
    await assertStored(store, fresh, v(2));
  });
});

describe('Uploads.expire', () => {
  test('drops uploads idle since before the given time and keeps the others', async (t) => {
    const { store, uploads, discarded } = await setup(t);
    const bytes = pattern(600);
    await send(uploads, 0, bytes.subarray(0, 300), 600, { key: 'idle', now: 1000 });
    await send(uploads, 0, bytes.subarray(0, 300), 600, { key: 'busy', item: 'busy-item', now: 1000 });
    await send(uploads, 0, bytes.subarray(0, 300), 600, { key: 'edge', item: 'edge-item', now: 2000 });
    await send(uploads, 300, bytes.subarray(300, 300), 600, { key: 'busy', item: 'busy-item', now: 3000 }); // empty part: still touches it

    await uploads.expire(2000);
    assert.equal(uploads.versionOf('idle'), undefined, 'idle since 1000: dropped');
    assert.deepEqual(uploads.versionOf('busy'), v(1), 'touched at 3000: kept');
    assert.deepEqual(uploads.versionOf('edge'), v(1), 'touched exactly at 2000: kept');
    assert.equal(discarded(), 1);

    await assert.rejects(send(uploads, 300, bytes.subarray(300), 600, { key: 'idle' }), isBadField);
    assert.equal(store.head(ITEM), undefined);

    assert.equal(await send(uploads, 300, bytes.subarray(300), 600, { key: 'busy', item: 'busy-item', now: 4000 }), true);
    assert.deepEqual(await store.readRange('busy-item', 0, 600), bytes);
  });

  test('clear drops every open upload', async (t) => {
    const { uploads, discarded } = await setup(t);
    await send(uploads, 0, pattern(10), 20, { key: 'a', now: Number.MAX_SAFE_INTEGER });
    await send(uploads, 0, pattern(10), 20, { key: 'b' });
    await uploads.clear();
    assert.equal(uploads.versionOf('a'), undefined);
    assert.equal(uploads.versionOf('b'), undefined);
    assert.equal(discarded(), 2);
  });
});

describe("Uploads: the writer's hash", () => {
  const bytes = pattern(10_000, 7);
  /** A hash that is not the bytes' own: recorded only by a server that takes the writer's word for it. */
  const WRITERS = 'ab'.repeat(20);

  async function upload(uploads: Uploads, options: { hashing: boolean; sha1?: string }): Promise<void> {
    for (const { offset, chunk } of parts(bytes, 4_000)) {
      const last = offset + chunk.length === bytes.length;
      await send(uploads, offset, chunk, bytes.length, { hashing: options.hashing, sha1: last ? options.sha1 : undefined });
    }
  }

  test('a server on the way records the hash the last part brings, without hashing the bytes', async (t) => {
    const { store, uploads } = await setup(t);
    await upload(uploads, { hashing: false, sha1: WRITERS });
    assert.equal(store.head(ITEM)?.hash, WRITERS);
    assert.deepEqual(await store.readRange(ITEM, 0, bytes.length), bytes);
  });

  test('a last part without a hash (an older writer): the staged bytes are hashed once whole', async (t) => {
    const { store, uploads } = await setup(t);
    await upload(uploads, { hashing: false });
    await assertStored(store, bytes, v(1));
  });

  test('a server that hashes what it takes records its own hash, whatever a part says', async (t) => {
    const { store, uploads } = await setup(t);
    await upload(uploads, { hashing: true, sha1: WRITERS });
    await assertStored(store, bytes, v(1));
  });
});

describe('the memory a part arrived in', () => {
  for (const kind of ['memory', 'disk'] as const) {
    test(`is used again once the part is taken (${kind}): what is stored keeps the bytes as they were`, async (t) => {
      let persistence: MemoryPersistence | DiskPersistence = new MemoryPersistence();
      if (kind === 'disk') {
        const dir = await mkdtemp(join(tmpdir(), 'coop-uploads-'));
        t.after(() => rm(dir, { recursive: true, force: true }));
        persistence = await DiskPersistence.open(dir);
      }
      const store = await ItemStore.open(persistence);
      t.after(() => store.close());
      const uploads = new Uploads(store);
      const bytes = pattern(10_000, 7);
      const reused = Buffer.alloc(1000);
      for (const { offset, chunk } of parts(bytes, 1000)) {
        chunk.copy(reused);
        await send(uploads, offset, reused.subarray(0, chunk.length), bytes.length);
        reused.fill(0xee); // the next part's bytes, as a block lent again (part-blocks.ts)
      }
      await assertStored(store, bytes, v(1));
    });
  }
});
