/** ItemStore over DiskPersistence: what survives a restart, where files go, and damage found at open. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { BucketDigest } from '../../src/store/digest.js';
import { DiskPersistence } from '../../src/store/durable.js';
import { INLINE_LIMIT, ItemStore, metaFields, type ItemMeta } from '../../src/store/items.js';
import type { Version } from '../../src/store/version.js';

const A = '127.0.0.1:4043';
const NOW = 1_700_000_000_000;

function v(clock: number, server: string = A): Version {
  return { clock, server };
}

function sha1Hex(bytes: Buffer | string): string {
  return createHash('sha1').update(bytes).digest('hex');
}

function pattern(length: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 13 + seed * 101 + (i >> 10)) & 0xff;
  return bytes;
}

/** Text longer than INLINE_LIMIT characters, so it is kept as a blob. */
function largeText(prefix: string): string {
  return `${prefix}:`.padEnd(INLINE_LIMIT + 100, '0123456789');
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'coop-durable-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(dir: string): Promise<ItemStore> {
  return ItemStore.open(await DiskPersistence.open(dir));
}

/** Runs `body` with a store open on `dir`, closing it whatever happens. */
async function withStore<T>(dir: string, body: (store: ItemStore) => Promise<T>): Promise<T> {
  const store = await openStore(dir);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** The blob files once the store's removals in the background are done. */
async function blobFiles(store: ItemStore, dir: string): Promise<string[]> {
  await store.settled();
  return readdir(join(dir, 'blobs'));
}

/** Every file and directory under `root`, relative to it, with '/' separators. */
async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true });
  return entries.map((entry) => entry.split('\\').join('/')).sort();
}

function persistedMeta(meta: ItemMeta | undefined): ItemMeta | undefined {
  return meta && metaFields(meta);
}

describe('DiskPersistence: restart', () => {
  test('inline text, base64, a blob and a tombstone survive close and reopen', async (t) => {
    const dir = await tempDir(t);
    const bin = pattern(500);
    const bigBytes = pattern(Math.ceil((INLINE_LIMIT * 3) / 4) + 5000, 9);
    const bigText = largeText('big text é');
    const before = await withStore(dir, async (store) => {
      assert.equal(await store.apply('text', { version: v(1), content: 'héllo' }, NOW), true);
      assert.equal(await store.apply('bin', { version: v(2), encoding: 'base64', content: bin.toString('base64') }, NOW + 1), true);
      assert.equal(await store.apply('big', { version: v(3), encoding: 'base64', content: bigBytes.toString('base64') }, NOW + 2), true);
      assert.equal(await store.apply('bigtext', { version: v(4), content: bigText }, NOW + 3), true);
      await store.apply('gone', { version: v(5), content: 'soon deleted' }, NOW + 4);
      assert.equal(await store.apply('gone', { version: v(6), deleted: true, content: '' }, NOW + 5), true);
      return {
        digest: store.digest.toWire(),
        metas: new Map([...store.entries()].map(([name, meta]) => [name, persistedMeta(meta)])),
      };
    });
    assert.equal((await readdir(join(dir, 'blobs'))).length, 2, 'the two large items are blobs');

    await withStore(dir, async (store) => {
      assert.deepEqual(store.damaged, []);
      assert.equal(store.size, 5);
      assert.deepEqual(store.digest.toWire(), before.digest);
      for (const [name, meta] of before.metas) {
        assert.deepEqual(persistedMeta(store.head(name)), meta, name);
      }
      assert.equal((await store.get('text'))?.content, 'héllo');
      assert.equal((await store.get('bin'))?.content, bin.toString('base64'));
      assert.deepEqual(await store.readRange('bin', 100, 50), bin.subarray(100, 150));
      const big = await store.get('big');
      assert.ok(big?.content === bigBytes.toString('base64'), 'big blob reads back whole');
      assert.equal(big?.meta.hash, sha1Hex(bigBytes));
      assert.deepEqual(await store.readRange('big', 1000, 3000), bigBytes.subarray(1000, 4000));
      assert.ok((await store.get('bigtext'))?.content === bigText, 'big text reads back whole');
      assert.equal(await store.get('gone'), undefined);
      assert.equal(store.head('gone')?.deleted, true);
      assert.deepEqual(store.head('gone')?.version, v(6));
      // The tombstone still refuses a stale copy after the restart.
      assert.equal(await store.apply('gone', { version: v(5), content: 'zombie' }, NOW + 10), false);
    });
  });

  test('head after a reopen shows the same meta as before, and nothing more', async (t) => {
    const dir = await tempDir(t);
    const before = await withStore(dir, async (store) => {
      await store.apply('big', { version: v(1), content: largeText('b') }, NOW);
      await store.apply('small', { version: v(1), content: 's' }, NOW);
      return { big: store.head('big'), small: store.head('small') };
    });
    await withStore(dir, async (store) => {
      // Read back from disk, a record is a plain object with exactly the fields it was written with.
      assert.deepEqual(store.head('small'), persistedMeta(before.small));
      assert.deepEqual(store.head('big'), persistedMeta(before.big));
    });
  });
});

