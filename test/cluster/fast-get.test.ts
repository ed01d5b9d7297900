/**
 * The fast path in front of node:http (transport/fast-get.ts) over real
 * sockets: pipelined answers in order, byte for byte what node:http sends
 * (compared with a server whose fast path is off), the hand-over to node:http
 * mid-connection (a PUT, a condition, an item not held, smuggling attempts),
 * the request cap, the timeouts, a full socket, TLS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createTestCluster, type ClusterNodeOptions } from '../../src/node/cluster.js';
import { putItem } from '../../src/client/client.js';
import { createHttpFace } from '../../src/http/server.js';
import { fastGetFront } from '../../src/http/fast-get.js';
import { formatAddress, type Address } from '../../src/protocol/address.js';
import { nodeHttpRequests, openHttp, parseResponses, type HttpResponse } from '../helpers.js';

/** A fixed clock: two servers given the same writes stamp the same versions, so the same Last-Modified. */
const NOW = 1_767_225_600_000;
const BINARY = randomBytes(3000);

const get = (path: string, ...headers: string[]): string =>
  `GET ${path} HTTP/1.1\r\nHost: a\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
const head = (path: string): string => `HEAD ${path} HTTP/1.1\r\nHost: a\r\n\r\n`;
const put = (path: string, body: string): string =>
  `PUT ${path} HTTP/1.1\r\nHost: a\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const withoutDate = (response: HttpResponse): string => response.raw.toString('latin1').replace(/\r\nDate: [^\r]*\r\n/, '\r\nDate: -\r\n');

/** Per server of serverWithItems: how many HTTP requests node:http has handled (the rest were answered in front). */
const handledByNode = new Map<Address, () => number>();
const byNodeHttp = (server: Address): number => handledByNode.get(server)!();

/** A server holding a.txt, b.bin and c.html, each GET once already (so their targets have ready answers). */
async function serverWithItems(t: { after(fn: () => Promise<void>): void }, options: ClusterNodeOptions = {}): Promise<Address> {
  const cluster = await createTestCluster(1, { now: () => NOW, ...options });
  t.after(() => cluster.stop());
  const [address] = cluster.addresses as [Address];
  handledByNode.set(address, nodeHttpRequests(cluster.nodes[0]!));
  await putItem(address, 'a.txt', 'alpha', undefined, options.tls ? { tls: { ca: options.tls.cert } } : {});
  await putItem(address, 'b.bin', BINARY.toString('base64'), 'base64', options.tls ? { tls: { ca: options.tls.cert } } : {});
  await putItem(address, 'c.html', '<p>caf\u00e9</p>', undefined, options.tls ? { tls: { ca: options.tls.cert } } : {});
  const ca = options.tls?.cert as Buffer | undefined;
  const warm = await openHttp(address, ca);
  warm.write(get('/a.txt') + get('/b.bin') + get('/c.html'));
  await warm.responses(3);
  warm.destroy();
  return address;
}

function metric(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length));
}

test('pipelined GETs and HEADs answered in order, byte for byte as node:http answers them but for Date; counted alike', async (t) => {
  const [fast, plain] = await Promise.all([serverWithItems(t), serverWithItems(t, { httpFastPath: false })]);
  const requests = [get('/a.txt'), head('/a.txt'), get('/b.bin'), get('/c.html', 'Connection: keep-alive'), head('/c.html'), get('/a.txt')];
  const heads = requests.map((r) => r.startsWith('HEAD'));
  const answers: HttpResponse[][] = [];
  for (const server of [fast, plain]) {
    const before = byNodeHttp(server);
    const connection = await openHttp(server);
    t.after(() => connection.destroy());
    connection.write(requests.join(''));
    answers.push(await connection.responses(requests.length, heads));
    assert.equal(connection.closed, false);
    // Every one answered in front where the fast path is on; every one by node:http where it is off.
    assert.equal(byNodeHttp(server) - before, server === fast ? 0 : requests.length);
  }
  const [ours, node] = answers as [HttpResponse[], HttpResponse[]];
  assert.deepEqual(
    ours.map((r) => r.body.toString('latin1')),
    ['alpha', '', BINARY.toString('latin1'), '<p>caf\u00c3\u00a9</p>', '', 'alpha'],
  );
  assert.deepEqual(ours.map(withoutDate), node.map(withoutDate));
  assert.match(ours[0]!.head, /\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=1000\r\n\r\n$/);

  const counts = await Promise.all([fast, plain].map(async (server) => (await fetch(`http://${server}/metrics`)).text()));
  for (const line of [
    'coop_http_requests_total{method="GET",status="200"} ',
    'coop_http_requests_total{method="HEAD",status="200"} ',
    'coop_requests_total{type="GET",outcome="ok"} ',
  ]) {
    assert.equal(metric(counts[0]!, line), metric(counts[1]!, line), line);
    assert.ok(metric(counts[0]!, line) >= 2, line);
  }
});

