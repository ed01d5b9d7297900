/**
 * The disk store on a full disk, made full by a reserve larger than the free
 * space: refused writes leave nothing behind (no record, no index entry, no
 * staging file, no descriptor); a short write is never taken for a whole one;
 * a staged file of the wrong size is never committed.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, statfs, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCoopError } from '../../src/errors.js';
import { Uploads } from '../../src/store/uploads.js';
import { DiskPersistence } from '../../src/store/durable.js';
import { FileStaged } from '../../src/store/staged-file.js';
import { asStoreError } from '../../src/store/disk-errors.js';
import { INLINE_LIMIT, ItemStore } from '../../src/store/items.js';
import { SpaceGuard } from '../../src/store/space.js';
import type { Version } from '../../src/store/version.js';

const A = '127.0.0.1:4043';
const NOW = 1_700_000_000_000;

function v(clock: number): Version {
  return { clock, server: A };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'coop-full-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function freeBytes(dir: string): Promise<number> {
  const { bavail, bsize } = await statfs(dir);
  return bavail * bsize;
}

/** A store whose reserve is `factor` times the free space: factor > 2 refuses everything, 1 < factor < 2 takes deletes only. */
async function storeOn(t: { after: (fn: () => Promise<void>) => void }, factor: number): Promise<{ store: ItemStore; dir: string }> {
  const dir = await tempDir(t);
  const store = await ItemStore.open(await DiskPersistence.open(dir, { reserveBytes: Math.floor((await freeBytes(dir)) * factor) }));
  t.after(() => store.close());
  return { store, dir };
}

async function assertNoSpace(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: unknown) => isCoopError(err, 'NO_SPACE'));
}

