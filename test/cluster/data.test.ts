/** Data that is never lost and always converges: versions, deletes, state transfer, anti-entropy, large files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { open as openLmdb } from 'lmdb';
import { createTestCluster, type TestCluster } from '../../src/node/cluster.js';
import { RingNode, tcpTransport } from '../../src/node/node.js';
import { deleteItem, fetchParts, getItem, putBytes, putItem } from '../../src/client/client.js';
import { sendMessage } from '../../src/transport/dial.js';
import { parseAddress } from '../../src/protocol/address.js';
import { waitFor } from '../../src/util/wait.js';
import { captureLog, rawExchange, tempDir } from '../helpers.js';
import { INLINE_LIMIT } from '../../src/store/items.js';

/** Every running node holds the same names with the same versions and contents. */
async function identical(cluster: TestCluster | RingNode[]): Promise<boolean> {
  const nodes = (Array.isArray(cluster) ? cluster : cluster.nodes).filter((node) => node.running);
  const wire = nodes.map((node) => node.store.digest.toWire().join());
  if (new Set(wire).size !== 1) return false;
  const first = nodes[0]!.store;
  for (const [name, meta] of first.entries()) {
    const content = meta.deleted ? '' : (await first.get(name))?.content;
    for (const node of nodes.slice(1)) {
      const other = node.store.head(name);
      if (!other || other.version.clock !== meta.version.clock || other.version.server !== meta.version.server) return false;
      if (!meta.deleted && (await node.store.get(name))?.content !== content) return false;
    }
  }
  return true;
}

test('a storm of concurrent PUTs of a few items at every server ends with identical copies everywhere', async (t) => {
  const cluster = await createTestCluster(3, { syncIntervalMs: 60_000 });
  t.after(() => cluster.stop());
  const servers = cluster.addresses;
  const items = ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt'];
  await Promise.all(
    Array.from({ length: 30 }, async (_, writer) => {
      for (let i = 0; i < 12; i++) {
        const item = items[(writer + i) % items.length]!;
        assert.equal(await putItem(servers[(writer + i) % 3]!, item, `writer ${writer}, write ${i}`), '200 OK');
      }
    }),
  );
  assert.ok(await identical(cluster), 'every server holds the same version and content of every item');
  for (const item of items) {
    const answers = await Promise.all(servers.map((server) => getItem(server, item)));
    assert.equal(new Set(answers.map((answer) => JSON.stringify(answer))).size, 1, `${item} reads the same everywhere`);
  }
});

test('a server that joins after 200 items exist holds all of them within seconds', async (t) => {
  // A long sync interval: only the transfer on joining can bring the items.
  const cluster = await createTestCluster(2, { syncIntervalMs: 60_000 });
  t.after(() => cluster.stop());
  const items = Array.from({ length: 200 }, (_, i) => [`page-${i}.html`, `<p>page ${i}</p>`] as const);
  await Promise.all(items.map(([name, content], i) => putItem(cluster.addresses[i % 2]!, name, content)));
  const late = await cluster.add();
  await waitFor(() => late.store.size === 200, { timeoutMs: 5000, what: 'the new server to hold 200 items' });
  await cluster.nodes[0]!.stop();
  await cluster.nodes[1]!.stop();
  await waitFor(() => late.members.length === 1, { timeoutMs: 5000, what: 'the new server to be alone' });
  for (const [name, content] of items) assert.deepEqual(await getItem(late.address, name), { found: true, content, encoding: undefined });
});

test('anti-entropy repairs a copy that a round skipped, without any client action', async (t) => {
  let skipping = true;
  let target = '';
  const transport = {
    ...tcpTransport({ connectTimeoutMs: 500, maxReplyBytes: 1 << 26 }),
    async send(to: string, payload: string) {
      // Deliver a round meant for the target to its successor instead: the target never sees it.
      if (skipping && to === target && payload.includes('"skipped.txt"')) {
        const members = cluster.nodes[0]!.members;
        to = members[(members.indexOf(target) + 1) % members.length]!;
      }
      return sendMessage(parseAddress(to), payload, 500);
    },
  };
  const cluster = await createTestCluster(3, { transport, syncIntervalMs: 150 });
  t.after(() => cluster.stop());
  const [a, , c] = cluster.nodes as [RingNode, RingNode, RingNode];
  target = c.address;
  assert.equal(await putItem(a.address, 'skipped.txt', 'the round went past c'), '200 OK');
  assert.equal(c.store.head('skipped.txt'), undefined, 'the copy was skipped');
  skipping = false;
  await waitFor(() => c.store.head('skipped.txt') !== undefined, { timeoutMs: 5000, what: 'anti-entropy to bring the copy' });
  assert.equal((await c.store.get('skipped.txt'))?.content, 'the round went past c');
  await waitFor(() => identical(cluster), { timeoutMs: 5000, what: 'identical stores' });
});

