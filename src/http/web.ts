/**
 * The HTTP face, on the same port as the JSON protocol: GET/HEAD/PUT/DELETE
 * /NAME go through the same handlers as the JSON requests (node.ask), with
 * content types, strong ETags, 304s, ranges and streamed bodies; `/_ring`
 * describes this server's view (JSON, or a live page for a browser);
 * `/_health` says whether it is ready for traffic (for load balancers);
 * `/_events` streams its traffic (server-sent events); `/metrics` is for
 * Prometheus.
 */
import { randomBytes } from 'node:crypto';
import { sha1 } from '../store/hash.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isCoopError, type ErrorCode } from '../errors.js';
import { checkItemName } from '../protocol/names.js';
import { httpStatusOf, type Message, type Reply } from '../protocol/messages.js';
import { encodeContent, isFound, PART_BYTES } from '../protocol/content.js';
import type { ItemStore } from '../store/items.js';
import type { Log } from '../log/logger.js';
import type { NodeMetrics } from '../node/metrics.js';
import type { AccessPolicy } from '../security/access.js';
import { notFoundPage } from './pages.js';
import { ringPage } from './ring-page.js';
import { healthAnswer } from '../node/health.js';
import type { Health, RingStatus } from '../protocol/status.js';
import { itemHeaders, ReadyAnswers, type ReadyAnswer } from './ready.js';

export interface Traffic {
  type: string;
  from: string;
  to: string;
}

export interface WebDeps {
  self(): string;
  /** A request through the same handlers as the JSON protocol. */
  ask(message: Message): Promise<Reply>;
  store(): ItemStore;
  /** This server's view of the ring with every member's figures (`GET /_ring` as JSON). */
  status(): Promise<RingStatus>;
  /** Ready for traffic: joined, caught up, store usable (`GET /_health`). */
  health(): Promise<Health>;
  metrics: NodeMetrics;
  traffic: {
    on(event: 'traffic', listener: (traffic: Traffic) => void): unknown;
    off(event: 'traffic', listener: (traffic: Traffic) => void): unknown;
  };
  log: () => Log;
  /** Largest body taken whole when its length is not announced. */
  maxBodyBytes: number;
  /** Who may read and write (the tokens). */
  access: AccessPolicy;
}

/**
 * The token of `Authorization: Bearer TOKEN`, or the password of Basic credentials (what a browser prompts for).
 * A Bearer token is everything after "Bearer ", spaces included, since `--write-token` may hold spaces.
 */
export function tokenOf(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^\s*(Bearer|Basic)\s+(\S.*?)\s*$/i.exec(header);
  if (!match) return undefined;
  if (match[1]!.toLowerCase() === 'bearer') return match[2];
  if (/\s/.test(match[2]!)) return undefined;
  const credentials = Buffer.from(match[2]!, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon < 0 ? undefined : credentials.slice(colon + 1);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The error code of the reply it came from, if any. */
    readonly code?: ErrorCode,
  ) {
    super(message);
  }
}

/** What a 503 for a server still joining tells clients to wait (`Retry-After`, seconds): its join is retried every few seconds at most. */
export const NOT_READY_RETRY_AFTER_SECONDS = 5;

/**
 * The path of the request target, as sent: no dot segments resolved, since a
 * name is a key, never a file path ("/a/../b" names the item "a/../b").
 */