test('a GET answered in front, then a PUT on the same connection: node:http takes over, stores it, and no GET is answered stale', async (t) => {
  const server = await serverWithItems(t);
  const before = byNodeHttp(server);
  const connection = await openHttp(server);
  t.after(() => connection.destroy());
  connection.write(get('/a.txt'));
  assert.equal((await connection.responses(1))[0]!.body.toString(), 'alpha');
  assert.equal(byNodeHttp(server), before, 'the first GET is answered in front');
  connection.write(put('/a.txt', 'beta'));
  assert.equal((await connection.responses(2))[1]!.status, 204);
  connection.write(get('/a.txt'));
  assert.equal((await connection.responses(3))[2]!.body.toString(), 'beta');
  assert.equal(byNodeHttp(server), before + 2, 'after the PUT, node:http answers this connection');

  // A connection still in front answers from the copy held now, whoever wrote it.
  const other = await openHttp(server);
  t.after(() => other.destroy());
  other.write(get('/a.txt'));
  assert.equal((await other.responses(1))[0]!.body.toString(), 'beta');
  await putItem(server, 'a.txt', 'gamma');
  other.write(get('/a.txt'));
  assert.equal((await other.responses(2))[1]!.body.toString(), 'gamma');
  assert.equal(byNodeHttp(server), before + 2, 'both answered in front');
  connection.write(get('/a.txt') + head('/b.bin'));
  const last = await connection.responses(5, [false, false, false, false, true]);
  assert.deepEqual(
    last.slice(3).map((r) => [r.status, r.body.length]),
    [
      [200, 5],
      [200, 0],
    ],
  );
});

test('conditions, items not held and requests that are not simple go to node:http, which then keeps the connection', async (t) => {
  const server = await serverWithItems(t);
  const before = byNodeHttp(server);
  const connection = await openHttp(server);
  t.after(() => connection.destroy());
  connection.write(get('/a.txt'));
  const [first] = await connection.responses(1);
  const etag = /\r\netag: ("[0-9a-f]+")\r\n/.exec(first!.head)![1]!;
  connection.write(get('/a.txt', `If-None-Match: ${etag}`) + get('/a.txt'));
  const answers = await connection.responses(3);
  assert.deepEqual(
    answers.map((r) => r.status),
    [200, 304, 200],
  );
  // The first in front; the condition and the plain GET after it by node:http, on the same connection.
  assert.equal(byNodeHttp(server) - before, 2);
  assert.equal(connection.closed, false);

  const missing = await openHttp(server);
  t.after(() => missing.destroy());
  missing.write(get('/missing.txt'));
  await missing.responses(1);
  missing.write(get('/missing.txt') + get('/a.txt', 'Range: bytes=1-2'));
  const more = await missing.responses(3);
  assert.deepEqual(
    more.map((r) => [r.status, r.status === 404 ? /No server in the ring holds/.test(r.body.toString()) : r.body.toString()]),
    [
      [404, true],
      [404, true],
      [206, 'lp'],
    ],
  );
});

