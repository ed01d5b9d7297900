/**
 * A ring of real server processes for a fault scenario, and the client load
 * on it: servers that can be stopped and restarted at the same address and
 * data, a record of every exit nobody asked for, and clients that write (to a
 * few items shared by everyone and to names of their own) and read, every
 * request going through the ledger.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { getDigest, getItem, getRing, putItem } from '../../src/client/client.js';
import { parseAddress } from '../../src/protocol/address.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { startServer, type ServerProcess } from '../processes.js';
import { errorLabel, type Ledger } from './ledger.js';

export interface MemberSpec {
  /** Where it listens, such as 127.0.0.1:0 (the port is kept across restarts). */
  listen: string;
  data?: string;
  env?: Record<string, string>;
  /** A command prefix: faketime, prlimit, ip netns exec... */
  wrap?: string[];
  label?: string;
}

export interface Member {
  label: string;
  address: string;
  spec: MemberSpec;
  server: ServerProcess | undefined;
  /** Every process this member ran, for their logs. */
  processes: ServerProcess[];
  stopping: boolean;
}

function joinArgs(address: string | undefined): string[] {
  if (address === undefined) return [];
  const { host, port } = parseAddress(address);
  return ['-i', host, '-p', String(port)];
}

export class FaultRing {
  readonly members: Member[] = [];
  /** Exits that were not asked for: "LABEL exited (CODE): last line". */
  readonly crashes: string[] = [];
  /** Members that were down at some time (stopped or crashed): removing them was no mistake. */
  readonly wentDown = new Set<string>();

  constructor(private readonly common: string[]) {}

  async add(spec: MemberSpec, via?: string): Promise<Member> {
    const member: Member = {
      label: spec.label ?? spec.listen,
      address: spec.listen,
      spec,
      server: undefined,
      processes: [],
      stopping: false,
    };
    this.members.push(member);
    await this.start(member, via);
    member.label = spec.label ?? member.address;
    return member;
  }

  /** (Re)starts a member at its address, joining `via` (else the first other member up). */
  async start(member: Member, via = this.up().find((address) => address !== member.address)): Promise<void> {
    const { spec } = member;
    const args = ['--listen', member.address, ...(spec.data ? ['--data', spec.data] : []), ...this.common, ...joinArgs(via)];
    const server = await startServer(args, spec.env ?? {}, undefined, spec.wrap ?? []);
    member.address = server.address;
    member.server = server;
    member.stopping = false;
    member.processes.push(server);
    void server.exited.then((code) => {
      if (member.server !== server) return;
      member.server = undefined;
      this.wentDown.add(member.address);
      if (!member.stopping) {
        // The line that says why, rather than node's version banner at the end.
        const lines = server.output().trim().split('\n');
        const why = lines.findLast((line) => /error|ENOSPC|EMFILE|fatal|abort/i.test(line)) ?? lines.at(-1) ?? '';
        this.crashes.push(`${member.label} exited (${code}): ${why.trim().slice(0, 160)}`);
      }
    });
  }

  async stop(member: Member, signal: NodeJS.Signals): Promise<void> {
    const server = member.server;
    if (!server) return;
    member.stopping = true;
    this.wentDown.add(member.address);
    await server.kill(signal);
  }

  /** Addresses of the members running now. */
  up(): string[] {
    return this.members.filter((member) => member.server).map((member) => member.address);
  }

  /** Times a server cut out or declared dead a member that never went down, from every log. */
  falseRemovals(): number {
    const removal = /(\S+) did not refute its suspicion in time: declared dead|heartbeat to (\S+) failed .*: removing it from the ring/g;
    let count = 0;
    for (const member of this.members) {
      for (const server of member.processes) {
        for (const match of server.output().matchAll(removal)) {
          if (!this.wentDown.has(match[1] ?? match[2]!)) count++;
        }
      }
    }
    return count;
  }

  /** Waits for one ring of every member, the same in every view; resolves with that view. */
  formed(timeoutMs = 30_000): Promise<string[]> {
    const all = this.members.map((member) => member.address);
    return waitFor(
      async () => {
        const views = await Promise.all(all.map((address) => getRing(address, { timeoutMs: 2000 })));
        const one = views.every((view) => view.length === all.length && all.every((a) => view.includes(a)) && sameCycle(view, views[0]!));
        return one && views[0]!;
      },
      { timeoutMs, what: 'one ring of every server' },
    );
  }

