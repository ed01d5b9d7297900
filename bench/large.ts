/**
 * Large files (`npm run bench -- --only large`): a 200 MB file of random
 * bytes PUT over HTTP (curl; median of 3) and with webclient into one server and
 * into rings of 3 and 5 (durable), each server's peak memory growth and CPU
 * time during the HTTP PUTs, GET with webclient, and GET over HTTP from one
 * server against a bare Node static server and nginx (when it can be
 * installed), in alternation; then one server and a ring of 3 side by side,
 * PUTs alternating between them (the target's ratio).
 */
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../src/util/wait.js';
import { freePort, ring, type Proc } from './servers.js';
import { median } from './load.js';
import { ensure, nginx } from './external.js';

const SIZE = 200 * 1000 * 1000;
const ROUNDS = 3;
/** Rounds of the ring-of-3-against-one-server comparison, each a PUT into either, one after the other. */
const ALTERNATING_ROUNDS = 7;

export interface LargeFigures {
  /** MB/s of a 200 MB HTTP PUT, by ring size. */
  put: Record<number, number>;
  /** A ring of 3 against one server, both running, PUTs alternating: medians of MB/s, and the median of the per-round ratios. */
  alternating: { one: number; three: number; ratio: number };
  /** The largest growth of a server's peak memory during the PUTs, MiB, by ring size. */
  peakGrowthMiB: Record<number, number>;
  /** CPU seconds per 200 MB PUT (medians): of the busiest server, and of all servers together, by ring size. */
  cpu: Record<number, { busiest: number; total: number }>;
  /** MB/s of a 200 MB HTTP GET, medians of the rounds, and the median of the per-round ratios. */
  get: { ours: number; bare: number; ratio: number; nginx?: number | undefined };
  /** MB/s of a 200 MB PUT with webclient, by ring size, and of its GET from the ring's last server. */
  webclientPut: Record<number, number>;
  webclientGet: Record<number, number>;
}

/** Seconds for one webclient run. */
function webclient(args: string[]): Promise<number> {
  const started = performance.now();
  const script = fileURLToPath(new URL('../src/cli/webclient.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'ignore' });
    child.on('exit', (code) =>
      code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`webclient exited ${code}`)),
    );
  });
}

function at(address: string): string[] {
  const [host, port] = address.split(':') as [string, string];
  return ['-i', host, '-p', port];
}

/** CPU seconds (user and system) the process has used so far. */
async function cpuSeconds(proc: Proc): Promise<number> {
  const fields = (await readFile(`/proc/${proc.child.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime and stime, in ticks of 1/100 s
}

async function peakMiB(proc: Proc): Promise<number> {
  return Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${proc.child.pid}/status`, 'utf8'))![1]) / 1024;
}

/**
 * Seconds for one HTTP request with `file` as its body (PUT) or none (GET, body
 * dropped), made by curl when there is one: a client that takes little of the
 * machine's two cores, which the servers of a ring share.
 */
function timed(address: string, method: 'PUT' | 'GET', path: string, file?: string): Promise<number> {
  return withCurl ? curlTimed(address, path, file) : nodeTimed(address, method, path, file);
}

let withCurl = false;

/** A file of SIZE random bytes in `dir`, and the HTTP client for it (curl, installed when it can be). */
export async function largeFile(dir: string, say: (line: string) => void): Promise<{ file: string; bytes: Buffer }> {
  const file = join(dir, 'large.bin');
  const bytes = randomBytes(SIZE);
  await writeFile(file, bytes);
  withCurl = ensure('curl', 'curl', say);
  say(`  HTTP client: ${withCurl ? 'curl' : 'node:http (curl is not installed)'}`);
  return { file, bytes };
}

/** MB/s of one HTTP PUT of `file` (largeFile's) at `address`, and the CPU seconds `procs` spent on it. */
export async function largePut(address: string, file: string, procs: readonly Proc[]): Promise<{ rate: number; cpu: number[] }> {
  const before = await Promise.all(procs.map(cpuSeconds));
  const rate = SIZE / 1e6 / (await timed(address, 'PUT', '/large.bin', file));
  const cpu = (await Promise.all(procs.map(cpuSeconds))).map((value, i) => value - before[i]!);
  return { rate, cpu };
}

function curlTimed(address: string, path: string, file?: string): Promise<number> {
  const args = ['-s', '-f', '-o', '/dev/null', '-w', '%{time_total}', ...(file ? ['-T', file] : []), `http://${address}${path}`];
  return new Promise((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`curl ${path}: exit ${code}`))));
  });
}