test('a durable server restarted after its data was damaged and a write was missed gets everything back', async (t) => {
  const dirs = [await tempDir(t), await tempDir(t), await tempDir(t)];
  const options = { host: '127.0.0.1', heartbeatMs: 200, connectTimeoutMs: 500, syncIntervalMs: 200 };
  const nodes: RingNode[] = [];
  t.after(() => Promise.all(nodes.map((node) => node.stop())).then(() => undefined));
  for (const dir of dirs) {
    const node = new RingNode({ ...options, port: 0, dataDir: dir, join: nodes.at(-1)?.address });
    await node.start();
    nodes.push(node);
    await waitFor(() => nodes.every((n) => n.members.length === nodes.length), { what: 'the ring to form' });
  }
  const [a, b] = nodes as [RingNode, RingNode, RingNode];
  for (const name of ['keep.txt', 'damage.txt', 'lose.txt']) await putItem(a.address, name, `content of ${name}`);
  const bAddress = b.address;
  await b.stop();

  // While b is down: one write it misses, and damage to its disk.
  await waitFor(() => a.members.length === 2, { timeoutMs: 5000, what: 'the ring to drop b' });
  await putItem(a.address, 'missed.txt', 'written while b was down');
  const db = openLmdb<Record<string, unknown>, string>({ path: join(dirs[1]!, 'index'), compression: false });
  await db.put('damage.txt', { ...db.get('damage.txt')!, content: 'bit rot' });
  await db.remove('lose.txt');
  await db.close();

  const restarted = new RingNode({ ...options, port: parseAddress(bAddress).port, dataDir: dirs[1], join: a.address });
  await restarted.start();
  nodes.push(restarted);
  assert.deepEqual(restarted.store.damaged, ['damage.txt']);
  for (const name of ['keep.txt', 'damage.txt', 'lose.txt', 'missed.txt']) {
    await waitFor(() => restarted.store.head(name) !== undefined, { timeoutMs: 5000, what: `${name} back on b` });
  }
  assert.equal((await restarted.store.get('damage.txt'))?.content, 'content of damage.txt');
  assert.equal((await restarted.store.get('missed.txt'))?.content, 'written while b was down');
  await waitFor(() => identical(nodes), { timeoutMs: 5000, what: 'identical stores' });
});

test('delete removes an item everywhere, and a stale copy arriving late does not bring it back', async (t) => {
  const cluster = await createTestCluster(3, { syncIntervalMs: 150 });
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [string, string, string];
  await putItem(a, 'gone.txt', 'old content');
  const stale = cluster.nodes[1]!.store.head('gone.txt')!.version;
  assert.equal(await deleteItem(b, 'gone.txt'), '200 OK');
  for (const server of [a, b, c]) assert.deepEqual(await getItem(server, 'gone.txt'), { found: false });

  // The old write arrives again, as a late round from a live server.
  const late = `{"creator": "${a}", "type": "FORWARD_PUT", "data": {"item": "gone.txt", "content": "old content", "version": {"clock": ${stale.clock}, "server": "${stale.server}"}}, "id": "late-1"}`;
  await rawExchange(c, late, { halfClose: true });
  await waitFor(() => cluster.nodes.every((node) => node.store.head('gone.txt')?.deleted === true), { what: 'the tombstone to stand' });
  // Anti-entropy passes do not bring it back either.
  const passes = cluster.nodes[0]!.sync.totals.passes;
  await waitFor(() => cluster.nodes[0]!.sync.totals.passes >= passes + 3, { timeoutMs: 5000, what: 'three more sync passes' });
  for (const server of [a, b, c]) assert.deepEqual(await getItem(server, 'gone.txt'), { found: false });
  // A new PUT after the delete is newer, and wins.
  await putItem(c, 'gone.txt', 'new content');
  assert.deepEqual(await getItem(a, 'gone.txt'), { found: true, content: 'new content', encoding: undefined });
});

