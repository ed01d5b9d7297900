/**
 * Faults on one link between two neighbours, in network namespaces this test
 * creates (three hosts behind a router; the ring is a -> b -> c):
 *
 * - one-way drops on the established stream from a to b (nft in the router),
 *   then on everything a sends to b: writes still complete, the stream is
 *   given up and its messages resent, and b is passed by, never cut out;
 * - 30% loss both ways between a and b (nft numgen): nobody removes b, which
 *   the others reach, and every acknowledged write is stored everywhere.
 *
 * Needs root, `ip netns` and nft; skipped with the reason otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../src/util/wait.js';
import { createNetwork, netnsUnavailable, ringSeenFrom, ringsOfSize, type NetnsHost, type Network } from '../netns.js';
import { killAll, runClient, startServer, type ServerProcess } from '../processes.js';
import type { RingStatus } from '../../src/protocol/status.js';

after(killAll);

function missing(tool: string, args: string[]): string | false {
  try {
    execFileSync(tool, args, { stdio: 'pipe' });
    return false;
  } catch {
    return `needs ${tool} (scripts/install-nftables.sh installs it)`;
  }
}

const netns = netnsUnavailable();
const noNft = netns || missing('nft', ['--version']);

/** Lines of the server's log that match `pattern`. */
function linesSaying(server: ServerProcess, pattern: RegExp): string[] {
  return server
    .output()
    .split('\n')
    .filter((line) => pattern.test(line));
}

/** Lines of the server's log that say it cut `address` out of the ring. */
function removals(server: ServerProcess, address: string): string[] {
  return linesSaying(server, /removing it from the ring|is unreachable|declared dead/).filter((line) => line.includes(address));
}

/** Three servers, a -> b -> c, on three hosts; short heartbeats so that faults show within seconds. */
async function threeHosts(subnet: string): Promise<{ network: Network; hosts: NetnsHost[]; servers: ServerProcess[] }> {
  const network = createNetwork({ subnet, count: 3 });
  after(() => network.destroy());
  const { hosts } = network;
  const options = ['--heartbeat', '0.5', '--suspicion-timeout', '3', '--sync-interval', '1', '--memory'];
  const servers: ServerProcess[] = [];
  for (const [i, host] of hosts.entries()) {
    const join = i > 0 ? ['-i', hosts[i - 1]!.ip, '-p', '4043'] : [];
    servers.push(await startServer(['--listen', `${host.ip}:4043`, ...options, ...join], {}, undefined, host.wrap));
  }
  await waitFor(() => ringsOfSize(hosts, 3), { timeoutMs: 20_000, what: 'a ring of three hosts' });
  const ring = await ringSeenFrom(hosts[0]!);
  assert.deepEqual(
    ring,
    hosts.map((host) => `${host.ip}:4043`),
    'the ring is a -> b -> c',
  );
  return { network, hosts, servers };
}

async function put(host: NetnsHost, name: string, content: string, timeoutSeconds = 20): Promise<{ ok: boolean; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'coop-links-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, content);
    const started = performance.now();
    const run = await runClient(['-put', file, '-i', host.ip, '-p', '4043', '--timeout', String(timeoutSeconds)], {}, host.wrap);
    return { ok: run.status === 0, ms: performance.now() - started };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function statusAt(host: NetnsHost): Promise<RingStatus | undefined> {
  const run = await runClient(['--status', '--json', '-i', host.ip, '-p', '4043', '--timeout', '3'], {}, host.wrap);
  return run.status === 0 ? (JSON.parse(run.stdout.toString()) as RingStatus) : undefined;
}

/** Every server holds `count` items and the same digest: what was acknowledged is stored everywhere. */
async function storedEverywhere(hosts: NetnsHost[], count: number): Promise<boolean> {
  const statuses = await Promise.all(hosts.map(statusAt));
  return statuses.every((status) => status !== undefined && status.items === count && status.digest === statuses[0]!.digest);
}

/** The TCP connections `from` holds to `to`:4043 (source ports). */
function connectionsTo(from: NetnsHost, to: NetnsHost): number[] {
  const out = execFileSync('ip', ['netns', 'exec', from.ns, 'ss', '-Htn', 'state', 'established', 'dst', `${to.ip}:4043`]).toString();
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => Number(line.trim().split(/\s+/)[2]!.split(':').pop())); // Recv-Q Send-Q Local:Port Peer:Port
}

