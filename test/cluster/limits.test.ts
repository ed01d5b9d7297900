/**
 * Limits under attack: floods of idle and trickling connections (slow
 * loris, over JSON and HTTP), the connection cap, the keep-alive request cap,
 * client name and item limits, HTTP request smuggling and path tricks. Each
 * time the server goes on answering legitimate requests, and its data is intact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Agent, request as httpRequest } from 'node:http';
import { createTestCluster } from '../../src/node/cluster.js';
import { getItem, putItem } from '../../src/client/client.js';
import { parseAddress, type Address } from '../../src/protocol/address.js';
import { isCoopError } from '../../src/errors.js';
import { waitFor } from '../../src/util/wait.js';
import { rawExchange } from '../helpers.js';

interface Attacker {
  socket: Socket;
  connected: boolean;
  closedByServer: boolean;
}

/** Opens `count` connections; each then sends `first`, and `drip` every 100 ms after, until the server closes it. */
async function flood(server: Address, count: number, first: string, drip: string): Promise<{ attackers: Attacker[]; stop(): void }> {
  const { host, port } = parseAddress(server);
  const attackers: Attacker[] = [];
  const opened: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const socket = connect({ host, port });
    const attacker = { socket, connected: false, closedByServer: false };
    attackers.push(attacker);
    socket.on('error', () => undefined);
    socket.on('close', () => (attacker.closedByServer = attacker.connected));
    socket.on('data', () => undefined);
    opened.push(
      new Promise((resolve) =>
        socket
          .once('connect', () => {
            attacker.connected = true;
            socket.write(first);
            resolve();
          })
          .once('close', () => resolve()),
      ),
    );
  }
  await Promise.all(opened);
  // Every attacker really got a connection (a socket that failed to connect would pass for one the server closed).
  assert.ok(
    attackers.every((attacker) => attacker.connected),
    'every attacking connection was made',
  );
  const timer = drip === '' ? undefined : setInterval(() => attackers.forEach(({ socket }) => socket.writable && socket.write(drip)), 100);
  return {
    attackers,
    stop() {
      clearInterval(timer);
      for (const { socket } of attackers) socket.destroy();
    },
  };
}

test('a thousand idle and a thousand trickling connections (JSON and HTTP): legitimate requests are answered, the tricklers cut off', async (t) => {
  const cluster = await createTestCluster(2, { requestTimeoutMs: 1500, maxConnections: 1200 });
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [Address, Address];
  await putItem(b, 'keep.txt', 'still here');

  const idle = await flood(a, 1000, '', '');
  t.after(() => idle.stop());
  const jsonLoris = await flood(a, 500, '{"type": "GET", "data": "', 'a');
  t.after(() => jsonLoris.stop());
  const httpLoris = await flood(a, 500, 'GET /keep.txt HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n');
  t.after(() => httpLoris.stop());

  // 2,000 connections against a cap of 1,200: the oldest that have sent nothing whole are closed to make room.
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(await getItem(a, 'keep.txt'), { found: true, content: 'still here', encoding: undefined });
    const page = await fetch(`http://${a}/keep.txt`);
    assert.equal(await page.text(), 'still here');
  }
  assert.equal(await putItem(a, 'during.txt', 'written during the flood'), '200 OK');
  assert.deepEqual(await getItem(b, 'during.txt'), { found: true, content: 'written during the flood', encoding: undefined });

  // However slowly they trickle, the request deadline closes them all.
  await waitFor(() => [...jsonLoris.attackers, ...httpLoris.attackers].every((attacker) => attacker.closedByServer) || undefined, {
    timeoutMs: 10_000,
    what: 'the server to close every trickling connection',
  });
  assert.ok(cluster.nodes.every((node) => node.running));
  assert.deepEqual(await getItem(a, 'keep.txt'), { found: true, content: 'still here', encoding: undefined });
});

test('the connection cap closes the oldest connections that have not sent a whole message', async (t) => {
  const cluster = await createTestCluster(1, { maxConnections: 50 });
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [Address];
  const first = await flood(a, 50, '{"type": "GET"', '');
  t.after(() => first.stop());
  const second = await flood(a, 25, '{"type": "GET"', '');
  t.after(() => second.stop());
  await waitFor(() => first.attackers.slice(0, 25).every((attacker) => attacker.closedByServer) || undefined, {
    what: 'the 25 oldest connections to be closed',
  });
  assert.ok(
    second.attackers.every((attacker) => !attacker.closedByServer),
    'the newer ones are kept',
  );
  assert.ok(
    first.attackers.slice(25).every((attacker) => !attacker.closedByServer),
    'only as many as needed are closed',
  );
  assert.deepEqual(await getItem(a, 'x'), { found: false });
});

test('an HTTP keep-alive connection is closed after --max-requests-per-connection requests', async (t) => {
  const cluster = await createTestCluster(1, { maxRequestsPerConnection: 3 });
  t.after(() => cluster.stop());
  const { host, port } = parseAddress(cluster.addresses[0]!);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const sockets = new Set<Socket>();
  const closes: Array<string | undefined> = [];
  for (let i = 0; i < 4; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host, port, path: '/_ring', agent }, (res) => {
        sockets.add(res.socket);
        closes.push(res.headers.connection);
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  }
  assert.deepEqual(closes, ['keep-alive', 'keep-alive', 'close', 'keep-alive']);
  assert.equal(sockets.size, 2, 'the fourth request needed a new connection');
});