describe('DiskPersistence: names never become paths', () => {
  const NAMES = ['../../etc/passwd', '/abs/path', 'a\\b', 'con', '..', '.', 'blobs', 'index/data.mdb', 'x/../../y', 'nul.txt'];

  test('odd names are stored and read back, and no file appears outside the data directory', async (t) => {
    const root = await tempDir(t);
    // The data directory sits a few levels down, so an escape upwards would land inside root.
    const dir = join(root, 'one', 'two', 'data');
    await mkdir(dir, { recursive: true });
    await withStore(dir, async (store) => {
      for (const [i, name] of NAMES.entries()) {
        const content = i % 2 === 0 ? largeText(name) : `small ${name}`;
        assert.equal(await store.apply(name, { version: v(i + 1), content }, NOW), true, name);
      }
    });

    const top = await readdir(dir);
    assert.deepEqual(top.sort(), ['blobs', 'index', 'staging']);
    for (const path of await tree(root)) {
      assert.ok(['one', 'one/two', 'one/two/data'].includes(path) || path.startsWith('one/two/data/'), `${path} is outside the data dir`);
    }
    const blobs = await readdir(join(dir, 'blobs'));
    assert.equal(blobs.length, Math.ceil(NAMES.length / 2));
    for (const blob of blobs) {
      for (const name of NAMES) assert.ok(!blob.includes(name), `blob file ${blob} contains the name ${name}`);
    }
    assert.deepEqual(await readdir(join(dir, 'staging')), []);

    await withStore(dir, async (store) => {
      assert.deepEqual(store.damaged, []);
      assert.deepEqual([...store.entries()].map(([name]) => name).sort(), [...NAMES].sort());
      for (const [i, name] of NAMES.entries()) {
        const content = i % 2 === 0 ? largeText(name) : `small ${name}`;
        assert.ok((await store.get(name))?.content === content, `${name} reads back`);
      }
    });
  });
});

