/** Test helpers: raw sockets and captured logs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAddress, type Address } from '../src/protocol/address.js';
import { createLogger, type Log } from '../src/log/logger.js';

export interface RawReply {
  text: string;
  /** The server closed the connection (rather than the test timing out). */
  closed: boolean;
}

/** Writes bytes on a fresh connection (optionally half-closing) and collects everything until the server closes. */
export function rawExchange(server: Address, bytes: Buffer | string, { halfClose = false, timeoutMs = 5000 } = {}): Promise<RawReply> {
  const { host, port } = parseAddress(server);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('utf8'), closed: false });
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      // A reset after the server's reply still counts as closed.
      if (chunks.length > 0) resolve({ text: Buffer.concat(chunks).toString('utf8'), closed: true });
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('utf8'), closed: true });
    });
    socket.on('connect', () => {
      if (halfClose) socket.end(bytes);
      else socket.write(bytes);
    });
  });
}

export interface CapturedLog {
  log: Log;
  lines: Array<{ tag: string; msg: string; node?: string }>;
  has(fragment: string): boolean;
}

/** A JSON logger whose lines are kept in memory, so tests can wait for what servers report. */
export function captureLog(verbose = false): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const log = createLogger({ format: 'json', verbose, destination: { write: (line: string) => lines.push(JSON.parse(line)) } });
  return { log, lines, has: (fragment) => lines.some((line) => line.msg.includes(fragment)) };
}

/** A temporary directory, removed when the test ends. */
export async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'coop-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `-i IP -p PORT` naming a server, for either program. */
export function at(address: Address): string[] {
  const { host, port } = parseAddress(address);
  return ['-i', host, '-p', String(port)];
}
