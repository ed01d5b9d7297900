/**
 * Servers deployed as in containers: four hosts (Linux network namespaces
 * this test creates, joined through a router namespace), each server
 * listening on 0.0.0.0 and advertising its host's address by a host name,
 * all naming the first host as their seed by name (an /etc/hosts of their
 * own: `ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts), all
 * started at the same moment. Runs as root where `ip netns` works; elsewhere
 * it is skipped with the reason.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/util/wait.js';
import { killAll, runClient, startServer } from './processes.js';

const tag = randomBytes(3).toString('hex');
const ROUTER = `coop-${tag}-dr`;
const HOSTS = [1, 2, 3, 4].map((i) => ({
  ns: `coop-${tag}-d${i}`,
  name: `ring-${i}.coop.test`,
  ip: `10.78.${i}.2`,
  gateway: `10.78.${i}.1`,
  i,
}));
type Host = (typeof HOSTS)[number];

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
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

/** Each host gets its own hosts file naming every host: what a container's resolver gives it. */
function createNetwork(): void {
  ip('netns', 'add', ROUTER);
  ip('netns', 'exec', ROUTER, 'ip', 'link', 'set', 'lo', 'up');
  ip('netns', 'exec', ROUTER, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
  const hosts = ['127.0.0.1 localhost', ...HOSTS.map((host) => `${host.ip} ${host.name}`)].join('\n') + '\n';
  for (const host of HOSTS) {
    ip('netns', 'add', host.ns);
    mkdirSync(`/etc/netns/${host.ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${host.ns}/hosts`, hosts);
    const [inside, outside] = [`c${tag}d${host.i}`, `c${tag}e${host.i}`];
    ip('link', 'add', inside, 'netns', host.ns, 'type', 'veth', 'peer', 'name', outside, 'netns', ROUTER);
    ip('netns', 'exec', host.ns, 'ip', 'link', 'set', 'lo', 'up');
    ip('netns', 'exec', host.ns, 'ip', 'addr', 'add', `${host.ip}/24`, 'dev', inside);
    ip('netns', 'exec', host.ns, 'ip', 'link', 'set', inside, 'up');
    ip('netns', 'exec', host.ns, 'ip', 'route', 'add', 'default', 'via', host.gateway);
    ip('netns', 'exec', ROUTER, 'ip', 'addr', 'add', `${host.gateway}/24`, 'dev', outside);
    ip('netns', 'exec', ROUTER, 'ip', 'link', 'set', outside, 'up');
  }
}

function destroyNetwork(): void {
  for (const ns of [ROUTER, ...HOSTS.map((host) => host.ns)]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // Not created.
    }
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
}

const reason = unavailable();

test(
  'four servers in four network namespaces, on 0.0.0.0, advertising and joining by host name, all started at once: one ring',
  { skip: reason },
  async () => {
    after(async () => {
      await killAll();
      destroyNetwork();
    });
    createNetwork();
    const wrap = (host: Host) => ['ip', 'netns', 'exec', host.ns];
    const seed = `${HOSTS[0]!.name}:4043`;
    // Every server gets the same seed, the first one included (it finds itself there and starts the ring), as in a compose file.
    const servers = await Promise.all(
      HOSTS.map((host) =>
        startServer(
          ['--listen', '0.0.0.0:4043', '--advertise', `${host.name}:4043`, '--heartbeat', '0.5', '--memory'],
          { WEBSERVER_JOIN: seed },
          undefined,
          wrap(host),
        ),
      ),
    );
    HOSTS.forEach((host, i) =>
      assert.match(servers[i]!.output(), new RegExp(`listening on ${host.ip}:4043 \\(bound to 0\\.0\\.0\\.0:4043\\)`)),
    );

    const ring = async (host: Host) => {
      const run = await runClient(['--ring', '-i', host.name, '-p', '4043', '--timeout', '2'], {}, wrap(host));
      return run.status === 0
        ? run.stdout
            .toString()
            .trim()
            .split(' --> ')
            .map((entry) => entry.slice(1, -1))
        : [];
    };
    await waitFor(async () => (await Promise.all(HOSTS.map(ring))).every((view) => view.length === 4), {
      timeoutMs: 20_000,
      what: 'a ring of four hosts',
    });
    // Ring names are the advertised addresses, as IPs: what every server (and the original) can dial.
    assert.deepEqual(new Set(await ring(HOSTS[3]!)), new Set(HOSTS.map((host) => `${host.ip}:4043`)));
    assert.match(servers[0]!.output(), /the seeds name only this server: it starts the ring/);

    const dir = mkdtempSync(join(tmpdir(), 'coop-deploy-'));
    try {
      const file = join(dir, 'hello.txt');
      writeFileSync(file, 'written at host 2');
      const put = await runClient(['-put', file, '-i', HOSTS[1]!.name, '-p', '4043'], {}, wrap(HOSTS[1]!));
      assert.equal(put.status, 0, put.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const got = await runClient(['-get', 'hello.txt', '-i', HOSTS[3]!.name, '-p', '4043'], {}, wrap(HOSTS[3]!));
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout.toString(), 'written at host 2');
  },
);