describe('DiskPersistence: blob files', () => {
  test('superseding a blob removes the old blob file; a refused copy leaves no file behind', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('x', { version: v(1), content: largeText('one') }, NOW);
      const first = await blobFiles(store, dir);
      assert.equal(first.length, 1);

      await store.apply('x', { version: v(2), content: largeText('two') }, NOW);
      const second = await blobFiles(store, dir);
      assert.equal(second.length, 1);
      assert.notEqual(second[0], first[0]);
      assert.ok((await store.get('x'))?.content === largeText('two'));

      assert.equal(await store.apply('x', { version: v(1), content: largeText('stale') }, NOW), false);
      assert.deepEqual(await blobFiles(store, dir), second);
      assert.deepEqual(await readdir(join(dir, 'staging')), [], 'the refused copy was not left staged');

      await store.apply('x', { version: v(3), content: 'small' }, NOW);
      assert.deepEqual(await blobFiles(store, dir), [], 'an inline copy replaces the blob');

      await store.apply('y', { version: v(1), content: largeText('y') }, NOW);
      assert.equal((await blobFiles(store, dir)).length, 1);
      await store.apply('y', { version: v(2), deleted: true, content: '' }, NOW);
      assert.deepEqual(await blobFiles(store, dir), [], 'a tombstone replaces the blob');
    });
  });

  test('a reader keeps to the version it opened while a newer one replaces it (and its blob file goes)', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('x', { version: v(1), content: largeText('one') }, NOW);
      const reader = await store.reader('x');
      assert.ok(reader);
      assert.deepEqual(reader.meta.version, v(1));
      await store.apply('x', { version: v(2), content: largeText('two') }, NOW);
      assert.equal((await blobFiles(store, dir)).length, 1, 'the old blob file is removed');
      assert.equal((await reader.content.read(0, 8)).toString(), 'one:0123', 'still the version opened');
      assert.equal((await reader.content.read(INLINE_LIMIT + 90, 100)).length, 10, 'a read past the end gives what is left');
      await reader.content.close();
      assert.equal((await (await store.reader('x'))!.content.read(0, 4)).toString(), 'two:');
      assert.equal(await store.reader('nothing'), undefined);
    });
  });

  test('a blob written before a restart is read, superseded and collected after it', async (t) => {
    const dir = await tempDir(t);
    const blobsDir = join(dir, 'blobs');
    await withStore(dir, (store) => store.apply('x', { version: v(1), content: largeText('one') }, NOW));
    await withStore(dir, (store) => store.apply('gone', { version: v(1), content: largeText('gone') }, NOW));
    assert.equal((await readdir(blobsDir)).length, 2);
    await withStore(dir, async (store) => {
      assert.ok((await store.readRange('x', 0, 4)).equals(Buffer.from('one:')));
      await store.apply('x', { version: v(2), content: 'small now' }, NOW);
      await store.apply('gone', { version: v(2), deleted: true, content: '' }, NOW);
      assert.deepEqual(await blobFiles(store, dir), [], 'both old blob files are removed');
      assert.equal(await store.collectTombstones(NOW + 1), 1);
    });
    await withStore(dir, async (store) => {
      assert.deepEqual(await store.get('x'), { meta: store.head('x'), content: 'small now' });
      assert.equal(store.head('gone'), undefined);
    });
  });

  test('orphan blob files and staging files are removed at open', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('kept', { version: v(1), content: largeText('kept') }, NOW);
    });
    const [kept] = await readdir(join(dir, 'blobs'));
    assert.ok(kept);
    await writeFile(join(dir, 'blobs', '99-0123456789abcdef'), 'orphan');
    await writeFile(join(dir, 'blobs', 'stray'), 'orphan');
    await writeFile(join(dir, 'staging', 'partial'), 'half an upload');
    await mkdir(join(dir, 'staging', 'subdir'));
    await writeFile(join(dir, 'staging', 'subdir', 'deep'), 'x');

    await withStore(dir, async (store) => {
      assert.deepEqual(await readdir(join(dir, 'blobs')), [kept]);
      assert.deepEqual(await readdir(join(dir, 'staging')), []);
      assert.ok((await store.get('kept'))?.content === largeText('kept'));
      assert.deepEqual(store.damaged, []);
    });
  });
});

