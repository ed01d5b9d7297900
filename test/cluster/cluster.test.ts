import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCluster, agreedRing } from '../../src/node/cluster.js';
import { getItem, getRing, putItem } from '../../src/client/client.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { captureLog, openPeerStream, rawExchange, recordingTransport } from '../helpers.js';

test('three servers joined in a chain agree on the ring, in join order', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses;
  // b joined a (placed after a), c joined b (placed after b).
  for (const address of cluster.addresses) {
    assert.ok(sameCycle(await getRing(address), [a!, b!, c!]), `view of ${address}`);
  }
});

test('a PUT at one server is readable at every other; a missing item is 404 after a full round', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [string, string, string];
  assert.equal(await putItem(a, 'index.html', '<h1>hello</h1>'), '200 OK');
  for (const server of [b, c, a]) {
    assert.deepEqual(await getItem(server, 'index.html'), { found: true, content: '<h1>hello</h1>', encoding: undefined });
  }
  assert.deepEqual(await getItem(b, 'missing.html'), { found: false });
  // The miss was not stored anywhere as if "404 NOT FOUND" were content.
  for (const node of cluster.nodes) assert.deepEqual(await getItem(node.address, 'missing.html'), { found: false });
});

test('a lookup that finds the item elsewhere leaves a copy on the servers it passes', async (t) => {
  const cluster = await createTestCluster(2);
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [string];
  await putItem(a, 'early.txt', 'before the third server');
  const late = await cluster.add();
  assert.deepEqual(await getItem(late.address, 'early.txt'), { found: true, content: 'before the third server', encoding: undefined });
  await cluster.nodes[0]!.stop();
  await cluster.nodes[1]!.stop();
  assert.deepEqual(await getItem(late.address, 'early.txt'), { found: true, content: 'before the third server', encoding: undefined });
});

test('stopping the middle server of three: the ring repairs and PUT/GET work across it', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const [a, , c] = cluster.addresses as [string, string, string];
  await cluster.nodes[1]!.stop();
  const ring = await cluster.whenConverged(5000);
  assert.ok(sameCycle(ring, [a, c]));
  assert.equal(await putItem(c, 'after.txt', 'written after the failure'), '200 OK');
  assert.deepEqual(await getItem(a, 'after.txt'), { found: true, content: 'written after the failure', encoding: undefined });
});

test('two adjacent servers of five fail: the ring of three repairs and replicates', async (t) => {
  const cluster = await createTestCluster(5);
  t.after(() => cluster.stop());
  const [a, b, , , e] = cluster.addresses as [string, string, string, string, string];
  await Promise.all([cluster.nodes[2]!.stop(), cluster.nodes[3]!.stop()]);
  const ring = await cluster.whenConverged(5000);
  assert.ok(sameCycle(ring, [a, b, e]));
  assert.equal(await putItem(b, 'x.txt', 'x'), '200 OK');
  for (const server of [a, b, e]) assert.deepEqual(await getItem(server, 'x.txt'), { found: true, content: 'x', encoding: undefined });
});

test('a PUT whose round meets a dead server fails over and is still answered', async (t) => {
  // A long heartbeat: the dead server is found by the forward itself, not by a CHECK.
  const cluster = await createTestCluster(4, { heartbeatMs: 60_000 });
  t.after(() => cluster.stop());
  const [a, , , d] = cluster.addresses as [string, string, string, string];
  await cluster.nodes[1]!.stop();
  assert.equal(await putItem(a, 'y.txt', 'y'), '200 OK');
  assert.deepEqual(await getItem(d, 'y.txt'), { found: true, content: 'y', encoding: undefined });
  await cluster.whenConverged(5000);
  assert.equal(agreedRing(cluster.nodes)?.length, 3);
});

test('binary content round-trips byte for byte', async (t) => {
  const cluster = await createTestCluster(2);
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [string, string];
  const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256));
  await putItem(a, 'blob.bin', bytes.toString('base64'), 'base64');
  const lookup = await getItem(b, 'blob.bin');
  if (!lookup.found) assert.fail('blob.bin not found');
  assert.equal(lookup.encoding, 'base64');
  assert.ok(Buffer.from(lookup.content, 'base64').equals(bytes));
});

test('a STREAM connection carries one peer message after another, and bad input ends only that stream', async (t) => {
  const cluster = await createTestCluster(2);
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [string, string];
  const put = (name: string, id: string) =>
    `{"creator": "${b}", "type": "FORWARD_PUT", "data": {"item": "${name}", "content": "via a stream", "version": {"clock": 5, "server": "${b}"}}, "id": "${id}"}`;
  const socket = await openPeerStream(t, a, b);
  socket.write(put('s1.txt', 'st-1') + '\n' + put('s2.txt', 'st-2'));
  await waitFor(() => cluster.nodes[0]!.store.head('s2.txt') !== undefined && cluster.nodes[0]!.store.head('s1.txt') !== undefined, {
    what: 'both messages of the stream to be applied',
  });
  let ended = false;
  socket.once('close', () => (ended = true));
  socket.write('{"type": "FORWARD_PUT", "data": }');
  await waitFor(() => ended, { timeoutMs: 5000, what: 'the server to end the stream' });
  assert.deepEqual(await getItem(a, 's1.txt'), { found: true, content: 'via a stream', encoding: undefined });
  assert.equal(await putItem(a, 'after.txt', 'the server goes on'), '200 OK');
});

