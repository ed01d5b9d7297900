/**
 * A network namespace of a test's own, with only a loopback interface: programs
 * run in it get their own ports (the README's fixed 4043, 4044, ...), and its
 * own /etc/hosts and /etc/resolv.conf (`ip netns exec` mounts /etc/netns/NAME/*
 * over /etc), so a test can make the host name resolve to 127.0.1.1 as on a
 * stock Ubuntu, and no name lookup leaves the machine. Needs root on Linux.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface Sandbox {
  name: string;
  /** The command prefix that runs a program inside the namespace. */
  wrap: string[];
  destroy(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Why sandboxes cannot be made here, or false when they can. */
export function sandboxUnavailable(): string | false {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'needs root on Linux for a network namespace';
  const probe = `coop-${randomBytes(3).toString('hex')}-probe`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return false;
  } catch (err) {
    return `ip netns does not work here: ${(err as Error).message.split('\n')[0]}`;
  }
}

/**
 * Creates the namespace. `hostAddress` is what this machine's host name resolves to inside it;
 * name servers are 127.0.0.1 there, where none answers, so a lookup of an unknown name fails at once.
 */
export function createSandbox(hostAddress = '127.0.0.1'): Sandbox {
  const name = `coop-${randomBytes(3).toString('hex')}-sb`;
  const etc = `/etc/netns/${name}`;
  mkdirSync(etc, { recursive: true });
  writeFileSync(`${etc}/hosts`, `127.0.0.1 localhost\n${hostAddress} ${hostname()}\n`);
  writeFileSync(`${etc}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
  ip('netns', 'add', name);
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  return {
    name,
    wrap: ['ip', 'netns', 'exec', name],
    destroy() {
      try {
        ip('netns', 'del', name);
      } finally {
        rmSync(etc, { recursive: true, force: true });
      }
    },
  };
}