async function openDescriptors(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

describe('a full disk', () => {
  test('a small write is refused with NO_SPACE and leaves no trace: not held, not listed, not in the digest', async (t) => {
    const { store } = await storeOn(t, 4);
    const digest = store.digest.toWire();
    await assertNoSpace(store.apply('a.txt', { version: v(1), content: 'hello' }, NOW));
    assert.equal(store.head('a.txt'), undefined);
    assert.equal(await store.get('a.txt'), undefined);
    assert.deepEqual(store.digest.toWire(), digest);
  });

  test('a refused overwrite leaves the copy held before, served as it was', async (t) => {
    const dir = await tempDir(t);
    const roomy = await ItemStore.open(await DiskPersistence.open(dir));
    await roomy.apply('a.txt', { version: v(1), content: 'first' }, NOW);
    await roomy.close();
    const store = await ItemStore.open(await DiskPersistence.open(dir, { reserveBytes: (await freeBytes(dir)) * 4 }));
    t.after(() => store.close());
    const digest = store.digest.toWire();
    await assertNoSpace(store.apply('a.txt', { version: v(2), content: 'second' }, NOW));
    assert.deepEqual(store.head('a.txt')?.version, v(1));
    assert.equal((await store.get('a.txt'))?.content, 'first');
    assert.deepEqual(store.digest.toWire(), digest);
  });

  if (process.platform === 'linux') {
    test('a large write is refused before any staging file is made, and keeps no descriptor', async (t) => {
      const { store, dir } = await storeOn(t, 4);
      const before = await openDescriptors();
      for (let i = 0; i < 20; i++) {
        await assertNoSpace(store.apply(`big-${i}`, { version: v(1), content: 'x'.repeat(INLINE_LIMIT + 10) }, NOW));
      }
      assert.equal(await openDescriptors(), before);
      assert.deepEqual(await readdir(join(dir, 'staging')), []);
      assert.deepEqual(await readdir(join(dir, 'blobs')), []);
    });
  }

  test('deletes (tombstones) are still taken inside the reserve, so space can be freed through the ring', async (t) => {
    const { store } = await storeOn(t, 1.5);
    await assertNoSpace(store.apply('a.txt', { version: v(1), content: 'hello' }, NOW));
    assert.equal(await store.apply('a.txt', { version: v(2), deleted: true, content: '' }, NOW), true);
    assert.equal(store.head('a.txt')?.deleted, true);
  });

  test('an upload refused at its first part refuses its later parts with NO_SPACE too, not as out of order', async (t) => {
    const { store } = await storeOn(t, 4);
    const uploads = new Uploads(store);
    const part = (offset: number) => ({ upload: 'u', offset, size: 300 });
    await assertNoSpace(uploads.receive('u', 'big', v(1), 'base64', part(0), [Buffer.alloc(100)], NOW));
    await assertNoSpace(uploads.receive('u', 'big', v(1), 'base64', part(100), [Buffer.alloc(100)], NOW));
    await assertNoSpace(uploads.receive('u', 'big', v(1), 'base64', part(200), [Buffer.alloc(100)], NOW));
    assert.equal(store.head('big'), undefined);
  });
});

/** A file handle that takes at most `chunk` bytes per write, and none after `capacity` (then ENOSPC). */
function shortWriter(chunk: number, capacity: number): { handle: FileStaged['file']; written: Buffer[] } {
  const written: Buffer[] = [];
  let taken = 0;
  const handle = {
    async writev(buffers: Buffer[]) {
      if (taken >= capacity) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const all = Buffer.concat(buffers);
      const n = Math.min(chunk, all.length, capacity - taken);
      written.push(Buffer.from(all.subarray(0, n)));
      taken += n;
      return { bytesWritten: n, buffers };
    },
  } as unknown as FileStaged['file'];
  return { handle, written };
}

const roomy = new SpaceGuard({ probe: async () => Number.MAX_SAFE_INTEGER, reserveBytes: 0, where: 'test' });

describe('FileStaged: short writes', () => {
  test('short writes are continued until every byte is written', async () => {
    const { handle, written } = shortWriter(7, Infinity);
    const staged = new FileStaged('/nowhere', handle, roomy);
    const bytes = Buffer.from('a part of a large item, written a few bytes at a time');
    await staged.append([bytes.subarray(0, 10), bytes.subarray(10, 12), bytes.subarray(12)]);
    assert.deepEqual(Buffer.concat(written), bytes);
    assert.equal(staged.size, bytes.length);
  });

  test('a short write then a full disk is NO_SPACE, and the part is not counted as taken', async () => {
    const { handle } = shortWriter(1000, 1500);
    const staged = new FileStaged('/nowhere', handle, roomy);
    await staged.append([Buffer.alloc(1000, 1)]);
    const hash = await staged.hash();
    await assertNoSpace(staged.append([Buffer.alloc(1000, 2)]));
    assert.equal(staged.size, 1000);
    assert.equal(await staged.hash(), hash);
  });
});

describe('committing a staged content', () => {
  test('a staged file shorter than its record would say is not committed', async (t) => {
    const dir = await tempDir(t);
    const store = await ItemStore.open(await DiskPersistence.open(dir));
    t.after(() => store.close());
    const staged = (await store.stage()) as FileStaged;
    const bytes = Buffer.alloc(64 * 1024, 7);
    await staged.append([bytes]);
    await truncate(staged.path, 60 * 1024); // as a short write that went unnoticed would leave it
    const hash = await staged.hash();
    const meta = { version: v(1), deleted: false, encoding: 'base64' as const, size: bytes.length, storedAt: NOW, hash };
    await assert.rejects(store.applyStaged('big', meta, staged), /61440 bytes on disk, not 65536: not stored/);
    assert.equal(store.head('big'), undefined);
    assert.deepEqual(await readdir(join(dir, 'blobs')), []);
    assert.deepEqual(await readdir(join(dir, 'staging')), []);
  });
});

describe('asStoreError', () => {
  const where = 'data directory /srv/data';
  const cases: ReadonlyArray<{ name: string; make: () => unknown; noSpace: boolean }> = [
    { name: 'ENOSPC', make: () => Object.assign(new Error('no space'), { code: 'ENOSPC' }), noSpace: true },
    { name: 'EDQUOT', make: () => Object.assign(new Error('quota'), { code: 'EDQUOT' }), noSpace: true },
    { name: 'LMDB map full', make: () => Object.assign(new Error('MDB_MAP_FULL'), { code: -30792 }), noSpace: true },
    {
      name: "lmdb-js's Commit failed, caused by ENOSPC (errno 28)",
      make: () =>
        Object.assign(new Error('Commit failed'), { commitError: Promise.reject(Object.assign(new Error('No space left'), { code: 28 })) }),
      noSpace: true,
    },
    {
      name: "lmdb-js's Commit failed for another reason",
      make: () => Object.assign(new Error('Commit failed'), { commitError: Promise.reject(Object.assign(new Error('I/O'), { code: 5 })) }),
      noSpace: false,
    },
    { name: 'EIO', make: () => Object.assign(new Error('i/o'), { code: 'EIO' }), noSpace: false },
  ];
  for (const { name, make, noSpace } of cases) {
    test(`${name}: ${noSpace ? 'NO_SPACE naming the place' : 'left as it is'}`, async () => {
      const err = make();
      const result = await asStoreError(err, '"a"', where);
      if (noSpace) {
        assert.ok(isCoopError(result, 'NO_SPACE'));
        assert.match(result.message, /no space left for "a" in data directory \/srv\/data/);
      } else {
        assert.equal(result, err);
      }
    });
  }
});
