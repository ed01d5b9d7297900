/**
 * Real network partitions: servers on hosts (Linux network namespaces these
 * tests create, joined through a router namespace), cut apart by blackhole
 * rules in the router, then healed: four hosts cut 2 + 2, and one host cut off
 * from the two others. Runs as root where `ip netns` works; elsewhere it is
 * skipped with the reason.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../src/util/wait.js';
import { createNetwork, netnsUnavailable, ringSeenFrom, ringsOfSize, type Network, type NetnsHost } from '../netns.js';
import { killAll, runClient, startServer, type ServerProcess } from '../processes.js';

/** Drops every packet between the two sides, silently, as a broken network does. */
function setPartition(network: Network, cut: boolean, sideA: NetnsHost[], sideB: NetnsHost[]): void {
  for (const a of sideA) {
    for (const b of sideB) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        network.inRouter('ip', 'rule', cut ? 'add' : 'del', 'from', `${from.ip}/32`, 'to', `${to.ip}/32`, 'blackhole');
      }
    }
  }
}

const reason = netnsUnavailable();

/** Servers on `count` hosts, all joining the first, started at the same moment as a deployment script does; short timers. */
async function serversOnHosts(subnet: string, count: number): Promise<{ network: Network; hosts: NetnsHost[]; servers: ServerProcess[] }> {
  const network = createNetwork({ subnet, count });
  after(async () => {
    await killAll();
    network.destroy();
  });
  const { hosts } = network;
  const options = ['--heartbeat', '0.3', '--suspicion-timeout', '1', '--sync-interval', '0.5', '--memory'];
  const servers = await Promise.all(
    hosts.map((host, i) =>
      startServer(
        ['--listen', `${host.ip}:4043`, ...options, ...(i > 0 ? ['-i', hosts[0]!.ip, '-p', '4043'] : [])],
        {},
        undefined,
        host.wrap,
      ),
    ),
  );
  await waitFor(() => ringsOfSize(hosts, count), { timeoutMs: 15_000, what: `a ring of ${count} hosts` });
  return { network, hosts, servers };
}

test(
  'a partition between network namespaces: two rings while cut, one ring with identical data after healing',
  { skip: reason },
  async () => {
    const { network, hosts } = await serversOnHosts('10.77', 4);
    const put = async (host: NetnsHost, name: string, content: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'coop-netns-'));
      const file = join(dir, name);
      writeFileSync(file, content);
      const run = await runClient(['-put', file, '-i', host.ip, '-p', '4043'], {}, host.wrap);
      rmSync(dir, { recursive: true, force: true });
      assert.equal(run.status, 0, run.stderr);
    };
    const get = async (host: NetnsHost, name: string) =>
      (await runClient(['-get', name, '-i', host.ip, '-p', '4043'], {}, host.wrap)).stdout.toString();

    const [h1, h2, h3, h4] = hosts as [NetnsHost, NetnsHost, NetnsHost, NetnsHost];
    setPartition(network, true, [h1, h2], [h3, h4]);
    await waitFor(() => ringsOfSize(hosts, 2), {
      timeoutMs: 15_000,
      what: 'two rings of two',
    });
    assert.deepEqual(new Set(await ringSeenFrom(h1)), new Set([h1.ip + ':4043', h2.ip + ':4043']));
    await put(h1, 'west.txt', 'written in the west');
    await put(h4, 'east.txt', 'written in the east');

    setPartition(network, false, [h1, h2], [h3, h4]);
    await waitFor(() => ringsOfSize(hosts, 4), {
      timeoutMs: 20_000,
      what: 'one ring of four again',
    });
    await waitFor(
      async () => (await get(h3, 'west.txt')) === 'written in the west' && (await get(h2, 'east.txt')) === 'written in the east',
      {
        timeoutMs: 15_000,
        what: 'the data of both sides everywhere',
      },
    );
    for (const host of hosts) {
      assert.equal(await get(host, 'west.txt'), 'written in the west');
      assert.equal(await get(host, 'east.txt'), 'written in the east');
    }
  },
);

test(
  'a host cut off from every other: the others cut it out; its own suspicions say nobody answered it; one ring again once healed',
  { skip: reason },
  async () => {
    const { network, hosts, servers } = await serversOnHosts('10.78', 3);
    const [lone, ...others] = hosts as [NetnsHost, NetnsHost, NetnsHost];

    setPartition(network, true, [lone], others);
    await waitFor(() => ringsOfSize(others, 2), { timeoutMs: 15_000, what: 'the two others in a ring of two' });
    // Its probes, and its requests to others to probe, all go unanswered: its suspicions are its own alone.
    await waitFor(() => /none of the members asked about it answered: suspected/.test(servers[0]!.output()), {
      timeoutMs: 10_000,
      what: 'the lone host to suspect a member nobody could confirm',
    });
    assert.doesNotMatch(
      servers[1]!.output() + servers[2]!.output(),
      /none of the members asked about it answered/,
      'the others confirm each other',
    );

    setPartition(network, false, [lone], others);
    await waitFor(() => ringsOfSize(hosts, 3), { timeoutMs: 20_000, what: 'one ring of three again' });
  },
);