describe('DiskPersistence: damage found at open', () => {
  test('a record whose content does not match its hash and a record whose blob is gone are dropped and named', async (t) => {
    const dir = await tempDir(t);
    const intact = await withStore(dir, async (store) => {
      await store.apply('tampered', { version: v(1), content: 'original text' }, NOW);
      await store.apply('blob-lost', { version: v(2), content: largeText('lost') }, NOW);
      await store.apply('fine-text', { version: v(3), content: 'fine' }, NOW);
      await store.apply('fine-blob', { version: v(4), content: largeText('fine') }, NOW);
      await store.apply('fine-tomb', { version: v(5), deleted: true, content: '' }, NOW);
      return new Map([...store.entries()].map(([name, meta]) => [name, persistedMeta(meta)]));
    });

    const db = openLmdb<Record<string, unknown>, string>({ path: join(dir, 'index'), compression: false });
    try {
      const tampered = db.get('tampered');
      assert.ok(tampered && typeof tampered['content'] === 'string');
      await db.put('tampered', { ...tampered, content: 'changed text' });
      const lost = db.get('blob-lost');
      assert.ok(lost && typeof lost['blob'] === 'string', 'blob-lost is kept as a blob');
      await rm(join(dir, 'blobs', lost['blob'] as string));
    } finally {
      await db.close();
    }

    await withStore(dir, async (store) => {
      assert.deepEqual([...store.damaged].sort(), ['blob-lost', 'tampered']);
      assert.equal(store.head('tampered'), undefined);
      assert.equal(store.head('blob-lost'), undefined);
      assert.equal(await store.get('tampered'), undefined);
      assert.deepEqual([...store.entries()].map(([name]) => name).sort(), ['fine-blob', 'fine-text', 'fine-tomb']);
      for (const name of ['fine-blob', 'fine-text', 'fine-tomb']) {
        assert.deepEqual(persistedMeta(store.head(name)), intact.get(name), name);
      }
      assert.equal((await store.get('fine-text'))?.content, 'fine');
      assert.ok((await store.get('fine-blob'))?.content === largeText('fine'));
      assert.equal(store.head('fine-tomb')?.deleted, true);

      // The digest leaves the damaged names out, so anti-entropy sees them missing.
      const expected = new BucketDigest();
      for (const name of ['fine-blob', 'fine-text', 'fine-tomb']) expected.update(name, undefined, store.head(name));
      assert.deepEqual(store.digest.toWire(), expected.toWire());

      // A fresh copy of a damaged name is taken.
      assert.equal(await store.apply('tampered', { version: v(1), content: 'original text' }, NOW), true);
    });

    const db2 = openLmdb<Record<string, unknown>, string>({ path: join(dir, 'index'), compression: false });
    try {
      assert.equal(db2.get('blob-lost'), undefined, 'the damaged record is gone from the index');
    } finally {
      await db2.close();
    }
    await withStore(dir, async (store) => {
      assert.deepEqual(store.damaged, [], 'damage is reported once');
      assert.equal((await store.get('tampered'))?.content, 'original text');
    });
  });

  test('a blob file of the wrong size is damage', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('short', { version: v(1), content: largeText('short') }, NOW);
    });
    const [blob] = await readdir(join(dir, 'blobs'));
    assert.ok(blob);
    await writeFile(join(dir, 'blobs', blob), 'truncated');
    await withStore(dir, async (store) => {
      assert.deepEqual(store.damaged, ['short']);
      assert.equal(store.head('short'), undefined);
      assert.deepEqual(await readdir(join(dir, 'blobs')), [], 'the unreferenced blob file is removed');
    });
  });
});

