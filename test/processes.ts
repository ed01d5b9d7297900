/** Spawning the real programs, for tests that exercise them as a user does. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../src/util/wait.js';
import assert from 'node:assert/strict';
import { getItem, getRing } from '../src/client/client.js';
import { sameCycle } from '../src/ring/ring.js';
import { at } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli/', import.meta.url));
export const WEBSERVER = `${CLI}webserver.js`;
export const WEBCLIENT = `${CLI}webclient.js`;

export interface ServerProcess {
  process: ChildProcess;
  address: string;
  output: () => string;
  /** Resolves with the exit code or signal once the process has ended. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const started = new Set<ServerProcess>();

/** Starts `webserver`; in memory unless the arguments name a data directory. */
/** `wrap` runs the program through another one, such as `ip netns exec NS`. */
export async function startServer(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
  wrap: string[] = [],
): Promise<ServerProcess> {
  const durable = args.includes('--data') || env.WEBSERVER_DATA !== undefined || cwd !== undefined;
  const [command, ...prefix] = [...wrap, process.execPath];
  const child = spawn(command!, [...prefix, WEBSERVER, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...(durable ? {} : { WEBSERVER_MEMORY: '1' }), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let ended = false;
  void exited.then(() => (ended = true));
  const address = await waitFor(
    () => {
      if (ended) throw new Error(`webserver exited early:\n${output}`);
      return /listening on (\S+)/.exec(output)?.[1];
    },
    { timeoutMs: 10_000, what: 'the webserver to print its address' },
  );
  const server: ServerProcess = {
    process: child,
    address,
    output: () => output,
    exited,
    async kill(signal = 'SIGKILL') {
      if (!ended) child.kill(signal);
      return exited;
    },
  };
  started.add(server);
  void exited.then(() => started.delete(server));
  return server;
}

/** Kills every server still running; for t.after / after hooks. */
export async function killAll(): Promise<void> {
  await Promise.all([...started].map((server) => server.kill('SIGKILL')));
}

export interface ClientRun {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

export function runClient(args: string[], env: Record<string, string> = {}, wrap: string[] = []): Promise<ClientRun> {
  return runProgram(WEBCLIENT, args, env, wrap);
}

/**
 * Runs a program to its end: for a webserver that is expected to stop by itself.
 * With `stdoutFd`, its standard output goes to that file descriptor instead of being collected.
 */
export function runProgram(
  program: string,
  args: string[],
  env: Record<string, string> = {},
  wrap: string[] = [],
  stdoutFd?: number,
): Promise<ClientRun> {
  const [command, ...prefix] = [...wrap, process.execPath];
  return new Promise((resolve) => {
    const child = spawn(command!, [...prefix, program, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(stdout), stderr }));
  });
}

/** A webserver started to join `seed` (in memory, waiting up to 30 s), run until it exits: a join that is refused. */
export function joinUntilExit(seed: string, extra: string[]): Promise<ClientRun> {
  return runProgram(WEBSERVER, ['--listen', '127.0.0.1:0', '--memory', '--join', seed, '--join-timeout', '30', ...extra]);
}

/** Every named item reads, at every server, as the text `content of NAME` that the tests write. */
export async function assertReadEverywhere(names: Iterable<string>, servers: readonly ServerProcess[]): Promise<void> {
  for (const name of names) {
    for (const server of servers) {
      assert.deepEqual(
        await getItem(server.address, name),
        { found: true, content: `content of ${name}`, encoding: undefined },
        `${name} at ${server.address}`,
      );
    }
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export async function cpuSeconds(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

/**
 * A ring of `size` servers on 127.0.0.1, each joining the one started before
 * it, with `options`; resolves once every view holds all of them. They are
 * killed after the test.
 */
export async function ringOf(t: { after(fn: () => Promise<void>): void }, size: number, options: string[]): Promise<ServerProcess[]> {
  const servers: ServerProcess[] = [];
  t.after(() => Promise.all(servers.map((server) => server.kill())).then(() => undefined));
  for (let i = 0; i < size; i++) {
    const join = servers.length > 0 ? at(servers.at(-1)!.address) : [];
    servers.push(await startServer(['--listen', '127.0.0.1:0', ...options, ...join]));
  }
  const all = servers.map((server) => server.address);
  await waitFor(async () => (await Promise.all(all.map((s) => getRing(s)))).every((view) => sameCycle(view, all)), {
    what: 'the ring to form',
  });
  return servers;
}