test('tombstones are collected once older than the tombstone TTL', async (t) => {
  let now = Date.now();
  const cluster = await createTestCluster(2, { syncIntervalMs: 100, tombstoneTtlMs: 60_000, now: () => now });
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [string];
  await putItem(a, 'temp.txt', 'x');
  await deleteItem(a, 'temp.txt');
  assert.equal(cluster.nodes[1]!.store.head('temp.txt')?.deleted, true);
  now += 61_000;
  await waitFor(() => cluster.nodes.every((node) => node.store.head('temp.txt') === undefined), {
    timeoutMs: 5000,
    what: 'the tombstone to go',
  });
});

test('a file whose text is "404 NOT FOUND" is found, and a miss is not', async (t) => {
  const cluster = await createTestCluster(2);
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [string, string];
  await putItem(a, 'tricky.txt', '404 NOT FOUND');
  assert.deepEqual(await getItem(b, 'tricky.txt'), { found: true, content: '404 NOT FOUND', encoding: undefined });
  const miss = await rawExchange(b, '{"type": "GET", "data": "absent.txt", "extended": true}');
  assert.deepEqual(JSON.parse(miss.text), { type: 'GET', data: { item: 'absent.txt', content: '404 NOT FOUND', found: false } });
});

test('a large binary file goes through the ring in parts and comes back byte-exact from every server', async (t) => {
  const dirs = [await tempDir(t), await tempDir(t), await tempDir(t)];
  let i = 0;
  const cluster = await createTestCluster(3, { dataDir: () => dirs[i++]!, syncIntervalMs: 60_000 });
  t.after(() => cluster.stop());
  const bytes = randomBytes(18 * 1024 * 1024 + 12345);
  const read = async (offset: number, length: number) => bytes.subarray(offset, offset + length);
  assert.equal(await putBytes(cluster.addresses[0]!, 'video.bin', bytes.length, read), '200 OK');
  for (const server of cluster.addresses) {
    const parts: Buffer[] = [];
    const info = await fetchParts(server, 'video.bin', (part) => void parts.push(part));
    assert.equal(info?.size, bytes.length);
    assert.ok(Buffer.concat(parts).equals(bytes), `byte-exact from ${server}`);
  }
  // A server that joins later receives it too, by parts, from a server that holds it.
  const late = await cluster.add({ dataDir: await tempDir(t) });
  const parts: Buffer[] = [];
  await fetchParts(late.address, 'video.bin', (part) => void parts.push(part));
  assert.ok(Buffer.concat(parts).equals(bytes));
});

test("an upload's last part goes around a ring of our servers twice, and every server holds the item when it is answered", async (t) => {
  const captured = captureLog();
  const cluster = await createTestCluster(3, { log: captured.log, syncIntervalMs: 60_000 });
  t.after(() => cluster.stop());
  const [a, ...others] = cluster.addresses as [string, string, string];
  const bytes = randomBytes(3 * 1024 * 1024 + 5);
  assert.equal(await putBytes(a, 'laps.bin', bytes.length, async (offset, length) => bytes.subarray(offset, offset + length)), '200 OK');
  for (const server of cluster.addresses) {
    const parts: Buffer[] = [];
    await fetchParts(server, 'laps.bin', (part) => void parts.push(part), { local: true });
    assert.ok(Buffer.concat(parts).equals(bytes), `whole at ${server} once answered`);
  }
  const received = (server: string, lap: string) =>
    captured.lines.some(
      (line) => line.tag === 'RECV' && line.node === server && line.msg.startsWith(`FORWARD_PUT "laps.bin" from ${a} (${lap} lap)`),
    );
  for (const server of others) {
    assert.ok(received(server, 'early'), `${server} got the first lap`);
    assert.ok(received(server, 'confirm'), `${server} got the second lap`);
  }
});

test('fetchParts asks for several ranges at once and hands them on in order; a version that changes midway is refused', async (t) => {
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [string];
  const bytes = randomBytes(3 * 1024 * 1024 + 777);
  const read = async (offset: number, length: number) => bytes.subarray(offset, offset + length);
  assert.equal(await putBytes(a, 'ranges.bin', bytes.length, read), '200 OK');
  const parts: Buffer[] = [];
  // Ranges that do not divide the size, so the last one is short.
  const info = await fetchParts(a, 'ranges.bin', (part) => void parts.push(part), { partBytes: 100_000 });
  assert.equal(info?.size, bytes.length);
  assert.equal(parts.length, Math.ceil(bytes.length / 100_000));
  assert.ok(Buffer.concat(parts).equals(bytes), 'byte-exact, in order');

  // The sink holds the first range until a newer version is written: a later range comes from it, and the fetch is refused.
  let first = true;
  const fetched = fetchParts(
    a,
    'ranges.bin',
    async () => {
      if (!first) return;
      first = false;
      await putBytes(a, 'ranges.bin', bytes.length, async (offset, length) => Buffer.alloc(length, offset % 251));
    },
    { partBytes: 100_000 },
  );
  await assert.rejects(fetched, (err: Error) => /changed while it was being fetched/.test(err.message));
});

