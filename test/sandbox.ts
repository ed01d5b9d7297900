/**
 * A network namespace of a test's own, with only a loopback interface: programs
 * run in it get their own ports (the README's fixed 4043, 4044, ...), and its
 * own /etc/hosts and /etc/resolv.conf (`ip netns exec` mounts /etc/netns/NAME/*
 * over /etc), so a test can make the host name resolve to 127.0.1.1 as on a
 * stock Ubuntu, and no name lookup leaves the machine. Needs root on Linux.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { addNamespace, deleteNamespace, netnsUnavailable } from './netns.js';

export interface Sandbox {
  name: string;
  /** The command prefix that runs a program inside the namespace. */
  wrap: string[];
  destroy(): void;
}

/** Why sandboxes cannot be made here, or false when they can. */
export function sandboxUnavailable(): string | false {
  return netnsUnavailable('a network namespace');
}

/**
 * Creates the namespace. `hostAddress` is what this machine's host name resolves to inside it;
 * name servers are 127.0.0.1 there, where none answers, so a lookup of an unknown name fails at once.
 */
export function createSandbox(hostAddress = '127.0.0.1'): Sandbox {
  const name = `coop-${randomBytes(3).toString('hex')}-sb`;
  addNamespace(name, {
    hosts: `127.0.0.1 localhost\n${hostAddress} ${hostname()}\n`,
    'resolv.conf': 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n',
  });
  return { name, wrap: ['ip', 'netns', 'exec', name], destroy: () => deleteNamespace(name) };
}
