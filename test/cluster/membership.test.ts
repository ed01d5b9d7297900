/** Membership that heals itself, in one process: concurrent joins, adjacent failures, shrinking and growing, partitions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCluster, agreedRing, membershipReceived } from '../../src/node/cluster.js';
import { RingNode, tcpTransport, type PeerTransport } from '../../src/node/node.js';
import { getItem, putItem } from '../../src/client/client.js';
import { CoopError } from '../../src/errors.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';

const FAST = { host: '127.0.0.1', port: 0, heartbeatMs: 100, suspicionTimeoutMs: 400, connectTimeoutMs: 300, syncIntervalMs: 200 };

test('ten servers joining at the same moment, at three different servers, end in one ring, the same everywhere', async (t) => {
  const cluster = await createTestCluster(3, { heartbeatMs: 200, syncIntervalMs: 60_000 });
  t.after(() => cluster.stop());
  const seeds = cluster.addresses;
  const joiners = Array.from(
    { length: 10 },
    (_, i) => new RingNode({ ...FAST, heartbeatMs: 200, join: i < 5 ? seeds[0] : seeds[1 + (i % 2)] }),
  );
  cluster.nodes.push(...joiners);
  await Promise.all(joiners.map((node) => node.start()));
  const ring = await cluster.whenConverged(10_000);
  assert.equal(ring.length, 13);
  for (const node of cluster.nodes) assert.ok(sameCycle(node.members, ring), `${node.address} sees the same ring`);
});

test('two adjacent servers of five fail; the ring shrinks to one and grows back to five', async (t) => {
  const cluster = await createTestCluster(5, FAST);
  t.after(() => cluster.stop());
  const [a, b, , , e] = cluster.addresses as [string, string, string, string, string];
  await Promise.all([cluster.nodes[2]!.stop(), cluster.nodes[3]!.stop()]);
  assert.ok(sameCycle(await cluster.whenConverged(5000), [a, b, e]));
  await putItem(a, 'survivor.txt', 'kept through it all');

  await Promise.all([cluster.nodes[1]!.stop(), cluster.nodes[4]!.stop()]);
  assert.deepEqual(await cluster.whenConverged(5000), [a]);

  for (let i = 0; i < 4; i++) await cluster.add({ ...FAST, via: a });
  const grown = await cluster.whenConverged(5000);
  assert.equal(grown.length, 5);
  const newest = cluster.nodes.at(-1)!;
  await waitFor(() => newest.store.head('survivor.txt') !== undefined, { timeoutMs: 5000, what: 'the data to reach the new servers' });
  assert.deepEqual(await getItem(newest.address, 'survivor.txt'), { found: true, content: 'kept through it all', encoding: undefined });
});

/** A transport that can cut the network between two groups of servers, as a partition does. */
function partitionable(): { transport: PeerTransport & { self: string }; isCut: (from: string, to: string) => boolean } {
  const real = tcpTransport({ connectTimeoutMs: 300, maxReplyBytes: 1 << 26 });
  const transport = {
    self: '',
    send(to: string, payload: string) {
      if (partition.isCut(transport.self, to)) return Promise.reject(new CoopError('TIMEOUT', `partitioned from ${to}`));
      return real.send(to, payload);
    },
    request(to: string, payload: string, timeoutMs: number) {
      if (partition.isCut(transport.self, to)) return Promise.reject(new CoopError('TIMEOUT', `partitioned from ${to}`));
      return real.request(to, payload, timeoutMs);
    },
  };
  return { transport, isCut: partition.isCut };
}

const partition = {
  side: new Set<string>(),
  active: false,
  isCut(from: string, to: string): boolean {
    return partition.active && partition.side.has(from) !== partition.side.has(to);
  },
};

