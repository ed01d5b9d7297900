/**
 * Differential fuzzing of the HTTP fast path (fast-check): two servers, one
 * with the fast path in front of node:http (transport/fast-get.ts) and one
 * without, holding the same items, get the same random sequences of requests
 * on one connection each: heads built from a grammar (methods, targets,
 * versions, Host counts, Connection, conditions, ranges, credentials,
 * Content-Length and Transfer-Encoding with bodies that fit or not) and
 * mutated (bare LF or CR, duplicated lines, folds, stray spaces, NUL,
 * truncation), pipelined, and split across writes at random points. What
 * comes back must be the same bytes but for the Date header, and both
 * connections must end the same way.
 *
 * Both servers share a fixed clock (the same versions, so the same
 * Last-Modified). A sequence holds at most one write (to an item no read
 * names, put back before each sequence), since what node:http answers to a
 * read pipelined behind a write depends on timing on either server. Every sequence ends with a
 * `Connection: close` request after an empty line, so both servers close
 * (or both are left waiting).
 *
 * Where node:http gives up on a connection (a parse error, or bytes after
 * `Connection: close`), what still reaches the client depends on timing, on
 * either server. Its bare error answer ("400 Bad Request", no Date) is sent
 * only when no answer is in flight on the connection (and an answer written
 * by the fast path is not one of node:http's): a trailing one is ignored. An
 * answer in flight is written or lost depending on whether its handler's
 * promise settled before the parser met the error (node:http lets promises
 * settle between the reads it takes itself, not within bytes handed to it from
 * JavaScript, as the fast path and the JSON sniffing both do). A close while
 * the client is still sending resets the connection, which can drop what the
 * client had not read yet. So when both connections were closed, one side's
 * bytes being a prefix of the other's is accepted as a cut (counted; the test
 * checks that cuts stay a minority). Which requests the fast path may answer
 * at all is checked apart, without sockets, against node:http's own parser
 * (test/unit/simple-request.test.ts).
 *
 * `node dist/test/fuzz/http-diff.js --seconds 60 [--seed N]`; the test suite runs it briefly.
 */
import { createConnection } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { createTestCluster, type TestCluster } from '../../src/node/cluster.js';
import { putItem } from '../../src/client/client.js';
import { parseAddress, type Address } from '../../src/protocol/address.js';
import { recognize } from '../../src/http/simple-request.js';
import { nodeHttpRequests } from '../helpers.js';
import { runFromCommandLine, type FuzzOptions } from './command.js';

export interface HttpDiffReport {
  runs: number;
  /** Runs accepted as cuts: both closed, one side's bytes a prefix of the other's. */
  cuts: number;
  /** Requests that are simple and at the start of their sequence (the fast path's, when their target has a ready answer). */
  simpleHeads: number;
  /** Requests the fast path answered itself: node:http handled that many fewer with it than without. */
  inFront: number;
  /** Status codes seen in the answers, with counts. */
  statuses: Record<string, number>;
  failure: string | undefined;
}

const NOW = 1_767_225_600_000;
/** How long a connection may stay open after the last write before the client gives up on it (both must agree then). */
const QUIET_MS = 3000;
const TERMINATOR = '\r\n\r\nGET /t.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
const BINARY = randomBytes(2000);
const ITEMS: Array<[string, string, 'base64' | undefined]> = [
  ['a.txt', 'alpha', undefined],
  ['b.bin', BINARY.toString('base64'), 'base64'],
  ['c.html', '<p>caf\u00e9</p>', undefined],
  ['big.bin', randomBytes(70 * 1024).toString('base64'), 'base64'], // too large for a ready answer
  ['t.txt', 'the end', undefined],
];
const ETAG = `"${createHash('sha1').update('alpha').digest('hex')}"`;

const TARGETS = [
  '/a.txt',
  '/a.txt',
  '/b.bin',
  '/c.html',
  '/big.bin',
  '/missing.txt',
  '/',
  '/a.txt?v=1',
  '/a%2Etxt',
  '/%zz',
  '/caf%C3%A9.txt',
  '/a.txt#frag',
  '//a.txt',
  '*',
  'http://x/a.txt',
  '/caf\u00e9',
];

