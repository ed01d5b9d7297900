/** A short fuzzing run (npm run fuzz runs it for longer): hostile input never harms a live ring. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MEMORY_GROWTH_MIB, runFuzz } from './fuzz/fuzz.js';

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
