/** Failures of real processes: paused (SIGSTOP) for a short and a long while, and a graceful leave (SIGTERM). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { getDigest, getItem, getRing, putItem } from '../../src/client/client.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { spawn } from 'node:child_process';
import { killAll, ringOf, WEBSERVER, type ServerProcess } from '../processes.js';

after(killAll);

/** Writes items at `server` until stopped; returns the names acknowledged. */
function load(server: string): { stop(): Promise<string[]> } {
  const acknowledged: string[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        await putItem(server, `load-${i}.txt`, `load ${i}`, undefined, { timeoutMs: 10_000 });
        acknowledged.push(`load-${i}.txt`);
      } catch {
        await delay(20);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return acknowledged;
    },
  };
}

test('a server paused for less than the suspicion timeout, under load, is never removed', async (t) => {
  const servers = await ringOf(t, 3, ['--heartbeat', '0.2', '--suspicion-timeout', '3']);
  const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
  const writes = load(a.address);
  const views: string[][] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      views.push(await getRing(a.address), await getRing(c.address));
      await delay(50);
    }
  })();
  b.process.kill('SIGSTOP');
  await delay(1000); // the pause itself: shorter than the 3 s suspicion timeout
  b.process.kill('SIGCONT');
  await delay(600); // keep watching a few heartbeats after it resumes
  watching = false;
  await watcher;
  const acknowledged = await writes.stop();
  assert.ok(views.length > 10);
  for (const view of views) assert.ok(view.includes(b.address), `b was cut out of a view: ${view.join(' ')}`);
  assert.ok(!/declared dead|removing it/.test(a.output() + c.output()), 'nobody declared b dead');
  assert.ok(acknowledged.length > 0);
  for (const name of acknowledged.slice(-5)) assert.equal((await getItem(b.address, name)).found, true);
});

test('a server paused for longer is cut out, and after SIGCONT it is back in every view with the items written meanwhile', async (t) => {
  const servers = await ringOf(t, 3, ['--heartbeat', '0.2', '--suspicion-timeout', '0.6', '--sync-interval', '0.5']);
  const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
  b.process.kill('SIGSTOP');
  t.after(() => void b.process.kill('SIGCONT'));
  await waitFor(async () => (await getRing(a.address)).length === 2 && (await getRing(c.address)).length === 2, {
    timeoutMs: 10_000,
    what: 'the paused server to be cut out',
  });
  for (let i = 0; i < 20; i++) await putItem(a.address, `meanwhile-${i}.txt`, `written while b slept ${i}`);
  b.process.kill('SIGCONT');
  const all = [a.address, b.address, c.address];
  await waitFor(async () => (await Promise.all(all.map((s) => getRing(s)))).every((view) => sameCycle(view, all)), {
    timeoutMs: 10_000,
    what: 'b back in every view',
  });
  await waitFor(async () => (await getDigest(b.address)).join() === (await getDigest(a.address)).join(), {
    timeoutMs: 10_000,
    what: 'b to catch up on the items written meanwhile',
  });
  assert.match(b.output(), /refuted/);
});

test('SIGTERM: the server leaves, the ring drops it at once, and no acknowledged item is lost', async (t) => {
  // A long heartbeat: the others can only learn of the leave from the leave itself.
  const servers = await ringOf(t, 3, ['--heartbeat', '30']);
  const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
  const names = Array.from({ length: 30 }, (_, i) => `kept-${i}.txt`);
  for (const [i, name] of names.entries()) await putItem(servers[i % 3]!.address, name, `kept ${i}`);
  const started = Date.now();
  b.process.kill('SIGTERM');
  assert.equal(await b.exited, 0);
  const exitedAfter = Date.now() - started;
  await waitFor(
    async () => sameCycle(await getRing(a.address), [a.address, c.address]) && sameCycle(await getRing(c.address), [a.address, c.address]),
    {
      timeoutMs: 3000,
      what: 'the ring to drop the leaver',
    },
  );
  t.diagnostic(`the leaver exited ${exitedAfter} ms after SIGTERM`);
  assert.ok(exitedAfter < 3000, `exited ${exitedAfter} ms after SIGTERM`);
  assert.match(b.output(), /left the ring/);
  for (const [i, name] of names.entries()) {
    assert.deepEqual(await getItem(a.address, name), { found: true, content: `kept ${i}`, encoding: undefined });
    assert.deepEqual(await getItem(c.address, name), { found: true, content: `kept ${i}`, encoding: undefined });
  }
});

test('SIGTERM ends a server whose log reader has stopped reading (a full pipe)', async (t) => {
  const child = spawn(process.execPath, [WEBSERVER, '--listen', '127.0.0.1:0', '--memory'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  const onData = (chunk: Buffer): void => void (output += chunk.toString('utf8'));
  child.stdout.on('data', onData);
  const address = await waitFor(() => /listening on (\S+)/.exec(output)?.[1], { what: 'the address' });
  child.stdout.off('data', onData);
  child.stdout.pause(); // from now on nobody reads: the pipe fills up
  let exited = false;
  child.on('exit', () => (exited = true));
  // Every request logs a line: far more than a pipe holds.
  for (let i = 0; i < 40; i++) await Promise.all(Array.from({ length: 50 }, (_, j) => getItem(address, `missing-${i}-${j}`)));
  child.kill('SIGTERM');
  await waitFor(() => exited, { timeoutMs: 5000, what: 'the server to exit' });
});