test('a partition of six into 3 + 3: each side carries on, writes on both, and after healing one ring with identical data', async (t) => {
  const nodes: RingNode[] = [];
  t.after(async () => {
    partition.active = false;
    await Promise.all(nodes.map((node) => node.stop()));
  });
  for (let i = 0; i < 6; i++) {
    const { transport } = partitionable();
    const node = new RingNode({ ...FAST, transport, join: nodes.at(-1)?.address });
    await node.start();
    transport.self = node.address;
    nodes.push(node);
    await waitFor(() => agreedRing(nodes), { what: 'the ring to grow' });
  }
  const left = nodes.slice(0, 3);
  const right = nodes.slice(3);
  await putItem(left[0]!.address, 'before.txt', 'written before the split');

  partition.side = new Set(left.map((node) => node.address));
  partition.active = true;
  await waitFor(() => agreedRing(left) && left.every((node) => node.members.length === 3), {
    timeoutMs: 10_000,
    what: 'the left side to be a ring of three',
  });
  await waitFor(() => right.every((node) => node.members.length === 3 && sameCycle(node.members, right[0]!.members)), {
    timeoutMs: 10_000,
    what: 'the right side to be a ring of three',
  });

  assert.equal(await putItem(left[1]!.address, 'left.txt', 'written on the left'), '200 OK');
  assert.equal(await putItem(right[1]!.address, 'right.txt', 'written on the right'), '200 OK');
  await putItem(left[2]!.address, 'both.txt', 'left version');
  await putItem(right[2]!.address, 'both.txt', 'right version, written later');

  partition.active = false;
  const ring = await waitFor(() => agreedRing(nodes), { timeoutMs: 15_000, what: 'one ring of six after healing' });
  assert.equal(ring.length, 6);
  await waitFor(() => nodes.every((node) => node.store.digest.toWire().join() === nodes[0]!.store.digest.toWire().join()), {
    timeoutMs: 15_000,
    what: 'identical data on all six',
  });
  for (const node of nodes) {
    assert.deepEqual(await getItem(node.address, 'left.txt'), { found: true, content: 'written on the left', encoding: undefined });
    assert.deepEqual(await getItem(node.address, 'right.txt'), { found: true, content: 'written on the right', encoding: undefined });
    assert.deepEqual(await getItem(node.address, 'both.txt'), {
      found: true,
      content: 'right version, written later',
      encoding: undefined,
    });
    assert.deepEqual(await getItem(node.address, 'before.txt'), { found: true, content: 'written before the split', encoding: undefined });
  }
});

const total = (counts: Array<Record<string, number>>): number =>
  counts.reduce((sum, one) => sum + Object.values(one).reduce((a, b) => a + b, 0), 0);

for (const size of [8, 16]) {
  test(`one join into a ring of ${size} costs O(N) membership messages: one UPDATE round, at most 2N in all`, async (t) => {
    // Heartbeats far apart: no probe falls inside the join, so every message counted is the join's.
    const cluster = await createTestCluster(size, { heartbeatMs: 60_000, syncIntervalMs: 60_000 });
    t.after(() => cluster.stop());
    const before = await membershipReceived(cluster.nodes);
    const startedAt = before.map((counts) => counts.UPDATE ?? 0);
    await cluster.add();
    // Done once every server, the old ones and the newcomer, has had the join's UPDATE (its creator too: the round came home).
    const after = await waitFor(
      async () => {
        const now = await membershipReceived(cluster.nodes);
        return now.every((counts, i) => (counts.UPDATE ?? 0) > (startedAt[i] ?? 0)) ? now : undefined;
      },
      { timeoutMs: 10_000, what: 'the UPDATE round of the join to reach every server' },
    );
    const messages = total(after) - total(before);
    assert.ok(messages <= 2 * size, `one join cost ${messages} membership messages in a ring of ${size}: ${JSON.stringify(after)}`);
    const updates = after.map((counts, i) => (counts.UPDATE ?? 0) - (startedAt[i] ?? 0));
    assert.deepEqual(updates, new Array<number>(size + 1).fill(1), 'each server had the change once: one round, not one per server');
  });
}