type Header = [string, string];

interface Request {
  method: string;
  target: string;
  version: string;
  hosts: number;
  headers: Header[];
  body: { header: Header | undefined; bytes: string };
  mutations: Array<[string, number]>;
}

/** Mostly one of `usual`, now and then one of `odd`: most requests are plain, so that runs of them reach the fast path. */
function mostly<T>(usual: readonly T[], odd: readonly T[], oddWeight = 1): fc.Arbitrary<T> {
  return fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...usual) }, { weight: oddWeight, arbitrary: fc.constantFrom(...odd) });
}

const header: fc.Arbitrary<Header> = mostly<Header>(
  [
    ['Accept', '*/*'],
    ['Connection', 'keep-alive'],
    ['Connection', 'Keep-Alive'],
    ['User-Agent', 'fuzz/1.0'],
    ['X-Junk', '  spaced  '],
  ],
  [
    ['Connection', ' keep-alive '],
    ['Connection', 'close'],
    ['Connection', 'Upgrade'],
    ['Connection', 'keep-alive, close'],
    ['If-None-Match', ETAG],
    ['If-None-Match', '"other"'],
    ['If-None-Match', '*'],
    ['If-Modified-Since', 'Thu, 01 Jan 2026 00:00:00 GMT'],
    ['Range', 'bytes=0-1'],
    ['Range', 'bytes=-2'],
    ['Range', 'bytes=9999-'],
    ['Authorization', 'Bearer nothing'],
    ['Expect', '100-continue'],
    ['Upgrade', 'websocket'],
    ['X-Junk', 'a\u0000b'],
    ['X-Junk', 'caf\u00e9'],
    ['X-Junk', '\t'],
    ['X-Junk', ''],
  ],
  3,
);

