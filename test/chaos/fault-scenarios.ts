/**
 * Fault scenarios over real server processes under client load, each ending
 * with the ring settled and every item read from every server: clock skew
 * with restarts, a disk that fills up and is freed, a link that drops one
 * direction, a server out of file descriptors. Scenarios that need a private
 * mount or network namespace run in a child process inside it (see faults.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { getItem } from '../../src/client/client.js';
import { parseAddress } from '../../src/protocol/address.js';
import { waitFor } from '../../src/util/wait.js';
import { clockAhead, faketimeMissing } from '../faketime.js';
import { createNetwork, netnsUnavailable, type NetnsHost } from '../netns.js';
import { FaultRing, startLoad, type Load } from './fault-ring.js';
import { random } from './chaos.js';
import { Ledger } from './ledger.js';

export interface ScenarioOptions {
  seconds: number;
  seed: number;
  say: (line: string) => void;
  /** A directory to keep every server's log in (SCENARIO-PORT-N.log). */
  logs?: string | undefined;
}

export interface ScenarioResult {
  name: string;
  skipped?: string;
  /** Why the scenario could not be carried out (a ring that never formed, say). */
  failed?: string;
  attempted: number;
  acknowledged: number;
  /** Acknowledged writes lost: must be none. */
  lost: string[];
  /** Wrong answers: must be none. */
  wrong: string[];
  /** Failed requests by code (GET ones prefixed). */
  errors: Record<string, number>;
  crashes: string[];
  /** Members cut out or declared dead that never went down; undefined where servers are stopped on purpose. */
  falseRemovals: number | undefined;
  staleReads: number;
  /** The longest time, in ms, the clients' writes went without an acknowledgement while they ran. */
  longestStallMs: number;
  notes: string[];
}

export interface Scenario {
  name: string;
  what: string;
  /** Why it cannot run here, or false. */
  unavailable(): string | false;
  /** Set where the scenario runs in a child process: its wrap, and what it needs set up and torn down around it. */
  inside?: {
    prepare(): { wrap: string[]; env: Record<string, string>; destroy: () => void };
  };
  run(options: ScenarioOptions): Promise<ScenarioResult>;
}

const COMMON = ['--heartbeat', '0.3', '--suspicion-timeout', '1.5', '--sync-interval', '0.5', '--round-timeout', '5'];

function commandMissing(command: string, args = ['--version']): string | false {
  return spawnSync(command, args).status === 0 ? false : `needs ${command}`;
}

function needsRoot(what: string): string | false {
  return process.platform === 'linux' && process.getuid?.() === 0 ? false : `needs root on Linux for ${what}`;
}

/** Data directories of the scenarios running now: removed at the end, or by an interrupted run's handler. */
export const dataDirs = new Set<string>();

async function dataDir(dirs: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'coop-faults-'));
  dirs.push(dir);
  dataDirs.add(dir);
  return dir;
}

/** Stops the load, lets the ring settle, and reads every item from every server. */
async function conclude(
  name: string,
  ring: FaultRing,
  ledger: Ledger,
  load: Load,
  notes: string[],
  removalsMeasured: boolean,
): Promise<ScenarioResult> {
  await load.stop();
  const longestStallMs = ledger.longestStall(load.startedAt, Date.now(), load.held);
  for (const member of ring.members) {
    if (!member.server) {
      notes.push(`${member.label} restarted after it exited`);
      await ring.start(member);
    }
  }
  const problem = await ring.settle();
  if (problem) notes.push(`not settled: ${problem}`);
  const lost = await ledger.checkSettled(ring.up(), (server, item) => getItem(server, item, { timeoutMs: 5000 }));
  return {
    name,
    attempted: ledger.attempted,
    acknowledged: ledger.acknowledged,
    lost,
    wrong: ledger.wrongAnswers,
    errors: ledger.errors,
    crashes: ring.crashes,
    falseRemovals: removalsMeasured ? ring.falseRemovals() : undefined,
    staleReads: ledger.staleReads,
    longestStallMs,
    notes,
  };
}

async function withRing(
  name: string,
  options: ScenarioOptions,
  body: (ring: FaultRing, ledger: Ledger, rand: () => number, dirs: string[], notes: string[]) => Promise<ScenarioResult>,
  common = COMMON,
): Promise<ScenarioResult> {
  const ring = new FaultRing(common);
  const dirs: string[] = [];
  try {
    return await body(ring, new Ledger(), random(options.seed), dirs, []);
  } finally {
    await ring.destroy();
    if (options.logs) await ring.saveLogs(options.logs, name);
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    dirs.forEach((dir) => dataDirs.delete(dir));
  }
}

