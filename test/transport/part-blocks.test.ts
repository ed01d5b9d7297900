/** PartBlocks: memory for parts read off peer streams, used again once a part is given back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartBlocks } from '../../src/transport/part-blocks.js';

test('a part given back lends its block to the next part; one not given back is never handed out again', () => {
  const blocks = new PartBlocks(1024, 4);
  const first = blocks.take(1000);
  const second = blocks.take(10);
  assert.equal(first.length, 1000);
  assert.notEqual(first.buffer, second.buffer, 'two parts out at once: two blocks');
  blocks.give([first]);
  const third = blocks.take(500);
  assert.equal(third.buffer, first.buffer, 'the block given back holds the next part');
  const fourth = blocks.take(500);
  assert.notEqual(fourth.buffer, second.buffer, 'the part still out keeps its block');
  assert.notEqual(fourth.buffer, third.buffer);
});

test('giving back twice, or a buffer not taken here, changes nothing', () => {
  const blocks = new PartBlocks(1024, 4);
  const part = blocks.take(100);
  blocks.give([part]);
  blocks.give([part, Buffer.alloc(100), part.subarray(0, 50)]);
  assert.equal(blocks.freeBlocks, 1);
  const next = blocks.take(100);
  const other = blocks.take(100);
  assert.notEqual(next.buffer, other.buffer, 'the block was freed once, so it is lent once');
});

test('a part larger than a block, or empty, gets its own buffer; at most `kept` free blocks are kept', () => {
  const blocks = new PartBlocks(1024, 2);
  const large = blocks.take(2048);
  assert.equal(large.length, 2048);
  assert.equal(large.buffer.byteLength >= 2048, true);
  blocks.give([large, blocks.take(0)]);
  assert.equal(blocks.freeBlocks, 0);
  const parts = [blocks.take(1), blocks.take(1), blocks.take(1)];
  blocks.give(parts);
  assert.equal(blocks.freeBlocks, 2);
});
