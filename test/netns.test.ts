/**
 * A real network partition: four servers on four hosts (Linux network
 * namespaces this test creates, joined through a router namespace), cut 2 + 2
 * by blackhole rules in the router, then healed. Runs as root where `ip netns`
 * works; elsewhere it is skipped with the reason.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/util/wait.js';
import { killAll, runClient, startServer, type ServerProcess } from './processes.js';

const tag = randomBytes(3).toString('hex');
const ROUTER = `coop-${tag}-r`;
const HOSTS = [1, 2, 3, 4].map((i) => ({ ns: `coop-${tag}-h${i}`, ip: `10.77.${i}.2`, gateway: `10.77.${i}.1`, i }));

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function inRouter(...args: string[]): void {
  ip('netns', 'exec', ROUTER, ...args);
}

function unavailable(): string | false {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'needs root on Linux for network namespaces';
  try {
    ip('netns', 'add', `coop-${tag}-probe`);
    ip('netns', 'del', `coop-${tag}-probe`);
    return false;
  } catch (err) {
    return `ip netns does not work here: ${(err as Error).message.split('\n')[0]}`;
  }
}

function createNetwork(): void {
  ip('netns', 'add', ROUTER);
  inRouter('ip', 'link', 'set', 'lo', 'up');
  inRouter('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
  for (const host of HOSTS) {
    ip('netns', 'add', host.ns);
    ip('link', 'add', `c${tag}h${host.i}`, 'netns', host.ns, 'type', 'veth', 'peer', 'name', `c${tag}r${host.i}`, 'netns', ROUTER);
    ip('netns', 'exec', host.ns, 'ip', 'link', 'set', 'lo', 'up');
    ip('netns', 'exec', host.ns, 'ip', 'addr', 'add', `${host.ip}/24`, 'dev', `c${tag}h${host.i}`);
    ip('netns', 'exec', host.ns, 'ip', 'link', 'set', `c${tag}h${host.i}`, 'up');
    ip('netns', 'exec', host.ns, 'ip', 'route', 'add', 'default', 'via', host.gateway);
    inRouter('ip', 'addr', 'add', `${host.gateway}/24`, 'dev', `c${tag}r${host.i}`);
    inRouter('ip', 'link', 'set', `c${tag}r${host.i}`, 'up');
  }
}

function destroyNetwork(): void {
  for (const ns of [ROUTER, ...HOSTS.map((host) => host.ns)]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // Not created.
    }
  }
}

/** Drops every packet between the two sides, silently, as a broken network does. */
function setPartition(cut: boolean, sideA: typeof HOSTS, sideB: typeof HOSTS): void {
  for (const a of sideA) {
    for (const b of sideB) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        inRouter('ip', 'rule', cut ? 'add' : 'del', 'from', `${from.ip}/32`, 'to', `${to.ip}/32`, 'blackhole');
      }
    }
  }
}

const reason = unavailable();

test(
  'a partition between network namespaces: two rings while cut, one ring with identical data after healing',
  { skip: reason },
  async () => {
    after(async () => {
      await killAll();
      destroyNetwork();
    });
    createNetwork();
    const wrap = (host: (typeof HOSTS)[number]) => ['ip', 'netns', 'exec', host.ns];
    const options = ['--heartbeat', '0.3', '--suspicion-timeout', '1', '--sync-interval', '0.5', '--memory'];
    const servers: ServerProcess[] = [];
    for (const host of HOSTS) {
      const join = servers.length > 0 ? ['-i', HOSTS[0]!.ip, '-p', '4043'] : [];
      servers.push(await startServer(['--listen', `${host.ip}:4043`, ...options, ...join], {}, undefined, wrap(host)));
    }
    const ring = async (host: (typeof HOSTS)[number]) => {
      const run = await runClient(['--ring', '-i', host.ip, '-p', '4043', '--timeout', '2'], {}, wrap(host));
      return run.status === 0
        ? run.stdout
            .toString()
            .trim()
            .split(' --> ')
            .map((entry) => entry.slice(1, -1))
        : [];
    };
    const put = async (host: (typeof HOSTS)[number], name: string, content: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'coop-netns-'));
      const file = join(dir, name);
      writeFileSync(file, content);
      const run = await runClient(['-put', file, '-i', host.ip, '-p', '4043'], {}, wrap(host));
      rmSync(dir, { recursive: true, force: true });
      assert.equal(run.status, 0, run.stderr);
    };
    const get = async (host: (typeof HOSTS)[number], name: string) =>
      (await runClient(['-get', name, '-i', host.ip, '-p', '4043'], {}, wrap(host))).stdout.toString();

    await waitFor(async () => (await Promise.all(HOSTS.map(ring))).every((view) => view.length === 4), {
      timeoutMs: 15_000,
      what: 'a ring of four hosts',
    });

    const [h1, h2, h3, h4] = HOSTS as [(typeof HOSTS)[number], (typeof HOSTS)[number], (typeof HOSTS)[number], (typeof HOSTS)[number]];
    setPartition(true, [h1, h2], [h3, h4]);
    await waitFor(async () => (await Promise.all(HOSTS.map(ring))).every((view) => view.length === 2), {
      timeoutMs: 15_000,
      what: 'two rings of two',
    });
    assert.deepEqual(new Set(await ring(h1)), new Set([h1.ip + ':4043', h2.ip + ':4043']));
    await put(h1, 'west.txt', 'written in the west');
    await put(h4, 'east.txt', 'written in the east');

    setPartition(false, [h1, h2], [h3, h4]);
    await waitFor(async () => (await Promise.all(HOSTS.map(ring))).every((view) => view.length === 4), {
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
    for (const host of HOSTS) {
      assert.equal(await get(host, 'west.txt'), 'written in the west');
      assert.equal(await get(host, 'east.txt'), 'written in the east');
    }
  },
);