test('a stored file that can no longer be read: its GET gets INTERNAL, the failure is logged, and the server keeps serving', async (t) => {
  const dir = await tempDir(t);
  const captured = captureLog();
  const node = new RingNode({ host: '127.0.0.1', port: 0, dataDir: dir, log: captured.log });
  await node.start();
  t.after(() => node.stop());
  const bytes = randomBytes(INLINE_LIMIT + 1000); // kept as a blob file, not inline
  const read = async (offset: number, length: number) => bytes.subarray(offset, offset + length);
  assert.equal(await putBytes(node.address, 'lost.bin', bytes.length, read), '200 OK');
  assert.equal(await putItem(node.address, 'kept.txt', 'still here'), '200 OK');
  const blobs = join(dir, 'blobs');
  for (const file of await readdir(blobs)) await rm(join(blobs, file));

  const reply = JSON.parse(
    (await rawExchange(node.address, '{"type": "GET", "data": "lost.bin", "part": {"offset": 0, "length": 100}}')).text,
  );
  assert.equal(reply.type, 'ERROR');
  assert.equal(reply.data.code, 'INTERNAL');
  assert.equal(reply.data.status, '500 INTERNAL SERVER ERROR');
  assert.ok(captured.lines.some((line) => line.tag === 'ERROR' && line.msg.includes('handling GET failed')));
  assert.deepEqual(await getItem(node.address, 'kept.txt'), { found: true, content: 'still here', encoding: undefined });
});

test('a request whose handler fails at once (the store throws) gets INTERNAL, the failure is logged, and the server keeps serving', async (t) => {
  const captured = captureLog();
  const node = new RingNode({ host: '127.0.0.1', port: 0, log: captured.log });
  await node.start();
  t.after(() => node.stop());
  assert.equal(await putItem(node.address, 'kept.txt', 'still here'), '200 OK');
  // GET looks its item up before anything is awaited: a throw there comes out of the handler itself, not out of a promise.
  const store = node.store;
  const head = store.head.bind(store);
  store.head = (name) => {
    if (name === 'broken.txt') throw new Error('the index is damaged');
    return head(name);
  };

  const reply = JSON.parse((await rawExchange(node.address, '{"type": "GET", "data": "broken.txt"}')).text);
  assert.equal(reply.type, 'ERROR');
  assert.equal(reply.data.code, 'INTERNAL');
  assert.equal(reply.data.status, '500 INTERNAL SERVER ERROR');
  assert.ok(!JSON.stringify(reply).includes('the index is damaged'), 'the cause stays in the log');
  assert.ok(
    captured.lines.some(
      (line) => line.tag === 'ERROR' && line.msg.includes('handling GET failed') && line.msg.includes('the index is damaged'),
    ),
  );
  assert.deepEqual(await getItem(node.address, 'kept.txt'), { found: true, content: 'still here', encoding: undefined });
});

test('a tombstone older than the TTL is not taken by a server that never held the item (it would only restart its age)', async (t) => {
  const now = Date.now();
  const cluster = await createTestCluster(2, { syncIntervalMs: 60_000, tombstoneTtlMs: 60_000, now: () => now });
  t.after(() => cluster.stop());
  const [a, b] = cluster.nodes as [RingNode, RingNode];
  // Only a holds these deletions: one expired (not collected yet), one recent.
  await a.store.apply('old.txt', { version: { clock: now - 120_000, server: a.address }, deleted: true, content: '' }, now);
  await a.store.apply('new.txt', { version: { clock: now - 1000, server: a.address }, deleted: true, content: '' }, now);
  const result = await b.sync.syncNow(a.address);
  assert.equal(result?.deleted, 1);
  assert.equal(b.store.head('old.txt'), undefined);
  assert.equal(b.store.head('new.txt')?.deleted, true);
});