test(
  'one-way drops between neighbours: the stream is re-opened, then the server is passed by, never cut out',
  { skip: noNft },
  async () => {
    const { network, hosts, servers } = await threeHosts('10.81');
    const [a, b, c] = hosts as [NetnsHost, NetnsHost, NetnsHost];
    const [serverA, serverB, serverC] = servers as [ServerProcess, ServerProcess, ServerProcess];
    const bAddress = `${b.ip}:4043`;
    network.inRouter('nft', 'add', 'table', 'ip', 'coop');
    network.inRouter('nft', 'add', 'chain', 'ip', 'coop', 'cut', '{ type filter hook forward priority 0; }');

    assert.ok((await put(a, 'first.txt', 'opens the stream from a to b')).ok);
    const stream = connectionsTo(a, b);
    assert.ok(stream.length > 0, 'a holds a stream to b');

    // 1. Everything a sends on its established stream to b vanishes; the kernel takes it all the same.
    cutRule(network, 'ip', 'saddr', a.ip, 'ip', 'daddr', b.ip, 'tcp', 'sport', `{ ${stream.join(', ')} }`, 'drop');
    let written = 1;
    for (let i = 0; i < 8; i++) {
      const result = await put(a, `stream-${i}.txt`, `written while the stream was cut ${i}`);
      assert.ok(result.ok, `PUT stream-${i}.txt was answered`);
      written++;
    }
    assert.match(serverA.output(), new RegExp(`messages to ${bAddress.replaceAll('.', '\\.')} not acknowledged for [\\d.]+ s`));

    // 2. Everything a sends to b vanishes, new connections too: b is passed by.
    cutRule(network, 'ip', 'saddr', a.ip, 'ip', 'daddr', b.ip, 'drop');
    for (let i = 0; i < 8; i++) {
      for (const host of [a, c]) {
        const result = await put(host, `oneway-${i}-${host.ip}.txt`, `written while a could not reach b ${i}`);
        assert.ok(result.ok, `PUT at ${host.ip} during the one-way fault was answered`);
        written++;
      }
    }
    assert.match(serverA.output(), new RegExp(`${bAddress.replaceAll('.', '\\.')} answers others but not this server`));
    for (const host of hosts) assert.ok((await ringSeenFrom(host)).includes(bAddress), `b is in the ring ${host.ip} sees`);

    network.inRouter('nft', 'delete', 'table', 'ip', 'coop');
    await waitFor(() => /answers this server again/.test(serverA.output()), { timeoutMs: 10_000, what: 'a to reach b again' });
    await waitFor(() => storedEverywhere(hosts, written), { timeoutMs: 20_000, what: `all ${written} writes on every server` });
    for (const server of servers) assert.deepEqual(removals(server, bAddress), [], 'nobody cut b out');
    assert.doesNotMatch(serverB.output() + serverC.output(), /refuted/, 'b never had to refute a death or a suspicion');
  },
);

/**
 * A share of every packet to and from `host` is dropped at random in the router, as on a bad cable or
 * radio link of that host (nft's numgen: netem is not in every kernel).
 */
function lossyLink(network: Network, host: NetnsHost, percent: number): void {
  network.inRouter('nft', 'add', 'table', 'ip', 'coop');
  network.inRouter('nft', 'add', 'chain', 'ip', 'coop', 'cut', '{ type filter hook forward priority 0; }');
  for (const way of ['saddr', 'daddr'])
    cutRule(network, 'ip', way, host.ip, 'numgen', 'random', 'mod', '100', '<', String(percent), 'drop');
}

/** Adds a rule to the router's chain `coop cut` (made by the test): what it matches and what it does. */
function cutRule(network: Network, ...rule: string[]): void {
  network.inRouter('nft', 'add', 'rule', 'ip', 'coop', 'cut', ...rule);
}

test(
  '30% loss between neighbours: degraded, but the healthy server is never removed and every acknowledged write is stored',
  { skip: noNft },
  async (t) => {
    const { network, hosts, servers } = await threeHosts('10.82');
    const [a, b] = hosts as [NetnsHost, NetnsHost, NetnsHost];
    const bAddress = `${b.ip}:4043`;
    lossyLink(network, a, 30);
    const results: Array<{ ok: boolean; ms: number }> = [];
    const acknowledged: string[] = [];
    for (let i = 0; i < 30; i++) {
      const name = `lossy-${i}.txt`;
      const result = await put(a, name, `written over a lossy link ${i}`, 15);
      results.push(result);
      if (result.ok) acknowledged.push(name);
    }
    const times = results.map((result) => result.ms).sort((x, y) => x - y);
    t.diagnostic(
      `PUTs answered: ${acknowledged.length}/30; p50 ${(times[15]! / 1000).toFixed(2)} s, max ${(times.at(-1)! / 1000).toFixed(2)} s`,
    );
    for (const host of hosts) assert.ok((await ringSeenFrom(host)).includes(bAddress), `b is in the ring ${host.ip} sees`);
    const suspicions = servers.map((server) => linesSaying(server, /suspected/).length);
    t.diagnostic(`suspicions logged at a, b, c: ${suspicions.join(', ')}`);
    for (const server of servers) assert.deepEqual(removals(server, bAddress), [], 'nobody removed b');
    assert.ok(acknowledged.length > 0, 'some writes were answered');
    // Every acknowledged write is on every server (those not acknowledged may have landed too: at least as many items).
    let seen: Array<RingStatus | undefined> = [];
    const waited = performance.now();
    await waitFor(
      async () => {
        seen = await Promise.all(hosts.map(statusAt));
        return seen.every((s) => s !== undefined && s.items >= acknowledged.length && s.digest === seen[0]!.digest);
      },
      { timeoutMs: 30_000, what: 'every acknowledged write on every server' },
    ).catch((err: unknown) => {
      // What each server held, and what its repairs said, to tell a slow repair from a lost write.
      t.diagnostic(`items at a, b, c: ${seen.map((s) => s?.items ?? 'no answer').join(', ')}`);
      for (const [i, server] of servers.entries())
        for (const line of linesSaying(server, /sync/).slice(-8)) t.diagnostic(`${'abc'[i]}: ${line}`);
      throw err;
    });
    t.diagnostic(`every server held every acknowledged write after ${((performance.now() - waited) / 1000).toFixed(1)} s`);
    // The same digest everywhere: each acknowledged write read at one server is on all of them.
    for (const name of acknowledged) {
      const got = await runClient(['-get', name, '-i', b.ip, '-p', '4043', '--timeout', '10'], {}, b.wrap);
      assert.equal(got.status, 0, got.stderr);
    }
  },
);
