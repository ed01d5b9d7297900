/**
 * A short fault scenario through the code `npm run faults` runs: a server out
 * of file descriptors (prlimit) under writes; afterwards no acknowledged write
 * lost and no wrong answer.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { killAll } from '../processes.js';
import { SCENARIOS } from '../chaos/fault-scenarios.js';
import { formatResults, runScenario } from '../chaos/faults.js';

after(killAll);

const descriptors = SCENARIOS.find((scenario) => scenario.name === 'descriptors')!;

test(
  'faults, descriptor exhaustion for a few seconds: the server ran out, no acknowledged write lost, no wrong answer, no crash',
  { skip: descriptors.unavailable() },
  async (t) => {
    const seed = Date.now() % 100_000;
    const result = await runScenario(descriptors, { seconds: 6, seed, say: (line) => t.diagnostic(line) });
    t.diagnostic(`seed ${seed}`);
    for (const line of formatResults([result]).split('\n')) t.diagnostic(line);
    assert.equal(result.failed, undefined);
    assert.ok(
      result.notes.some((note) => note.includes('ran out of descriptors')),
      'the server met its limit',
    );
    assert.ok(result.acknowledged > 0, 'writes were acknowledged');
    assert.deepEqual(result.lost, []);
    assert.deepEqual(result.wrong, []);
    assert.deepEqual(result.crashes, [], 'no server exited by itself');
  },
);
