/**
 * `--replicas` (`npm run bench -- --only replicas`): rings of 3, 9 and 27
 * server processes, each item on 3 of them against every item on every
 * server: PUT 1 KiB and GET (8 clients, at servers in turn), the p50 of one
 * PUT at a time, and how many items a ring of 9 holds against one server's.
 */
import { GET_SMALL, SMALL, format, jsonLoad, jsonRequest, median, putMessage, warm } from './load.js';
import { ring, type Proc } from './servers.js';

export interface ReplicasRow {
  size: number;
  /** undefined: every server holds every item. */
  replicas: number | undefined;
  putRps: number;
  getRps: number;
  putP50ms: number;
}

export interface ReplicasFigures {
  rows: ReplicasRow[];
  /** A ring of 9 with R = 3: the items it holds (copies / 3), and the most any one server holds. */
  capacity: { items: number; mostHeld: number };
}

const SECONDS = 2;
const CLIENTS = 8;

/** Load spread over the ring's servers: each client sends to its own server. */
async function spread(procs: Proc[], message: () => string): Promise<{ rps: number }> {
  const results = await Promise.all(
    procs
      .slice(0, CLIENTS)
      .map((proc) =>
        jsonLoad(proc.address, message, { concurrency: Math.ceil(CLIENTS / Math.min(CLIENTS, procs.length)), seconds: SECONDS }),
      ),
  );
  return { rps: results.reduce((sum, result) => sum + result.rps, 0) };
}

async function itemsHeld(proc: Proc): Promise<number> {
  const text = await (await fetch(`http://${proc.address}/metrics`)).text();
  return Number(/^coop_items (\d+)$/m.exec(text)?.[1] ?? NaN);
}

export async function replicasFigures(say: (line: string) => void, sizes = [3, 9, 27]): Promise<ReplicasFigures> {
  const rows: ReplicasRow[] = [];
  let capacity = { items: 0, mostHeld: 0 };
  for (const size of sizes) {
    for (const replicas of [undefined, 3]) {
      const args = ['--memory', '--heartbeat', '2', ...(replicas === undefined ? [] : ['--replicas', String(replicas)])];
      const procs = await ring(size, args);
      try {
        const put = putMessage(`r${size}`);
        await warm(procs[0]!.address, put, CLIENTS, 3);
        await jsonRequest(procs[0]!.address, `{"type": "PUT", "data": {"item": "small.txt", "content": "${SMALL}"}}`);
        const putRps = (await spread(procs, put)).rps;
        const getRps = (await spread(procs, GET_SMALL)).rps;
        const single = await jsonLoad(procs.at(-1)!.address, putMessage(`one${size}`), { concurrency: 1, seconds: SECONDS });
        const row = { size, replicas, putRps, getRps, putP50ms: single.p50ms };
        rows.push(row);
        say(
          `  ring of ${size}, ${replicas === undefined ? 'every server' : `R = ${replicas}`}: PUT ${format(putRps)}/s, GET ${format(getRps)}/s, one PUT p50 ${format(single.p50ms)} ms`,
        );
        if (size === 9 && replicas !== undefined) {
          const items = 900;
          const write = putMessage('capacity');
          for (let i = 0; i < items; i++) await jsonRequest(procs[i % size]!.address, write());
          const held = await Promise.all(procs.map(itemsHeld));
          // Every item written so far (the PUT figures' too) has 3 copies: the ring holds a third of the copies.
          capacity = { items: held.reduce((sum, count) => sum + count, 0) / 3, mostHeld: Math.max(...held) };
          say(`  ring of 9, R = 3: ${capacity.items} items; copies held per server ${held.join(', ')} (median ${median(held)})`);
        }
      } finally {
        await Promise.all(procs.map((proc) => proc.stop()));
      }
    }
  }
  return { rows, capacity };
}
