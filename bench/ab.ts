/**
 * `npm run bench:ab -- OTHER [--rounds 9] [--seconds 2] [--large]`: this build against
 * another checkout's build (OTHER: the directory of a checkout with `npm
 * run build` done), side by side, in alternation round by round, so that
 * both see the same machine. Per build: a server for JSON GET (8 clients), a
 * ring of 3 for PUT 1 KiB (32 clients) and a ring of 5 for one PUT at a time.
 * It prints each side's medians and, per figure, the median of the per-round
 * ratios this / other: the way to tell whether a change helped on a machine
 * whose speed moves by more than most changes do. Run it with the same build
 * on both sides first to see how far apart identical builds come out.
 * `--large` compares a 200 MB HTTP PUT (curl) into one durable server and
 * into a durable ring of 3 instead (large.ts), one PUT per round each.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { putItem } from '../src/client/client.js';
import { GET_SMALL, RING_WARM_SECONDS, SMALL, format, jsonLoad, median, putMessage, warm } from './load.js';
import { cpuPerRequest, ring, stopAll, webserver, type Proc } from './servers.js';
import { largeFile, largePut } from './large.js';

const USAGE = 'usage: npm run bench:ab -- OTHER_CHECKOUT [--rounds 9] [--seconds 2] [--large]\n';
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '9' },
      seconds: { type: 'string', default: '2' },
      large: { type: 'boolean', default: false },
    },
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

/** Prints each figure's medians on both sides and the median of the per-round ratios. */
function report(names: readonly string[], mine: Record<string, number[]>, theirs: Record<string, number[]>): void {
  process.stdout.write(`${'figure'.padEnd(28)}${'this build'.padStart(12)}${'other'.padStart(12)}  this / other (median of rounds)\n`);
  for (const figure of names) {
    const ratios = mine[figure]!.map((value, i) => value / theirs[figure]![i]!);
    const line = `${figure.padEnd(28)}${format(median(mine[figure]!)).padStart(12)}${format(median(theirs[figure]!)).padStart(12)}`;
    process.stdout.write(`${line}  ${median(ratios).toFixed(3)}\n`);
  }
}

async function small(): Promise<void> {
  const sides = [await start(), await start(otherScript)];
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
  report(FIGURES, mine.figures, theirs.figures);
}

const LARGE = ['PUT 200 MB, 1 server MB/s', 'PUT 200 MB, ring of 3 MB/s', 'ring of 3 / one %', 'CPU of ring of 3 per PUT s'];

async function large(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'coop-ab-large-'));
  try {
    const { file } = await largeFile(dir, (line) => process.stdout.write(`${line}\n`));
    const data = (): string[] => ['--data', mkdtempSync(join(dir, 'data-'))];
    const startSide = async (script?: string) => ({
      one: await ring(1, [], script, data),
      three: await ring(3, [], script, data),
      figures: Object.fromEntries(LARGE.map((figure) => [figure, [] as number[]])),
    });
    const mine = await startSide();
    const theirs = await startSide(otherScript);
    for (let i = 0; i <= ROUNDS; i++) {
      for (const side of i % 2 === 0 ? [mine, theirs] : [theirs, mine]) {
        const one = await largePut(side.one[0]!.address, file, side.one);
        const three = await largePut(side.three[0]!.address, file, side.three);
        if (i === 0) continue; // round 0 writes the item: the counted rounds replace it, as the bench's do
        const add = (figure: string, value: number): void => void side.figures[figure]!.push(value);
        add(LARGE[0]!, one.rate);
        add(LARGE[1]!, three.rate);
        add(LARGE[2]!, (100 * three.rate) / one.rate);
        add(
          LARGE[3]!,
          three.cpu.reduce((sum, value) => sum + value, 0),
        );
      }
    }
    process.stdout.write(`${ROUNDS} alternating rounds of one 200 MB PUT each; other: ${other}\n`);
    report(LARGE, mine.figures, theirs.figures);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await (values.large ? large() : small());
} finally {
  await stopAll();
}
