/** The real programs, spawned as a user runs them. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseAddress } from '../../src/protocol/address.js';
import { sameCycle } from '../../src/ring/ring.js';
import { getRing } from '../../src/client/client.js';
import { waitFor } from '../../src/util/wait.js';
import { cpuSeconds, killAll, runClient, runProgram, startServer, WEBSERVER } from '../processes.js';
import { at, tempDir } from '../helpers.js';
import { createSandbox, sandboxUnavailable } from '../sandbox.js';

after(killAll);

function hostPort(address: string): [string, string] {
  const { host, port } = parseAddress(address);
  return [host, String(port)];
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Reads and drops whatever arrives, never answers.
    const server = createServer((socket) => socket.on('error', () => {}).resume());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

test('a ring of three started by hand, with both spellings of -i/-p, PUT and GET from the client', async (t) => {
  const dir = await tempDir(t);
  const a = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.5']);
  const [ip, port] = hostPort(a.address);
  const b = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.5', '-i', ip, '-p', port]);
  const [ipB, portB] = hostPort(b.address);
  const c = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.5', '--ip', ipB, '--port', portB]);
  t.after(() => Promise.all([a.kill(), b.kill(), c.kill()]).then(() => undefined));
  const all = [a.address, b.address, c.address];
  await waitFor(async () => (await Promise.all(all.map((s) => getRing(s)))).every((view) => sameCycle(view, all)), {
    what: 'three views to agree',
  });

  // --ring prints the view in the original's arrow format, starting at the server asked.
  const ring = await runClient(['--ring', ...at(b.address)]);
  assert.equal(ring.status, 0);
  assert.equal(ring.stdout.toString(), `[${b.address}] --> [${c.address}] --> [${a.address}]\n`);
  // Each server printed the ring when it changed.
  await waitFor(() => a.output().includes(`[${a.address}] --> [${b.address}] --> [${c.address}]`), { what: 'a to print the ring' });

  const text = join(dir, 'index.html');
  await writeFile(text, '<h1>héllo ring</h1>\n');
  const binary = join(dir, 'logo.png');
  const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131) % 256));
  await writeFile(binary, bytes);

  const put1 = await runClient(['-put', text, '-i', ip, '-p', port]);
  assert.equal(put1.status, 0, put1.stderr);
  assert.equal(put1.stdout.length, 0, 'PUT prints nothing on standard output');
  assert.match(put1.stderr, /200 OK/);
  const put2 = await runClient(['--put', binary, '--ip', ip, '--port', port]);
  assert.equal(put2.status, 0, put2.stderr);

  const [ipC, portC] = hostPort(c.address);
  const get1 = await runClient(['-get', 'index.html', '-i', ipC, '-p', portC]);
  assert.equal(get1.status, 0, get1.stderr);
  assert.equal(get1.stdout.toString('utf8'), '<h1>héllo ring</h1>\n');
  assert.equal(get1.stderr, '');
  const get2 = await runClient(['--get', 'logo.png', '--ip', ipB, '--port', portB]);
  assert.equal(get2.status, 0, get2.stderr);
  assert.ok(get2.stdout.equals(bytes), 'binary content is byte-exact on standard output');
});

test('webclient exit status and messages: 404, refused, timed out, bad arguments, a directory', async (t) => {
  const dir = await tempDir(t);
  const a = await startServer(['--listen', '127.0.0.1:0']);
  t.after(() => a.kill().then(() => undefined));
  const [ip, port] = hostPort(a.address);

  const missing = await runClient(['-get', 'nothing-here', '-i', ip, '-p', port]);
  assert.equal(missing.status, 1);
  assert.equal(missing.stdout.length, 0);
  assert.match(missing.stderr, /404/);

  const closed = await listenOn(0);
  const closedPort = String((closed.address() as { port: number }).port);
  await new Promise((resolve) => closed.close(resolve));
  const refused = await runClient(['-get', 'x', '-i', '127.0.0.1', '-p', closedPort]);
  assert.equal(refused.status, 3);
  assert.match(refused.stderr, /ECONNREFUSED/);

  const silent = await listenOn(0); // accepts, never answers
  t.after(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  const silentPort = String((silent.address() as { port: number }).port);
  const timedOut = await runClient(['-get', 'x', '-i', '127.0.0.1', '-p', silentPort, '--timeout', '0.3']);
  assert.equal(timedOut.status, 3);
  assert.match(timedOut.stderr, /timed out|within/);

  const unreadable = await runClient(['-put', join(dir, 'does-not-exist'), '-i', ip, '-p', port]);
  assert.equal(unreadable.status, 2);
  assert.match(unreadable.stderr, /ENOENT/);

  // A directory is a bad argument, said plainly.
  const directory = await runClient(['-put', dir, '-i', ip, '-p', port]);
  assert.equal(directory.status, 2, directory.stderr);
  assert.match(directory.stderr, /is a directory/);
  assert.doesNotMatch(directory.stderr, /EISDIR/);

  for (const args of [
    [],
    ['-get', 'a', '-put', 'b', '-i', ip, '-p', port],
    ['-get', 'a', '-i', ip, '-p', 'eighty'],
    ['-get', 'a', '-i', ip, '-p', '70000'],
    ['--frobnicate'],
    ['-get'],
    ['-get', '', '-i', ip, '-p', port],
  ]) {
    const run = await runClient(args);
    assert.equal(run.status, 2, `webclient ${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stdout.length, 0);
    assert.ok(run.stderr.length > 0, `webclient ${args.join(' ')} explains itself`);
  }
  const help = await runClient(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stderr, /-get|--get/);
});

const noSandbox = sandboxUnavailable();

// In a namespace of its own, where name lookups go to 127.0.0.1 (where none answers) and never leave the machine.
test('webclient: a host name that does not resolve is a server out of reach (exit 3)', { skip: noSandbox }, async (t) => {
  const sandbox = createSandbox();
  t.after(() => sandbox.destroy());
  const run = await runClient(['-get', 'x', '-i', 'no-such-host.invalid', '-p', '4043'], {}, sandbox.wrap);
  assert.equal(run.status, 3, run.stderr);
  assert.match(run.stderr, /cannot resolve host name "no-such-host.invalid"/);
  assert.equal(run.stdout.length, 0);
});

test('kill -9 of the middle server process: the others repair the ring and keep serving', async (t) => {
  const a = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.3']);
  const b = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.3', ...at(a.address)]);
  const c = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.3', ...at(b.address)]);
  t.after(() => Promise.all([a.kill(), b.kill(), c.kill()]).then(() => undefined));
  await waitFor(async () => (await getRing(a.address)).length === 3 && (await getRing(c.address)).length === 3, {
    what: 'the ring of three',
  });
  await b.kill('SIGKILL');
  await waitFor(
    async () => sameCycle(await getRing(a.address), [a.address, c.address]) && sameCycle(await getRing(c.address), [a.address, c.address]),
    {
      timeoutMs: 5000,
      what: 'the ring to drop the killed server',
    },
  );
  const dir = await tempDir(t);
  await writeFile(join(dir, 'after.txt'), 'after the crash');
  const put = await runClient(['-put', join(dir, 'after.txt'), ...at(a.address)]);
  assert.equal(put.status, 0, put.stderr);
  const get = await runClient(['-get', 'after.txt', ...at(c.address)]);
  assert.equal(get.stdout.toString(), 'after the crash');
  // Found by a heartbeat (refused), by a round (unreachable), or suspected first and then declared dead.
  const removal = /removing it from the ring|is unreachable|declared dead/;
  await waitFor(() => removal.test(a.output()) || removal.test(c.output()), {
    what: 'the removal to be logged',
  });
});

test('defect 5: servers started with no port choose distinct free ports, skipping taken ones', async (t) => {
  // A free port found now, and the port after it held by a stranger (a port merely in use by
  // someone else's connection at that moment could be free again by the time the servers start).
  let base = 0;
  let stranger: Server | undefined;
  for (let attempt = 0; stranger === undefined; attempt++) {
    const probe = await listenOn(0);
    base = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    stranger = await listenOn(base + 1).catch((err: unknown) => {
      if (attempt >= 20) throw err;
      return undefined;
    });
  }
  const held = stranger;
  t.after(() => new Promise<void>((resolve) => held.close(() => resolve())));
  const servers = await Promise.all([0, 1, 2].map(() => startServer([], { WEBSERVER_LISTEN: `127.0.0.1:${base}+` })));
  t.after(() => Promise.all(servers.map((s) => s.kill())).then(() => undefined));
  const ports = servers.map((s) => parseAddress(s.address).port);
  assert.equal(new Set(ports).size, 3, `distinct ports: ${ports.join(', ')}`);
  assert.ok(!ports.includes(base + 1), 'the stranger’s port is skipped');
  assert.ok(ports.every((p) => p >= base && p <= base + 5));
  for (const server of servers) assert.deepEqual(await getRing(server.address), [server.address]);
});

test('defect 4: an idle server uses almost no CPU', async (t) => {
  const a = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '1']);
  const b = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '1', ...at(a.address)]);
  t.after(() => Promise.all([a.kill(), b.kill()]).then(() => undefined));
  await waitFor(async () => (await getRing(a.address)).length === 2, { what: 'the ring of two' });
  const before = await cpuSeconds(a.process.pid!);
  const window = 2;
  await delay(window * 1000); // an observation window, not synchronisation
  const used = (await cpuSeconds(a.process.pid!)) - before;
  // The original spun a whole core: `window` seconds of CPU. Allow 5% of one core.
  assert.ok(used < window * 0.05, `used ${used.toFixed(2)} s of CPU in ${window} s idle`);
});

test('webserver options: --help, environment variables, -v shows heartbeats, no colour when piped, SIGTERM stops it', async (t) => {
  const help = await new Promise<{ status: number | null; out: string }>((resolve) => {
    import('node:child_process').then(({ execFile }) => {
      execFile(process.execPath, [new URL('../../src/cli/webserver.js', import.meta.url).pathname, '--help'], (error, stdout) =>
        resolve({ status: error ? (error.code as number) : 0, out: stdout }),
      );
    });
  });
  assert.equal(help.status, 0);
  for (const option of [
    '--ip',
    '--port',
    '--verbose',
    '--listen',
    '--heartbeat',
    '--max-message',
    '--round-timeout',
    '--idle-timeout',
    '--log-format',
    '--log-time',
    'WEBSERVER_LISTEN',
  ]) {
    assert.ok(help.out.includes(option), `--help mentions ${option}`);
  }

  const a = await startServer([], { WEBSERVER_LISTEN: '127.0.0.1:0', WEBSERVER_HEARTBEAT: '0.2' });
  const b = await startServer(['--listen', '127.0.0.1:0', '-v', '--heartbeat', '0.2', '--log-time', 'off', ...at(a.address)]);
  t.after(() => Promise.all([a.kill(), b.kill()]).then(() => undefined));
  await waitFor(() => b.output().includes('[SEND] PING'), { what: 'the verbose server to log its heartbeat' });
  await waitFor(() => a.output().includes('[RECV] UPDATE'), { what: 'a to log the UPDATE' });
  assert.ok(!/PING|CHECK/.test(a.output()), 'heartbeats are hidden without -v');
  assert.ok(!a.output().includes('\u001b['), 'no colour codes when not a terminal');
  assert.match(a.output(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[INFO\] listening on /m, 'a timestamp, then the tag');
  assert.match(b.output(), /^\[INFO\] listening on /m, '--log-time off: the bare lines');
  assert.ok(
    a
      .output()
      .split('\n')
      .every((line) => line === '' || /^\d{4}-/.test(line)),
    'every line of a starts with the time',
  );
  assert.ok(!/^\d/m.test(b.output()), 'no line of b starts with the time');

  assert.equal(await b.kill('SIGTERM'), 0);

  const bad = await startServer(['--heartbeat', 'soon']).catch((err: Error) => err);
  assert.ok(bad instanceof Error && /heartbeat/.test(bad.message) && /seconds/.test(bad.message));
});

test('log lines on standard output: all of them, in order, when the process exits before they are due, to a pipe and to a file', async (t) => {
  const dir = await tempDir(t);
  const script = join(dir, 'log.mjs');
  await writeFile(
    script,
    [
      `import { createLogger } from ${JSON.stringify(new URL('../../src/log/logger.js', import.meta.url).href)};`,
      'const log = createLogger({ time: false });',
      // 165 KB in one turn: past the size at which gathered lines go out, at the end of the turn.
      "for (let i = 0; i < 10000; i++) log.info('line ' + i);",
      "log.recv('the last, just before exit');",
      'process.exit(0);', // in the same turn, before the lines are due
    ].join('\n'),
  );
  const expected = `${Array.from({ length: 10_000 }, (_, i) => `[INFO] line ${i}\n`).join('')}[RECV] the last, just before exit\n`;
  for (let run = 0; run < 3; run++) {
    const piped = await runProgram(script, []);
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(piped.stdout.toString(), expected, `run ${run} through a pipe`);
  }

  const file = join(dir, 'log.txt');
  const handle = await open(file, 'w');
  const written = await runProgram(script, [], {}, [], handle.fd);
  await handle.close();
  assert.equal(written.status, 0, written.stderr);
  assert.equal(await readFile(file, 'utf8'), expected);
});

test('webclient --delete, and the default data directory under the working directory', async (t) => {
  const dir = await tempDir(t);
  const a = await startServer(['--listen', '127.0.0.1:0'], {}, dir);
  t.after(() => a.kill().then(() => undefined));
  const expected = join(dir, 'data', a.address.replace(':', '_'));
  assert.ok(a.output().includes(`data directory ${expected}`), a.output());
  await writeFile(join(dir, 'doomed.txt'), 'short-lived');
  assert.equal((await runClient(['-put', join(dir, 'doomed.txt'), ...at(a.address)])).status, 0);
  const removed = await runClient(['--delete', 'doomed.txt', ...at(a.address)]);
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stderr, /DELETE doomed.txt: 200 OK/);
  assert.equal((await runClient(['-get', 'doomed.txt', ...at(a.address)])).status, 1);
  assert.equal((await runClient(['-delete', 'x', '-get', 'y', ...at(a.address)])).status, 2);

  // Durable by default: after a restart on the same address and directory, the delete still stands.
  await writeFile(join(dir, 'kept.txt'), 'still here');
  assert.equal((await runClient(['-put', join(dir, 'kept.txt'), ...at(a.address)])).status, 0);
  await a.kill('SIGKILL');
  const again = await startServer(['--listen', a.address], {}, dir);
  t.after(() => again.kill().then(() => undefined));
  assert.equal((await runClient(['-get', 'kept.txt', ...at(again.address)])).stdout.toString(), 'still here');
  assert.equal((await runClient(['-get', 'doomed.txt', ...at(again.address)])).status, 1);
});

test('an option on the command line wins over a conflicting variable: --memory over WEBSERVER_DATA (the image sets it), --data over WEBSERVER_MEMORY', async (t) => {
  const dir = await tempDir(t);
  const imageData = join(dir, 'image-data');
  const inMemory = await startServer(['--listen', '127.0.0.1:0', '--memory'], { WEBSERVER_DATA: imageData });
  t.after(() => inMemory.kill().then(() => undefined));
  await writeFile(join(dir, 'item.txt'), 'in memory');
  assert.equal((await runClient(['-put', join(dir, 'item.txt'), ...at(inMemory.address)])).status, 0);
  assert.match(inMemory.output(), /WEBSERVER_DATA is ignored: --memory on the command line wins over it/);
  assert.doesNotMatch(inMemory.output(), /data directory/);
  await assert.rejects(stat(imageData), { code: 'ENOENT' }, 'nothing written to WEBSERVER_DATA');

  const kept = join(dir, 'kept');
  const onDisk = await startServer(['--listen', '127.0.0.1:0', '--data', kept], { WEBSERVER_MEMORY: '1' });
  t.after(() => onDisk.kill().then(() => undefined));
  assert.ok(onDisk.output().includes(`data directory ${kept}`), onDisk.output());

  // Given the same way, both are still an error.
  const both = await runProgram(WEBSERVER, ['--listen', '127.0.0.1:0', '--memory', '--data', kept]);
  assert.equal(both.status, 1);
  assert.match(both.stderr, /option '--data <DIR>' cannot be used with option '--memory'/);
  const bothFromEnv = await runProgram(WEBSERVER, ['--listen', '127.0.0.1:0'], { WEBSERVER_DATA: kept, WEBSERVER_MEMORY: '1' });
  assert.equal(bothFromEnv.status, 1);
  assert.match(bothFromEnv.stderr, /environment variable 'WEBSERVER_DATA' cannot be used with environment variable 'WEBSERVER_MEMORY'/);
});

test("--secret wins over WEBSERVER_SECRET_FILE, --secret-file over WEBSERVER_SECRET, -i/-p over WEBSERVER_JOIN: the servers join with the command line's", async (t) => {
  const dir = await tempDir(t);
  const [right, wrong] = [join(dir, 'right'), join(dir, 'wrong')];
  await writeFile(right, 'the ring secret\n');
  await writeFile(wrong, 'another secret\n');
  const ring = await startServer(['--listen', '127.0.0.1:0', '--secret', 'the ring secret', '--heartbeat', '0.5']);
  t.after(() => ring.kill().then(() => undefined));
  const first = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.5', '--secret', 'the ring secret', ...at(ring.address)], {
    WEBSERVER_SECRET_FILE: wrong,
  });
  t.after(() => first.kill().then(() => undefined));
  await waitFor(async () => sameCycle(await getRing(ring.address), [ring.address, first.address]), { what: 'the first to join' });
  // A port nobody listens on: were WEBSERVER_JOIN used, the join would never end.
  const closed = await listenOn(0);
  const unused = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const second = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.5', '--secret-file', right, ...at(ring.address)], {
    WEBSERVER_SECRET: 'another secret',
    WEBSERVER_JOIN: `127.0.0.1:${unused}`,
  });
  t.after(() => second.kill().then(() => undefined));
  await waitFor(async () => (await getRing(ring.address)).length === 3, { what: 'the second to join' });
  assert.match(second.output(), /WEBSERVER_SECRET is ignored: --secret-file on the command line wins over it/);
  assert.match(second.output(), /WEBSERVER_JOIN is ignored: --ip on the command line wins over it/);

  const both = await runProgram(WEBSERVER, ['--listen', '127.0.0.1:0', '--memory', '--secret', 'x', '--secret-file', right]);
  assert.equal(both.status, 1);
  assert.match(both.stderr, /option '--secret <SECRET>' cannot be used with option '--secret-file <FILE>'/);
});
