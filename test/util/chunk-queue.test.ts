/** ChunkQueue: bytes taken off the front by length, in the chunks they came in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkQueue } from '../../src/util/chunk-queue.js';

test('takes exactly the length asked for, cutting a chunk that straddles it, and keeps the rest in order', () => {
  const queue = new ChunkQueue();
  for (const text of ['abc', '', 'defg', 'h']) queue.push(Buffer.from(text));
  assert.equal(queue.size, 8);
  const first = queue.take(5);
  assert.deepEqual(
    first.map((chunk) => chunk.toString()),
    ['abc', 'de'],
  );
  assert.equal(queue.size, 3);
  assert.deepEqual(
    queue.take(10).map((chunk) => chunk.toString()),
    ['fg', 'h'],
  );
  assert.equal(queue.size, 0);
  assert.deepEqual(queue.take(1), []);
});

test('a chunk cut is not copied: what is taken shares the memory it arrived in', () => {
  const queue = new ChunkQueue();
  const chunk = Buffer.from('abcdef');
  queue.push(chunk);
  const [taken] = queue.take(2);
  chunk[0] = 'z'.charCodeAt(0);
  assert.equal(taken!.toString(), 'zb');
});
