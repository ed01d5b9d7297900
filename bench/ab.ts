/**
 * `npm run bench:ab -- OTHER [--rounds 9] [--seconds 2]`: this build against
 * another checkout's build (OTHER: the directory of a checkout with `npm
 * run build` done), side by side, in alternation round by round, so that
 * both see the same machine. Per build: a server for JSON GET (8 clients), a
 * ring of 3 for PUT 1 KiB (32 clients) and a ring of 5 for one PUT at a time.
 * It prints each side's medians and, per figure, the median of the per-round
 * ratios this / other: the way to tell whether a change helped on a machine
 * whose speed moves by more than most changes do. Run it with the same build
 * on both sides first to see how far apart identical builds come out.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { putItem } from '../src/client/client.js';
import { GET_SMALL, RING_WARM_SECONDS, SMALL, format, jsonLoad, median, putMessage, warm } from './load.js';
import { cpuPerRequest, ring, stopAll, webserver, type Proc } from './servers.js';

const USAGE = 'usage: npm run bench:ab -- OTHER_CHECKOUT [--rounds 9] [--seconds 2]\n';
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { rounds: { type: 'string', default: '9' }, seconds: { type: 'string', default: '2' } },
  });
} catch (err) {
  process.stderr.write(`bench:ab: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { values, positionals } = parsed;
const other = positionals[0];
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
if (other === undefined || !Number.isInteger(ROUNDS) || ROUNDS < 1 || !(SECONDS > 0)) {
  process.stderr.write(USAGE);
  process.exit(2);
}
const otherScript = join(resolve(other), 'dist', 'src', 'cli', 'webserver.js');
if (!existsSync(otherScript)) {
  process.stderr.write(`bench:ab: ${otherScript} does not exist: build that checkout first (npm run build there)\n`);
  process.exit(2);
}

interface Side {
  one: Proc;
  /** Requests that failed, over every round: a build that fails fast would look fast. */
  errors: number;
  three: Proc[];
  five: Proc[];
  figures: Record<Figure, number[]>;
}
const FIGURES = [
  'JSON GET req/s',
  'PUT req/s',
  'PUT / GET %',
  'GET server CPU µs',
  'PUT servers CPU µs',
  'one PUT, ring of 5, p50 ms',
] as const;
type Figure = (typeof FIGURES)[number];

async function start(script?: string): Promise<Side> {
  const one = await webserver([], undefined, script);
  const side: Side = {
    one,
    errors: 0,
    three: await ring(3, [], script),
    five: await ring(5, [], script),
    figures: Object.fromEntries(FIGURES.map((figure) => [figure, []])) as unknown as Record<Figure, number[]>,
  };
  await putItem(one.address, 'small.txt', SMALL);
  return side;
}

const put = putMessage('ab');

async function round(side: Side, counted: boolean): Promise<void> {
  const { result: get, cpuUs: getCpu } = await cpuPerRequest([side.one], () =>
    jsonLoad(side.one.address, GET_SMALL, { concurrency: 8, seconds: SECONDS }),
  );
  const { result: many, cpuUs: putCpu } = await cpuPerRequest(side.three, () =>
    jsonLoad(side.three[0]!.address, put, { concurrency: 32, seconds: SECONDS }),
  );
  const single = await jsonLoad(side.five[0]!.address, put, { concurrency: 1, seconds: SECONDS });
  if (!counted) return;
  side.errors += get.errors + many.errors + single.errors;
  const add = (figure: Figure, value: number): void => void side.figures[figure].push(value);
  add('JSON GET req/s', get.rps);
  add('PUT req/s', many.rps);
  add('PUT / GET %', (100 * many.rps) / get.rps);
  add('GET server CPU µs', getCpu);
  add('PUT servers CPU µs', putCpu);
  add('one PUT, ring of 5, p50 ms', single.p50ms);
}

const sides = [await start(), await start(otherScript)];
try {
  // The rings warm up first, and round 0, uncounted; the sides take turns at going first, so neither always follows the other.
  for (const side of sides) for (const entry of [side.three, side.five]) await warm(entry[0]!.address, put, 32, RING_WARM_SECONDS);
  for (let i = 0; i <= ROUNDS; i++) for (const side of i % 2 === 0 ? sides : [...sides].reverse()) await round(side, i > 0);
  const [mine, theirs] = sides as [Side, Side];
  process.stdout.write(`${ROUNDS} alternating rounds of ${SECONDS} s; other: ${other}\n`);
  for (const [label, side] of [
    ['this build', mine],
    ['other', theirs],
  ] as const) {
    if (side.errors > 0) process.stdout.write(`${label}: ${side.errors} requests failed; its figures do not count\n`);
  }
  process.stdout.write(`${'figure'.padEnd(28)}${'this build'.padStart(12)}${'other'.padStart(12)}  this / other (median of rounds)\n`);
  for (const figure of FIGURES) {
    const ratios = mine.figures[figure].map((value, i) => value / theirs.figures[figure][i]!);
    const line = `${figure.padEnd(28)}${format(median(mine.figures[figure])).padStart(12)}${format(median(theirs.figures[figure])).padStart(12)}`;
    process.stdout.write(`${line}  ${median(ratios).toFixed(3)}\n`);
  }
} finally {
  await stopAll();
}
