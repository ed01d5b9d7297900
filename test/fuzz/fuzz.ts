/**
 * Property-based fuzzing of a live ring (fast-check): two webserver
 * processes with a cluster secret and a write token take generated and
 * mutated messages on raw connections: JSON values of every shape, valid
 * messages of every type with fields replaced, removed or added, their bytes
 * truncated, flipped or spliced, binary noise, deep nesting, huge numbers,
 * and HTTP-looking requests. After every one, the server must have answered
 * or closed, and a correct GET must still get the correct answer. At the end
 * the ring, the stored data (digests) and the memory of each server are
 * compared with before.
 *
 * `npm run fuzz -- --seconds 120 [--seed N]`; the test suite runs it briefly.
 */
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { getDigest, getItem, getRing, putItem } from '../../src/client/client.js';
import { killAll, startServer } from '../processes.js';
import { rawExchange } from '../helpers.js';
import { waitFor } from '../../src/util/wait.js';
import type { Address } from '../../src/protocol/address.js';
import { runFromCommandLine, type FuzzOptions } from './command.js';

export interface FuzzReport {
  runs: number;
  /** Replies seen, by error code, HTTP status or "other". */
  outcomes: Record<string, number>;
  /** Property failures: the input, and what went wrong. */
  failure: string | undefined;
  ringUnchanged: boolean;
  dataUnchanged: boolean;
  /** Resident memory of each server before and after, MiB. */
  rssMiB: Array<{ before: number; after: number }>;
}

/** How much a server's resident memory may grow over a run: bounded, whatever the inputs. */
export const MEMORY_GROWTH_MIB = 64;
const SECRET = 'fuzz-secret';
const TOKEN = 'fuzz-write-token';
const CANARY = { item: 'canary.txt', content: 'the canary sings' };

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Valid messages of every type: the starting points of mutation. */
function templates(a: Address, b: Address): Array<Record<string, unknown>> {
  const version = { clock: Date.now(), server: a };
  return [
    { type: 'GET', data: CANARY.item },
    { type: 'GET', data: CANARY.item, part: { offset: 0, length: 4 }, local: true },
    { type: 'PUT', data: { item: CANARY.item, content: 'overwritten!' } },
    { type: 'PUT', data: { item: 'new.bin', content: 'AAAA', encoding: 'base64', part: { upload: 'u1', offset: 0, size: 3 } } },
    { type: 'DELETE', data: CANARY.item },
    { type: 'RING' },
    { type: 'DIGEST' },
    { type: 'LIST', data: [0, 1, 255] },
    { type: 'INSERT', data: '127.0.0.1:9', from: '127.0.0.1:9' },
    { creator: a, type: 'UPDATE', data: [a], id: 'f1', members: [{ address: b, incarnation: 9, status: 'dead', placed: 1 }] },
    { type: 'CHECK', from: a },
    { creator: a, type: 'FORWARD_PUT', data: { item: CANARY.item, content: 'forged', version }, id: 'f2' },
    { creator: a, type: 'FORWARD_GET', data: { item: CANARY.item, content: '404 NOT FOUND' }, id: 'f3' },
    { type: 'PING', from: a, members: [] },
    { type: 'PING_REQ', data: b, from: a },
    { type: 'STREAM', from: a },
  ];
}

function hostileInputs(a: Address, b: Address): fc.Arbitrary<Buffer> {
  const valid = fc.constantFrom(...templates(a, b));
  const text = (arbitrary: fc.Arbitrary<string>): fc.Arbitrary<Buffer> => arbitrary.map((s) => Buffer.from(s, 'utf8'));
  const fieldMutated = fc
    .tuple(valid, fc.nat(), fc.jsonValue({ maxDepth: 4 }), fc.constantFrom('replace', 'remove', 'add', 'nest'))
    .map(([message, pick, value, how]) => {
      const copy: Record<string, unknown> = structuredClone(message);
      const keys = Object.keys(copy);
      const key = keys[pick % keys.length]!;
      if (how === 'replace') copy[key] = value;
      else if (how === 'remove') delete copy[key];
      else if (how === 'add') copy[`x${pick % 7}`] = value;
      else if (typeof copy.data === 'object' && copy.data !== null)
        (copy.data as Record<string, unknown>)[Object.keys(copy.data)[0] ?? 'item'] = value;
      return JSON.stringify(copy);
    });
  const byteMutated = fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.constantFrom('truncate', 'flip', 'insert', 'repeat'), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })), {
        minLength: 1,
        maxLength: 4,
      }),
    )
    .map(([message, edits]) => {
      let bytes = Buffer.from(JSON.stringify(message), 'utf8');
      for (const [how, at, noise] of edits) {
        const i = at % Math.max(1, bytes.length);
        if (how === 'truncate') bytes = bytes.subarray(0, i);
        else if (how === 'flip') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([noise[0]! ^ 0xff]), bytes.subarray(i + 1)]);
        else if (how === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), noise, bytes.subarray(i)]);
        else bytes = Buffer.concat([bytes, bytes.subarray(i)]);
      }
      return bytes;
    });
  const nested = fc.tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom('[', '{"a": ')).map(([depth, open]) => {
    const close = open === '[' ? ']' : '}';
    return `{"type": "PUT", "data": ${open.repeat(depth)}1${close.repeat(depth)}}`;
  });
  const numbers = fc
    .tuple(
      fc.constantFrom('1e999999', '-1e999999', '9'.repeat(500), '-0', '0.0000000000000000000001', 'NaN', 'Infinity', '1E+400'),
      fc.constantFrom('data', 'part'),
    )
    .map(([n, where]) =>
      where === 'data' ? `{"type": "GET", "data": ${n}}` : `{"type": "GET", "data": "x", "part": {"offset": ${n}, "length": ${n}}}`,
    );
  const http = fc
    .tuple(
      fc.constantFrom('GET', 'PUT', 'DELETE', 'HEAD', 'POST', 'OPTIONS', 'CONNECT', 'TRACE', 'G\u0000T'),
      fc.oneof(
        fc.constantFrom('/canary.txt', '/%2e%2e/%2e%2e/etc/passwd', '/%C0%AE', '/%00', '//', '/_ring', '/metrics', '*'),
        fc.string(),
      ),
      fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 })), { maxLength: 5 }),
      fc.string({ maxLength: 100 }),
    )
    .map(
      ([method, path, headers, body]) =>
        `${method} ${path} HTTP/1.1\r\nHost: a\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`,
    );
  return fc.oneof(
    text(fc.json({ maxDepth: 5 })),
    text(fieldMutated),
    byteMutated,
    fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
    text(nested),
    text(numbers),
    text(http),
  );
}

