/** The HTTP face, against a ring of three: both protocols on one port, the same items. */
import { waitFor } from '../../src/util/wait.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, Agent } from 'node:http';
import { createConnection } from 'node:net';
import { createTestCluster } from '../../src/node/cluster.js';
import { getItem, putItem } from '../../src/client/client.js';
import { parseAddress } from '../../src/protocol/address.js';

function url(server: string, path: string): string {
  return `http://${server}${path}`;
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('PUT over HTTP, GET over HTTP and JSON elsewhere, and the other way round; HEAD, ETag and 304, Last-Modified', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [string, string, string];

  const created = await fetch(url(a, '/site/style.css'), { method: 'PUT', body: 'body { color: teal }' });
  assert.equal(created.status, 201);
  const got = await fetch(url(b, '/site/style.css'));
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal(got.headers.get('content-length'), '20');
  assert.ok(got.headers.get('last-modified'));
  const etag = got.headers.get('etag')!;
  assert.equal(etag, `"${createHash('sha1').update('body { color: teal }').digest('hex')}"`);
  assert.equal(await got.text(), 'body { color: teal }');
  assert.deepEqual(await getItem(c, 'site/style.css'), { found: true, content: 'body { color: teal }', encoding: undefined });

  const notModified = await fetch(url(c, '/site/style.css'), { headers: { 'if-none-match': etag } });
  assert.equal(notModified.status, 304);
  assert.equal(await notModified.text(), '');

  const head = await fetch(url(c, '/site/style.css'), { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '20');
  assert.equal(await head.text(), '');

  const replaced = await fetch(url(b, '/site/style.css'), { method: 'PUT', body: 'body { color: navy }' });
  assert.equal(replaced.status, 204);
  const changed = await fetch(url(a, '/site/style.css'), { headers: { 'if-none-match': etag } });
  assert.equal(changed.status, 200, 'a new version has a new ETag');
  assert.equal(await changed.text(), 'body { color: navy }');

  // JSON PUT, HTTP GET; binary content types.
  const png = randomBytes(2000);
  await putItem(c, 'logo.png', png.toString('base64'), 'base64');
  const image = await fetch(url(a, '/logo.png'));
  assert.equal(image.headers.get('content-type'), 'image/png');
  assert.ok(Buffer.from(await image.arrayBuffer()).equals(png));
  await putItem(a, 'index.html', '<h1>home</h1>');
  const home = await fetch(url(b, '/'));
  assert.equal(home.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(await home.text(), '<h1>home</h1>');
});

test('a GET repeated on one connection answers from the copy held now: after a write, a delete, for bytes and for text', async (t) => {
  const cluster = await createTestCluster(2);
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [string, string];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const get = (path: string, method = 'GET') =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const { host, port } = parseAddress(a);
      const req = httpRequest({ host, port, path, method, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });

  await putItem(b, 'note.txt', 'first \u00e9t\u00e9');
  for (let i = 0; i < 3; i++) {
    const got = await get('/note.txt');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString('utf8'), 'first \u00e9t\u00e9');
    assert.equal(got.headers['content-length'], String(Buffer.byteLength('first \u00e9t\u00e9')));
    assert.equal(got.headers.etag, `"${createHash('sha1').update('first \u00e9t\u00e9').digest('hex')}"`);
  }
  const head = await get('/note.txt', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers['content-length'], String(Buffer.byteLength('first \u00e9t\u00e9')));

  await putItem(b, 'note.txt', 'second');
  const second = await get('/note.txt');
  assert.equal(second.body.toString('utf8'), 'second');
  assert.equal(second.headers.etag, `"${createHash('sha1').update('second').digest('hex')}"`);

  const bytes = randomBytes(3000);
  await putItem(b, 'note.txt', bytes.toString('base64'), 'base64');
  assert.ok((await get('/note.txt')).body.equals(bytes));
  assert.ok((await get('/note.txt')).body.equals(bytes));

  assert.equal((await fetch(url(b, '/note.txt'), { method: 'DELETE' })).status, 204);
  assert.equal((await get('/note.txt')).status, 404);
  assert.equal((await get('/note.txt?again')).status, 404);
});

test('404 with a small HTML page, ranges (206, suffix, 416), DELETE, bad names and methods', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [string, string, string];

  const missing = await fetch(url(a, '/nowhere.txt'));
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(await missing.text(), /href="\/_ring"/);

  await fetch(url(a, '/digits.txt'), { method: 'PUT', body: '0123456789' });
  const part = await fetch(url(b, '/digits.txt'), { headers: { range: 'bytes=2-5' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 2-5/10');
  assert.equal(await part.text(), '2345');
  const suffix = await fetch(url(c, '/digits.txt'), { headers: { range: 'bytes=-3' } });
  assert.equal(await suffix.text(), '789');
  const open = await fetch(url(c, '/digits.txt'), { headers: { range: 'bytes=7-' } });
  assert.equal(await open.text(), '789');
  const outside = await fetch(url(c, '/digits.txt'), { headers: { range: 'bytes=20-30' } });
  assert.equal(outside.status, 416);
  assert.equal(outside.headers.get('content-range'), 'bytes */10');

  assert.equal((await fetch(url(b, '/digits.txt'), { method: 'DELETE' })).status, 204);
  for (const server of [a, b, c]) assert.equal((await fetch(url(server, '/digits.txt'))).status, 404);

  assert.equal((await fetch(url(a, '/a%00b'))).status, 400);
  assert.equal((await fetch(url(a, '/%E0%A4%A'))).status, 400);
  assert.equal((await fetch(url(a, '/x.txt'), { method: 'POST', body: 'x' })).status, 405);
  // Percent-encoded names are names, never paths.
  assert.equal((await fetch(url(a, '/..%2F..%2Fetc%2Fpasswd'), { method: 'PUT', body: 'just a name' })).status, 201);
  assert.deepEqual(await getItem(b, '../../etc/passwd'), { found: true, content: 'just a name', encoding: undefined });
});

function streamPut(server: string, path: string, bytes: Buffer, chunked: boolean): Promise<number> {
  const { host, port } = parseAddress(server);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, method: 'PUT', headers: chunked ? {} : { 'content-length': bytes.length } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let offset = 0; offset < bytes.length; offset += 65536) req.write(bytes.subarray(offset, offset + 65536));
    req.end();
  });
}

