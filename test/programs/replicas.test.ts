/**
 * `--replicas R` over real processes: each item on R servers chosen by hashing
 * its name, read at every server, its copies restored after two servers are
 * killed at once, and a joiner taking its share; a server that places items
 * otherwise cannot join.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getRing, putItem } from '../../src/client/client.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { at } from '../helpers.js';
import { assertReadEverywhere, joinUntilExit, killAll, runClient, startServer, type ServerProcess } from '../processes.js';

const OPTIONS = ['--listen', '127.0.0.1:0', '--replicas', '3', '--heartbeat', '1', '--sync-interval', '0.5'];
const ITEMS = Array.from({ length: 60 }, (_, i) => `item-${i}.txt`);

/** Items a server holds, from its own /metrics. */
async function itemsHeld(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`http://${server.address}/metrics`)).text();
  return Number(/^coop_items (\d+)$/m.exec(text)?.[1] ?? NaN);
}

async function copies(servers: ServerProcess[]): Promise<number> {
  return (await Promise.all(servers.map(itemsHeld))).reduce((sum, held) => sum + held, 0);
}

async function ringOfAll(servers: ServerProcess[]): Promise<void> {
  const all = servers.map((server) => server.address);
  let views: string[][] = [];
  await waitFor(
    async () => {
      views = await Promise.all(all.map((s) => getRing(s)));
      // Servers that joined at the same moment may stand in any order: one cycle of exactly these.
      const sorted = [...all].sort().join();
      return views.every((view) => [...view].sort().join() === sorted && sameCycle(view, views[0]!));
    },
    { timeoutMs: 30_000, what: `one ring of ${all.length}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; views: ${JSON.stringify(views)}`);
  });
}

test('--replicas 3: six servers hold 60 items as 180 copies, read everywhere; two killed at once lose nothing and 180 come back; a joiner takes its share', async (t) => {
  t.after(killAll);
  // Started as a deployment script does: the first, then the five others at the same moment.
  const first = await startServer(OPTIONS);
  const others = await Promise.all(Array.from({ length: 5 }, () => startServer([...OPTIONS, ...at(first.address)])));
  const servers = [first, ...others];
  await ringOfAll(servers);

  for (const [i, item] of ITEMS.entries()) assert.equal(await putItem(servers[i % 6]!.address, item, `content of ${item}`), '200 OK');
  assert.equal(await copies(servers), 180);
  const held = await Promise.all(servers.map(itemsHeld));
  assert.ok(
    held.every((count) => count > 0 && count < 60),
    `each server holds a share, not all: ${held.join(', ')}`,
  );
  await assertReadEverywhere(ITEMS, servers);
  const status = await runClient(['--status', ...at(first.address)]);
  assert.match(status.stdout.toString(), /6 in the ring, each item on 3 servers/);

  await Promise.all([servers[1]!.kill(), servers[4]!.kill()]);
  const survivors = servers.filter((_, i) => i !== 1 && i !== 4);
  await assertReadEverywhere(ITEMS, survivors);
  await ringOfAll(survivors);
  await waitFor(async () => (await copies(survivors)) === 180 || undefined, {
    timeoutMs: 20_000,
    what: '180 copies on the four survivors',
  });

  const joiner = await startServer([...OPTIONS, ...at(survivors[0]!.address)]);
  const five = [...survivors, joiner];
  await ringOfAll(five);
  await waitFor(async () => ((await itemsHeld(joiner)) > 0 && (await copies(five)) === 180) || undefined, {
    timeoutMs: 20_000,
    what: 'the joiner to hold its share, with 180 copies in all',
  });
  await assertReadEverywhere(ITEMS, five);
});

test('a server with another --replicas, or none, cannot join a ring with --replicas, nor one with --replicas a ring without', async (t) => {
  t.after(killAll);
  const placed = await startServer(['--listen', '127.0.0.1:0', '--replicas', '3']);
  const whole = await startServer(['--listen', '127.0.0.1:0']);

  const other = await joinUntilExit(placed.address, ['--replicas', '2']);
  assert.equal(other.status, 3);
  assert.match(other.stdout.toString() + other.stderr, /cannot join .*each item is kept on 3 servers.*each item is kept on 2 servers/);
  const none = await joinUntilExit(placed.address, []);
  assert.equal(none.status, 3);
  assert.match(none.stdout.toString() + none.stderr, /every server holds every item: every server of a ring must give the same --replicas/);
  const into = await joinUntilExit(whole.address, ['--replicas', '3']);
  assert.equal(into.status, 3);
  assert.match(into.stdout.toString() + into.stderr, /in its ring every server holds every item/);
  assert.deepEqual(await getRing(placed.address), [placed.address], 'nobody got in');
});
