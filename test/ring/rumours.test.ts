/** The piggyback queue: which changes a probe tells, how often, and in what order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rumours, tellsFor } from '../../src/ring/rumours.js';

const [A, B, C, D] = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3', '127.0.0.1:4'];

test('tellsFor grows with log10 of the ring size: 4 up to 9 members, 8 up to 99, 12 up to 999', () => {
  assert.deepEqual([1, 9, 10, 99, 100, 256, 999].map(tellsFor), [4, 4, 8, 8, 12, 12, 12]);
});

test('take gives at most `limit` changes, the least told first and, among those, the newest', () => {
  const rumours = new Rumours();
  for (const address of [A, B, C]) rumours.note(address);
  assert.deepEqual(rumours.take(2, 10), [C, B]);
  assert.deepEqual(rumours.take(2, 10), [A, C], 'A, never told, before C and B, told once');
  rumours.note(D);
  assert.deepEqual(rumours.take(1, 10), [D]);
});

test('each change is told `tells` times, then dropped; a new change of it is told afresh', () => {
  const rumours = new Rumours();
  rumours.note(A);
  const told = Array.from({ length: 4 }, () => rumours.take(8, 3));
  assert.deepEqual(told, [[A], [A], [A], []]);
  assert.equal(rumours.size, 0);
  rumours.note(A);
  assert.deepEqual(rumours.take(8, 3), [A]);
});

test('a member noted again goes back to never told; a dropped one is told no more', () => {
  const rumours = new Rumours();
  rumours.note(A);
  rumours.note(B);
  rumours.take(8, 5);
  rumours.note(A);
  assert.deepEqual(rumours.take(1, 5), [A]);
  rumours.drop(B);
  assert.deepEqual(rumours.take(8, 5), [A]);
});
