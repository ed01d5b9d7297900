/** The fault runs' ledger: which answers count as lost acknowledged writes and wrong answers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoopError } from '../../src/errors.js';
import type { Lookup } from '../../src/client/client.js';
import { Ledger } from './ledger.js';

/** A ledger on a clock that moves one millisecond per reading, so every write has its own start and end. */
function ledger(): Ledger {
  let t = 0;
  return new Ledger(() => ++t);
}

const ok = () => Promise.resolve('200 OK');
const fails = (code: 'CONFLICT' | 'TIMEOUT') => () => Promise.reject(new CoopError(code, code));

function holding(content: string | undefined): (server: string, item: string) => Promise<Lookup> {
  return () => Promise.resolve(content === undefined ? { found: false } : { found: true, content });
}

test('the latest acknowledged write held everywhere: nothing lost, no wrong answer', async () => {
  const l = ledger();
  const [a, b] = [l.contentFor('x', 'c0'), l.contentFor('x', 'c1')];
  await l.write('s1', 'x', a, ok);
  await l.write('s2', 'x', b, ok);
  assert.deepEqual(await l.checkSettled(['s1', 's2'], holding(b)), []);
  assert.deepEqual(l.wrongAnswers, []);
  assert.equal(l.acknowledged, 2);
});

test('an earlier write held over an acknowledged later one: the later is lost, each server holding it answers wrong', async () => {
  const l = ledger();
  const [a, b] = [l.contentFor('x', 'c0'), l.contentFor('x', 'c1')];
  await l.write('s1', 'x', a, ok);
  await l.write('s2', 'x', b, ok);
  assert.deepEqual(await l.checkSettled(['s1', 's2'], holding(a)), ['x written at s2']);
  assert.equal(l.wrongAnswers.length, 2);
});

test('a write without an answer may take effect later: holding it loses nothing', async () => {
  const l = ledger();
  const [a, b] = [l.contentFor('x', 'c0'), l.contentFor('x', 'c1')];
  await l.write('s1', 'x', a, fails('TIMEOUT'));
  await l.write('s2', 'x', b, ok);
  assert.deepEqual(await l.checkSettled(['s1'], holding(a)), []);
  assert.deepEqual(l.wrongAnswers, []);
  assert.deepEqual(l.errors, { TIMEOUT: 1 });
});

test('a write refused with CONFLICT is not acknowledged, and must not be what the ring keeps', async () => {
  const l = ledger();
  const [a, b] = [l.contentFor('x', 'c0'), l.contentFor('x', 'c1')];
  await l.write('s1', 'x', a, ok);
  assert.equal(await l.write('s2', 'x', b, fails('CONFLICT')), false);
  assert.equal(l.acknowledged, 1);
  await l.checkSettled(['s1'], holding(b));
  assert.equal(l.wrongAnswers.length, 1);
  assert.match(l.wrongAnswers[0]!, /refused with CONFLICT/);
});

test('content never written, or a 404 for an acknowledged item, is a wrong answer and loses the item', async () => {
  const l = ledger();
  const a = l.contentFor('x', 'c0');
  await l.write('s1', 'x', a, ok);
  assert.deepEqual(await l.checkSettled(['s1'], holding('x|c9|99|')), ['x written at s1']);
  assert.deepEqual(await l.checkSettled(['s1'], holding(undefined)), ['x written at s1']);
  l.checkRead('s1', 'x', { found: true, content: l.contentFor('y', 'c0') }, 100);
  assert.equal(l.wrongAnswers.length, 3);
});

test('a read while faults go on: an older write is stale (counted, allowed), a 404 after the acknowledgement is wrong', async () => {
  const l = ledger();
  const [a, b] = [l.contentFor('x', 'c0'), l.contentFor('x', 'c1')];
  await l.write('s1', 'x', a, ok);
  await l.write('s2', 'x', b, ok);
  l.checkRead('s3', 'x', { found: true, content: a }, 100);
  assert.equal(l.staleReads, 1);
  assert.deepEqual(l.wrongAnswers, []);
  l.checkRead('s3', 'x', { found: false }, 100);
  assert.equal(l.wrongAnswers.length, 1);
  assert.equal(l.reads, 2);
});

test('the longest stall: the longest time between acknowledgements, from the start of the load to its end', async () => {
  const l = ledger();
  await l.write('s1', 'x', l.contentFor('x', 'c0'), ok); // acknowledged at 2
  await l.write('s1', 'x', l.contentFor('x', 'c0'), fails('TIMEOUT'));
  await l.write('s1', 'x', l.contentFor('x', 'c0'), ok); // acknowledged at 5
  assert.equal(l.longestStall(0, 6), 3);
  assert.equal(l.longestStall(0, 20), 15);
  assert.equal(l.longestStall(0, 20, [[10, 14]]), 11, 'time held back is no stall');
});