test('large bodies stream in and out in parts; a chunked body without a length is taken too', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [string, string, string];
  const big = randomBytes(5 * 1024 * 1024 + 777);
  assert.equal(await streamPut(a, '/big.bin', big, false), 201);
  const back = Buffer.from(await (await fetch(url(c, '/big.bin'))).arrayBuffer());
  assert.equal(back.length, big.length);
  assert.equal(sha(back), sha(big));
  const middle = await fetch(url(b, '/big.bin'), { headers: { range: `bytes=${1024 * 1024 - 10}-${3 * 1024 * 1024}` } });
  assert.equal(middle.status, 206);
  assert.ok(Buffer.from(await middle.arrayBuffer()).equals(big.subarray(1024 * 1024 - 10, 3 * 1024 * 1024 + 1)));

  const small = Buffer.from('chunked transfer, no length\n'.repeat(100));
  assert.equal(await streamPut(b, '/chunked.txt', small, true), 201);
  assert.equal(await (await fetch(url(a, '/chunked.txt'))).text(), small.toString());
});

test('a large body at servers with a small --max-message goes around in parts that fit it', async (t) => {
  // Parts of 1 MiB would be refused by every peer whose limit is 512 KiB.
  const cluster = await createTestCluster(3, { maxMessageBytes: 512 * 1024 });
  t.after(() => cluster.stop());
  const [a, , c] = cluster.addresses as [string, string, string];
  const big = randomBytes(3 * 1024 * 1024 + 5);
  assert.equal(await streamPut(a, '/small-parts.bin', big, false), 201);
  assert.equal(sha(Buffer.from(await (await fetch(url(c, '/small-parts.bin'))).arrayBuffer())), sha(big));
});

