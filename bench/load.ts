/**
 * Load generators for the benchmarks. JSON: one connection per request, as
 * the original protocol does, `concurrency` requests in flight. HTTP:
 * keep-alive connections, one request in flight on each. Both count answered
 * requests and time each one; no request is started after the deadline.
 */
import { createConnection } from 'node:net';
import { Agent, request as httpRequest } from 'node:http';
import { JsonObjectFramer } from '../src/protocol/framing.js';
import { parseAddress } from '../src/protocol/address.js';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  /** Bytes of request and reply bodies moved per second. */
  bytesPerSecond: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The middle of the finite values (NaN when there are none). */
export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!;
}

/** A figure as the tables print it. */
export function format(value: number): string {
  return !Number.isFinite(value) ? '-' : value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toFixed(3);
}

function summarize(latencies: number[], errors: number, seconds: number, bytes: number): LoadResult {
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
    bytesPerSecond: bytes / seconds,
  };
}

/** One JSON request on a fresh connection; resolves with the reply's size. */
export function jsonRequest(target: string, payload: string | Buffer, timeoutMs = 30_000): Promise<number> {
  const { host, port } = parseAddress(target);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    socket.setNoDelay(true);
    const framer = new JsonObjectFramer(1 << 30);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk: Buffer) => {
      try {
        const frame = framer.push(chunk);
        if (!frame) return;
        clearTimeout(timer);
        socket.destroy();
        resolve(frame.frame.length);
      } catch (err) {
        clearTimeout(timer);
        socket.destroy();
        reject(err as Error);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      reject(new Error('closed without a reply'));
    });
  });
}

export interface LoadOptions {
  concurrency: number;
  /** Stop after this long, or after `count` requests, whichever first. */
  seconds: number;
  count?: number;
}

async function drive(options: LoadOptions, one: (i: number) => Promise<number>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const limit = options.count ?? Infinity;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline && next < limit) {
        const i = next++;
        const t0 = performance.now();
        try {
          bytes += await one(i);
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  return summarize(latencies, errors, (performance.now() - started) / 1000, bytes);
}

/** JSON protocol load: `payload(i)` is the i-th request. */
export function jsonLoad(target: string, payload: (i: number) => string, options: LoadOptions): Promise<LoadResult> {
  return drive(options, async (i) => {
    const body = payload(i);
    return body.length + (await jsonRequest(target, body));
  });
}

/** HTTP/1.1 keep-alive load: GET `path` over `concurrency` persistent connections. */
export async function httpLoad(target: string, path: string, options: LoadOptions): Promise<LoadResult> {
  const { host, port } = parseAddress(target);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  try {
    return await drive(
      options,
      () =>
        new Promise<number>((resolve, reject) => {
          httpRequest({ host, port, path, agent }, (res) => {
            let size = 0;
            res.on('data', (chunk: Buffer) => (size += chunk.length));
            res.on('end', () => (res.statusCode === 200 ? resolve(size) : reject(new Error(`HTTP ${res.statusCode}`))));
          })
            .on('error', reject)
            .end();
        }),
    );
  } finally {
    agent.destroy();
  }
}

/** The small item every GET figure reads (100 bytes, stored as `small.txt`), and its JSON GET. */
export const SMALL = 'x'.repeat(100);
export const GET_SMALL = (): string => '{"type": "GET", "data": "small.txt"}';

/** A PUT of `bytes` of content, each call to the next of 500 names. */
export function putMessage(prefix: string, bytes = 1024): () => string {
  let n = 0;
  const body = 'p'.repeat(bytes);
  return () => `{"type": "PUT", "data": {"item": "${prefix}-${n++ % 500}.txt", "content": "${body}"}}`;
}

/**
 * Seconds of uncounted load for a fresh ring before it is timed. A relay sees
 * its code called once per batch, so V8 takes long to compile all of it: PUT
 * 1 KiB through a fresh ring of 3 at 32 clients, in rounds of 2 s, went from
 * 4,500–5,000/s in its second to fourth rounds to 5,400–6,700/s from the
 * eighth on (CPU per PUT 240 → 170–210 µs). What the figures are about is a
 * server that has run a while.
 */
export const RING_WARM_SECONDS = 10;

/** Uncounted load, so that what is timed next runs compiled code (one server needs a second; a ring, RING_WARM_SECONDS). */
export async function warm(address: string, message: () => string, concurrency: number, seconds: number): Promise<void> {
  await jsonLoad(address, message, { concurrency, seconds });
}
