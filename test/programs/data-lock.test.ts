/** One server per data directory, with the real programs (and RingNode for library users). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getItem, putItem } from '../../src/client/client.js';
import { isCoopError } from '../../src/errors.js';
import { RingNode } from '../../src/node/node.js';
import { LOCK_FILE } from '../../src/store/lock.js';
import { waitFor } from '../../src/util/wait.js';
import { killAll, startServer, WEBSERVER } from '../processes.js';
import { tempDir } from '../helpers.js';

after(killAll);

interface Launched {
  pid: number;
  output: () => string;
  exited: Promise<number | string>;
  kill(): void;
}

/** Spawns a webserver without waiting for it to listen: two of them can start at the same moment. */
function launch(args: string[]): Launched {
  const child = spawn(process.execPath, [WEBSERVER, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { pid: child.pid!, output: () => output, exited, kill: () => child.kill('SIGKILL') };
}

test('two webservers started at the same moment on one --data: one runs, the other exits 1 naming the directory and the holder', async (t) => {
  const dir = await tempDir(t);
  const args = ['--listen', '127.0.0.1:0', '--data', dir];
  const both = [launch(args), launch(args)];
  t.after(() => both.forEach((server) => server.kill()));
  let ended: Launched | undefined;
  for (const server of both) void server.exited.then(() => (ended ??= server));
  const loser = await waitFor(() => ended, { timeoutMs: 15_000, what: 'one of the two webservers to exit' });
  const winner = both.find((server) => server !== loser)!;
  assert.equal(await loser.exited, 1, loser.output());
  const address = await waitFor(() => /listening on (\S+)/.exec(winner.output())?.[1], {
    timeoutMs: 10_000,
    what: 'the other webserver to listen',
  });
  assert.ok(loser.output().includes(`data directory ${dir} is in use by another webserver`), loser.output());
  assert.ok(loser.output().includes(`PID ${winner.pid}`), loser.output());
  assert.ok(loser.output().includes(address), loser.output());
  assert.equal(await putItem(address, 'kept.txt', 'one'), '200 OK');
  assert.deepEqual(await getItem(address, 'kept.txt'), { found: true, content: 'one', encoding: undefined });
});

test('after kill -9 of the holder, a new webserver starts on its directory at once, says it took the lock over, and keeps the items', async (t) => {
  const dir = await tempDir(t);
  const args = ['--listen', '127.0.0.1:0', '--data', dir];
  const killed = await startServer(args);
  assert.equal(await putItem(killed.address, 'acked.txt', 'before the kill'), '200 OK');
  await killed.kill('SIGKILL');
  assert.ok(existsSync(join(dir, LOCK_FILE)), 'kill -9 leaves the lock file');

  const restarted = await startServer(args);
  assert.ok(restarted.output().includes(`took over the lock of data directory ${dir} from PID ${killed.process.pid}`), restarted.output());
  assert.deepEqual(await getItem(restarted.address, 'acked.txt'), { found: true, content: 'before the kill', encoding: undefined });
});

test('a webserver stopped by SIGTERM leaves no lock behind', async (t) => {
  const dir = await tempDir(t);
  const server = await startServer(['--listen', '127.0.0.1:0', '--data', dir]);
  assert.ok(existsSync(join(dir, LOCK_FILE)));
  assert.equal(await server.kill('SIGTERM'), 0);
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
});

test('RingNode: a second node on one dataDir fails with DATA_DIR_LOCKED before it touches the directory; once the first stops, it can start', async (t) => {
  const dir = await tempDir(t);
  const first = new RingNode({ host: '127.0.0.1', port: 0, dataDir: dir });
  await first.start();
  t.after(() => first.stop());
  assert.equal(await putItem(first.address, 'kept.txt', 'first'), '200 OK');
  // What the first is receiving: a second store opening the directory would clear it.
  const upload = join(dir, 'staging', 'in-progress');
  await writeFile(upload, 'part one');
  const second = new RingNode({ host: '127.0.0.1', port: 0, dataDir: dir });
  await assert.rejects(second.start(), (err) => isCoopError(err, 'DATA_DIR_LOCKED') && err.message.includes(dir));
  assert.ok(existsSync(upload), "the first's staging file is still there");
  assert.deepEqual(await getItem(first.address, 'kept.txt'), { found: true, content: 'first', encoding: undefined });
  await first.stop();
  const third = new RingNode({ host: '127.0.0.1', port: 0, dataDir: dir });
  await third.start();
  t.after(() => third.stop());
  assert.deepEqual(await getItem(third.address, 'kept.txt'), { found: true, content: 'first', encoding: undefined });
});