const clock: Scenario = {
  name: 'clock',
  what: 'one server an hour ahead, one 10 s ahead (libfaketime), servers restarted (SIGTERM, kill -9) under writes to shared items, each written at once through a restarted server',
  unavailable: () => faketimeMissing() ?? false,
  run: (options) =>
    withRing('clock', options, async (ring, ledger, rand, dirs, notes) => {
      const clocks = [{}, clockAhead('+1h'), clockAhead('+10s'), {}];
      const labels = ['normal', '+1h', '+10s', 'normal'];
      for (const [i, env] of clocks.entries()) {
        const member = await ring.add({ listen: '127.0.0.1:0', data: await dataDir(dirs), env });
        member.label = `${member.address} (${labels[i]})`;
      }
      await ring.formed();
      options.say(`clock: ${ring.members.map((m) => m.label).join(', ')}`);
      const load = startLoad({ ledger, targets: () => ring.up(), rand });
      const deadline = Date.now() + options.seconds * 1000;
      // At least four restarts: by SIGTERM and by kill -9, each under load and in a quiet moment.
      for (let restarts = 0; restarts < 4 || Date.now() < deadline; restarts++) {
        await delay(Math.max(1000, (options.seconds * 1000) / 6) * (0.5 + rand()));
        const signal = restarts % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
        // In a quiet moment no write of the others passes a server with a normal clock, back with its clock behind
        // the versions it holds, before a client writes every shared item there.
        const quiet = restarts % 4 >= 2;
        const choices = quiet ? [ring.members[0]!, ring.members[3]!] : ring.members;
        const member = choices[Math.floor(rand() * choices.length)]!;
        if (quiet) await load.pause();
        await ring.stop(member, signal);
        await delay(500 + rand() * 1000); // writes go on while it is down (unless quiet)
        await ring.start(member);
        await load.writeShared(member.address);
        load.resume();
        notes.push(`${signal} ${member.label}${quiet ? ' (quiet)' : ''}`);
        options.say(`clock: ${signal} and restart of ${member.label}${quiet ? ', no other writes until it took one' : ''}`);
      }
      return conclude('clock', ring, ledger, load, notes, false);
    }),
};

function idleClients(address: string, count: number): Socket[] {
  const { host, port } = parseAddress(address);
  return Array.from({ length: count }, () => connect(port, host).on('error', () => undefined));
}

const descriptors: Scenario = {
  name: 'descriptors',
  what: 'one server under prlimit --nofile=64 with 100 idle clients held open, writes going on, then the clients gone',
  unavailable: () => commandMissing('prlimit'),
  run: (options) =>
    withRing(
      'descriptors',
      options,
      async (ring, ledger, rand, dirs, notes) => {
        await ring.add({ listen: '127.0.0.1:0', data: await dataDir(dirs) });
        const low = await ring.add({ listen: '127.0.0.1:0', data: await dataDir(dirs), wrap: ['prlimit', '--nofile=64:64'] });
        low.label = `${low.address} (64 descriptors)`;
        await ring.add({ listen: '127.0.0.1:0', data: await dataDir(dirs) });
        await ring.formed();
        const load = startLoad({ ledger, targets: () => ring.up(), rand });
        const quarter = (options.seconds * 1000) / 4;
        await delay(quarter);
        const idle = idleClients(low.address, 100);
        try {
          const emfile = await waitFor(() => low.server?.output().includes('EMFILE'), { timeoutMs: Math.max(2 * quarter, 20_000) }).catch(
            () => false,
          );
          notes.push(emfile ? `${low.label} ran out of descriptors (EMFILE)` : `${low.label} never reported EMFILE`);
          options.say(`descriptors: ${notes.at(-1)!}`);
          await delay(2 * quarter);
        } finally {
          idle.forEach((socket) => socket.destroy());
        }
        await delay(quarter);
        return conclude('descriptors', ring, ledger, load, notes, true);
      },
      [...COMMON, '--idle-timeout', '300'],
    ),
};

