/**
 * Joining as servers are deployed: started together, each naming one that is
 * still starting; seeds that never come; seeds that refuse (cluster secret,
 * TLS, not a ring server). The programs where the behaviour is theirs (exit
 * status, messages), the library for what it promises (start() resolves once
 * joined, rejects with a code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { RingNode } from '../../src/node/node.js';
import { getRing } from '../../src/client/client.js';
import { isCoopError, type ErrorCode } from '../../src/errors.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { joinUntilExit, killAll, runProgram, startServer, WEBSERVER } from '../processes.js';
import { OriginalServer } from '../original.js';

const FAST = { host: '127.0.0.1', heartbeatMs: 200, connectTimeoutMs: 500 };
const cert = readFileSync(new URL('../../../test/fixtures/tls-cert.pem', import.meta.url));
const key = readFileSync(new URL('../../../test/fixtures/tls-key.pem', import.meta.url));

/** Ports free on 127.0.0.1 right now, all different (held open together while they are picked). */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isCoopError(err), `expected a CoopError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test('five servers started at the same moment, each naming the one before it, end as one ring of five', async (t) => {
  t.after(killAll);
  const ports = await freePorts(5);
  const options = ['--heartbeat', '0.5', '--memory'];
  const servers = await Promise.all(
    ports.map((port, i) =>
      startServer(['--listen', `127.0.0.1:${port}`, ...options, ...(i > 0 ? ['-i', '127.0.0.1', '-p', String(ports[i - 1])] : [])]),
    ),
  );
  const addresses = ports.map((port) => `127.0.0.1:${port}`);
  await waitFor(
    async () => {
      const views = await Promise.all(addresses.map((address) => getRing(address)));
      return views.every((view) => view.length === 5 && sameCycle(view, views[0]!));
    },
    { timeoutMs: 20_000, what: 'one ring of five, the same at every server' },
  );
  assert.deepEqual(new Set(await getRing(addresses[0]!)), new Set(addresses));
  for (const server of servers.slice(1)) assert.match(server.output(), /joined the ring through 127\.0\.0\.1:\d+/);
  for (const server of servers) assert.doesNotMatch(server.output(), /\[ERROR\]/);
});

test('a server whose seeds never come exits with status 1 after --join-timeout, naming the seeds, with one log line', async () => {
  const [first, second] = await freePorts(2);
  const seeds = `127.0.0.1:${first},127.0.0.1:${second}`;
  const run = await runProgram(WEBSERVER, ['--listen', '127.0.0.1:0', '--memory', '--join', seeds, '--join-timeout', '2']);
  const output = run.stdout.toString() + run.stderr;
  assert.equal(run.status, 1, output);
  assert.match(
    output,
    new RegExp(`seeds tried: 127\\.0\\.0\\.1:${first} \\(connection refused\\), 127\\.0\\.0\\.1:${second} \\(connection refused\\)`),
  );
  // Dozens of attempts in 2 s, one line: the first failure (the next may come only 5 s later).
  assert.equal(output.match(/cannot join through|still joining/g)?.length, 1, output);
});

test('the join timeout and the seeds come from the environment too', async (t) => {
  // A seed that takes connections and never answers: its port stays taken, so no other program can answer there.
  const held = new Set<Socket>();
  const mute = createServer((socket) => void held.add(socket.on('error', () => undefined)));
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of held) socket.destroy();
    mute.close();
  });
  const { port } = mute.address() as { port: number };
  const run = await runProgram(WEBSERVER, ['--listen', '127.0.0.1:0', '--memory'], {
    WEBSERVER_JOIN: `127.0.0.1:${port}`,
    WEBSERVER_JOIN_TIMEOUT: '1',
  });
  assert.equal(run.status, 1);
  assert.match(run.stdout.toString() + run.stderr, new RegExp(`no ring within 1 s; seeds tried: 127\\.0\\.0\\.1:${port}`));
});

test('a server without the cluster secret at a ring with one exits 3 (refused) naming the secret; so does one with a secret at an open ring', async (t) => {
  t.after(killAll);
  const closed = await startServer(['--listen', '127.0.0.1:0', '--secret', 'the ring secret']);
  const open = await startServer(['--listen', '127.0.0.1:0']);

  const without = await joinUntilExit(closed.address, []);
  assert.equal(without.status, 3);
  assert.match(without.stdout.toString() + without.stderr, /cannot join .*its ring has a cluster secret and this server has none/);

  const withOne = await joinUntilExit(open.address, ['--secret', 'a secret of its own']);
  assert.equal(withOne.status, 3);
  assert.match(withOne.stdout.toString() + withOne.stderr, /cannot join .*its ring has no cluster secret, or another one/);

  const wrong = await joinUntilExit(closed.address, ['--secret', 'another secret']);
  assert.equal(wrong.status, 3);
  assert.match(wrong.stdout.toString() + wrong.stderr, /cannot join .*the secrets differ/);

  assert.deepEqual(await getRing(closed.address), [closed.address], 'nobody got in');
  assert.deepEqual(await getRing(open.address), [open.address], 'nobody got in');
});

test('a seed that is an HTTP server, not a ring server: exit 3 (refused) at once', async (t) => {
  const http = createHttpServer((_request, response) => response.end('hello'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(() => http.close());
  const { port } = http.address() as { port: number };
  const run = await runProgram(WEBSERVER, ['--listen', '127.0.0.1:0', '--memory', '-i', '127.0.0.1', '-p', String(port)]);
  assert.equal(run.status, 3);
  assert.match(run.stdout.toString() + run.stderr, new RegExp(`cannot join 127\\.0\\.0\\.1:${port}: not a ring server`));
});

test('--listen on a wildcard needs --advertise', async () => {
  const run = await runProgram(WEBSERVER, ['--listen', '0.0.0.0:0', '--memory']);
  assert.equal(run.status, 1);
  assert.match(run.stdout.toString() + run.stderr, /wildcard 0\.0\.0\.0 without an advertised address.*--advertise/);
});

test('library: start() resolves only once joined, through the first seed that answers', async (t) => {
  const nodes: RingNode[] = [];
  t.after(() => Promise.all(nodes.map((node) => node.stop())));
  const [dead] = await freePorts(1);
  const seed = new RingNode({ ...FAST, port: 0 });
  nodes.push(seed);
  const a = await seed.start();
  const joiner = new RingNode({ ...FAST, port: 0, join: [`127.0.0.1:${dead}`, a] });
  nodes.push(joiner);
  await joiner.start();
  assert.ok(sameCycle(joiner.members, [a, joiner.address]), 'joined when start() resolved');
});

test('library: a server that is joined by another while its own seed is not up yet keeps waiting for its seed', async (t) => {
  const nodes: RingNode[] = [];
  t.after(() => Promise.all(nodes.map((node) => node.stop())));
  const seedPort = (await freePorts(1))[0]!;
  const b = new RingNode({ ...FAST, port: 0, join: `127.0.0.1:${seedPort}` });
  nodes.push(b);
  let bJoined = false;
  const bStarted = b.start().then(() => (bJoined = true));
  const bAddress = await waitFor(() => b.running && b.address, { what: 'b to listen' });
  const c = new RingNode({ ...FAST, port: 0, join: bAddress });
  nodes.push(c);
  await c.start();
  assert.ok(sameCycle(b.members, [bAddress, c.address]), 'c is in b’s ring');
  assert.equal(bJoined, false, 'a ring that does not hold b’s seed is not a join');
  const a = new RingNode({ ...FAST, port: seedPort });
  nodes.push(a);
  await a.start();
  await bStarted;
  await waitFor(() => [a, b, c].every((node) => node.members.length === 3 && sameCycle(node.members, a.members)), {
    what: 'one ring of three',
  });
});

test('library: no ring by the join timeout rejects with JOIN_FAILED, naming the seed; the server is stopped', async () => {
  const [dead] = await freePorts(1);
  const node = new RingNode({ ...FAST, port: 0, join: `127.0.0.1:${dead}`, joinTimeoutMs: 300 });
  await rejectsWith(node.start(), 'JOIN_FAILED', new RegExp(`127\\.0\\.0\\.1:${dead} \\(connection refused\\)`));
  assert.equal(node.running, false);
});

test('library: seeds that name only this server start a ring of its own', async (t) => {
  const port = (await freePorts(1))[0]!;
  const node = new RingNode({ ...FAST, port, join: `127.0.0.1:${port}` });
  t.after(() => node.stop());
  await node.start();
  assert.deepEqual(node.members, [node.address]);
});

test('library: TLS on one side only is refused, whichever side has it', async (t) => {
  const nodes: RingNode[] = [];
  t.after(() => Promise.all(nodes.map((node) => node.stop())));
  const tlsRing = new RingNode({ ...FAST, port: 0, tls: { cert, key, ca: cert } });
  const plainRing = new RingNode({ ...FAST, port: 0 });
  nodes.push(tlsRing, plainRing);
  const [tlsAddress, plainAddress] = [await tlsRing.start(), await plainRing.start()];

  const plain = new RingNode({ ...FAST, port: 0, join: tlsAddress });
  nodes.push(plain);
  await rejectsWith(plain.start(), 'JOIN_REFUSED', /serves TLS and this server dials plain TCP/);

  const withTls = new RingNode({ ...FAST, port: 0, join: plainAddress, tls: { cert, key, ca: cert } });
  nodes.push(withTls);
  await rejectsWith(withTls.start(), 'JOIN_REFUSED', /does not serve TLS/);
  assert.deepEqual(tlsRing.members, [tlsAddress]);
  assert.deepEqual(plainRing.members, [plainAddress]);
});

test('library: a server given several seeds that are in separate rings brings them into one', async (t) => {
  const nodes: RingNode[] = [];
  t.after(() => Promise.all(nodes.map((node) => node.stop())));
  // Two rings of one, as servers that share a seed list and came up each before the other can form.
  const [a, b] = [new RingNode({ ...FAST, port: 0 }), new RingNode({ ...FAST, port: 0 })];
  nodes.push(a, b);
  const seeds = [await a.start(), await b.start()];
  const c = new RingNode({ ...FAST, port: 0, join: seeds });
  nodes.push(c);
  await c.start();
  await waitFor(() => nodes.every((node) => node.members.length === 3 && sameCycle(node.members, a.members)), {
    what: 'one ring of three',
  });
});

test('library: servers joined to each other before their first seed is up greet it later: one ring of three', async (t) => {
  const nodes: RingNode[] = [];
  t.after(() => Promise.all(nodes.map((node) => node.stop())));
  // docs/deploy.md's three hosts: .6 and .7 name .5 and each other; .5, with no seeds, comes last.
  const [pa, pb, pc] = await freePorts(3);
  const [a, b, c] = [pa, pb, pc].map((port) => `127.0.0.1:${port}`);
  const nodeB = new RingNode({ ...FAST, port: pb!, join: [a!, c!] });
  const nodeC = new RingNode({ ...FAST, port: pc!, join: [a!, b!] });
  nodes.push(nodeB, nodeC);
  await Promise.all([nodeB.start(), nodeC.start()]);
  assert.ok(sameCycle(nodeB.members, [b!, c!]), `b and c joined each other: ${nodeB.members.join(' ')}`);
  const nodeA = new RingNode({ ...FAST, port: pa! });
  nodes.push(nodeA);
  await nodeA.start();
  await waitFor(() => nodes.every((node) => node.members.length === 3 && sameCycle(node.members, nodeA.members)), {
    timeoutMs: 20_000,
    what: 'one ring of three',
  });
});

test('library: an original that leaves our PING connection open is joined all the same', async (t) => {
  const original = new OriginalServer({ checkIntervalMs: 200, keepOpen: true });
  const seed = await original.start();
  const node = new RingNode({ ...FAST, port: 0, join: seed, joinTimeoutMs: 20_000 });
  t.after(async () => {
    await node.stop();
    await original.stop();
  });
  await node.start();
  assert.ok(sameCycle(node.members, [seed, node.address]), node.members.join(' '));
  assert.equal(original.received.filter((text) => text.includes('"INSERT"')).length, 1, 'one INSERT');
});

test('library: stop() while joining a seed that never answers makes start() reject with SHUTTING_DOWN', async (t) => {
  // Takes every connection and never answers nor closes.
  const sockets = new Set<Socket>();
  const mute = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    mute.close();
  });
  const { port } = mute.address() as { port: number };
  const node = new RingNode({ ...FAST, port: 0, join: `127.0.0.1:${port}`, joinTimeoutMs: 60_000 });
  const started = node.start();
  await waitFor(() => node.running, { what: 'the server to listen and start joining' });
  await node.stop();
  // Well before the 60 s join timeout: the test's own timeout ends it otherwise.
  await rejectsWith(started, 'SHUTTING_DOWN');
});
