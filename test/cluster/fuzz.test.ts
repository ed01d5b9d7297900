/**
 * Short fuzzing runs (npm run fuzz, and node dist/test/fuzz/http-diff.js, run
 * longer): hostile input never harms a live ring; the HTTP fast path answers
 * as node:http alone does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MEMORY_GROWTH_MIB, runFuzz } from '../fuzz/fuzz.js';
import { runHttpDiff } from '../fuzz/http-diff.js';

test('fuzzing two servers for 10 seconds: every input answered or closed, correct GETs stay correct, ring, data and memory unchanged', async (t) => {
  const seed = Date.now() % 1_000_000;
  const report = await runFuzz({ seconds: 10, seed, say: (line) => t.diagnostic(line) });
  assert.equal(report.failure, undefined, `seed ${seed}`);
  assert.ok(report.runs > 100, `only ${report.runs} inputs`);
  assert.ok(report.ringUnchanged, 'the ring is unchanged');
  assert.ok(report.dataUnchanged, 'the stored data is unchanged');
  for (const { before, after } of report.rssMiB)
    assert.ok(after < before + MEMORY_GROWTH_MIB, `memory grew from ${before} to ${after} MiB`);
});

test('the HTTP fast path against node:http alone, for 8 seconds: the same answers to the same generated, mutated, split request sequences', async (t) => {
  const seed = Date.now() % 1_000_000;
  const report = await runHttpDiff({ seconds: 8, seed, say: (line) => t.diagnostic(line) });
  assert.equal(report.failure, undefined, `seed ${seed}`);
  assert.ok(report.runs > 100, `only ${report.runs} sequences`);
  assert.ok(report.cuts < report.runs / 4, `${report.cuts} of ${report.runs} sequences cut short by a close`);
  assert.ok(report.simpleHeads > report.runs / 5, `only ${report.simpleHeads} simple requests for the fast path`);
  assert.ok(report.inFront > report.runs / 10, `only ${report.inFront} requests answered by the fast path itself`);
});