function outcomeOf(text: string): string {
  const http = /^HTTP\/1\.1 (\d{3})/.exec(text);
  if (http) return `HTTP ${http[1]}`;
  try {
    const reply = JSON.parse(text) as { type?: string; data?: { code?: string } };
    return reply.type === 'ERROR' ? (reply.data?.code ?? 'ERROR') : (reply.type ?? 'other');
  } catch {
    return text === '' ? 'closed' : 'other';
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const say = options.say ?? (() => undefined);
  const common = ['--secret', SECRET, '--write-token', TOKEN, '--heartbeat', '0.5'];
  const first = await startServer(['--listen', '127.0.0.1:0', ...common]);
  try {
    const [host, port] = first.address.split(':') as [string, string];
    const second = await startServer(['--listen', '127.0.0.1:0', '-i', host, '-p', port, ...common]);
    const [a, b] = [first.address, second.address] as [Address, Address];
    await waitFor(async () => (await getRing(a)).length === 2 && (await getRing(b)).length === 2, { what: 'the ring of two' });
    await putItem(a, CANARY.item, CANARY.content, undefined, { token: TOKEN });
    await waitFor(async () => (await getItem(b, CANARY.item)).found || undefined, { what: 'the canary to reach both servers' });
    const ringBefore = [await getRing(a), await getRing(b)];
    const digestsBefore = [await getDigest(a), await getDigest(b)];
    const rssBefore = [await rssMiB(first.process.pid!), await rssMiB(second.process.pid!)];

    const outcomes: Record<string, number> = {};
    let runs = 0;
    let failure: string | undefined;
    try {
      await fc.assert(
        fc.asyncProperty(hostileInputs(a, b), fc.boolean(), async (bytes, toFirst) => {
          runs++;
          const target = toFirst ? a : b;
          const reply = await rawExchange(target, bytes, { halfClose: true, timeoutMs: 5000 });
          const outcome = outcomeOf(reply.text);
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          if (process.env.FUZZ_SHOW === outcome) say(`${outcome} for ${JSON.stringify(bytes.toString('latin1').slice(0, 300))}`);
          if (!reply.closed) throw new Error(`no answer and no close within 5 s (got ${JSON.stringify(reply.text.slice(0, 200))})`);
          const canary = await getItem(target, CANARY.item);
          if (!canary.found || canary.content !== CANARY.content) throw new Error(`the canary is ${JSON.stringify(canary)}`);
        }),
        { seed: options.seed, numRuns: 1_000_000_000, interruptAfterTimeLimit: options.seconds * 1000, markInterruptAsFailure: false },
      );
    } catch (err) {
      failure = (err as Error).message;
    }
    const ringAfter = [await getRing(a), await getRing(b)];
    const dataUnchanged = JSON.stringify([await getDigest(a), await getDigest(b)]) === JSON.stringify(digestsBefore);
    const rssAfter = [await rssMiB(first.process.pid!), await rssMiB(second.process.pid!)];
    const report: FuzzReport = {
      runs,
      outcomes,
      failure,
      ringUnchanged: JSON.stringify(ringAfter) === JSON.stringify(ringBefore),
      dataUnchanged,
      rssMiB: rssBefore.map((before, i) => ({ before: Math.round(before), after: Math.round(rssAfter[i]!) })),
    };
    say(`${runs} hostile inputs in ${options.seconds} s (seed ${options.seed})`);
    say(
      `outcomes: ${Object.entries(outcomes)
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    say(
      `ring unchanged: ${report.ringUnchanged}; data unchanged: ${dataUnchanged}; RSS MiB ${report.rssMiB.map((r) => `${r.before} -> ${r.after}`).join(', ')}`,
    );
    if (failure) say(`FAILURE: ${failure}`);
    return report;
  } finally {
    await killAll();
  }
}

if (process.argv[1]?.endsWith('fuzz.js')) {
  runFromCommandLine('fuzz', async (options) => {
    const report = await runFuzz(options);
    return (
      report.failure === undefined &&
      report.ringUnchanged &&
      report.dataUnchanged &&
      report.rssMiB.every(({ before, after }) => after < before + MEMORY_GROWTH_MIB)
    );
  });
}
