/** A short chaos run (npm run chaos runs it for longer): random kill -9, restarts, SIGSTOP/SIGCONT under load. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../chaos/chaos.js';

test('chaos for 12 seconds in a ring of five: one ring afterwards, every acknowledged PUT readable everywhere, no wrong answer', async (t) => {
  const seed = Date.now() % 100_000;
  const report = await runChaos({ seconds: 12, minFaults: 6, seed, say: (line) => t.diagnostic(line) });
  t.diagnostic(`seed ${seed}`);
  assert.ok(report.actions.length > 6, 'chaos happened: six faults besides the start');
  assert.ok(report.acknowledged > 50, `only ${report.acknowledged} PUTs acknowledged`);
  assert.deepEqual(report.wrongAnswers, []);
  assert.deepEqual(report.unreadable, []);
});
