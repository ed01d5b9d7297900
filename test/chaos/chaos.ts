/**
 * Chaos: a ring of real server processes under mixed client load, while
 * servers are killed (-9) and restarted, and paused (SIGSTOP) and resumed, at
 * random, for a bounded time. Afterwards: one ring of the live servers, every
 * acknowledged PUT readable from every one of them, zero wrong answers.
 * `npm run chaos -- --seconds 60` runs it at length; a short run is part of the tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { getDigest, getItem, getRing, putItem } from '../../src/client/client.js';
import { parseAddress } from '../../src/protocol/address.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { startServer, type ServerProcess } from '../processes.js';
import { Ledger } from './ledger.js';

export interface ChaosOptions {
  seconds: number;
  servers?: number;
  /** Go on past `seconds` (up to three times as long) until this many faults were made: a slow machine makes fewer in the time. */
  minFaults?: number;
  seed?: number;
  say?: (line: string) => void;
}

export interface ChaosReport {
  actions: string[];
  acknowledged: number;
  reads: number;
  wrongAnswers: string[];
  failedRequests: number;
  /** ms from each kill -9 until no live server's view held the killed one. */
  detectionMs: number[];
  /** ms from the end of chaos until one ring of every server. */
  ringConvergenceMs: number;
  /** ms from one ring until identical data everywhere. */
  dataConvergenceMs: number;
  unreadable: string[];
}

export function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!;
}

interface Slot {
  dir: string;
  address: string;
  server: ServerProcess | undefined;
  paused: boolean;
}