/** A ring a -> b -> c whose second server, b, sends through a transport that records every message (a connection per message). */
async function ringRecordingAtB(t: { after(fn: () => Promise<void>): void }) {
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  const sent: Array<{ to: string; payload: string }> = [];
  await cluster.add({ transport: recordingTransport(sent) });
  await cluster.add();
  return { sent, addresses: cluster.addresses as [string, string, string] };
}

test('a PUT round goes back to its creator without its content, and whole to every other server', async (t) => {
  const { sent, addresses } = await ringRecordingAtB(t);
  const [a, b, c] = addresses;
  type Sent = { creator?: string; type: string; data: { item: string; content: string }; id?: string };
  const forwards = (item: string) =>
    sent
      .map(({ to, payload }) => ({ to, message: JSON.parse(payload) as Sent }))
      .filter(({ message }) => message.type === 'FORWARD_PUT' && message.data.item === item);

  // Created at c: c -> a -> b -> c. b's hop goes home to c: no content, the same round.
  assert.equal(await putItem(c, 'home.txt', 'the content'), '200 OK');
  const home = forwards('home.txt');
  assert.equal(home.length, 1);
  assert.equal(home[0]!.to, c);
  assert.equal(home[0]!.message.creator, c);
  assert.equal(home[0]!.message.data.content, '');
  assert.ok(home[0]!.message.id, 'the round keeps its id');
  // Created at a: a -> b -> c -> a. b's hop goes to c, which must store it: whole.
  assert.equal(await putItem(a, 'away.txt', 'the content'), '200 OK');
  assert.deepEqual(
    forwards('away.txt').map(({ to, message }) => [to, message.data.content]),
    [[c, 'the content']],
  );
  for (const server of [a, b, c]) {
    for (const item of ['home.txt', 'away.txt']) {
      assert.deepEqual(await getItem(server, item), { found: true, content: 'the content', encoding: undefined }, `${item} at ${server}`);
    }
  }
});

test('a relay passes a round from our servers on as the text it received', async (t) => {
  const { sent, addresses } = await ringRecordingAtB(t);
  const [a, b, c] = addresses;
  // A round created at c has passed b: b knows c speaks our extensions.
  assert.equal(await putItem(c, 'known.txt', 'c is ours'), '200 OK');
  // A round of a's, as a's stream would carry it, but spaced unlike our encoder: b relays it to c.
  const text = `{"creator": "${a}", "type": "FORWARD_PUT", "data": {"item": "raw.txt", "content": "as sent", "version": {"clock": 99, "server": "${a}"}},   "id": "raw-round-1"}`;
  (await openPeerStream(t, b, a)).write(text);
  await waitFor(() => sent.some(({ payload }) => payload.includes('"raw.txt"')), { what: 'b to pass the round on' });
  assert.deepEqual(
    sent.filter(({ payload }) => payload.includes('"raw.txt"')),
    [{ to: c, payload: text }],
  );
  await waitFor(async () => (await getItem(c, 'raw.txt')).found, { what: 'c to store the relayed copy' });
});

test('JSON logs tie a client request to the forwards it caused with one round id, on every server', async (t) => {
  const capture = captureLog();
  const cluster = await createTestCluster(3, { log: capture.log });
  t.after(() => cluster.stop());
  await putItem(cluster.addresses[1]!, 'traced.txt', 'follow me');
  const start = capture.lines.find((line) => line.msg.startsWith('PUT "traced.txt" from client'));
  const round = (start as { round?: string } | undefined)?.round;
  assert.ok(round, 'the receiving server names the round');
  const nodes = new Set(capture.lines.filter((line) => (line as { round?: string }).round === round).map((line) => line.node));
  assert.deepEqual(nodes, new Set(cluster.addresses), 'every server logs that round');
});

test('a client that half-closes after its request still gets the answer of a whole round', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [string];
  const miss = await rawExchange(a, '{"type": "GET", "data": "nowhere.txt"}', { halfClose: true });
  // A request in the original's form gets the original's answer.
  assert.equal(miss.text, '{"type": "GET", "data": {"item": "nowhere.txt", "content": "404 NOT FOUND"}}');
  const put = await rawExchange(a, '{"type": "PUT", "data": {"item": "half.txt", "content": "x"}}', { halfClose: true });
  assert.deepEqual(JSON.parse(put.text), { type: 'PUT', data: { item: 'half.txt', status: '200 OK' } });
});
