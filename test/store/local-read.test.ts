/** readLocal: how an item held here is read (absent, a range, too large, whole at hand, from disk), over an in-memory store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ItemStore } from '../../src/store/items.js';
import { MemoryPersistence } from '../../src/store/memory.js';
import { readLocal } from '../../src/store/local-read.js';

const NOW = 1_000_000;
const version = (clock: number) => ({ clock, server: '127.0.0.1:4043' });
const LIMIT = 10;
const ABSENT = { kind: 'absent', meta: undefined, content: undefined, part: undefined };

async function storeWith(t: { after(fn: () => Promise<void>): void }): Promise<ItemStore> {
  const store = await ItemStore.open(new MemoryPersistence());
  t.after(() => store.close());
  return store;
}

/** A small item whose content went to a blob (as a part-by-part upload leaves it): not at hand. */
async function stageBlob(store: ItemStore, name: string, bytes: Buffer): Promise<void> {
  const staged = await store.stage();
  await staged.append([bytes]);
  const hash = await staged.hash();
  const meta = { version: version(1), deleted: false, encoding: 'base64' as const, size: bytes.length, storedAt: NOW, hash };
  assert.equal(await store.applyStaged(name, meta, staged), true);
}

test('an item never held, or deleted, is absent, whether the whole or a range is asked for', async (t) => {
  const store = await storeWith(t);
  assert.deepEqual(readLocal(store, 'none', LIMIT), ABSENT);
  await store.apply('gone', { version: version(1), content: 'here' }, NOW);
  await store.apply('gone', { version: version(2), deleted: true, content: '' }, NOW);
  assert.deepEqual(readLocal(store, 'gone', LIMIT), ABSENT);
  assert.deepEqual(readLocal(store, 'gone', LIMIT, { offset: 0, length: 4 }), ABSENT);
});

test('a live item held here is whole, with its content at hand and its stored entry', async (t) => {
  const store = await storeWith(t);
  await store.apply('a.txt', { version: version(1), content: 'hello' }, NOW);
  const read = readLocal(store, 'a.txt', LIMIT);
  assert.deepEqual(read, { kind: 'whole', meta: store.head('a.txt'), content: 'hello', part: undefined });
  assert.equal(read.meta, store.head('a.txt'), 'the entry held, not a copy');
});

test('bytes stay as they travel (base64), and an empty item is whole too', async (t) => {
  const store = await storeWith(t);
  const bytes = Buffer.from([0xff, 0x00, 0xfe]);
  await store.apply('b.bin', { version: version(1), encoding: 'base64', content: bytes.toString('base64') }, NOW);
  await store.apply('empty', { version: version(1), content: '' }, NOW);
  const read = readLocal(store, 'b.bin', LIMIT);
  assert.equal(read.kind === 'whole' && read.content, bytes.toString('base64'));
  assert.equal(read.kind === 'whole' && read.meta.encoding, 'base64');
  assert.deepEqual(readLocal(store, 'empty', LIMIT), { kind: 'whole', meta: store.head('empty'), content: '', part: undefined });
});

test('the whole of an item larger than one reply carries is too large; at the limit it is whole', async (t) => {
  const store = await storeWith(t);
  await store.apply('at-limit', { version: version(1), content: 'x'.repeat(LIMIT) }, NOW);
  await store.apply('over', { version: version(1), content: 'x'.repeat(LIMIT + 1) }, NOW);
  assert.equal(readLocal(store, 'at-limit', LIMIT).kind, 'whole');
  assert.deepEqual(readLocal(store, 'over', LIMIT), { kind: 'too-large', meta: store.head('over'), content: undefined, part: undefined });
});

test('a range is read as a range whatever the size, carrying what was asked for', async (t) => {
  const store = await storeWith(t);
  await store.apply('small', { version: version(1), content: 'abc' }, NOW);
  await store.apply('large', { version: version(1), content: 'y'.repeat(LIMIT * 3) }, NOW);
  const part = { offset: 1, length: 2 };
  assert.deepEqual(readLocal(store, 'small', LIMIT, part), { kind: 'range', meta: store.head('small'), content: undefined, part });
  assert.deepEqual(readLocal(store, 'large', LIMIT, part), { kind: 'range', meta: store.head('large'), content: undefined, part });
});

test('content kept in a blob is read from disk, unless it is too large for one reply', async (t) => {
  const store = await storeWith(t);
  await stageBlob(store, 'blob.bin', Buffer.from('0123456789'));
  assert.equal(store.contentAtHand('blob.bin'), undefined, 'the premise: not inline');
  assert.deepEqual(readLocal(store, 'blob.bin', LIMIT), {
    kind: 'from-disk',
    meta: store.head('blob.bin'),
    content: undefined,
    part: undefined,
  });
  assert.equal(readLocal(store, 'blob.bin', LIMIT - 1).kind, 'too-large');
});

test('every kind of read has the same fields in the same order (one object shape, which V8 keeps out of the heap)', async (t) => {
  const store = await storeWith(t);
  await store.apply('small', { version: version(1), content: 'abc' }, NOW);
  await store.apply('large', { version: version(1), content: 'y'.repeat(LIMIT + 1) }, NOW);
  await stageBlob(store, 'blob.bin', Buffer.from('0123'));
  const reads = [
    readLocal(store, 'none', LIMIT),
    readLocal(store, 'small', LIMIT, { offset: 0, length: 1 }),
    readLocal(store, 'large', LIMIT),
    readLocal(store, 'small', LIMIT),
    readLocal(store, 'blob.bin', LIMIT),
  ];
  assert.deepEqual(
    reads.map((read) => read.kind),
    ['absent', 'range', 'too-large', 'whole', 'from-disk'],
  );
  for (const read of reads) assert.deepEqual(Object.keys(read), ['kind', 'meta', 'content', 'part']);
});