describe('DiskPersistence: whole records and contents', () => {
  /** Rewrites `name`'s stored record through LMDB, as a flipped bit on disk would: its checksum stays as it was. */
  async function alterRecord(dir: string, name: string, change: (record: Record<string, unknown>) => Record<string, unknown>) {
    const db = openLmdb<Record<string, unknown>, string>({ path: join(dir, 'index'), compression: false });
    try {
      const record = db.get(name);
      assert.ok(record && typeof record['check'] === 'string', `${name} carries a checksum`);
      await db.put(name, change(record));
    } finally {
      await db.close();
    }
  }

  test('a record whose deleted flag, version or size changed on disk is dropped and named; the others stay', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('live', { version: v(1), content: 'alive' }, NOW);
      await store.apply('tomb', { version: v(2), deleted: true, content: '' }, NOW);
      await store.apply('clock', { version: v(3), content: 'three' }, NOW);
      await store.apply('sized', { version: v(4), content: largeText('sized') }, NOW);
      await store.apply('fine', { version: v(5), content: 'fine' }, NOW);
    });
    await alterRecord(dir, 'live', (record) => ({ ...record, deleted: true }));
    await alterRecord(dir, 'tomb', (record) => ({ ...record, deleted: false }));
    await alterRecord(dir, 'clock', (record) => ({ ...record, version: { ...(record['version'] as Version), clock: 7 } }));
    await alterRecord(dir, 'sized', (record) => ({ ...record, size: 12 }));
    await withStore(dir, async (store) => {
      assert.deepEqual([...store.damaged].sort(), ['clock', 'live', 'sized', 'tomb']);
      assert.deepEqual(
        [...store.entries()].map(([name]) => name),
        ['fine'],
      );
      assert.equal((await store.get('fine'))?.content, 'fine');
    });
  });

  test('a record that no longer decodes at all is dropped and named', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('garbled', { version: v(1), content: 'soon garbled' }, NOW);
      await store.apply('fine', { version: v(2), content: 'fine' }, NOW);
    });
    const db = openLmdb<Buffer, string>({ path: join(dir, 'index'), encoding: 'binary', compression: false });
    try {
      await db.put('garbled', Buffer.from([0xc1, 0xc1, 0xc1])); // 0xc1 is never used in MessagePack
    } finally {
      await db.close();
    }
    await withStore(dir, async (store) => {
      assert.deepEqual(store.damaged, ['garbled']);
      assert.deepEqual(
        [...store.entries()].map(([name]) => name),
        ['fine'],
      );
    });
  });

  test('records written before checksums are accepted and get one', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('old-text', { version: v(1), content: 'from an older version' }, NOW);
      await store.apply('old-blob', { version: v(2), content: largeText('older') }, NOW);
    });
    const db = openLmdb<Record<string, unknown>, string>({ path: join(dir, 'index'), compression: false });
    try {
      for (const name of ['old-text', 'old-blob']) {
        const { check: _dropped, ...record } = db.get(name)!;
        await db.put(name, record);
      }
    } finally {
      await db.close();
    }
    await withStore(dir, async (store) => {
      assert.deepEqual(store.damaged, []);
      assert.equal((await store.get('old-text'))?.content, 'from an older version');
      assert.ok((await store.get('old-blob'))?.content === largeText('older'));
    });
    // Checked from then on: a change is now found.
    await alterRecord(dir, 'old-text', (record) => ({ ...record, deleted: true }));
    await withStore(dir, async (store) => assert.deepEqual(store.damaged, ['old-text']));
  });

  test('a blob of the right size whose bytes changed is damage (contents are checked, not only sizes)', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('flipped', { version: v(1), content: largeText('flipped') }, NOW);
    });
    const [blob] = await readdir(join(dir, 'blobs'));
    const path = join(dir, 'blobs', blob!);
    const bytes = await readFile(path);
    bytes[bytes.length >> 1]! ^= 0x01;
    await writeFile(path, bytes);
    await withStore(dir, async (store) => assert.deepEqual(store.damaged, ['flipped']));
  });

  test('a blob cut short while running: the read fails, and the copy is dropped from the index and the digest', async (t) => {
    const dir = await tempDir(t);
    await withStore(dir, async (store) => {
      await store.apply('cut', { version: v(1), content: largeText('cut') }, NOW);
      await store.apply('kept', { version: v(2), content: 'kept' }, NOW);
      const found: string[] = [];
      store.onDamaged = (err) => found.push(err.item);
      const [blob] = await readdir(join(dir, 'blobs'));
      await truncate(join(dir, 'blobs', blob!), 1000);
      await assert.rejects(store.readRange('cut', INLINE_LIMIT - 10, 100), /stored copy of cut is damaged: .* ends at 1000 bytes/);
      assert.deepEqual(found, ['cut']);
      assert.equal(store.head('cut'), undefined);
      const expected = new BucketDigest();
      expected.update('kept', undefined, store.head('kept'));
      assert.deepEqual(store.digest.toWire(), expected.toWire());
      // The ring's copy is taken again.
      assert.equal(await store.apply('cut', { version: v(1), content: largeText('cut') }, NOW), true);
      assert.ok((await store.get('cut'))?.content === largeText('cut'));
    });
  });
});