function pathOf(target: string | undefined): string {
  const raw = target ?? '/';
  const end = raw.search(/[?#]/);
  const path = end < 0 ? raw : raw.slice(0, end);
  if (!path.startsWith('/')) throw new HttpError(400, 'the request target must be a path, such as /index.html');
  return path;
}

function itemName(path: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.slice(1));
  } catch {
    throw new HttpError(400, 'the path is not valid percent-encoding');
  }
  try {
    return checkItemName(decoded === '' ? 'index.html' : decoded);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

function expect<T extends Reply['type']>(reply: Reply, type: T): Extract<Reply, { type: T }> {
  if (reply.type === 'ERROR') throw new HttpError(httpStatusOf(reply.data.code), reply.data.message, reply.data.code);
  if (reply.type !== type) throw new HttpError(500, `unexpected ${reply.type} reply`);
  return reply as Extract<Reply, { type: T }>;
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` of a `size`-byte item; undefined when unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : undefined;
}

function write(res: ServerResponse, bytes: Buffer): Promise<void> | void {
  if (res.write(bytes)) return;
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `bodies without a Content-Length are taken up to ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The methods the HTTP face answers (the Allow header of a 405). */
export const ALLOWED_METHODS = 'GET, HEAD, PUT, DELETE';

/** Request targets remembered with the item name they decode to, for the ready answers. */
const TARGETS_REMEMBERED = 1024;

export interface WebApp {
  /** node:http's request listener. */
  listener(req: IncomingMessage, res: ServerResponse): void;
  /**
   * The ready answer to a plain GET or HEAD of `target` (as sent, query
   * included), counted as answered; undefined when the request needs the
   * general path. For the fast path in front of node:http.
   */
  ready(target: string, method: 'GET' | 'HEAD'): ReadyAnswer | undefined;
}

export function createWebApp(deps: WebDeps): WebApp {
  const ready = new ReadyAnswers();
  // Ready answers skip the token check: they are for servers whose reads are open.
  const readsOpen = deps.access.readsOpen;
  const targets = new Map<string, string>();
  const getOk = deps.metrics.requests.labels({ type: 'GET', outcome: 'ok' });
  const getLatency = deps.metrics.latency.labels({ type: 'GET' });
  const answered = {
    GET: deps.metrics.http.labels({ method: 'GET', status: '200' }),
    HEAD: deps.metrics.http.labels({ method: 'HEAD', status: '200' }),
  };

  /**
   * The ready answer of a small item held here whose target has been served
   * before (targets are remembered only where reads are open), counted as
   * answered; undefined for anything else.
   */
  const readyAnswer = (target: string, method: 'GET' | 'HEAD'): ReadyAnswer | undefined => {
    const name = targets.get(target);
    if (name === undefined) return undefined;
    const started = performance.now();
    const answer = ready.get(deps.store(), name);
    if (!answer) return undefined;
    getOk.inc();
    getLatency.observe((performance.now() - started) / 1000);
    answered[method].inc();
    return answer;
  };

  /**
   * A plain GET or HEAD of a small item held here, answered at once from a
   * ready answer: no URL parsing, no promise, no header built. False when the
   * request needs the general path (first sight of its target, ranges,
   * conditions, items not held or large).
   */
  const answerReady = (req: IncomingMessage, res: ServerResponse): boolean => {
    const method = req.method;
    if ((method !== 'GET' && method !== 'HEAD') || req.headers.range !== undefined || req.headers['if-none-match'] !== undefined) {
      return false;
    }
    const answer = readyAnswer(req.url!, method);
    if (!answer) return false;
    res.writeHead(200, answer.headers);
    res.end(method === 'HEAD' ? undefined : answer.body);
    return true;
  };

  const getItem = async (req: IncomingMessage, res: ServerResponse, name: string): Promise<void> => {
    // A small item held here is served straight from the store (the same answer a GET gives, without
    // encoding it for the wire and back); anything else asks through the handlers.
    const held = deps.store().head(name);
    const started = held ? performance.now() : 0;
    const local = held && !held.deleted && held.size <= PART_BYTES ? await deps.store().get(name) : undefined;
    if (local) {
      getOk.inc();
      getLatency.observe((performance.now() - started) / 1000);
      // Its next plain GET can be a ready answer. Only held items are remembered, so misses cannot crowd them out.
      if (readsOpen && req.url !== undefined && !targets.has(req.url)) {
        if (targets.size >= TARGETS_REMEMBERED) targets.clear();
        targets.set(req.url, name);
      }
    }
    const first = local
      ? { item: name, content: '', found: true, version: local.meta.version, size: local.meta.size, offset: 0 }
      : expect(await deps.ask({ type: 'GET', data: name, part: { offset: 0, length: PART_BYTES } }), 'GET').data;
    if (!isFound(first)) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : notFoundPage(name));
      return;
    }
    const size = first.size ?? 0;
    const firstBytes = local
      ? Buffer.from(local.content, local.meta.encoding === 'base64' ? 'base64' : 'utf8')
      : Buffer.from(first.content, 'base64');
    const meta = deps.store().head(name);
    const hash = meta && !meta.deleted && meta.size === size ? meta.hash : size === firstBytes.length ? sha1(firstBytes) : undefined;
    const headers = itemHeaders(name, hash, first.version?.clock);
    if (hash && req.headers['if-none-match']?.split(',').some((tag) => tag.trim() === `"${hash}"` || tag.trim() === '*')) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (req.headers.range) {
      const range = parseRange(req.headers.range, size);
      if (!range) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      ({ start, end } = range);
      status = 206;
      headers.push('content-range', `bytes ${start}-${end}/${size}`);
    }
    headers.push('content-length', String(Math.max(0, end - start + 1)));
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    if (end < firstBytes.length) {
      // All of it is at hand: one end() call, no per-part loop.
      res.end(firstBytes.subarray(start, end + 1));
      return;
    }
    // Part by part: a large item never sits whole in memory.
    for (let offset = start; offset <= end && !res.destroyed;) {
      const length = Math.min(PART_BYTES, end - offset + 1);
      const bytes =
        offset === 0 && firstBytes.length >= length
          ? firstBytes.subarray(0, length)
          : Buffer.from(expect(await deps.ask({ type: 'GET', data: name, part: { offset, length } }), 'GET').data.content, 'base64');
      if (bytes.length === 0) break;
      await write(res, bytes);
      offset += bytes.length;
    }
    res.end();
  };

  const putItem = async (req: IncomingMessage, res: ServerResponse, name: string): Promise<void> => {
    const existed = deps.store().head(name)?.deleted === false;
    const announced = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (announced === undefined || announced <= PART_BYTES) {
      const { content, encoding } = encodeContent(await readBody(req, Math.min(deps.maxBodyBytes, announced ?? Infinity)));
      expect(await deps.ask({ type: 'PUT', data: { item: name, content, encoding } }), 'PUT');
    } else {
      const upload = randomBytes(8).toString('hex');
      let offset = 0;
      let pending: Buffer[] = [];
      let pendingSize = 0;
      const flush = async (): Promise<void> => {
        const bytes = Buffer.concat(pending, pendingSize);
        pending = [];
        pendingSize = 0;
        const part = { upload, offset, size: announced };
        expect(await deps.ask({ type: 'PUT', data: { item: name, content: bytes.toString('base64'), encoding: 'base64', part } }), 'PUT');
        offset += bytes.length;
      };
      for await (const chunk of req as AsyncIterable<Buffer>) {
        pending.push(chunk);
        pendingSize += chunk.length;
        while (pendingSize >= PART_BYTES) {
          const all = Buffer.concat(pending, pendingSize);
          pending = [all.subarray(0, PART_BYTES)];
          pendingSize = PART_BYTES;
          const rest = all.subarray(PART_BYTES);
          await flush();
          if (rest.length > 0) {
            pending = [rest];
            pendingSize = rest.length;
          }
        }
      }
      if (pendingSize > 0) await flush();
      if (offset !== announced) throw new HttpError(400, `the body had ${offset} bytes, not the ${announced} announced`);
    }
    res.writeHead(existed ? 204 : 201, existed ? {} : { location: `/${encodeURIComponent(name)}` });
    res.end();
  };

  const events = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': traffic of this server\n\n');
    const send = (traffic: Traffic): void => void res.write(`data: ${JSON.stringify(traffic)}\n\n`);
    deps.traffic.on('traffic', send);
    req.on('close', () => deps.traffic.off('traffic', send));
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req.url);
    const method = req.method ?? 'GET';
    // Open to probes without a token (load balancers carry none): it tells ok or why not, nothing about the data.
    if (path === '/_health' && (method === 'GET' || method === 'HEAD')) {
      const { statusCode, body } = healthAnswer(await deps.health());
      res.writeHead(statusCode, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : JSON.stringify(body));
      return;
    }
    deps.access.check(method === 'PUT' || method === 'DELETE' ? 'write' : 'read', tokenOf(req.headers.authorization));
    if (path === '/_ring' && (method === 'GET' || method === 'HEAD')) {
      if ((req.headers.accept ?? '').includes('text/html')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(method === 'HEAD' ? undefined : ringPage(deps.self()));
      } else {
        const body = method === 'HEAD' ? undefined : JSON.stringify(await deps.status());
        res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
        res.end(body);
      }
      return;
    }
    if (path === '/_events' && method === 'GET') return events(req, res);
    if (path === '/metrics' && method === 'GET') {
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(await deps.metrics.registry.metrics());
      return;
    }
    const name = itemName(path);
    switch (method) {
      case 'GET':
      case 'HEAD':
        return getItem(req, res, name);
      case 'PUT':
        return putItem(req, res, name);
      case 'DELETE':
        expect(await deps.ask({ type: 'DELETE', data: name }), 'DELETE');
        res.writeHead(204);
        res.end();
        return;
      default:
        res.writeHead(405, { allow: ALLOWED_METHODS, 'content-type': 'text/plain; charset=utf-8' });
        res.end(`${method} is not supported here\n`);
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (readsOpen && answerReady(req, res)) return;
    res.on('finish', () => deps.metrics.http.inc({ method: req.method ?? '?', status: String(res.statusCode) }));
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : isCoopError(err) ? httpStatusOf(err.code) : 500;
      const code = err instanceof HttpError ? err.code : isCoopError(err) ? err.code : undefined;
      if (status === 500) deps.log().error(`HTTP ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', connection: 'close' };
      // Browsers prompt for Basic credentials; the password is the token.
      if (status === 401) headers['www-authenticate'] = 'Basic realm="Co-op WebServers", charset="UTF-8"';
      if (code === 'NOT_READY') headers['retry-after'] = String(NOT_READY_RETRY_AFTER_SECONDS);
      res.writeHead(status, headers);
      res.end(`${(err as Error).message}\n`);
      req.resume();
    });
  };
  return {
    listener,
    ready: readyAnswer, // the write follows at once, in the fast path
  };
}
