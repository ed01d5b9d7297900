/** Test helpers: raw sockets and captured logs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAddress, type Address } from '../src/protocol/address.js';
import { createLogger, type Log } from '../src/log/logger.js';
import { waitFor } from '../src/util/wait.js';
import { tcpTransport, type PeerTransport, type RingNode } from '../src/node/node.js';
import type { Server as HttpServer } from 'node:http';
import { inlineText } from '../src/transport/attached.js';

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

export interface HttpResponse {
  status: number;
  /** The status line and headers, CRLFCRLF included (latin1). */
  head: string;
  body: Buffer;
  /** The whole response as sent. */
  raw: Buffer;
}

/**
 * The whole responses at the start of `bytes`: a body by Content-Length, by
 * chunks, or up to the close; none for 1xx, 204, 304 and the answers to HEAD
 * requests (`heads[i]` for the i-th final response).
 */
export function parseResponses(bytes: Buffer, heads: readonly boolean[] = [], closed = false): HttpResponse[] {
  const responses: HttpResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return responses;
    const head = bytes.toString('latin1', at, headEnd + 4);
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? NaN);
    const length = /\r\ncontent-length: *(\d+)\r\n/i.exec(head);
    let end = headEnd + 4;
    let body: Buffer = Buffer.alloc(0);
    if (status < 200 || status === 204 || status === 304 || heads[responses.filter((r) => r.status >= 200).length] === true) {
      // no body
    } else if (length) {
      end += Number(length[1]);
      if (end > bytes.length) return responses;
      body = bytes.subarray(headEnd + 4, end);
    } else if (/\r\ntransfer-encoding: *chunked\r\n/i.test(head)) {
      const parts: Buffer[] = [];
      for (;;) {
        const line = bytes.indexOf('\r\n', end);
        if (line < 0) return responses;
        const size = parseInt(bytes.toString('latin1', end, line), 16);
        if (line + 2 + size + 2 > bytes.length) return responses;
        parts.push(bytes.subarray(line + 2, line + 2 + size));
        end = line + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else {
      if (!closed) return responses;
      end = bytes.length;
      body = bytes.subarray(headEnd + 4);
    }
    responses.push({ status, head, body, raw: bytes.subarray(at, end) });
    at = end;
  }
}

/** One raw HTTP connection (plain, or TLS trusting `ca`): bytes written as given, responses read as they come. */
export interface HttpConnection {
  write(bytes: string | Buffer): void;
  /** Waits for `count` whole responses (`heads[i]`: the i-th answers a HEAD), and returns all so far. */
  responses(count: number, heads?: readonly boolean[], timeoutMs?: number): Promise<HttpResponse[]>;
  /** Everything received so far. */
  received(): Buffer;
  readonly closed: boolean;
  whenClosed(timeoutMs?: number): Promise<void>;
  destroy(): void;
}

export async function openHttp(server: Address, ca?: Buffer): Promise<HttpConnection> {
  const { host, port } = parseAddress(server);
  const socket: Socket = ca ? tlsConnect({ host, port, ca }) : createConnection({ host, port });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once(ca ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  const received = (): Buffer => Buffer.concat(chunks);
  return {
    write: (bytes) => void socket.write(bytes),
    responses: (count, heads = [], timeoutMs = 5000) =>
      waitFor(
        () => {
          const got = parseResponses(received(), heads, closed);
          return got.length >= count ? got : closed ? Promise.reject(new Error(`closed after ${got.length} responses`)) : undefined;
        },
        { timeoutMs, intervalMs: 5, what: `${count} HTTP responses` },
      ),
    received,
    get closed() {
      return closed;
    },
    whenClosed: (timeoutMs = 5000) =>
      waitFor(() => closed || undefined, { timeoutMs, intervalMs: 5, what: 'the server to close' }).then(() => undefined),
    destroy: () => socket.destroy(),
  };
}

/**
 * Counts the HTTP requests node:http itself handles on a server from now on;
 * those the fast path answers in front of it never reach it. The HTTP face is
 * private to the node: the tests listen to it to tell the two apart.
 */
export function nodeHttpRequests(node: RingNode): () => number {
  const http = (node as unknown as { http: HttpServer }).http;
  let count = 0;
  http.on('request', () => void count++);
  return () => count;
}

/** A TCP transport (a connection per message, as to original servers) that also records every message it sends. */
export function recordingTransport(sent: Array<{ to: Address; payload: string }>): PeerTransport {
  const real = tcpTransport({ connectTimeoutMs: 500, maxReplyBytes: 1 << 26 });
  return { ...real, send: (to, payload) => (sent.push({ to, payload: inlineText(payload) }), real.send(to, payload)) };
}

/** A raw connection to `server`, opened as our server `from` opens its STREAM; destroyed after the test. */
export async function openPeerStream(t: { after(fn: () => void): void }, server: Address, from: Address): Promise<Socket> {
  const socket = createConnection(parseAddress(server));
  t.after(() => void socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`{"type": "STREAM", "from": "${from}"}`);
  socket.resume(); // what comes back is acknowledgements (counts), unread here
  return socket;
}
