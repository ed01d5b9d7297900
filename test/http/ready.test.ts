/** Ready HTTP answers: made once per stored version, only for small items, within a memory budget. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ItemStore } from '../../src/store/items.js';
import { MemoryPersistence } from '../../src/store/memory.js';
import { ReadyAnswers } from '../../src/http/ready.js';

const NOW = 1_000_000;
const version = (clock: number) => ({ clock, server: '127.0.0.1:4043' });

test('an answer is made once per stored version, and made again when the item changes', async (t) => {
  const store = await ItemStore.open(new MemoryPersistence());
  t.after(() => store.close());
  const ready = new ReadyAnswers({ itemBytes: 100, totalBytes: 1000 });
  await store.apply('a.txt', { version: version(1), content: 'first' }, NOW);
  const first = ready.get(store, 'a.txt');
  assert.equal(first?.body, 'first');
  assert.match(first.head, /^HTTP\/1\.1 200 OK\r\ncontent-type: text\/plain; charset=utf-8\r\n.*content-length: 5\r\n$/s);
  assert.equal(ready.get(store, 'a.txt'), first, 'the same answer while the version holds');
  await store.apply('a.txt', { version: version(2), content: 'second!' }, NOW);
  assert.equal(ready.get(store, 'a.txt')?.body, 'second!', 'never a stale answer');
  await store.apply('a.txt', { version: version(3), deleted: true, content: '' }, NOW);
  assert.equal(ready.get(store, 'a.txt'), undefined, 'no answer for a deleted item');
});

test('items over the size limit get no answer, and the oldest answers go once the budget is spent', async (t) => {
  const store = await ItemStore.open(new MemoryPersistence());
  t.after(() => store.close());
  const ready = new ReadyAnswers({ itemBytes: 10, totalBytes: 15 });
  await store.apply('big.txt', { version: version(1), content: 'x'.repeat(11) }, NOW);
  await store.apply('a.txt', { version: version(1), content: 'aaaaaaaa' }, NOW);
  await store.apply('b.txt', { version: version(1), content: 'bbbbbbbb' }, NOW);
  assert.equal(ready.get(store, 'big.txt'), undefined);
  const a = ready.get(store, 'a.txt');
  const b = ready.get(store, 'b.txt');
  assert.equal(ready.get(store, 'b.txt'), b, 'the newest is kept');
  const again = ready.get(store, 'a.txt');
  assert.notEqual(again, a, '16 bytes are over the budget of 15: the older answer was dropped and is made again');
  assert.deepEqual(again?.headers, a?.headers);
});

test('an item whose content is on disk gets no answer: ready answers are made only from content at hand', async (t) => {
  const store = await ItemStore.open(new MemoryPersistence());
  t.after(() => store.close());
  const ready = new ReadyAnswers({ itemBytes: 100, totalBytes: 1000 });
  const staged = await store.stage();
  await staged.append([Buffer.from('on disk')]);
  const meta = { version: version(1), deleted: false, size: 7, storedAt: NOW, hash: await staged.hash() };
  await store.applyStaged('c.txt', meta, staged);
  assert.equal((await store.get('c.txt'))?.content, 'on disk', 'the premise: held and readable');
  assert.equal(ready.get(store, 'c.txt'), undefined);
});