  /** Waits for one ring of every member and identical data everywhere; says what did not happen in time. */
  async settle(timeoutMs = 30_000): Promise<string | undefined> {
    const all = this.members.map((member) => member.address);
    try {
      await this.formed(timeoutMs);
      await waitFor(
        async () => {
          const digests = await Promise.all(all.map((address) => getDigest(address, { timeoutMs: 2000 })));
          return digests.every((digest) => digest.join() === digests[0]!.join());
        },
        { timeoutMs, what: 'identical data everywhere' },
      );
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Writes every server process's output to DIR/PREFIX-HOST_PORT-N.log. */
  async saveLogs(dir: string, prefix: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const member of this.members) {
      for (const [n, server] of member.processes.entries()) {
        await writeFile(join(dir, `${prefix}-${member.address.replace(/[:[\]]/g, '_')}-${n + 1}.log`), server.output());
      }
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(
      this.members.map((member) => {
        member.stopping = true;
        return member.server?.kill('SIGKILL');
      }),
    );
  }
}

export interface LoadOptions {
  ledger: Ledger;
  /** The servers clients may talk to now. */
  targets: () => string[];
  rand: () => number;
  clients?: number;
  /** Items every client writes to (with their own content each time). */
  shared?: number;
  timeoutMs?: number;
}

/** Clients writing and reading until `stop()`; a write or read without answer is counted, never retried. */
export interface Load {
  startedAt: number;
  /** When the clients were held back (pause to resume). */
  held: Array<[number, number]>;
  /** Writes every shared item through `server` until each is acknowledged (a client back at its restarted server), for up to 10 s. */
  writeShared(server: string): Promise<void>;
  /** Holds the clients back; resolves once none has a request out. */
  pause(): Promise<void>;
  resume(): void;
  stop(): Promise<void>;
}

export function startLoad(options: LoadOptions): Load {
  const { ledger, rand } = options;
  const shared = Array.from({ length: options.shared ?? 6 }, (_, i) => `shared-${i}.txt`);
  const written: string[] = [];
  const timeoutMs = options.timeoutMs ?? 6000;
  let running = true;
  const startedAt = Date.now();
  let gate: { closed: Promise<void>; open: () => void } | undefined;
  let busy = 0;
  const clients = Array.from({ length: options.clients ?? 4 }, async (_, client) => {
    for (let i = 0; running; i++) {
      if (gate) {
        await gate.closed;
        continue;
      }
      busy++;
      await oneRequest(client, i).finally(() => busy--);
    }
  });
  async function oneRequest(client: number, i: number): Promise<void> {
    const targets = options.targets();
    if (targets.length === 0) {
      await delay(50);
      return;
    }
    const server = targets[Math.floor(rand() * targets.length)]!;
    if (written.length === 0 || rand() < 0.55) {
      const item = rand() < 0.6 ? shared[Math.floor(rand() * shared.length)]! : `c${client}-${i}.txt`;
      if (!written.includes(item)) written.push(item);
      const content = ledger.contentFor(item, `c${client}`);
      const acknowledged = await ledger.write(server, item, content, () => putItem(server, item, content, undefined, { timeoutMs }));
      if (!acknowledged) await delay(20);
    } else {
      const item = written[Math.floor(rand() * written.length)]!;
      const sent = Date.now();
      try {
        ledger.checkRead(server, item, await getItem(server, item, { timeoutMs }), sent);
      } catch (err) {
        ledger.countError(`GET ${errorLabel(err)}`);
        await delay(20);
      }
    }
  }
  let pausedAt = 0;
  const load: Load = {
    startedAt,
    held: [],
    async writeShared(server) {
      const deadline = Date.now() + 10_000;
      let pending = [...shared];
      while (pending.length > 0 && Date.now() < deadline) {
        const left: string[] = [];
        for (const item of pending) {
          const content = ledger.contentFor(item, 'returning');
          const put = () => putItem(server, item, content, undefined, { timeoutMs });
          if (!(await ledger.write(server, item, content, put))) left.push(item);
        }
        pending = left;
        if (pending.length > 0) await delay(50);
      }
    },
    async pause() {
      if (!gate) {
        pausedAt = Date.now();
        let open = () => undefined as void;
        const closed = new Promise<void>((resolve) => (open = resolve));
        gate = { closed, open };
      }
      await waitFor(() => busy === 0, { timeoutMs: 60_000, intervalMs: 10, what: 'the clients to finish their requests' });
    },
    resume() {
      const held = gate;
      if (!held) return;
      gate = undefined;
      load.held.push([pausedAt, Date.now()]);
      held.open();
    },
    async stop() {
      running = false;
      load.resume();
      await Promise.all(clients);
    },
  };
  return load;
}
