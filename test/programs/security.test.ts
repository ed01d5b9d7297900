/**
 * Security over real sockets: a ring with a cluster secret refuses forged,
 * altered and replayed peer messages and servers without the secret; tokens
 * guard writes (and reads) over both protocols; TLS carries both protocols.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { createTestCluster } from '../../src/node/cluster.js';
import { RingNode } from '../../src/node/node.js';
import { deleteItem, getDigest, getItem, getRing, PART_BYTES, putItem } from '../../src/client/client.js';
import { encodeMessage } from '../../src/protocol/messages.js';
import { parseAddress, type Address } from '../../src/protocol/address.js';
import { isCoopError, type ErrorCode } from '../../src/errors.js';
import { waitFor } from '../../src/util/wait.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { at, captureLog, rawExchange, recordingTransport, tempDir } from '../helpers.js';
import { killAll, runClient, runProgram, startServer, WEBSERVER } from '../processes.js';

const SECRET = 'correct horse battery staple';

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isCoopError(err), `expected a CoopError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

function errorCode(text: string): string | undefined {
  const reply = JSON.parse(text) as { type: string; data: { code?: string } };
  return reply.type === 'ERROR' ? reply.data.code : undefined;
}

test('forged FORWARD_PUT, UPDATE, INSERT and CHECK from a raw socket change nothing in a ring with a secret, and are logged', async (t) => {
  const capture = captureLog();
  const cluster = await createTestCluster(3, { secret: SECRET, log: capture.log });
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [Address, Address, Address];
  await putItem(a, 'kept.txt', 'the real content');
  await waitFor(() => cluster.nodes.every((node) => node.store.head('kept.txt')), { what: 'the PUT to reach every server' });
  const digestBefore = await getDigest(b);

  const forgeries = [
    encodeMessage({
      type: 'FORWARD_PUT',
      creator: a,
      data: { item: 'kept.txt', content: 'forged', version: { clock: Date.now() + 1e9, server: a } },
      id: 'x1',
    }),
    encodeMessage({ type: 'FORWARD_PUT', creator: a, data: { item: 'planted.txt', content: 'forged' } }),
    encodeMessage({ type: 'UPDATE', creator: a, data: [a, b] }),
    encodeMessage({
      type: 'UPDATE',
      creator: a,
      data: [a, b],
      id: 'x2',
      members: [{ address: c, incarnation: 99, status: 'dead', placed: 1 }],
    }),
    encodeMessage({ type: 'INSERT', data: '127.0.0.1:1', from: '127.0.0.1:1' }),
    encodeMessage({ type: 'CHECK', from: a }),
    encodeMessage({ creator: a, type: 'FORWARD_GET', data: { item: 'kept.txt', content: '404 NOT FOUND' }, id: 'x3' }),
    encodeMessage({ type: 'PING', from: a, members: [{ address: b, incarnation: 5, status: 'dead', placed: 1 }] }),
    encodeMessage({ type: 'STREAM', from: a }),
    // A tag that is not from the secret.
    encodeMessage({ type: 'UPDATE', creator: a, data: [a] }).slice(0, -1) +
      `, "auth": "1.${Date.now()}.0123456789abcdef.0.${'A'.repeat(43)}"}`,
  ];
  for (const forged of forgeries) {
    for (const target of [b, c]) {
      const reply = await rawExchange(target, forged);
      assert.equal(errorCode(reply.text), 'UNAUTHENTICATED', `${forged} to ${target}: ${reply.text}`);
    }
  }
  assert.ok(capture.lines.filter((line) => line.tag === 'WARN' && line.msg.startsWith('refused a message')).length >= forgeries.length * 2);
  for (const node of cluster.nodes) assert.equal(node.members.length, 3, `${node.address} still sees three servers`);
  await cluster.whenConverged();
  for (const server of [a, b, c]) {
    assert.deepEqual(await getItem(server, 'kept.txt'), { found: true, content: 'the real content', encoding: undefined });
    assert.deepEqual(await getItem(server, 'planted.txt'), { found: false });
  }
  assert.deepEqual(await getDigest(b), digestBefore);
  const metrics = await (await fetch(`http://${b}/metrics`)).text();
  const refused = Number(/coop_refused_total\{code="UNAUTHENTICATED"\} (\d+)/.exec(metrics)?.[1]);
  assert.ok(refused >= forgeries.length, `coop_refused_total counts the refusals (${refused})`);
  // Clients still read and write without the secret.
  await putItem(c, 'client.txt', 'fine');
  assert.deepEqual(await getItem(a, 'client.txt'), { found: true, content: 'fine', encoding: undefined });
});

test('a genuine peer message replayed, sent to another server, or altered by one byte, is refused', async (t) => {
  const sent: Array<{ to: Address; payload: string }> = [];
  const cluster = await createTestCluster(0, { secret: SECRET });
  t.after(() => cluster.stop());
  for (let i = 0; i < 3; i++) await cluster.add({ transport: recordingTransport(sent) });
  const [a] = cluster.addresses as [Address];
  await putItem(a, 'once.txt', 'v1');
  const genuine = await waitFor(() => sent.find((m) => m.payload.includes('"FORWARD_PUT"') && m.payload.includes('once.txt')), {
    what: 'a FORWARD_PUT to be sent',
  });
  assert.match(genuine.payload, /"auth": "1\./);

  const versions = (): unknown[] => cluster.nodes.map((node) => node.store.head('once.txt')?.version);
  const versionsBefore = versions();
  const replayed = await rawExchange(genuine.to, genuine.payload);
  assert.equal(errorCode(replayed.text), 'UNAUTHENTICATED');
  assert.match(replayed.text, /seen before/);
  const altered = await rawExchange(genuine.to, genuine.payload.replace('"v1"', '"v2"'));
  assert.equal(errorCode(altered.text), 'UNAUTHENTICATED');
  assert.match(altered.text, /does not match/);
  const elsewhere = cluster.addresses.find((address) => address !== genuine.to)!;
  const redirected = await rawExchange(elsewhere, genuine.payload);
  assert.equal(errorCode(redirected.text), 'UNAUTHENTICATED', 'a message taken off one link is refused on another');
  assert.match(redirected.text, /meant for another server/);
  for (const node of cluster.nodes) {
    assert.deepEqual(await getItem(node.address, 'once.txt'), { found: true, content: 'v1', encoding: undefined });
  }
  assert.deepEqual(versions(), versionsBefore, 'no copy was stored again');
});

test('a server with a wrong secret, or none, cannot join; one with the secret joins and takes the ring’s data', async (t) => {
  const capture = captureLog();
  const cluster = await createTestCluster(2, { secret: SECRET, log: capture.log, syncIntervalMs: 500 });
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [Address, Address];
  await putItem(a, 'before.txt', 'written before the join');

  const wrong = new RingNode({ host: '127.0.0.1', port: 0, join: b, secret: 'not the secret', heartbeatMs: 200 });
  t.after(() => wrong.stop());
  await rejectsWith(wrong.start(), 'JOIN_REFUSED');

  // Without the secret: refused at once, not left serving as a ring of its own.
  const open = new RingNode({ host: '127.0.0.1', port: 0, join: b, heartbeatMs: 200 });
  t.after(() => open.stop());
  await rejectsWith(open.start(), 'JOIN_REFUSED');
  assert.equal(open.running, false);
  for (const node of cluster.nodes) assert.equal(node.members.length, 2);

  const good = await cluster.add({ secret: SECRET });
  await cluster.whenConverged();
  assert.equal(good.members.length, 3);
  // Anti-entropy between servers with the secret: the newcomer pulls what was written before it came.
  await waitFor(() => good.store.head('before.txt'), { what: 'the new server to pull the older item' });
  assert.deepEqual(await getItem(good.address, 'before.txt'), { found: true, content: 'written before the join', encoding: undefined });
  // And a server with a secret cannot join an open ring either: its answers carry no tag.
  const openRing = await createTestCluster(1);
  t.after(() => openRing.stop());
  const stray = new RingNode({ host: '127.0.0.1', port: 0, join: openRing.addresses[0], secret: SECRET, heartbeatMs: 200 });
  t.after(() => stray.stop());
  await rejectsWith(stray.start(), 'JOIN_REFUSED');
});

test('with a secret, a seed dialled at an address of its own other than the one it advertises takes the joiner; another secret is still refused', async (t) => {
  // Listening everywhere, advertising 127.0.0.2, dialled at 127.0.0.1: the joiner seals for the address it dials.
  const seed = new RingNode({ host: '0.0.0.0', port: 0, advertise: '127.0.0.2', secret: SECRET, heartbeatMs: 200 });
  t.after(() => seed.stop());
  const advertised = await seed.start();
  const { port } = parseAddress(advertised);
  assert.equal(advertised, `127.0.0.2:${port}`);
  const dialled = `127.0.0.1:${port}`;

  const wrong = new RingNode({ host: '127.0.0.1', port: 0, join: dialled, secret: 'not the secret', heartbeatMs: 200 });
  t.after(() => wrong.stop());
  await assert.rejects(wrong.start(), (err: unknown) => {
    assert.ok(isCoopError(err) && err.code === 'JOIN_REFUSED', String(err));
    assert.match(err.message, /the secrets differ, or the address dialled/);
    return true;
  });
  assert.deepEqual(seed.members, [advertised], 'nobody got in');

  const joiner = new RingNode({ host: '127.0.0.1', port: 0, join: dialled, secret: SECRET, heartbeatMs: 200 });
  t.after(() => joiner.stop());
  const self = await joiner.start();
  await waitFor(() => seed.members.includes(self) || undefined, { what: 'the seed to hold the joiner' });
  assert.deepEqual(joiner.members, [self, advertised]);
  // The ring carries data with the secret, each way.
  await putItem(self, 'there.txt', 'from the joiner');
  await putItem(advertised, 'back.txt', 'from the seed');
  assert.deepEqual(await getItem(advertised, 'there.txt'), { found: true, content: 'from the joiner', encoding: undefined });
  assert.deepEqual(await getItem(self, 'back.txt'), { found: true, content: 'from the seed', encoding: undefined });
});

test('the start-up log says when the ring is open', async (t) => {
  const openLog = captureLog();
  const closedLog = captureLog();
  const open = await createTestCluster(1, { log: openLog.log });
  t.after(() => open.stop());
  const closed = await createTestCluster(1, { log: closedLog.log, secret: SECRET });
  t.after(() => closed.stop());
  assert.ok(openLog.has('the ring is open'));
  assert.ok(!closedLog.has('the ring is open'));
});

test('JSON protocol: PUT and DELETE without, with a wrong and with the right write token; reads with the read token', async (t) => {
  const cluster = await createTestCluster(2, { writeToken: 'w-token', secret: SECRET });
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [Address, Address];

  await rejectsWith(putItem(a, 'x.txt', 'no token'), 'UNAUTHORIZED');
  await rejectsWith(putItem(a, 'x.txt', 'wrong token', undefined, { token: 'nope' }), 'FORBIDDEN');
  assert.deepEqual(await getItem(b, 'x.txt'), { found: false });
  assert.equal(await putItem(a, 'x.txt', 'right token', undefined, { token: 'w-token' }), '200 OK');
  assert.deepEqual(await getItem(b, 'x.txt'), { found: true, content: 'right token', encoding: undefined }, 'reads stay open');

  await rejectsWith(deleteItem(b, 'x.txt'), 'UNAUTHORIZED');
  await rejectsWith(deleteItem(b, 'x.txt', { token: 'w-tokenx' }), 'FORBIDDEN');
  assert.deepEqual(await getItem(a, 'x.txt'), { found: true, content: 'right token', encoding: undefined });
  assert.equal(await deleteItem(b, 'x.txt', { token: 'w-token' }), '200 OK');
  assert.deepEqual(await getItem(a, 'x.txt'), { found: false });

  const guarded = await createTestCluster(2, { writeToken: 'w', readToken: 'r', secret: SECRET });
  t.after(() => guarded.stop());
  const [c, d] = guarded.addresses as [Address, Address];
  await putItem(c, 'secret.txt', 'for readers', undefined, { token: 'w' });
  await rejectsWith(getItem(d, 'secret.txt'), 'UNAUTHORIZED');
  await rejectsWith(getItem(d, 'secret.txt', { token: 'w-not' }), 'FORBIDDEN');
  await rejectsWith(getRing(d), 'UNAUTHORIZED');
  await rejectsWith(putItem(c, 'y.txt', 'a reader cannot write', undefined, { token: 'r' }), 'FORBIDDEN');
  assert.deepEqual(await getItem(d, 'secret.txt', { token: 'r' }), { found: true, content: 'for readers', encoding: undefined });
  assert.deepEqual(await getItem(d, 'secret.txt', { token: 'w' }), { found: true, content: 'for readers', encoding: undefined });
  assert.equal((await getRing(d, { token: 'r' })).length, 2);
});

test('HTTP: PUT and DELETE answer 401 without a token, 403 with a wrong one, and work with Bearer or Basic; reads as set', async (t) => {
  const cluster = await createTestCluster(2, { writeToken: 'w-token', secret: SECRET });
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [Address, Address];
  const basic = (password: string): string => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;

  const none = await fetch(`http://${a}/page.html`, { method: 'PUT', body: '<p>x</p>' });
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  const wrong = await fetch(`http://${a}/page.html`, { method: 'PUT', body: '<p>x</p>', headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 403);
  assert.equal((await fetch(`http://${b}/page.html`)).status, 404);
  const right = await fetch(`http://${a}/page.html`, { method: 'PUT', body: '<p>x</p>', headers: { authorization: 'Bearer w-token' } });
  assert.equal(right.status, 201);
  const viaBasic = await fetch(`http://${a}/page.html`, { method: 'PUT', body: '<p>y</p>', headers: { authorization: basic('w-token') } });
  assert.equal(viaBasic.status, 204);
  assert.equal(await (await fetch(`http://${b}/page.html`)).text(), '<p>y</p>');

  assert.equal((await fetch(`http://${b}/page.html`, { method: 'DELETE' })).status, 401);
  assert.equal((await fetch(`http://${b}/page.html`, { method: 'DELETE', headers: { authorization: basic('no') } })).status, 403);
  assert.equal((await fetch(`http://${b}/page.html`)).status, 200);
  assert.equal((await fetch(`http://${b}/page.html`, { method: 'DELETE', headers: { authorization: 'Bearer w-token' } })).status, 204);
  assert.equal((await fetch(`http://${a}/page.html`)).status, 404);

  const guarded = await createTestCluster(1, { writeToken: 'w', readToken: 'r' });
  t.after(() => guarded.stop());
  const [c] = guarded.addresses as [Address];
  assert.equal((await fetch(`http://${c}/x`, { method: 'PUT', body: 'x', headers: { authorization: 'Bearer w' } })).status, 201);
  // '/x' twice: the second time a ready answer exists for it, and must not skip the token either.
  for (const path of ['/x', '/_ring', '/metrics', '/x']) {
    assert.equal((await fetch(`http://${c}${path}`)).status, 401, path);
    assert.equal((await fetch(`http://${c}${path}`, { headers: { authorization: 'Bearer bad' } })).status, 403, path);
    assert.equal((await fetch(`http://${c}${path}`, { headers: { authorization: 'Bearer r' } })).status, 200, path);
  }
  assert.equal((await fetch(`http://${c}/x`, { method: 'PUT', body: 'y', headers: { authorization: 'Bearer r' } })).status, 403);
});

test('HTTP: a Bearer token with spaces in it, as set with --write-token, is taken whole', async (t) => {
  const cluster = await createTestCluster(1, { writeToken: 'a long random token' });
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [Address];
  const put = (token: string): Promise<Response> =>
    fetch(`http://${a}/spaced.txt`, { method: 'PUT', body: 'x', headers: { authorization: `Bearer ${token}` } });
  assert.equal((await put('a long random token')).status, 201);
  assert.equal((await put('a long')).status, 403);
  assert.equal((await put('a')).status, 403);
});

const fixture = (name: string): Buffer => readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url));

function httpsGet(address: Address, path: string, ca: Buffer): Promise<{ status: number; body: string }> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host, port: Number(port), path, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('TLS: a ring of servers with a certificate talks TLS to peers and clients; plain TCP gets nowhere', async (t) => {
  const tls = { cert: fixture('tls-cert.pem'), key: fixture('tls-key.pem'), ca: fixture('tls-cert.pem') };
  const cluster = await createTestCluster(3, { tls, secret: SECRET });
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [Address, Address, Address];
  const client = { tls: { ca: tls.ca } };
  await putItem(a, 'tls.txt', 'over TLS', undefined, client);
  assert.deepEqual(await getItem(c, 'tls.txt', client), { found: true, content: 'over TLS', encoding: undefined });
  const page = await httpsGet(b, '/tls.txt', tls.ca);
  assert.deepEqual(page, { status: 200, body: 'over TLS' });
  // A client that does not trust the certificate, and one that speaks plain TCP, fail cleanly.
  await rejectsWith(getItem(a, 'tls.txt', { tls: {} }), 'CONNECT_FAILED');
  await rejectsWith(getItem(a, 'tls.txt', { timeoutMs: 1000 }), 'CLOSED');
  assert.equal(
    cluster.nodes.every((node) => node.running),
    true,
  );
  assert.deepEqual(await getItem(b, 'tls.txt', client), { found: true, content: 'over TLS', encoding: undefined });
});

test('the programs: secret from a file, token from the environment; a wrong secret exits, a missing token is exit status 5', async (t) => {
  t.after(killAll);
  const dir = await tempDir(t);
  const secretFile = join(dir, 'secret');
  await writeFile(secretFile, `${SECRET}\n`);
  const env = { WEBSERVER_SECRET_FILE: secretFile, WEBSERVER_WRITE_TOKEN: 'tok' };
  const a = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.5'], env);
  const b = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.5', ...at(a.address)], env);
  await waitFor(async () => (await getRing(a.address)).length === 2 || undefined, { what: 'a ring of two' });
  // By now a has printed its start-up lines and the ring since.
  assert.match(a.output(), /listening on/);
  assert.doesNotMatch(a.output(), /the ring is open/);

  const intruder = await runProgram(WEBSERVER, ['--listen', '127.0.0.1:0', '--memory', '--secret', 'guess', ...at(a.address)]);
  assert.equal(intruder.status, 3, 'a refused join');
  assert.match(intruder.stdout.toString() + intruder.stderr, /cannot join .*authentication tag does not match/);
  assert.equal((await getRing(b.address)).length, 2);

  const file = join(dir, 'note.txt');
  await writeFile(file, 'guarded');
  const refused = await runClient(['-put', file, ...at(a.address)]);
  assert.equal(refused.status, 5, refused.stderr);
  assert.match(refused.stderr, /needs a token/);
  const wrong = await runClient(['-put', file, ...at(a.address), '--token', 'nope']);
  assert.equal(wrong.status, 5, wrong.stderr);
  assert.equal((await runClient(['-put', file, ...at(a.address)], { WEBCLIENT_TOKEN: 'tok' })).status, 0);
  const got = await runClient(['-get', 'note.txt', ...at(b.address)]);
  assert.equal(got.status, 0);
  assert.equal(got.stdout.toString(), 'guarded');

  // A file of several parts goes over HTTP, as a stream: the same token, the same exit statuses.
  const large = join(dir, 'large.bin');
  const bytes = randomBytes(2 * PART_BYTES + 7);
  await writeFile(large, bytes);
  const largeRefused = await runClient(['-put', large, ...at(a.address)]);
  assert.equal(largeRefused.status, 5, largeRefused.stderr);
  assert.match(largeRefused.stderr, /needs a token/);
  const largeWrong = await runClient(['-put', large, ...at(a.address), '--token', 'nope']);
  assert.equal(largeWrong.status, 5, largeWrong.stderr);
  const stored = await runClient(['-put', large, ...at(a.address)], { WEBCLIENT_TOKEN: 'tok' });
  assert.equal(stored.status, 0, stored.stderr);
  assert.match(stored.stderr, /PUT large\.bin \(\d+ bytes\): 200 OK/);
  assert.ok((await runClient(['-get', 'large.bin', ...at(b.address)])).stdout.equals(bytes));
});

test('the programs over TLS: webserver --tls-cert/--tls-key, webclient --tls-ca', async (t) => {
  t.after(killAll);
  const dir = await tempDir(t);
  const [cert, key] = ['tls-cert.pem', 'tls-key.pem'].map((name) =>
    fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url)),
  );
  const server = await startServer(['--listen', '127.0.0.1:0', '--tls-cert', cert!, '--tls-key', key!, '--tls-ca', cert!]);
  assert.match(server.output(), /listening on \S+ \(TLS\)/);
  const file = join(dir, 'tls.txt');
  await writeFile(file, 'private line');
  assert.equal((await runClient(['-put', file, ...at(server.address), '--tls-ca', cert!])).status, 0);
  const got = await runClient(['-get', 'tls.txt', ...at(server.address)], { WEBCLIENT_TLS_CA: cert! });
  assert.equal(got.stdout.toString(), 'private line');
  const large = join(dir, 'large.bin');
  const bytes = randomBytes(PART_BYTES + 1);
  await writeFile(large, bytes);
  assert.equal((await runClient(['-put', large, ...at(server.address), '--tls-ca', cert!])).status, 0);
  assert.ok((await runClient(['-get', 'large.bin', ...at(server.address), '--tls-ca', cert!])).stdout.equals(bytes));
  const untrusted = await runClient(['-get', 'tls.txt', ...at(server.address), '--tls']);
  assert.equal(untrusted.status, 3);
  assert.match(untrusted.stderr, /self.signed|certificate/i);
});