function nodeTimed(address: string, method: 'PUT' | 'GET', path: string, file?: string): Promise<number> {
  const [host, port] = address.split(':') as [string, string];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), method, path, headers: file ? { 'content-length': SIZE } : {} }, (res) => {
      if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode}`));
      res.on('data', () => undefined);
      res.on('end', () => resolve((performance.now() - started) / 1000));
    });
    req.on('error', reject);
    if (file) createReadStream(file).pipe(req);
    else req.end();
  });
}

async function bareStatic(file: string): Promise<{ address: string; stop(): void }> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./static.js', import.meta.url)), file, String(port)], { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  await waitFor(() => timed(address, 'GET', '/').then(() => true), { timeoutMs: 10_000, what: 'the bare static server' });
  return { address, stop: () => void child.kill('SIGKILL') };
}

/**
 * One server and a ring of 3 started side by side, and a PUT into each in
 * turn, round after round: a slow minute of this shared machine then lands on
 * both, as in bench:ab, where the rows above run one ring's PUTs after the other's.
 */
async function alternating(dir: string, file: string): Promise<LargeFigures['alternating']> {
  const durable = (): string[] => ['--data', mkdtempSync(join(dir, 'data-'))];
  const [one, three] = await Promise.all([ring(1, [], undefined, durable), ring(3, [], undefined, durable)]);
  const rates: Array<{ one: number; three: number }> = [];
  try {
    for (let i = 0; i < ALTERNATING_ROUNDS; i++) {
      const alone = (await largePut(one[0]!.address, file, one)).rate;
      rates.push({ one: alone, three: (await largePut(three[0]!.address, file, three)).rate });
    }
  } finally {
    await Promise.all([...one, ...three].map((proc) => proc.stop()));
  }
  return {
    one: median(rates.map((rate) => rate.one)),
    three: median(rates.map((rate) => rate.three)),
    ratio: median(rates.map((rate) => rate.three / rate.one)),
  };
}

export async function largeFigures(say: (line: string) => void): Promise<LargeFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'coop-large-'));
  const { file, bytes } = await largeFile(dir, say);
  const figures: LargeFigures = {
    put: {},
    alternating: { one: 0, three: 0, ratio: 0 },
    peakGrowthMiB: {},
    cpu: {},
    get: { ours: 0, bare: 0, ratio: 0 },
    webclientPut: {},
    webclientGet: {},
  };
  const withNginx = ensure('nginx', 'nginx', say);
  try {
    for (const size of [1, 3, 5]) {
      const procs = await ring(size, [], undefined, () => ['--data', mkdtempSync(join(dir, 'data-'))]);
      const before = await Promise.all(procs.map(peakMiB));
      const rates: number[] = [];
      const busiest: number[] = [];
      const total: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const { rate, cpu: used } = await largePut(procs[0]!.address, file, procs);
        rates.push(rate);
        busiest.push(Math.max(...used));
        total.push(used.reduce((sum, value) => sum + value, 0));
      }
      const after = await Promise.all(procs.map(peakMiB));
      figures.put[size] = median(rates);
      figures.cpu[size] = { busiest: median(busiest), total: median(total) };
      figures.peakGrowthMiB[size] = Math.max(...after.map((value, i) => value - before[i]!));
      say(
        `  200 MB PUT over HTTP, ring of ${size}: ${figures.put[size]!.toFixed(0)} MB/s (${rates.map((rate) => rate.toFixed(0)).join(', ')}); ` +
          `CPU ${figures.cpu[size]!.busiest.toFixed(2)} s on the busiest server, ${figures.cpu[size]!.total.toFixed(2)} s in all; ` +
          `peak memory growth ${figures.peakGrowthMiB[size]!.toFixed(0)} MiB`,
      );
      if (size === 1) {
        const bare = await bareStatic(file);
        const web = withNginx ? await nginx({ 'large.bin': bytes }) : undefined;
        const ours: number[] = [];
        const theirs: number[] = [];
        const nginxRuns: number[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          ours.push(SIZE / 1e6 / (await timed(procs[0]!.address, 'GET', '/large.bin')));
          theirs.push(SIZE / 1e6 / (await timed(bare.address, 'GET', '/')));
          if (web) nginxRuns.push(SIZE / 1e6 / (await timed(web.address, 'GET', '/large.bin')));
        }
        bare.stop();
        await web?.stop();
        const ratio = median(ours.map((value, i) => value / theirs[i]!));
        figures.get = { ours: median(ours), bare: median(theirs), ratio, nginx: web ? median(nginxRuns) : undefined };
        const nginxText = web ? `, nginx ${median(nginxRuns).toFixed(0)} MB/s` : '';
        say(
          `  200 MB GET over HTTP: ours ${figures.get.ours.toFixed(0)} MB/s, bare Node ${figures.get.bare.toFixed(0)} MB/s (${(100 * ratio).toFixed(0)}%)${nginxText}`,
        );
      }
      // The same file again with webclient (a newer version of the item), then read back from the ring's last server.
      figures.webclientPut[size] = SIZE / 1e6 / (await webclient(['-put', file, ...at(procs[0]!.address)]));
      figures.webclientGet[size] = SIZE / 1e6 / (await webclient(['-get', 'large.bin', ...at(procs.at(-1)!.address)]));
      say(
        `  200 MB with webclient, ring of ${size}: PUT ${figures.webclientPut[size]!.toFixed(0)} MB/s, GET ${figures.webclientGet[size]!.toFixed(0)} MB/s`,
      );
      await Promise.all(procs.map((proc) => proc.stop()));
    }
    figures.alternating = await alternating(dir, file);
    const { one, three, ratio } = figures.alternating;
    say(
      `  200 MB PUT over HTTP, alternating: one server ${one.toFixed(0)} MB/s, ring of 3 ${three.toFixed(0)} MB/s (${(100 * ratio).toFixed(1)}%)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
