/**
 * Clock skew: a write accepted by a server wins there, whatever its wall clock
 * says about the versions it holds; a write that did not win is never
 * acknowledged. In-process rings, one server's clock an hour ahead (`now`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RingNode, type NodeOptions } from '../../src/node/node.js';
import { deleteItem, getItem, putItem } from '../../src/client/client.js';
import { parseAddress } from '../../src/protocol/address.js';
import { isCoopError } from '../../src/errors.js';
import { waitFor } from '../../src/util/wait.js';
import { tempDir } from '../helpers.js';

const HOUR = 3_600_000;
const ahead = (): number => Date.now() + HOUR;

type After = { after(fn: () => Promise<void>): void };

async function startNode(t: After, options: Partial<NodeOptions>): Promise<RingNode> {
  const node = new RingNode({ host: '127.0.0.1', port: 0, heartbeatMs: 300, syncIntervalMs: 300, ...options });
  await node.start();
  t.after(() => node.stop());
  return node;
}

/** What each node holds of `item`: its content, or null for a tombstone, or undefined for nothing. */
async function heldBy(nodes: RingNode[], item: string): Promise<Array<string | null | undefined>> {
  return Promise.all(
    nodes.map(async (node) => {
      const meta = node.store.head(item);
      if (!meta) return undefined;
      return meta.deleted ? null : ((await node.store.get(item))?.content ?? undefined);
    }),
  );
}

async function everyNodeHolds(nodes: RingNode[], item: string, expected: string | null, what: string): Promise<void> {
  await waitFor(async () => (await heldBy(nodes, item)).every((held) => held === expected), { timeoutMs: 5000, what });
}

test('a server restarted behind a peer whose clock runs an hour ahead: its PUT and DELETE of that peer`s item win everywhere', async (t) => {
  const fast = await startNode(t, { now: ahead, dataDir: await tempDir(t) });
  const slowDir = await tempDir(t);
  const slow = await startNode(t, { dataDir: slowDir, join: fast.address });
  await waitFor(() => fast.members.length === 2 && slow.members.length === 2, { what: 'the ring of two' });

  assert.equal(await putItem(fast.address, 'x.txt', 'from the fast clock'), '200 OK');
  await everyNodeHolds([fast, slow], 'x.txt', 'from the fast clock', 'the fast write everywhere');

  const slowPort = parseAddress(slow.address).port;
  await slow.stop();
  const restarted = await startNode(t, { port: slowPort, dataDir: slowDir, join: fast.address });
  await waitFor(() => fast.members.length === 2 && restarted.members.length === 2, { what: 'the ring of two again' });

  assert.equal(await putItem(restarted.address, 'x.txt', 'after the restart'), '200 OK');
  await everyNodeHolds([fast, restarted], 'x.txt', 'after the restart', 'the restarted server`s PUT everywhere');
  assert.deepEqual(await getItem(fast.address, 'x.txt'), { found: true, content: 'after the restart', encoding: undefined });

  assert.equal(await deleteItem(restarted.address, 'x.txt'), '200 OK');
  await everyNodeHolds([fast, restarted], 'x.txt', null, 'the restarted server`s DELETE everywhere');
  assert.equal((await getItem(fast.address, 'x.txt')).found, false);
});

test('a server that got an item only by sync, from a peer an hour ahead: its PUT of it wins everywhere', async (t) => {
  const fast = await startNode(t, { now: ahead });
  assert.equal(await putItem(fast.address, 'y.txt', 'from the fast clock'), '200 OK');
  const joiner = await startNode(t, { join: fast.address });
  await everyNodeHolds([fast, joiner], 'y.txt', 'from the fast clock', 'the item pulled by the joiner');

  assert.equal(await putItem(joiner.address, 'y.txt', 'from the joiner'), '200 OK');
  await everyNodeHolds([fast, joiner], 'y.txt', 'from the joiner', 'the joiner`s PUT everywhere');
});

test('a server restarted alone after a write stamped an hour ahead: its stamps start past what it holds', async (t) => {
  const dir = await tempDir(t);
  const first = await startNode(t, { now: ahead, dataDir: dir });
  assert.equal(await putItem(first.address, 'z.txt', 'stamped ahead'), '200 OK');
  const aheadClock = first.store.head('z.txt')!.version.clock;
  await first.stop();

  const again = await startNode(t, { dataDir: dir });
  assert.equal(await putItem(again.address, 'other.txt', 'a new item'), '200 OK');
  assert.ok(again.store.head('other.txt')!.version.clock > aheadClock, 'a new stamp is past the newest version stored');
  assert.equal(await putItem(again.address, 'z.txt', 'rewritten'), '200 OK');
  assert.deepEqual(await getItem(again.address, 'z.txt'), { found: true, content: 'rewritten', encoding: undefined });
});

test('a write that its store reports not kept (overtaken meanwhile) gets CONFLICT, never 200 OK', async (t) => {
  const node = await startNode(t, {});
  assert.equal(await putItem(node.address, 'kept.txt', 'first'), '200 OK');
  const store = node.store;
  const apply = store.apply.bind(store);
  store.apply = (name, copy, now) => (name === 'kept.txt' ? Promise.resolve(false) : apply(name, copy, now));

  for (const write of [() => putItem(node.address, 'kept.txt', 'second'), () => deleteItem(node.address, 'kept.txt')]) {
    await assert.rejects(write(), (err: unknown) => isCoopError(err, 'CONFLICT'));
  }
  const response = await fetch(`http://${node.address}/kept.txt`, { method: 'PUT', body: 'third' });
  assert.equal(response.status, 409);
  await response.text();
  assert.deepEqual(await getItem(node.address, 'kept.txt'), { found: true, content: 'first', encoding: undefined });
});

test('a write that loses at a server on the round (it holds a newer version this server never saw) gets CONFLICT; once told, a retry wins', async (t) => {
  const holder = await startNode(t, { syncIntervalMs: 60_000 });
  const writer = await startNode(t, { syncIntervalMs: 60_000, join: holder.address });
  await waitFor(() => writer.sync.totals.passes >= 1 && holder.members.length === 2, { what: 'the joiner`s first sync' });
  // Copies from a server hours ahead that reached only `holder` (sync is an hour away): `writer` has never seen them.
  // The second is newer than the first, which `writer` learns of when its PUT is refused.
  const fast = '127.0.0.1:1';
  const copies = [
    ['put.txt', { clock: Date.now() + HOUR, server: fast }],
    ['delete.txt', { clock: Date.now() + 2 * HOUR, server: fast }],
  ] as const;
  for (const [item, version] of copies) {
    assert.equal(await holder.store.apply(item, { version, content: 'from the fast clock' }, Date.now()), true);
  }

  await assert.rejects(putItem(writer.address, 'put.txt', 'lost'), (err: unknown) => isCoopError(err, 'CONFLICT'));
  await assert.rejects(deleteItem(writer.address, 'delete.txt'), (err: unknown) => isCoopError(err, 'CONFLICT'));
  assert.deepEqual(await heldBy([holder], 'put.txt'), ['from the fast clock']);
  assert.deepEqual(await heldBy([holder], 'delete.txt'), ['from the fast clock']);

  assert.equal(await putItem(writer.address, 'put.txt', 'retried'), '200 OK');
  assert.equal(await deleteItem(writer.address, 'delete.txt'), '200 OK');
  await everyNodeHolds([holder, writer], 'put.txt', 'retried', 'the retried PUT everywhere');
  await everyNodeHolds([holder, writer], 'delete.txt', null, 'the retried DELETE everywhere');
});