const disk: Scenario = {
  name: 'disk',
  what: "one server's data on an 8 MiB tmpfs, filled up under writes, then freed",
  unavailable: () => needsRoot('a tmpfs in a private mount namespace') || commandMissing('unshare'),
  inside: {
    prepare: () => ({ wrap: ['unshare', '--mount', '--propagation', 'private'], env: {}, destroy: () => undefined }),
  },
  run: (options) =>
    withRing('disk', options, async (ring, ledger, rand, dirs, notes) => {
      // This process runs in a mount namespace of its own: the tmpfs goes with it, whatever happens.
      const small = await dataDir(dirs);
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', small], { encoding: 'utf8' });
      if (mounted.status !== 0) throw new Error(`mount tmpfs on ${small}: ${mounted.stderr.trim()}`);
      try {
        await ring.add({ listen: '127.0.0.1:0', data: await dataDir(dirs) });
        // The default reserve (--min-free 64 MiB) is more than this whole disk: a reserve to its scale.
        const full = await ring.add({ listen: '127.0.0.1:0', data: join(small, 'data'), env: { WEBSERVER_MIN_FREE: '1MiB' } });
        full.label = `${full.address} (8 MiB tmpfs)`;
        await ring.add({ listen: '127.0.0.1:0', data: await dataDir(dirs) });
        await ring.formed();
        const load = startLoad({ ledger, targets: () => ring.up(), rand });
        const quarter = (options.seconds * 1000) / 4;
        await delay(quarter);
        const filler = join(small, 'filler');
        notes.push(`filled ${full.label} (${await fill(filler)} MiB)`);
        options.say(`disk: ${notes.at(-1)!}`);
        await delay(2 * quarter);
        await rm(filler, { force: true });
        notes.push(full.server ? 'freed the disk' : `freed the disk; ${full.label} had exited`);
        options.say(`disk: ${notes.at(-1)!}`);
        await delay(quarter);
        return await conclude('disk', ring, ledger, load, notes, true);
      } finally {
        await ring.destroy();
        spawnSync('umount', ['-l', small]);
      }
    }),
};

/** Writes zeros to `path` until the file system is full; returns the MiB written. */
async function fill(path: string): Promise<number> {
  const file = await open(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) written += (await file.write(chunk)).bytesWritten;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await file.close().catch(() => undefined);
  }
  return Math.round(written / 2 ** 20);
}

/** The network a child process of the one-way scenario runs in: set up by the parent. */
interface OneWayNetwork {
  router: string;
  hosts: NetnsHost[];
}

const oneway: Scenario = {
  name: 'oneway',
  what: 'four servers in network namespaces; every packet from one to its successor dropped (nft, established connections too), then healed',
  unavailable: () => netnsUnavailable() || commandMissing('nft'),
  inside: {
    prepare() {
      // Four servers and a host for the clients, on a subnet no test uses.
      const network = createNetwork({ subnet: '10.79', count: 5 });
      const client = network.hosts.at(-1)!;
      return {
        wrap: client.wrap,
        env: { COOP_FAULTS_NETWORK: JSON.stringify({ router: network.router, hosts: network.hosts.slice(0, -1) } satisfies OneWayNetwork) },
        destroy: () => network.destroy(),
      };
    },
  },
  run: (options) =>
    withRing('oneway', options, async (ring, ledger, rand, dirs, notes) => {
      const network = JSON.parse(process.env.COOP_FAULTS_NETWORK ?? 'null') as OneWayNetwork | null;
      if (!network) throw new Error('the one-way scenario runs inside the network its parent made (COOP_FAULTS_NETWORK)');
      for (const host of network.hosts) await ring.add({ listen: `${host.ip}:4043`, data: await dataDir(dirs), wrap: host.wrap });
      const view = await ring.formed();
      const from = ring.members[0]!.address;
      const to = view[(view.indexOf(from) + 1) % view.length]!; // its successor
      const load = startLoad({ ledger, targets: () => ring.up(), rand });
      const quarter = (options.seconds * 1000) / 4;
      await delay(quarter);
      const nft = (...args: string[]) => {
        const run = spawnSync('ip', ['netns', 'exec', network.router, 'nft', ...args], { encoding: 'utf8' });
        if (run.status !== 0) throw new Error(`nft ${args.join(' ')}: ${run.stderr.trim()}`);
      };
      nft('add', 'table', 'inet', 'coopfaults');
      nft('add', 'chain', 'inet', 'coopfaults', 'forward', '{ type filter hook forward priority 0 ; }');
      nft(
        'add',
        'rule',
        'inet',
        'coopfaults',
        'forward',
        'ip',
        'saddr',
        parseAddress(from).host,
        'ip',
        'daddr',
        parseAddress(to).host,
        'drop',
      );
      notes.push(`dropped every packet from ${from} to ${to} for ${Math.round((2 * quarter) / 1000)} s`);
      options.say(`oneway: ${notes.at(-1)!}`);
      try {
        await delay(2 * quarter);
      } finally {
        nft('delete', 'table', 'inet', 'coopfaults');
      }
      options.say('oneway: healed');
      await delay(quarter);
      return conclude('oneway', ring, ledger, load, notes, true);
    }),
};

export const SCENARIOS: Scenario[] = [clock, disk, oneway, descriptors];

export function skippedResult(name: string, reason: string): ScenarioResult {
  return {
    name,
    skipped: reason,
    attempted: 0,
    acknowledged: 0,
    lost: [],
    wrong: [],
    errors: {},
    crashes: [],
    falseRemovals: undefined,
    staleReads: 0,
    longestStallMs: 0,
    notes: [],
  };
}