const body: fc.Arbitrary<Request['body']> = fc.oneof(
  { weight: 20, arbitrary: fc.constant({ header: undefined, bytes: '' }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.nat({ max: 8 }), fc.constantFrom(0, 0, 0, -2, 2))
      .map(([length, off]) => ({ header: ['Content-Length', String(length)] as Header, bytes: 'b'.repeat(Math.max(0, length + off)) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('chunked', 'chunked', 'gzip, chunked', 'xchunked'),
        fc.constantFrom('3\r\nabc\r\n0\r\n\r\n', '3\r\nab', 'x\r\n'),
      )
      .map(([coding, bytes]) => ({ header: ['Transfer-Encoding', coding] as Header, bytes })),
  },
);

const request: fc.Arbitrary<Request> = fc.record({
  method: mostly(['GET', 'GET', 'HEAD'], ['POST', 'OPTIONS', 'get', 'PATCH']),
  target: mostly(['/a.txt', '/b.bin', '/c.html', '/a.txt?v=1'], TARGETS),
  version: mostly(['HTTP/1.1'], ['HTTP/1.0', 'HTTP/1.2', 'http/1.1', 'HTTP/1.1 ']),
  hosts: mostly([1], [0, 2]),
  headers: fc.array(header, { maxLength: 3 }),
  body,
  mutations: fc.oneof(
    { weight: 12, arbitrary: fc.constant<Array<[string, number]>>([]) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.tuple(fc.constantFrom('bare LF', 'bare CR', 'duplicate', 'fold', 'space', 'tab', 'NUL', 'truncate'), fc.nat()),
        {
          minLength: 1,
          maxLength: 2,
        },
      ),
    },
  ),
});

const write: fc.Arbitrary<string> = fc.oneof(
  fc.nat({ max: 6 }).map((n) => `PUT /w.txt HTTP/1.1\r\nHost: a\r\nContent-Length: ${n}\r\n\r\n${'w'.repeat(n)}`),
  fc.constant('DELETE /w.txt HTTP/1.1\r\nHost: a\r\n\r\n'),
);

function mutate(text: string, [how, at]: [string, number]): string {
  const lineEnds = [...text.matchAll(/\r\n/g)].map((m) => m.index);
  const lineEnd = lineEnds.length === 0 ? -1 : lineEnds[at % lineEnds.length]!;
  const i = at % Math.max(1, text.length);
  switch (how) {
    case 'bare LF':
      return lineEnd < 0 ? text : `${text.slice(0, lineEnd)}\n${text.slice(lineEnd + 2)}`;
    case 'bare CR':
      return lineEnd < 0 ? text : `${text.slice(0, lineEnd)}\r${text.slice(lineEnd + 2)}`;
    case 'duplicate': {
      const start = lineEnd < 0 ? -1 : text.lastIndexOf('\r\n', lineEnd - 1);
      return start < 0 ? text : `${text.slice(0, lineEnd + 2)}${text.slice(start + 2, lineEnd + 2)}${text.slice(lineEnd + 2)}`;
    }
    case 'fold':
      return lineEnd < 0 ? text : `${text.slice(0, lineEnd + 2)} folded\r\n${text.slice(lineEnd + 2)}`;
    case 'space':
      return `${text.slice(0, i)} ${text.slice(i)}`;
    case 'tab':
      return `${text.slice(0, i)}\t${text.slice(i)}`;
    case 'NUL':
      return `${text.slice(0, i)}\u0000${text.slice(i)}`;
    default:
      return text.slice(0, i);
  }
}

function serialize(r: Request): string {
  const headers: Header[] = [...Array.from({ length: r.hosts }, (): Header => ['Host', 'a']), ...r.headers];
  if (r.body.header) headers.push(r.body.header);
  let text = `${r.method} ${r.target} ${r.version}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${r.body.bytes}`;
  for (const mutation of r.mutations) text = mutate(text, mutation);
  return text;
}

/** Requests (at most one of them a write), pipelined, as bytes; and where to split them into writes. */
export const requestSequence = fc
  .tuple(
    fc.array(request, { minLength: 1, maxLength: 8 }),
    fc.option(fc.tuple(write, fc.nat()), { freq: 2 }),
    fc.array(fc.nat(), { maxLength: 5 }),
  )
  .map(([requests, extra, cuts]) => {
    const texts = requests.map(serialize);
    if (extra) texts.splice(extra[1] % (texts.length + 1), 0, extra[0]);
    const bytes = Buffer.from(texts.join(''), 'latin1');
    const points = [...new Set(cuts.map((cut) => cut % Math.max(1, bytes.length)))].filter((p) => p > 0).sort((x, y) => x - y);
    const pieces = [0, ...points].map((start, k) => bytes.subarray(start, points[k] ?? bytes.length));
    return { bytes, pieces };
  });

interface Outcome {
  text: string;
  closed: boolean;
}

/** Writes the pieces one by one on a fresh connection, then the terminator, and reads until the server closes (or QUIET_MS pass). */
async function exchange(server: Address, pieces: readonly Buffer[]): Promise<Outcome> {
  const { host, port } = parseAddress(server);
  const socket = createConnection({ host, port, noDelay: true });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const whenClosed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      closed = true;
      resolve();
    }),
  );
  await Promise.race([new Promise((resolve) => socket.once('connect', resolve)), whenClosed]);
  for (const piece of [...pieces, Buffer.from(TERMINATOR, 'latin1')]) {
    if (closed) break;
    socket.write(piece);
    await delay(1); // so that the pieces arrive as separate reads
  }
  const quiet = new AbortController();
  await Promise.race([whenClosed, delay(QUIET_MS, undefined, { signal: quiet.signal }).catch(() => undefined)]);
  quiet.abort();
  socket.destroy();
  return { text: Buffer.concat(chunks).toString('latin1'), closed };
}

/** node:http's bare answers to a connection it gives up on (sent or not, see above). */
const BARE_ERROR =
  /HTTP\/1\.1 (400 Bad Request|408 Request Timeout|413 Payload Too Large|431 Request Header Fields Too Large)\r\nConnection: close\r\n\r\n$/;

/**
 * Date blanked, a trailing bare error dropped, and every `100 Continue`
 * removed: node:http writes that one at once, even into the middle of an
 * earlier pipelined answer whose head and body it writes apart.
 */
function normalized(outcome: Outcome): string {
  return outcome.text
    .replace(/\r\nDate: [^\r\n]*/g, '\r\nDate: -')
    .replace(BARE_ERROR, '')
    .replaceAll('HTTP/1.1 100 Continue\r\n\r\n', '');
}