test('smuggling attempts after an answer in front still get one 400 each and the connection closed', async (t) => {
  const server = await serverWithItems(t);
  const attempts = [
    'POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n',
    'PUT /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabcGET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n',
    'PUT /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'PUT /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'GET /a.txt HTTP/1.1\r\nHost: a\r\n Content-Length: 5\r\n\r\n',
    'GET /a.txt HTTP/1.1\nHost: a\n\n',
  ];
  for (const attempt of attempts) {
    // Both in one write, and the attempt trickled in after the first answer.
    for (const split of [false, true]) {
      const connection = await openHttp(server);
      t.after(() => connection.destroy());
      if (split) {
        connection.write(get('/a.txt'));
        await connection.responses(1);
        for (const byte of Buffer.from(attempt)) connection.write(Buffer.from([byte]));
      } else {
        connection.write(get('/a.txt') + attempt);
      }
      await connection.whenClosed();
      const statuses = parseResponses(connection.received(), [], true).map((r) => r.status);
      assert.deepEqual(statuses, [200, 400], `${split ? 'trickled' : 'pipelined'}: ${JSON.stringify(attempt)}`);
    }
  }
  const check = await openHttp(server);
  t.after(() => check.destroy());
  check.write(get('/a.txt'));
  assert.equal((await check.responses(1))[0]!.body.toString(), 'alpha', 'nothing smuggled was stored');
});

test('the request cap: the last answer says Connection: close, as node:http says it, and the connection ends', async (t) => {
  const [fast, plain] = await Promise.all([
    serverWithItems(t, { maxRequestsPerConnection: 3 }),
    serverWithItems(t, { maxRequestsPerConnection: 3, httpFastPath: false }),
  ]);
  const answers: HttpResponse[][] = [];
  for (const server of [fast, plain]) {
    const connection = await openHttp(server);
    t.after(() => connection.destroy());
    connection.write(get('/a.txt').repeat(5));
    answers.push(await connection.responses(3));
  }
  assert.deepEqual(answers[0]!.map(withoutDate), answers[1]!.slice(0, 3).map(withoutDate));
  assert.match(answers[0]![2]!.head, /\r\nConnection: close\r\n\r\n$/);
  const connection = await openHttp(fast);
  t.after(() => connection.destroy());
  connection.write(get('/a.txt').repeat(5));
  await connection.whenClosed();
  // node:http would answer 503 to the two beyond the cap and keep the connection; the fast path closes it instead.
  assert.equal((await connection.responses(3)).length, 3);
});

test('timeouts in front: silence in a head, a head that trickles past the deadline (408), silence after an answer', async (t) => {
  const server = await serverWithItems(t, { idleTimeoutMs: 300, requestTimeoutMs: 800 });
  const before = byNodeHttp(server);
  const silent = await openHttp(server);
  t.after(() => silent.destroy());
  silent.write(get('/a.txt'));
  await silent.responses(1);
  const silentSince = performance.now();
  const trickling = await openHttp(server);
  t.after(() => trickling.destroy());
  trickling.write(get('/a.txt'));
  await trickling.responses(1);
  assert.equal(byNodeHttp(server), before, 'both connections are held by the front');

  const quiet = await openHttp(server);
  t.after(() => quiet.destroy());
  let started = performance.now();
  quiet.write('GET /a.txt HTTP/1.1\r\nHo');
  await quiet.whenClosed();
  assert.ok(performance.now() - started >= 250, 'closed after the idle timeout');
  assert.equal(quiet.received().length, 0);

  // Each byte in time for the idle timeout, the head never complete: the deadline ends it.
  started = performance.now();
  trickling.write('GET /a.txt HTTP/1.1\r\nHost: a\r\n');
  const drip = setInterval(() => trickling.write('X'), 50); // well inside the idle timeout of 300 ms
  t.after(() => clearInterval(drip));
  await trickling.whenClosed();
  clearInterval(drip);
  assert.ok(performance.now() - started >= 750, 'closed at the request deadline');
  assert.match(trickling.received().toString('latin1'), /HTTP\/1\.1 408 Request Timeout\r\nConnection: close\r\n\r\n$/);

  // Between requests, node:http's keep-alive timeout (5 s, announced) plus its second of slack.
  await silent.whenClosed(10_000);
  assert.ok(performance.now() - silentSince >= 5000);
});