test('client limits: name length and pattern, item size; over JSON and HTTP', async (t) => {
  const cluster = await createTestCluster(1, { maxNameBytes: 12, namePattern: /^(?:[a-z0-9._-]+)$/u, maxItemBytes: 1024 });
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [Address];
  const code = async (promise: Promise<unknown>): Promise<string> =>
    promise.then(
      () => 'ok',
      (err: unknown) => (isCoopError(err) ? err.code : String(err)),
    );
  assert.equal(await code(putItem(a, 'ok-name.txt', 'x')), 'ok');
  assert.equal(await code(putItem(a, 'much-too-long.txt', 'x')), 'BAD_NAME');
  assert.equal(await code(putItem(a, 'Upper.txt', 'x')), 'BAD_NAME');
  assert.equal(await code(getItem(a, '../x')), 'BAD_NAME');
  assert.equal(await code(putItem(a, 'big.bin', 'x'.repeat(1025))), 'TOO_LARGE');
  assert.equal((await fetch(`http://${a}/Upper.txt`, { method: 'PUT', body: 'x' })).status, 400);
  assert.equal((await fetch(`http://${a}/big.bin`, { method: 'PUT', body: 'x'.repeat(2000) })).status, 413);
  assert.equal((await fetch(`http://${a}/huge.bin`, { method: 'PUT', body: Buffer.alloc(300 * 1024) })).status, 413);
  assert.equal((await fetch(`http://${a}/ok-name.txt`)).status, 200);
});

test('a held item whose name is outside the limits is refused alike over JSON and HTTP, fast path included', async (t) => {
  const cluster = await createTestCluster(1, { namePattern: /^(?:[a-z0-9._-]+)$/u });
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [Address];
  // As a peer's copy arrives: peers are not held to a server's client limits.
  assert.equal(await cluster.nodes[0]!.store.apply('Upper.txt', { version: { clock: 1, server: a }, content: 'x' }, Date.now()), true);
  await assert.rejects(getItem(a, 'Upper.txt'), (err: unknown) => isCoopError(err, 'BAD_NAME'));
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`http://${a}/Upper.txt`);
    assert.equal(response.status, 400, `HTTP GET ${i + 1}`);
    await response.arrayBuffer();
  }
});

test('HTTP request smuggling and path tricks: refused or taken as plain names, never as paths; the server goes on', async (t) => {
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [Address];
  await putItem(a, 'x', 'the item x');
  const smuggling = [
    'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n',
    'PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabcGET /x HTTP/1.1\r\nHost: a\r\n\r\n',
    'PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'GET /x HTTP/1.1\r\nHost: a\r\n Content-Length: 5\r\n\r\n',
    'GET /x HTTP/1.1\nHost: a\n\n',
  ];
  for (const attempt of smuggling) {
    const reply = await rawExchange(a, attempt, { timeoutMs: 3000 });
    const responses = reply.text.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];
    assert.deepEqual(responses, ['HTTP/1.1 400'], `refused, and nothing smuggled behind it: ${JSON.stringify(attempt)}`);
    assert.ok(reply.closed);
  }
  assert.deepEqual(await getItem(a, 'x'), { found: true, content: 'the item x', encoding: undefined }, 'no smuggled PUT went through');
  const tunnel = await rawExchange(a, 'CONNECT elsewhere:443 HTTP/1.1\r\nHost: elsewhere:443\r\n\r\n');
  assert.match(tunnel.text, /^HTTP\/1\.1 405 /, 'this is no proxy');

  const tricks: Array<[string, number]> = [
    ['/%C0%AE%C0%AE/etc/passwd', 400], // overlong UTF-8 for '.'
    ['/a%00b', 400], // NUL
    ['/%FF', 400], // not UTF-8
    ['/%2e%2e/%2e%2e/etc/passwd', 404], // the name "../../etc/passwd", not found
    ['/../../etc/passwd', 404], // the same name
    ['//etc/passwd', 404], // the name "/etc/passwd"
    ['//', 404], // the name "/"
    ['*', 400], // not a path
    ['http://elsewhere/x', 400], // an absolute URL: this is no proxy
  ];
  for (const [path, status] of tricks) {
    const reply = await rawExchange(a, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    assert.match(reply.text, new RegExp(`^HTTP/1\\.1 ${status} `), path);
  }
  const planted = await rawExchange(
    a,
    'PUT /%2e%2e/%2e%2e/tmp/planted HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi',
  );
  assert.match(planted.text, /^HTTP\/1\.1 201 /);
  // Dot segments are not resolved: the name is "../../tmp/planted", a key in the store like any other.
  assert.deepEqual(await getItem(a, '../../tmp/planted'), { found: true, content: 'hi', encoding: undefined });
  assert.deepEqual(await getItem(a, 'tmp/planted'), { found: false });
});
