/**
 * Linux network namespaces a test makes for itself: single namespaces, and
 * "hosts" on their own subnets joined by a router namespace. `ip netns exec`
 * mounts /etc/netns/NS/* over /etc, which gives a namespace its own hosts file
 * and resolver. Needs root on Linux.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { runClient } from './processes.js';

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** A fresh part of names, so that tests running at once never share a namespace. */
function randomTag(): string {
  return randomBytes(3).toString('hex');
}

/** Why namespaces cannot be made here (`needs` says what the test needs), or false when they can. */
export function netnsUnavailable(needs = 'network namespaces'): string | false {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return `needs root on Linux for ${needs}`;
  const probe = `coop-${randomTag()}-probe`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return false;
  } catch (err) {
    return `ip netns does not work here: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Adds a namespace with its loopback up; `etc` holds files (by name) to mount over its /etc. */
export function addNamespace(name: string, etc: Record<string, string> = {}): void {
  if (Object.keys(etc).length > 0) mkdirSync(`/etc/netns/${name}`, { recursive: true });
  for (const [file, content] of Object.entries(etc)) writeFileSync(`/etc/netns/${name}/${file}`, content);
  ip('netns', 'add', name);
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
}

/** Deletes a namespace and its /etc files; throws when the namespace was not there. */
export function deleteNamespace(name: string): void {
  try {
    ip('netns', 'del', name);
  } finally {
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  }
}

export interface NetnsHost {
  ns: string;
  /** Its host name in every host's hosts file, or its address when there are none. */
  name: string;
  ip: string;
  gateway: string;
  /** The command prefix that runs a program on this host. */
  wrap: string[];
}

export interface Network {
  hosts: NetnsHost[];
  /** The router namespace's name. */
  router: string;
  /** Runs a command inside the router namespace. */
  inRouter(...args: string[]): void;
  /** Deletes every namespace of the network and its /etc files, whatever was created. */
  destroy(): void;
}

/**
 * Creates `count` hosts behind a router: host i at `${subnet}.i.2/24`, its gateway the router at
 * `${subnet}.i.1`. With `names`, each host gets a hosts file naming every host (a container's view).
 */
export function createNetwork({ subnet, count, names }: { subnet: string; count: number; names?: string[] }): Network {
  const tag = randomTag();
  const router = `coop-${tag}-r`;
  const hosts = Array.from({ length: count }, (_, index): NetnsHost => {
    const ns = `coop-${tag}-h${index + 1}`;
    const address = `${subnet}.${index + 1}.2`;
    return { ns, name: names?.[index] ?? address, ip: address, gateway: `${subnet}.${index + 1}.1`, wrap: ['ip', 'netns', 'exec', ns] };
  });
  const inRouter = (...args: string[]): void => ip('netns', 'exec', router, ...args);
  const network: Network = {
    hosts,
    router,
    inRouter,
    destroy() {
      for (const ns of [router, ...hosts.map((host) => host.ns)]) {
        try {
          deleteNamespace(ns);
        } catch {
          // Not created.
        }
      }
    },
  };
  const etc: Record<string, string> = names
    ? { hosts: ['127.0.0.1 localhost', ...hosts.map((host) => `${host.ip} ${host.name}`)].join('\n') + '\n' }
    : {};
  try {
    addNamespace(router);
    inRouter('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    hosts.forEach((host, index) => {
      // Interface names are per namespace, at most 15 characters.
      const [inside, outside] = [`c${tag}h${index + 1}`, `c${tag}r${index + 1}`];
      addNamespace(host.ns, etc);
      ip('link', 'add', inside, 'netns', host.ns, 'type', 'veth', 'peer', 'name', outside, 'netns', router);
      ip('netns', 'exec', host.ns, 'ip', 'addr', 'add', `${host.ip}/24`, 'dev', inside);
      ip('netns', 'exec', host.ns, 'ip', 'link', 'set', inside, 'up');
      ip('netns', 'exec', host.ns, 'ip', 'route', 'add', 'default', 'via', host.gateway);
      inRouter('ip', 'addr', 'add', `${host.gateway}/24`, 'dev', outside);
      inRouter('ip', 'link', 'set', outside, 'up');
    });
  } catch (err) {
    network.destroy();
    throw err;
  }
  return network;
}

/** The ring as `webclient --ring` shows it from a host, through the server there; [] when the client fails. */
export function ringSeenFrom(host: NetnsHost, port = 4043): Promise<string[]> {
  return ringThrough(host.wrap, host.name, port);
}

/** The ring as `webclient --ring` (run through `wrap`) shows it through the server at HOST:PORT; [] when the client fails. */
export async function ringThrough(wrap: string[], host: string, port: number): Promise<string[]> {
  const run = await runClient(['--ring', '-i', host, '-p', String(port), '--timeout', '2'], {}, wrap);
  return run.status === 0
    ? run.stdout
        .toString()
        .trim()
        .split(' --> ')
        .map((entry) => entry.slice(1, -1))
    : [];
}

/** Whether every host sees a ring of `size` servers: a condition for waitFor. */
export async function ringsOfSize(hosts: NetnsHost[], size: number): Promise<boolean> {
  return (await Promise.all(hosts.map((host) => ringSeenFrom(host)))).every((view) => view.length === size);
}
