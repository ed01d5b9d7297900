/** Server processes for the benchmarks: started on free loopback ports, their output discarded, always stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getRing } from '../src/client/client.js';
import { waitFor } from '../src/util/wait.js';

const WEBSERVER = fileURLToPath(new URL('../src/cli/webserver.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('./baseline.js', import.meta.url));
const running = new Set<ChildProcess>();

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Proc {
  address: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function track(child: ChildProcess, address: string): Proc {
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  return {
    address,
    child,
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * A webserver process (in memory unless the arguments say otherwise), ready
 * when it answers RING; `script` runs another build's webserver (bench/ab.ts).
 */
export async function webserver(args: string[] = [], join?: string, script = WEBSERVER): Promise<Proc> {
  const address = `127.0.0.1:${await freePort()}`;
  const joinArgs = join ? ['-i', join.split(':')[0]!, '-p', join.split(':')[1]!] : [];
  const memory = args.includes('--data') ? [] : ['--memory'];
  const child = spawn(process.execPath, [script, '--listen', address, ...memory, ...args, ...joinArgs], { stdio: 'ignore' });
  const proc = track(child, address);
  const cert = args.indexOf('--tls-cert');
  const tls = cert === -1 ? undefined : { ca: readFileSync(args[cert + 1]!) };
  await waitFor(() => getRing(address, { timeoutMs: 500, tls }).then(() => true), { timeoutMs: 10_000, what: `webserver at ${address}` });
  return proc;
}

/** A ring of `size` webserver processes, each joining the previous one; `own` adds each one's own arguments (its data directory). */
export async function ring(size: number, args: string[] = [], script = WEBSERVER, own: () => string[] = () => []): Promise<Proc[]> {
  const procs: Proc[] = [];
  for (let i = 0; i < size; i++) {
    procs.push(await webserver([...args, ...own()], procs.at(-1)?.address, script));
    await waitFor(async () => (await getRing(procs[0]!.address)).length === procs.length, { timeoutMs: 10_000, what: 'the ring to grow' });
  }
  return procs;
}

export async function baseline(): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, [BASELINE, String(port)], { stdio: 'ignore' });
  const proc = track(child, `127.0.0.1:${port}`);
  await waitFor(
    () =>
      getRing(proc.address, { timeoutMs: 500 }).then(
        () => false,
        (err: Error) => !/ECONNREFUSED/.test(err.message),
      ),
    {
      timeoutMs: 10_000,
      what: 'the baseline server',
    },
  );
  return proc;
}

export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** CPU seconds spent so far by these processes together. */
export async function cpuSeconds(procs: Proc[]): Promise<number> {
  return (await Promise.all(procs.map((proc) => usage(proc.child.pid!)))).reduce((sum, u) => sum + u.cpuSeconds, 0);
}

/** Runs `run` and tells the CPU these processes spent on it per request, in µs (NaN when none was answered). */
export async function cpuPerRequest<R extends { requests: number }>(
  procs: Proc[],
  run: () => Promise<R>,
): Promise<{ result: R; cpuUs: number }> {
  const before = await cpuSeconds(procs);
  const result = await run();
  const cpuUs = result.requests > 0 ? (1e6 * ((await cpuSeconds(procs)) - before)) / result.requests : NaN;
  return { result, cpuUs };
}

/** CPU seconds and resident memory of a process, from /proc. */
export async function usage(pid: number): Promise<{ cpuSeconds: number; rssBytes: number }> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return {
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100,
    rssBytes: Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024,
  };
}