const SERVER_ARGS = ['--heartbeat', '0.3', '--suspicion-timeout', '1', '--sync-interval', '0.5', '--round-timeout', '5'];

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const say = options.say ?? (() => undefined);
  const rand = random(options.seed ?? Date.now());
  const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)]!;
  const slots: Slot[] = [];
  const ledger = new Ledger();
  const report: ChaosReport = {
    actions: [],
    acknowledged: 0,
    reads: 0,
    wrongAnswers: ledger.wrongAnswers,
    failedRequests: 0,
    detectionMs: [],
    ringConvergenceMs: 0,
    dataConvergenceMs: 0,
    unreadable: [],
  };
  const act = (line: string): void => {
    report.actions.push(line);
    say(line);
  };
  const at = (address: string) => ['-i', parseAddress(address).host, '-p', String(parseAddress(address).port)];
  const up = () => slots.filter((slot) => slot.server && !slot.paused);

  try {
    for (let i = 0; i < (options.servers ?? 5); i++) {
      const dir = await mkdtemp(join(tmpdir(), 'coop-chaos-'));
      const joinArgs = slots.length > 0 ? at(slots.at(-1)!.address) : [];
      const server = await startServer(['--listen', '127.0.0.1:0', '--data', dir, ...SERVER_ARGS, ...joinArgs]);
      slots.push({ dir, address: server.address, server, paused: false });
      await waitFor(async () => (await getRing(slots[0]!.address)).length === slots.length, { what: 'the ring to grow' });
    }
    act(`started ${slots.length} servers: ${slots.map((slot) => slot.address).join(' ')}`);

    // Load: unique names, each write's content its own, so that any wrong answer shows.
    const acked: string[] = [];
    let loading = true;
    const clients = Array.from({ length: 4 }, async (_, client) => {
      for (let i = 0; loading; i++) {
        const target = up();
        if (target.length === 0) {
          await delay(20);
          continue;
        }
        const server = pick(target).address;
        try {
          if (acked.length === 0 || rand() < 0.5) {
            const name = `c${client}-${i}.txt`;
            const content = ledger.contentFor(name, `c${client}`);
            const put = () => putItem(server, name, content, undefined, { timeoutMs: 6000 });
            if (await ledger.write(server, name, content, put)) {
              acked.push(name);
            } else {
              report.failedRequests++; // no acknowledgement: the ledger keeps how it ended
              await delay(20);
            }
          } else {
            const name = pick(acked);
            const sent = Date.now();
            ledger.checkRead(server, name, await getItem(server, name, { timeoutMs: 6000 }), sent);
          }
        } catch {
          report.failedRequests++; // refused, paused or timed out: no answer, so no wrong answer
          await delay(20);
        }
      }
    });

    const deadline = Date.now() + options.seconds * 1000;
    const lastChance = Date.now() + 3 * options.seconds * 1000;
    const faultsFrom = report.actions.length;
    const moreFaults = () => report.actions.length - faultsFrom < (options.minFaults ?? 0) && Date.now() < lastChance;
    while (Date.now() < deadline || moreFaults()) {
      await delay(700 + rand() * 800);
      const running = up();
      const slot = pick(slots);
      if (!slot.server) {
        const via = pick(running).address;
        slot.server = await startServer(['--listen', slot.address, '--data', slot.dir, ...SERVER_ARGS, ...at(via)]);
        act(`restarted ${slot.address} (joining ${via})`);
      } else if (slot.paused) {
        slot.server.process.kill('SIGCONT');
        slot.paused = false;
        act(`SIGCONT ${slot.address}`);
      } else if (running.length > 3) {
        if (rand() < 0.5) {
          const killed = slot.server;
          slot.server = undefined;
          await killed.kill('SIGKILL');
          act(`kill -9 ${slot.address}`);
          const started = Date.now();
          const others = () => up().map((other) => other.address);
          void waitFor(
            async () => {
              const views = await Promise.all(others().map((address) => getRing(address, { timeoutMs: 1000 }).catch(() => [slot.address])));
              return views.every((view) => !view.includes(slot.address));
            },
            { timeoutMs: 30_000 },
          ).then(
            () => report.detectionMs.push(Date.now() - started),
            () => undefined,
          );
        } else {
          slot.server.process.kill('SIGSTOP');
          slot.paused = true;
          act(`SIGSTOP ${slot.address}`);
        }
      }
    }

    // Calm: everyone back, then one ring and one set of data.
    for (const slot of slots) {
      if (slot.paused) {
        slot.server!.process.kill('SIGCONT');
        slot.paused = false;
        act(`SIGCONT ${slot.address}`);
      }
    }
    for (const slot of slots) {
      if (!slot.server) {
        const via = pick(up()).address;
        slot.server = await startServer(['--listen', slot.address, '--data', slot.dir, ...SERVER_ARGS, ...at(via)]);
        act(`restarted ${slot.address} (joining ${via})`);
      }
    }
    loading = false;
    await Promise.all(clients);
    report.acknowledged = ledger.acknowledged;
    report.reads = ledger.reads;
    const calm = Date.now();
    const all = slots.map((slot) => slot.address);
    // One ring: every view lists every server, in the same circular order (a restarted server may sit elsewhere now).
    const oneRing = async (): Promise<boolean> => {
      const views = await Promise.all(all.map((address) => getRing(address)));
      return views.every((view) => view.length === all.length && all.every((a) => view.includes(a)) && sameCycle(view, views[0]!));
    };
    await waitFor(oneRing, {
      timeoutMs: 30_000,
      what: 'one ring of every server',
    }).catch(async (err: unknown) => {
      for (const address of all) say(`view of ${address}: ${(await getRing(address).catch((e: Error) => [e.message])).join(' ')}`);
      throw err;
    });
    report.ringConvergenceMs = Date.now() - calm;
    const ringAt = Date.now();
    await waitFor(
      async () => {
        const digests = await Promise.all(all.map((address) => getDigest(address)));
        return digests.every((digest) => digest.join() === digests[0]!.join());
      },
      { timeoutMs: 30_000, what: 'identical data everywhere' },
    );
    report.dataConvergenceMs = Date.now() - ringAt;
    report.unreadable = await ledger.checkSettled(all, (address, name) => getItem(address, name));
    say(
      `chaos: ${report.actions.length} actions, ${report.acknowledged} PUTs acknowledged, ${report.reads} reads, ` +
        `${report.wrongAnswers.length} wrong answers, ${report.failedRequests} requests without answer, ` +
        `${report.unreadable.length} acknowledged items unreadable afterwards`,
    );
    say(
      `kill -9 detected by every view in ${report.detectionMs.join(', ') || '-'} ms (median ${median(report.detectionMs)}); ` +
        `one ring ${report.ringConvergenceMs} ms after the chaos ended, identical data ${report.dataConvergenceMs} ms later`,
    );
    return report;
  } finally {
    await Promise.all(slots.map((slot) => slot.server?.process.kill('SIGCONT') && slot.server.kill('SIGKILL')));
    await Promise.all(slots.map((slot) => rm(slot.dir, { recursive: true, force: true })));
  }
}

const invoked = process.argv[1]?.endsWith('chaos.js');
if (invoked) {
  const at = process.argv.indexOf('--seconds');
  const seconds = at === -1 ? 60 : Number(process.argv[at + 1]);
  const seedAt = process.argv.indexOf('--seed');
  const seed = seedAt === -1 ? Date.now() : Number(process.argv[seedAt + 1]);
  console.log(`chaos for ${seconds} s, seed ${seed}`);
  runChaos({ seconds, seed, say: (line) => console.log(line) }).then(
    (report) => {
      const ok = report.wrongAnswers.length === 0 && report.unreadable.length === 0;
      console.log(ok ? 'chaos: PASS' : `chaos: FAIL\n${[...report.wrongAnswers, ...report.unreadable].slice(0, 20).join('\n')}`);
      process.exit(ok ? 0 : 1);
    },
    (err: unknown) => {
      console.error(`chaos: FAIL: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