/**
 * The same bytes but for Date, ended the same way; or, both closed, one a
 * prefix of the other (see above). After a request with `Upgrade`, node:http
 * (with no upgrade handler) drops the rest of the read that request came in:
 * whether the requests after it, the terminator too, are answered depends on
 * how the bytes were read, on either server, so a connection left open then is
 * a cut as well.
 */
function agreement(ours: Outcome, node: Outcome, upgrade: boolean): 'same' | 'cut' | undefined {
  const [a, b] = [normalized(ours), normalized(node)];
  if (a === b && ours.closed === node.closed) return 'same';
  return ((ours.closed && node.closed) || upgrade) && (a.startsWith(b) || b.startsWith(a)) ? 'cut' : undefined;
}

async function server(httpFastPath: boolean): Promise<TestCluster> {
  const cluster = await createTestCluster(1, { now: () => NOW, httpFastPath, idleTimeoutMs: 10_000 });
  for (const [name, content, encoding] of ITEMS) await putItem(cluster.addresses[0]!, name, content, encoding);
  return cluster;
}

export async function runHttpDiff(options: FuzzOptions): Promise<HttpDiffReport> {
  const say = options.say ?? (() => undefined);
  const clusters: TestCluster[] = [];
  const statuses: Record<string, number> = {};
  let runs = 0;
  let cuts = 0;
  let simpleHeads = 0;
  let byNodeFast = (): number => 0;
  let byNodePlain = (): number => 0;
  let failure: string | undefined;
  try {
    for (const httpFastPath of [true, false]) clusters.push(await server(httpFastPath));
    const [fast, plain] = clusters.map((cluster) => cluster.addresses[0]!) as [Address, Address];
    [byNodeFast, byNodePlain] = clusters.map((cluster) => nodeHttpRequests(cluster.nodes[0]!)) as [() => number, () => number];
    await fc.assert(
      fc.asyncProperty(requestSequence, async ({ bytes, pieces }) => {
        runs++;
        // The item a sequence may write is put back first: a cut may have left the two servers' copies apart.
        await Promise.all([putItem(fast, 'w.txt', 'w'), putItem(plain, 'w.txt', 'w')]);
        for (let at = 0, head = recognize(bytes); head.kind === 'simple'; head = recognize(bytes, (at += head.length))) simpleHeads++;
        const [ours, node] = await Promise.all([exchange(fast, pieces), exchange(plain, pieces)]);
        for (const match of node!.text.matchAll(/HTTP\/1\.1 (\d{3}) /g)) statuses[match[1]!] = (statuses[match[1]!] ?? 0) + 1;
        const agreed = agreement(ours!, node!, /\r\nUpgrade:/i.test(bytes.toString('latin1')));
        if (agreed === 'cut') cuts++;
        if (agreed === undefined) {
          throw new Error(
            `the answers differ\nwith the fast path (${ours!.closed ? 'closed' : 'open'}): ${JSON.stringify(normalized(ours!))}\n` +
              `node:http alone (${node!.closed ? 'closed' : 'open'}): ${JSON.stringify(normalized(node!))}`,
          );
        }
      }),
      { seed: options.seed, numRuns: 1_000_000_000, interruptAfterTimeLimit: options.seconds * 1000, markInterruptAsFailure: false },
    );
  } catch (err) {
    const cause = (err as Error).cause;
    failure = `${(err as Error).message}${cause instanceof Error ? `\n${cause.message}` : ''}`;
  } finally {
    await Promise.all(clusters.map((cluster) => cluster.stop()));
  }
  const inFront = byNodePlain() - byNodeFast();
  say(
    `${runs} request sequences in ${options.seconds} s (seed ${options.seed}), ${cuts} of them cut short by a close; ${simpleHeads} simple requests at their starts, ${inFront} answered in front`,
  );
  say(
    `statuses: ${Object.entries(statuses)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  if (failure) say(`FAILURE: ${failure}`);
  return { runs, cuts, simpleHeads, inFront, statuses, failure };
}

if (process.argv[1]?.endsWith('http-diff.js')) {
  runFromCommandLine('http-diff', async (options) => (await runHttpDiff(options)).failure === undefined);
}