test('a client that pipelines 12 MiB worth of answers at once: the front answers them all, in order, by itself', async (t) => {
  const server = await serverWithItems(t);
  const big = randomBytes(60 * 1024);
  await putItem(server, 'big.bin', big.toString('base64'), 'base64');
  const warm = await openHttp(server);
  warm.write(get('/big.bin'));
  await warm.responses(1);
  warm.destroy();
  const before = byNodeHttp(server);
  const connection = await openHttp(server);
  t.after(() => connection.destroy());
  const count = 200; // 12 MiB of answers
  connection.write(`${get('/big.bin')}${get('/a.txt')}`.repeat(count / 2));
  const answers = await connection.responses(count, [], 20_000);
  for (let i = 0; i < count; i++) assert.ok(answers[i]!.body.equals(i % 2 === 0 ? big : Buffer.from('alpha')), `answer ${i}`);
  assert.equal(byNodeHttp(server), before);
});

test('over TLS the front answers the same way and hands over the same way', async (t) => {
  const fixture = (name: string): Buffer => readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url));
  const tls = { cert: fixture('tls-cert.pem'), key: fixture('tls-key.pem'), ca: fixture('tls-cert.pem') };
  const server = await serverWithItems(t, { tls });
  const before = byNodeHttp(server);
  const connection = await openHttp(server, tls.ca);
  t.after(() => connection.destroy());
  connection.write(get('/a.txt') + head('/b.bin') + put('/a.txt', 'over TLS') + get('/c.html'));
  await connection.responses(4, [false, true]);
  connection.write(get('/a.txt'));
  const answers = await connection.responses(5, [false, true]);
  assert.deepEqual(
    answers.map((r) => [r.status, r.body.toString()]),
    [
      [200, 'alpha'],
      [200, ''],
      [204, ''],
      [200, '<p>caf\u00e9</p>'],
      [200, 'over TLS'],
    ],
  );
  assert.equal(byNodeHttp(server) - before, 3, 'the GET and the HEAD in front; from the PUT on, node:http');
});

test('the hand-over is for good and at a request boundary: node:http reads the rest, however the bytes were split', async (t) => {
  const seen: string[] = [];
  const http = createHttpFace(
    (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end(`node ${req.url}`);
    },
    { requestTimeoutMs: 5000, idleTimeoutMs: 5000, maxRequestsPerConnection: 0 },
  );
  t.after(() => void http.close());
  let asked = 0;
  const take = fastGetFront(http, (target) => {
    if (target !== '/fast') return undefined;
    asked++;
    return { head: 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n', body: 'fast' };
  });
  const listener: NetServer = createNetServer((socket) => take(socket));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  t.after(() => void listener.close());
  const address = formatAddress('127.0.0.1', (listener.address() as { port: number }).port);
  const requests = get('/fast') + head('/fast') + get('/slow') + get('/fast') + put('/fast', 'body') + get('/fast');
  for (const pieces of [1, 7, requests.length]) {
    seen.length = 0;
    asked = 0;
    const connection = await openHttp(address);
    t.after(() => connection.destroy());
    const size = Math.ceil(requests.length / pieces);
    for (let at = 0; at < requests.length; at += size) connection.write(requests.slice(at, at + size));
    const answers = await connection.responses(6, [false, true]);
    assert.deepEqual(
      answers.map((r) => r.body.toString()),
      ['fast', '', 'node /slow', 'node /fast', 'node /fast', 'node /fast'],
    );
    assert.equal(asked, 2);
    assert.deepEqual(seen, ['GET /slow', 'GET /fast', 'PUT /fast', 'GET /fast']);
    connection.destroy();
  }
});

test('stopping the server closes the connections the front holds, between requests and mid-head', async (t) => {
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  const [server] = cluster.addresses as [Address];
  const handled = nodeHttpRequests(cluster.nodes[0]!);
  await putItem(server, 'a.txt', 'alpha');
  const warm = await openHttp(server);
  t.after(() => warm.destroy());
  warm.write(get('/a.txt')); // served once: its target has a ready answer now
  await warm.responses(1);
  const between = await openHttp(server);
  t.after(() => between.destroy());
  between.write(get('/a.txt') + get('/a.txt'));
  await between.responses(2);
  assert.equal(handled(), 1, 'both answered in front, which holds the connection');
  const midHead = await openHttp(server);
  t.after(() => midHead.destroy());
  midHead.write(get('/a.txt'));
  await midHead.responses(1);
  midHead.write('GET /a.txt HTTP/1.1\r\nHo');
  await cluster.stop();
  await Promise.all([between.whenClosed(), midHead.whenClosed()]);
});