/** A counter's value in a server's /metrics (0 when it has no such series yet). */
async function metric(server: string, series: string): Promise<number> {
  const text = await (await fetch(url(server, '/metrics'))).text();
  const line = text.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

test('with a cluster secret, a large body crosses the ring as raw bytes beside sealed messages, byte-exact everywhere', async (t) => {
  const cluster = await createTestCluster(3, { secret: 'ring secret' });
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [string, string, string];
  const big = randomBytes(3 * 1024 * 1024 + 99);
  assert.equal(await streamPut(a, '/sealed.bin', big, false), 201);
  for (const server of [a, b, c]) assert.equal(sha(Buffer.from(await (await fetch(url(server, '/sealed.bin'))).arrayBuffer())), sha(big));
  // Hashed where it entered the ring only: the others record the hash its last part brought, under the tag.
  const etags = await Promise.all(
    [a, b, c].map(async (server) => (await fetch(url(server, '/sealed.bin'), { method: 'HEAD' })).headers.get('etag')),
  );
  assert.deepEqual(etags, Array(3).fill(`"${createHash('sha1').update(big).digest('hex')}"`));
  for (const server of [b, c]) {
    // Streams between the servers were open before the PUT: every part went raw, none as base64.
    assert.equal(await metric(server, 'coop_part_bytes_received_total{way="raw"}'), big.length, `raw at ${server}`);
    assert.equal(await metric(server, 'coop_part_bytes_received_total{way="base64"}'), 0, `base64 at ${server}`);
  }
});

test('both protocols on one port under concurrent load: every answer matches its request', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const servers = cluster.addresses;
  const items = Array.from({ length: 40 }, (_, i) => [`page-${i}.html`, `<p>${'page '.repeat(i + 1)}${i}</p>`] as const);
  await Promise.all(items.map(([name, content], i) => putItem(servers[i % 3]!, name, content)));
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  const httpGet = (server: string, path: string) =>
    new Promise<string>((resolve, reject) => {
      const { host, port } = parseAddress(server);
      httpRequest({ host, port, path, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      })
        .on('error', reject)
        .end();
    });
  const results = await Promise.all(
    Array.from({ length: 400 }, async (_, i) => {
      const [name, content] = items[(i * 7) % items.length]!;
      const server = servers[i % 3]!;
      const answer = i % 2 === 0 ? await httpGet(server, `/${name}`) : ((await getItem(server, name)) as { content: string }).content;
      return answer === content;
    }),
  );
  assert.equal(results.filter((ok) => !ok).length, 0);
});

