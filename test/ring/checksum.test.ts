/** The membership checksum that probes compare, and the ring's index: views alike in entries are alike in checksum. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Membership } from '../../src/ring/membership.js';

const POOL = Array.from({ length: 8 }, (_, i) => `127.0.0.1:${5000 + i}`);

/** A ring of the whole pool, each placed after the one before by the first server. */
function ring(): Membership {
  const first = new Membership(POOL[0]!, 0);
  POOL.slice(1).forEach((address, i) => first.place(address, 10 + i, POOL[i]));
  return first;
}

test('two servers that learnt the same entries in different orders have the same checksum', () => {
  const source = ring();
  source.suspect(POOL[3]!, 50);
  source.declareDead(POOL[5]!, 60);
  const entries = source.all();
  const forwards = new Membership(POOL[2]!, 0);
  const backwards = new Membership(POOL[2]!, 0);
  for (const entry of entries) forwards.merge([entry], 70);
  for (const entry of [...entries].reverse()) backwards.merge([entry], 70);
  assert.deepEqual(forwards.all(), backwards.all());
  assert.equal(forwards.checksum(), backwards.checksum());
});

test('the checksum changes with any change of an entry, and back when the view is the same again', () => {
  const view = ring();
  const seen = new Set([view.checksum()]);
  view.suspect(POOL[4]!, 50);
  seen.add(view.checksum());
  view.declareDead(POOL[4]!, 60);
  seen.add(view.checksum());
  view.place('127.0.0.1:6000', 70);
  seen.add(view.checksum());
  assert.equal(seen.size, 4, 'each change gives a new checksum');
  const copy = new Membership(POOL[0]!, 0);
  copy.merge(view.all(), 80);
  assert.equal(copy.checksum(), view.checksum());
});

test('position() is the index in ring(), -1 for a member out of the ring, and follows changes', () => {
  const view = ring();
  for (const [i, address] of view.ring().entries()) assert.equal(view.position(address), i);
  view.declareDead(POOL[3]!, 50);
  assert.equal(view.position(POOL[3]!), -1);
  assert.equal(view.position(POOL[4]!), view.ring().indexOf(POOL[4]!));
  assert.equal(view.position('127.0.0.1:1'), -1);
});

test('every change is noted as a rumour to tell', () => {
  const view = ring();
  assert.equal(view.rumours.size, POOL.length - 1, 'the placements made here');
  view.rumours.take(POOL.length, 1);
  assert.equal(view.rumours.size, 0);
  view.suspect(POOL[2]!, 50);
  assert.deepEqual(view.rumours.take(8, 4), [POOL[2]]);
});
