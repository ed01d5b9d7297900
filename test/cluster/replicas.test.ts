/** `--replicas` in one process: a large item and a delete at servers that do not own the item, read at every server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTestCluster } from '../../src/node/cluster.js';
import { Placement } from '../../src/ring/owners.js';
import { getDigest, putItem } from '../../src/client/client.js';
import { digestOf } from '../../src/store/digest.js';

test('with --replicas 2, a large item PUT over HTTP at a server that does not own it lands on its two owners only, reads whole everywhere, and deletes', async (t) => {
  const cluster = await createTestCluster(5, { replicas: 2 });
  t.after(() => cluster.stop());
  const servers = await cluster.whenConverged();
  const owners = new Placement(servers, 2).owners('big.bin');
  const others = servers.filter((server) => !owners.includes(server));
  const big = randomBytes(3 * 1024 * 1024 + 5);
  const put = await fetch(`http://${others[0]}/big.bin`, { method: 'PUT', body: big });
  assert.equal(put.status, 201);
  for (const server of servers) {
    const got = Buffer.from(await (await fetch(`http://${server}/big.bin`)).arrayBuffer());
    assert.ok(got.equals(big), `whole at ${server}`);
  }
  const holders = cluster.nodes.filter((node) => node.store.head('big.bin') !== undefined).map((node) => node.address);
  assert.deepEqual(holders.sort(), [...owners].sort());
  assert.equal((await fetch(`http://${others[1]}/big.bin`, { method: 'DELETE' })).status, 204);
  for (const server of servers) assert.equal((await fetch(`http://${server}/big.bin`)).status, 404, `gone at ${server}`);
});

test('with --replicas 3, a server that leaves gracefully hands its items over before it goes: its owners-to-be hold them when it is gone', async (t) => {
  // No anti-entropy pass within the test: only the hand-over can bring the copies back.
  const cluster = await createTestCluster(6, { replicas: 3, syncIntervalMs: 600_000 });
  t.after(() => cluster.stop());
  const servers = await cluster.whenConverged();
  for (let i = 0; i < 60; i++) await putItem(servers[i % 6]!, `item-${i}.txt`, `content ${i}`);
  const copies = (): number => cluster.nodes.filter((node) => node.running).reduce((sum, node) => sum + node.store.size, 0);
  assert.equal(copies(), 180);
  const leaver = cluster.nodes.find((node) => node.store.size > 0)!;
  await leaver.leave();
  assert.equal(copies(), 180);
  const after = new Placement(
    servers.filter((server) => server !== leaver.address),
    3,
  );
  for (const node of cluster.nodes.filter((n) => n.running)) {
    for (const [item] of node.store.entries()) assert.ok(after.owns(node.address, item), `${node.address} owns ${item}`);
  }
});

test("with --replicas 2, two servers compare only what both own: a DIGEST asked with `with` matches the asker's digest of the items both own", async (t) => {
  const cluster = await createTestCluster(4, { replicas: 2, syncIntervalMs: 600_000 });
  t.after(() => cluster.stop());
  const servers = await cluster.whenConverged();
  for (let i = 0; i < 40; i++) await putItem(servers[i % 4]!, `item-${i}.txt`, `content ${i}`);
  const placement = new Placement(servers, 2);
  for (const asker of cluster.nodes) {
    for (const peer of cluster.nodes.filter((node) => node !== asker)) {
      const both = [...asker.store.entries()].filter(([item]) => placement.owns(asker.address, item) && placement.owns(peer.address, item));
      const theirs = await getDigest(peer.address, {}, asker.address);
      assert.deepEqual(theirs, digestOf(both), `${peer.address} for ${asker.address}`);
    }
  }
});