test('/metrics is Prometheus text, and its counters move with requests', async (t) => {
  const cluster = await createTestCluster(2);
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [string];
  const scrape = async () => (await fetch(url(a, '/metrics'))).text();
  const value = (text: string, series: string) =>
    Number(
      text
        .split('\n')
        .find((line) => line.startsWith(series + ' '))
        ?.split(' ')[1] ?? 0,
    );
  const before = await scrape();
  for (const line of before.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // Prometheus reads NaN in any case; prom-client writes "Nan" (an event-loop gauge before its first sample).
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?([0-9.eE+-]+|NaN|Nan|\+Inf|-Inf)$/, `not Prometheus text: ${line}`);
  }
  for (const name of [
    'coop_requests_total',
    'coop_request_duration_seconds',
    'coop_ring_size',
    'coop_items',
    'coop_bytes_stored',
    'coop_forwards_total',
  ]) {
    assert.match(before, new RegExp(`# TYPE ${name} `), `${name} is exported`);
  }
  await putItem(a, 'm.txt', 'counted');
  await getItem(a, 'm.txt');
  await fetch(url(a, '/m.txt'));
  const after = await scrape();
  assert.ok(
    value(after, 'coop_requests_total{type="PUT",outcome="ok"}') >= value(before, 'coop_requests_total{type="PUT",outcome="ok"}') + 1,
  );
  assert.ok(
    value(after, 'coop_requests_total{type="GET",outcome="ok"}') >= value(before, 'coop_requests_total{type="GET",outcome="ok"}') + 2,
  );
  assert.equal(value(after, 'coop_items'), 1);
  assert.equal(value(after, 'coop_ring_size'), 2);
  assert.ok(value(after, 'coop_http_requests_total{method="GET",status="200"}') >= 1);
  // A forward is counted once its receiver acknowledged it, which may come after the round is back.
  await waitFor(async () => value(await scrape(), 'coop_forwards_total{type="FORWARD_PUT"}') >= 1, { what: 'the forward to be counted' });
  // The latency histogram (counted in plain numbers, handed to prom-client when scraped): cumulative buckets ending in +Inf = count.
  const buckets = after
    .split('\n')
    .filter((line) => line.startsWith('coop_request_duration_seconds_bucket{') && line.includes('type="GET"'))
    .map((line) => Number(line.split(' ')[1]));
  assert.ok(buckets.length > 2, 'GET latency buckets are exported');
  assert.ok(
    buckets.every((count, i) => i === 0 || count >= buckets[i - 1]!),
    `buckets are cumulative: ${buckets.join(', ')}`,
  );
  const count = value(after, 'coop_request_duration_seconds_count{type="GET"}');
  assert.ok(count >= 2);
  assert.equal(buckets.at(-1), count, 'the +Inf bucket holds every observation');
  assert.ok(value(after, 'coop_request_duration_seconds_sum{type="GET"}') > 0);
  await cluster.nodes[1]!.stop();
  await cluster.whenConverged(5000);
  assert.equal(value(await scrape(), 'coop_failures_detected_total'), 1);
});

test('a large GET streamed from this server keeps to the version it started with while a newer one is written', async (t) => {
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [string];
  // Larger than the socket buffers between server and client, so most of it is still to be read when the write lands.
  const size = 48 * 1024 * 1024;
  const first = Buffer.alloc(size, 'a');
  assert.equal(await streamPut(a, '/moving.bin', first, false), 201);
  const { host, port } = parseAddress(a);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const req = httpRequest({ host, port, path: '/moving.bin' }, (res) => {
      res.once('data', (chunk: Buffer) => {
        chunks.push(chunk);
        res.pause();
        // Paused after its first bytes: the newer version is written whole before the rest is read.
        streamPut(a, '/moving.bin', Buffer.alloc(size, 'b'), false).then(() => {
          res.on('data', (more: Buffer) => chunks.push(more));
          res.resume();
        }, reject);
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(body.length, size);
  assert.equal(body.indexOf('b'), -1, 'every byte from the version the GET started with');
  const after = Buffer.from(await (await fetch(url(a, '/moving.bin'))).arrayBuffer());
  assert.equal(after.indexOf('a'), -1, 'the newer version is what a new GET gets');
});

test('an upload refused while its body is still coming: its client reads the answer, and the rest is taken before the connection closes, not reset', async (t) => {
  const cluster = await createTestCluster(1, { writeToken: 'tok' });
  t.after(() => cluster.stop());
  const socket = createConnection(parseAddress(cluster.addresses[0]!));
  t.after(() => void socket.destroy());
  let received = '';
  let failure: Error | undefined;
  let ended = false;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', (err) => (failure = err));
  socket.on('end', () => (ended = true));
  const size = 8 * 1024 * 1024;
  const piece = Buffer.alloc(256 * 1024);
  socket.write(`PUT /refused.bin HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer wrong\r\nContent-Length: ${size}\r\n\r\n`);
  socket.write(piece);
  await waitFor(() => received.includes('\r\n\r\n'), { what: 'the answer, while the body is still coming' });
  assert.match(received, /^HTTP\/1\.1 403 /);
  for (let sent = piece.length; sent < size; sent += piece.length) {
    assert.equal(ended, false, 'not closed while the body is still coming');
    await new Promise<void>((resolve) => socket.write(piece, () => resolve()));
  }
  await waitFor(() => ended || failure !== undefined, { what: 'the connection to close' });
  assert.equal(failure, undefined, 'closed, not reset');
  assert.equal(received.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer');
});
