/** PassedBy: the members this server cannot send to, and since when; pure state. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassedBy } from '../../src/ring/passed-by.js';

const B = '127.0.0.1:4044';
const C = '127.0.0.1:4045';

test('a member is noted once, from the first failure on', () => {
  const passedBy = new PassedBy();
  assert.equal(passedBy.has(B), false);
  assert.equal(passedBy.note(B, 1000), true);
  assert.equal(passedBy.note(B, 5000), false);
  assert.equal(passedBy.has(B), true);
  assert.equal(passedBy.answered(B, 3500), 2500);
});

test('an answer ends the passing by; one from a member not passed by tells nothing', () => {
  const passedBy = new PassedBy();
  passedBy.note(B, 0);
  assert.equal(passedBy.answered(C, 10), undefined);
  assert.equal(passedBy.answered(B, 10), 10);
  assert.equal(passedBy.has(B), false);
  assert.equal(passedBy.answered(B, 20), undefined);
  assert.deepEqual([...passedBy.addresses()], []);
});

test('members the ring no longer knows are forgotten', () => {
  const passedBy = new PassedBy();
  passedBy.note(B, 0);
  passedBy.note(C, 0);
  passedBy.keepOnly((address) => address === C);
  assert.deepEqual([...passedBy.addresses()], [C]);
});
