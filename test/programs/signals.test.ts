/**
 * Stopping a server with signals, as users do: a second Ctrl-C while the
 * server leaves, SIGTERM to `npm start`, and SIGTERM while it is still
 * joining, as a process of its own and as PID 1 (how a container runs it).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ask, getRing } from '../../src/client/client.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { killAll, startServer, type ServerProcess } from '../processes.js';
import { at } from '../helpers.js';

after(killAll);

/** The worktree (or package) root, where package.json is: dist/test/ is two levels down. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function ringOfTwo(t: { after(fn: () => Promise<void>): void }): Promise<[ServerProcess, ServerProcess]> {
  // A long heartbeat: a server can only learn of a leave from the leave itself.
  const a = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '30']);
  const b = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '30', ...at(a.address)]);
  t.after(() => Promise.all([a.kill(), b.kill()]).then(() => undefined));
  await waitFor(async () => sameCycle(await getRing(a.address), [a.address, b.address]), { what: 'the ring of two' });
  return [a, b];
}

test('a second SIGINT while the server leaves does not cut the leave short: the other server drops it, it exits 0', async (t) => {
  const [a, b] = await ringOfTwo(t);
  // The leave must still be under way when the second signal comes: a stopped a takes nothing in,
  // so a large item on its way to it fills the connection, and the leave's message waits behind it.
  a.process.kill('SIGSTOP');
  t.after(() => void a.process.kill('SIGCONT'));
  const content = 'x'.repeat(32 * 1024 * 1024);
  const put = ask(b.address, { type: 'PUT', data: { item: 'large.txt', content } }, 'PUT', { timeoutMs: 60_000 }).catch(
    (err: Error) => err,
  );
  await waitFor(() => b.output().includes('PUT "large.txt" from client'), { what: 'b to start the round of the large item' });

  const alive = (): boolean => {
    if (b.process.exitCode !== null || b.process.signalCode !== null) throw new Error(`b exited:\n${b.output()}`);
    return true;
  };
  b.process.kill('SIGINT');
  await waitFor(() => alive() && b.output().includes('SIGINT: leaving the ring'), { what: 'b to start leaving' });
  b.process.kill('SIGINT');
  await waitFor(() => alive() && b.output().includes('SIGINT: already leaving the ring'), { what: 'b to take the second SIGINT' });
  const resumed = Date.now();
  a.process.kill('SIGCONT');
  assert.equal(await b.exited, 0, b.output());
  t.diagnostic(`b exited ${Date.now() - resumed} ms after a resumed`);
  await waitFor(async () => sameCycle(await getRing(a.address), [a.address]), { timeoutMs: 3000, what: 'a to drop the leaver' });
  assert.match(b.output(), /left the ring \(told /);
  await put;
});

/** The processes under `pid` (npm's shell and the server), from /proc, to clean up whatever a failed run leaves. */
async function descendants(pid: number): Promise<number[]> {
  const { readFile, readdir } = await import('node:fs/promises');
  const found: number[] = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const children = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const child of children.split(' ').filter(Boolean).map(Number)) found.push(child, ...(await descendants(child)));
  }
  return found;
}

for (const how of ['SIGTERM to npm', 'Ctrl-C (SIGINT to the process group)'] as const) {
  test(`npm start: ${how} stops the server: it leaves the ring, and npm exits 0`, async (t) => {
    const a = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '30']);
    t.after(() => a.kill().then(() => undefined));
    const npm = spawn('npm', ['start', '--', '--listen', '127.0.0.1:0', '--heartbeat', '30', '--memory', ...at(a.address)], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, as a terminal's foreground job: Ctrl-C reaches npm and the server alike.
      detached: true,
    });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | string>((resolve) => npm.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    let started: number[] = [];
    t.after(() => {
      for (const pid of [npm.pid!, ...started]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
    const b = await waitFor(() => /listening on (\S+)/.exec(output)?.[1], {
      timeoutMs: 20_000,
      what: `npm start to start the server:\n${output}`,
    });
    started = await descendants(npm.pid!);
    await waitFor(async () => sameCycle(await getRing(a.address), [a.address, b]), { what: 'the ring of two' });

    if (how === 'SIGTERM to npm') npm.kill('SIGTERM');
    else process.kill(-npm.pid!, 'SIGINT');
    assert.equal(await exited, 0, output);
    await waitFor(async () => sameCycle(await getRing(a.address), [a.address]), { timeoutMs: 3000, what: 'a to drop the leaver' });
    await assert.rejects(getRing(b), 'the server is gone with npm');
    assert.match(output, /left the ring \(told /);
  });
}

/** A seed that accepts connections and never answers: a join through it stays under way. */
async function silentSeed(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const sockets = new Set<import('node:net').Socket>();
  const seed = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {}).resume();
  });
  await new Promise<void>((resolve) => seed.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => seed.close(resolve));
  });
  return `127.0.0.1:${(seed.address() as AddressInfo).port}`;
}

/** Why PID namespaces cannot be made here, or false when they can. */
function pidNamespaceUnavailable(): string | false {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'needs root on Linux for a PID namespace (unshare --pid)';
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
  return probe.status === 0 ? false : `unshare --pid does not work here (${probe.error?.message ?? `exit status ${probe.status}`})`;
}

/** The one child of `pid` (the server under unshare), from /proc. */
async function onlyChild(pid: number): Promise<number> {
  const children: number[] = [];
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const listed = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8');
    children.push(...listed.split(' ').filter(Boolean).map(Number));
  }
  assert.equal(children.length, 1, `one child of ${pid}: ${children.join(', ')}`);
  return children[0]!;
}

const JOINING = ['--listen', '127.0.0.1:0', '--memory', '--join-timeout', '60'];

test('SIGTERM while the server is still joining stops it: it gives the join up and exits 0', async (t) => {
  const seed = await silentSeed(t);
  const server = await startServer([...JOINING, '--join', seed]);
  t.after(() => server.kill().then(() => undefined));
  // It listens, then joins: the join is under way once it has printed its address.
  server.process.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
  assert.match(server.output(), /SIGTERM: stopping \(not joined yet: the join is given up\)/);
  assert.doesNotMatch(server.output(), /\[ERROR\]/);
});

test('as PID 1 (a container), SIGTERM while joining stops the server: exit 0, not ignored until --join-timeout', async (t) => {
  const unavailable = pidNamespaceUnavailable();
  if (unavailable) {
    t.skip(unavailable);
    return;
  }
  const seed = await silentSeed(t);
  const server = await startServer([...JOINING, '--join', seed], {}, undefined, ['unshare', '--pid', '--fork', '--mount-proc']);
  t.after(() => server.kill().then(() => undefined));
  const pid1 = await onlyChild(server.process.pid!);
  assert.match(await readFile(`/proc/${pid1}/status`, 'utf8'), /^NSpid:\s+\d+\s+1$/m, 'the server is PID 1 in its namespace');
  process.kill(pid1, 'SIGTERM');
  let code: number | string | undefined;
  void server.exited.then((ended) => (code = ended));
  // Ignored, the signal would leave the server joining for its 60 s.
  await waitFor(() => code !== undefined, { timeoutMs: 15_000, what: 'the server to exit' }).catch((err: Error) => {
    throw new Error(`${err.message}:\n${server.output()}`);
  });
  assert.equal(code, 0, server.output());
  assert.match(server.output(), /SIGTERM: stopping/);
});
