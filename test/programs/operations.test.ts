/** Operators' tools: webclient --status, /_health, --version, forgetting dead servers. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestCluster } from '../../src/node/cluster.js';
import { RingNode, tcpTransport, type PeerTransport } from '../../src/node/node.js';
import { putItem } from '../../src/client/client.js';
import { waitFor } from '../../src/util/wait.js';
import type { RingStatus } from '../../src/protocol/status.js';
import { killAll, runClient, runProgram, startServer, WEBSERVER } from '../processes.js';
import { at, tempDir } from '../helpers.js';
import { OriginalServer } from '../original.js';

after(killAll);

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const fixturePath = (name: string): string => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));

async function statusJson(server: string, extra: string[] = [], env: Record<string, string> = {}): Promise<RingStatus> {
  const run = await runClient(['--status', '--json', ...at(server), ...extra], env);
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.toString()) as RingStatus;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
}

function stateOf(status: RingStatus, address: string): string | undefined {
  return status.members.find((member) => member.address === address)?.status;
}

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers: { accept: 'application/json', ...headers } });
  const json = res.headers.get('content-type') === 'application/json';
  return { status: res.status, body: json ? await res.json() : await res.text() };
}

test('webserver --version and webclient --version print the package version', async () => {
  for (const program of [WEBSERVER, fileURLToPath(new URL('../../src/cli/webclient.js', import.meta.url))]) {
    const run = await runProgram(program, ['--version']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.toString(), `${VERSION}\n`);
  }
});

test('webclient --status: every member with its figures; a paused member shows suspect, then dead', async (t) => {
  const timing = ['--heartbeat', '0.2', '--suspicion-timeout', '5'];
  const a = await startServer(['--listen', '127.0.0.1:0', ...timing]);
  const b = await startServer(['--listen', '127.0.0.1:0', ...timing, ...at(a.address)]);
  const c = await startServer(['--listen', '127.0.0.1:0', ...timing, ...at(a.address)]);
  t.after(async () => {
    c.process.kill('SIGCONT');
    await Promise.all([a.kill(), b.kill(), c.kill()]);
  });
  const all = [a.address, b.address, c.address];
  await putItem(b.address, 'status.txt', 'counted');
  const healthy = await waitFor(
    async () => {
      const status = await statusJson(a.address);
      return sameMembers(status.ring, all) && status.members.every((m) => m.items === 1 && m.inSync === true) && status;
    },
    { what: 'a to see three members in sync', timeoutMs: 20_000 },
  );
  assert.equal(healthy.self, a.address);
  assert.equal(healthy.version, VERSION);
  assert.deepEqual(healthy.health, { ok: true });
  for (const member of healthy.members) {
    assert.equal(member.status, 'alive');
    assert.equal(member.version, VERSION);
    if (member.address !== a.address) assert.equal(typeof member.lastHeardMsAgo, 'number');
  }

  const table = await runClient(['--status', ...at(a.address)]);
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.toString().trimEnd().split('\n');
  assert.match(lines[1]!, /^ADDRESS\s+STATE\s+INCARNATION\s+VERSION\s+ITEMS\s+IN SYNC\s+LAST HEARD$/);
  assert.equal(lines.length, 5);
  for (const address of all)
    assert.ok(
      lines.some((line) => line.startsWith(address) && /\balive\b.*\byes\b/.test(line)),
      address,
    );

  c.process.kill('SIGSTOP');
  const suspected = await waitFor(async () => stateOf(await statusJson(a.address), c.address) === 'suspect' || undefined, {
    what: 'a to suspect the paused server',
    timeoutMs: 20_000,
  });
  assert.ok(suspected);
  await waitFor(async () => stateOf(await statusJson(a.address), c.address) === 'dead' || undefined, {
    what: 'a to declare the paused server dead',
    timeoutMs: 20_000,
  });
  const dead = (await statusJson(a.address)).members.find((m) => m.address === c.address)!;
  assert.equal(dead.version, undefined, 'no figures for a member out of the ring');
});

test('webclient --status with a cluster secret, a read token and TLS', async (t) => {
  const cert = fixturePath('tls-cert.pem');
  const key = fixturePath('tls-key.pem');
  const common = ['--heartbeat', '0.2', '--tls-cert', cert, '--tls-key', key, '--tls-ca', cert];
  const env = { WEBSERVER_SECRET: 'ring secret', WEBSERVER_READ_TOKEN: 'reader' };
  const a = await startServer(['--listen', '127.0.0.1:0', ...common], env);
  const b = await startServer(['--listen', '127.0.0.1:0', ...common, ...at(a.address)], env);
  t.after(() => Promise.all([a.kill(), b.kill()]).then(() => undefined));
  const client = ['--tls-ca', cert];
  const status = await waitFor(
    async () => {
      const s = await statusJson(b.address, client, { WEBCLIENT_TOKEN: 'reader' });
      return s.members.length === 2 && s.members.every((m) => m.version === VERSION && m.items === 0 && m.inSync) && s;
    },
    { what: "b to gather both members' figures", timeoutMs: 20_000 },
  );
  assert.equal(status.self, b.address);

  const refused = await runClient(['--status', ...at(b.address), ...client]);
  assert.equal(refused.status, 5, 'no token: denied');
  assert.match(refused.stderr, /token/);
});

test('webclient --status exits 3 with a clear message when nobody answers, 2 for --json without --status', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as AddressInfo).port;
  await new Promise((resolve) => holder.close(resolve));
  const run = await runClient(['--status', '-i', '127.0.0.1', '-p', String(port)]);
  assert.equal(run.status, 3);
  assert.match(run.stderr, /^webclient: .*127\.0\.0\.1/m);
  assert.equal((await runClient(['--json', '--ring', '-i', '127.0.0.1', '-p', String(port)])).status, 2);
});

test('GET and HEAD /_health: 200 when ready, without a token even where reads need one; /_ring as JSON keeps its token', async (t) => {
  const cluster = await createTestCluster(2, { readToken: 'reader' });
  t.after(() => cluster.stop());
  const [a] = cluster.addresses;
  const health = await waitFor(
    async () => {
      const answer = await getJson(`http://${a}/_health`);
      return answer.status === 200 && answer;
    },
    { what: 'a to be ready' },
  );
  assert.deepEqual(health.body, { status: 'ok' });
  const head = await fetch(`http://${a}/_health`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  assert.equal((await getJson(`http://${a}/_ring`)).status, 401);
  const ring = await getJson(`http://${a}/_ring`, { authorization: 'Bearer reader' });
  assert.equal(ring.status, 200);
  const body = ring.body as RingStatus;
  assert.equal(body.version, VERSION);
  assert.deepEqual(body.health, { ok: true });
  for (const member of body.members) {
    assert.equal(member.version, VERSION);
    assert.equal(member.items, 0);
    assert.equal(member.inSync, true);
    assert.equal(typeof member.digest, 'string');
  }
});

test('/_health is 503 "joining" while the ring to join has not answered', async (t) => {
  // A seed that takes the INSERT and never answers.
  const seed = createServer((socket) => socket.on('error', () => {}).resume());
  await new Promise<void>((resolve) => seed.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => seed.close(resolve)));
  const node = new RingNode({ host: '127.0.0.1', port: 0, join: `127.0.0.1:${(seed.address() as AddressInfo).port}` });
  // start() resolves only once joined: the server answers HTTP meanwhile.
  const joined = node.start();
  t.after(async () => {
    await node.stop();
    await assert.rejects(joined, { code: 'SHUTTING_DOWN' });
  });
  const address = await waitFor(() => node.members[0], { timeoutMs: 5000, what: 'the joiner to listen' });
  const answer = await getJson(`http://${address}/_health`);
  assert.equal(answer.status, 503);
  assert.deepEqual(answer.body, { status: 'unavailable', reason: 'joining' });
});

test('/_health is 503 "catching up" until the first comparison of contents after joining completes', async (t) => {
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const inner = tcpTransport({ connectTimeoutMs: 500, maxReplyBytes: 1 << 20 });
  // Digests are held back: the joiner cannot finish its first comparison until released.
  const transport: PeerTransport = {
    send: (to, payload) => inner.send(to, payload),
    request: async (to, payload, timeoutMs) => {
      if (payload.includes('"type": "DIGEST"')) await released;
      return inner.request(to, payload, timeoutMs);
    },
    close: () => inner.close?.(),
  };
  const joiner = await cluster.add({ transport });
  const url = `http://${joiner.address}/_health`;
  assert.deepEqual(await getJson(url), { status: 503, body: { status: 'unavailable', reason: 'catching up' } });
  release();
  await waitFor(async () => (await getJson(url)).status === 200, { what: 'the joiner to be caught up' });
});

test('/_health stays 200 once caught up: one of ours that joins later does not make it "catching up" again', async (t) => {
  // Joined through an original server: nobody of ours to catch up from, so caught up at once.
  const original = new OriginalServer({ checkIntervalMs: 200 });
  await original.start();
  t.after(() => original.stop());
  // No pass of its own comes before the end of the test: only the latch keeps it healthy.
  const options = { host: '127.0.0.1', port: 0, heartbeatMs: 200, syncIntervalMs: 600_000 };
  const b = new RingNode({ ...options, join: original.self });
  t.after(() => b.stop());
  await b.start();
  assert.deepEqual(await b.health(), { ok: true });
  assert.equal(b.sync.totals.passes, 0);
  // One of ours joins through b, which learns it speaks our extensions (its PING) before it is placed.
  const c = new RingNode({ ...options, join: b.address });
  t.after(() => c.stop());
  await c.start();
  assert.ok(b.members.includes(c.address), 'b holds c');
  assert.equal(b.sync.totals.passes, 0, 'b has not compared with c yet');
  assert.deepEqual(await b.health(), { ok: true });
  assert.deepEqual(await getJson(`http://${b.address}/_health`), { status: 200, body: { status: 'ok' } });
});

test('/_health is 503 "store failed" when the data directory cannot be written', async (t) => {
  const dir = await tempDir(t);
  const node = new RingNode({ host: '127.0.0.1', port: 0, dataDir: dir });
  const address = await node.start();
  t.after(() => node.stop());
  assert.equal((await getJson(`http://${address}/_health`)).status, 200);
  await rm(join(dir, 'staging'), { recursive: true });
  assert.deepEqual(await getJson(`http://${address}/_health`), {
    status: 503,
    body: { status: 'unavailable', reason: 'store failed: ENOENT' },
  });
});

test('--forget-after: a stopped server disappears from /_ring and the views once the limit has passed', async (t) => {
  const cluster = await createTestCluster(3, { forgetAfterMs: 1000 });
  t.after(() => cluster.stop());
  const [a, , c] = cluster.addresses;
  await cluster.nodes[2]!.stop();
  const members = async (): Promise<RingStatus['members']> => ((await getJson(`http://${a}/_ring`)).body as RingStatus).members;
  await waitFor(async () => (await members()).find((m) => m.address === c)?.status === 'dead', { what: 'c to be dead at a' });
  await waitFor(async () => (await members()).every((m) => m.address !== c), { what: 'a to forget c' });
  await cluster.whenConverged();
  // The other survivor forgets it too: the views hold exactly the two running servers.
  const survivors = cluster.addresses.slice(0, 2);
  for (const node of cluster.nodes.slice(0, 2)) {
    await waitFor(
      async () =>
        sameMembers(
          (await node.status()).members.map((m) => m.address),
          survivors,
        ),
      {
        what: `${node.address} to hold only the survivors`,
      },
    );
  }
});
