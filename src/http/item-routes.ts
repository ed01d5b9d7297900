/**
 * GET, HEAD, PUT and DELETE of /NAME: through the same handlers as the JSON
 * requests (`ask`), with content types, strong ETags, 304s, ranges, and
 * bodies streamed part by part, so a large item never sits whole in memory.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sha1 } from '../store/hash.js';
import { checkItemName } from '../protocol/names.js';
import type { Message, Reply } from '../protocol/messages.js';
import { chunksLength, encodeContent, isFound, PART_BYTES } from '../protocol/content.js';
import type { ItemMeta, ItemStore } from '../store/items.js';
import { readLocal } from '../store/local-read.js';
import type { NodeMetrics } from '../node/metrics.js';
import { notFoundPage } from './pages.js';
import { itemHeaders } from './ready.js';
import type { ReadyRoute } from './ready-route.js';
import { expect, HttpError } from './http-error.js';
import { InFlight } from '../util/in-flight.js';
import { ChunkQueue } from '../util/chunk-queue.js';

export interface ItemDeps {
  /** A request through the same handlers as the JSON protocol. */
  ask(message: Message): Promise<Reply>;
  /** Throws when a client's request is outside this server's limits (names, sizes), as `ask` refuses it. */
  checkClient(message: Message): void;
  store(): ItemStore;
  metrics: NodeMetrics;
  /** Largest body taken whole when its length is not announced. */
  maxBodyBytes: number;
}

export interface ItemRoutes {
  get(req: IncomingMessage, res: ServerResponse, name: string): Promise<void>;
  put(req: IncomingMessage, res: ServerResponse, name: string): Promise<void>;
  delete(res: ServerResponse, name: string): Promise<void>;
}

/** The item a request path names ("/" is index.html), percent-decoded and checked. */
export function itemName(path: string): string {
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

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` of a `size`-byte item; undefined when unsatisfiable. */
function parseRange(header: string, size: number): { start: number; end: number } | undefined {
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

/**
 * Bytes per part of a large body's upload, when this server's message limit
 * allows: a part costs a round's bookkeeping on every server, so larger parts
 * cost less per byte (a read reply still carries at most PART_BYTES).
 */
const UPLOAD_PART_BYTES = 1024 * 1024;
/** Parts of one upload in flight at once: each goes around the ring while the next ones follow it. */
const PARTS_IN_FLIGHT = 8;

/** Reads of a large item held here: large enough that a read costs little per byte, small enough to keep memory bounded. */
const STREAM_BYTES = 1024 * 1024;

/** An item held here that one part carries, read whole. */
type Whole = { meta: ItemMeta; content: string };
/** A larger item held here, its stored version open (ItemStore.reader). */
type Held = NonNullable<Awaited<ReturnType<ItemStore['reader']>>>;

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

export function itemRoutes(deps: ItemDeps, ready: ReadyRoute): ItemRoutes {
  const getOk = deps.metrics.requests.labels({ type: 'GET', outcome: 'ok' });
  const getLatency = deps.metrics.latency.labels({ type: 'GET' });

  const get = async (req: IncomingMessage, res: ServerResponse, name: string): Promise<void> => {
    // An item held here is served straight from the store (the same answer a GET gives, without encoding
    // it for the wire and back): one part whole, a larger one streamed from its stored version in large
    // reads. Anything else asks through the handlers, by parts.
    const started = performance.now();
    deps.checkClient({ type: 'GET', data: name });
    const read = readLocal(deps.store(), name, PART_BYTES);
    const local = read.kind === 'whole' ? read : read.kind === 'from-disk' ? await deps.store().get(name) : undefined;
    const held = read.kind === 'too-large' ? await deps.store().reader(name) : undefined;
    try {
      if (local || held) {
        getOk.inc();
        getLatency.observe((performance.now() - started) / 1000);
        if (local && req.url !== undefined) ready.remember(req.url, name);
      }
      await answer(req, res, name, local, held);
    } finally {
      await held?.content.close();
    }
  };

  const answer = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    local: Whole | undefined,
    held: Held | undefined,
  ): Promise<void> => {
    const meta = local?.meta ?? held?.meta;
    const first = meta
      ? { item: name, content: '', found: true, version: meta.version, size: meta.size, offset: 0 }
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
    const stored = meta ?? deps.store().head(name);
    const hash =
      stored && !stored.deleted && stored.size === size ? stored.hash : size === firstBytes.length ? sha1(firstBytes) : undefined;
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
    // Piece by piece: a large item never sits whole in memory.
    for (let offset = start; offset <= end && !res.destroyed;) {
      const bytes = held
        ? await held.content.read(offset, Math.min(STREAM_BYTES, end - offset + 1))
        : offset === 0 && firstBytes.length >= Math.min(PART_BYTES, end + 1)
          ? firstBytes.subarray(0, Math.min(PART_BYTES, end + 1))
          : await askPart(name, offset, Math.min(PART_BYTES, end - offset + 1));
      if (bytes.length === 0) break;
      await write(res, bytes);
      offset += bytes.length;
    }
    res.end();
  };

  const askPart = async (name: string, offset: number, length: number): Promise<Buffer> =>
    Buffer.from(expect(await deps.ask({ type: 'GET', data: name, part: { offset, length } }), 'GET').data.content, 'base64');

  const put = async (req: IncomingMessage, res: ServerResponse, name: string): Promise<void> => {
    const existed = deps.store().head(name)?.deleted === false;
    const announced = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (announced === undefined || announced <= PART_BYTES) {
      const { content, encoding } = encodeContent(await readBody(req, Math.min(deps.maxBodyBytes, announced ?? Infinity)));
      expect(await deps.ask({ type: 'PUT', data: { item: name, content, encoding } }), 'PUT');
    } else {
      const upload = randomBytes(8).toString('hex');
      const partBytes = Math.min(UPLOAD_PART_BYTES, deps.maxBodyBytes);
      let offset = 0;
      // Parts are the body's chunks as they came, cut at part boundaries: no byte is copied here.
      const pending = new ChunkQueue();
      const window = new InFlight<void>(PARTS_IN_FLIGHT);
      const flush = async (bytes: Buffer[]): Promise<void> => {
        const part = { upload, offset, size: announced };
        offset += chunksLength(bytes);
        // The bytes themselves go to the handlers: a part is base64 only on the wire, where a peer cannot take it raw.
        const sent = deps.ask({ type: 'PUT', data: { item: name, content: '', encoding: 'base64', part, bytes } });
        // The first part opens the upload on every server: the others follow it, several at once.
        if (part.offset === 0) expect(await sent, 'PUT');
        else {
          window.add(sent.then((reply) => void expect(reply, 'PUT')));
          if (window.full) await window.next();
        }
      };
      for await (const chunk of req as AsyncIterable<Buffer>) {
        if (offset + pending.size + chunk.length > announced) {
          throw new HttpError(400, `the body is longer than the ${announced} bytes announced`);
        }
        pending.push(chunk);
        while (pending.size >= partBytes) await flush(pending.take(partBytes));
      }
      if (pending.size > 0) await flush(pending.take(pending.size));
      while (window.size > 0) await window.next();
      if (offset !== announced) throw new HttpError(400, `the body had ${offset} bytes, not the ${announced} announced`);
    }
    res.writeHead(existed ? 204 : 201, existed ? {} : { location: `/${encodeURIComponent(name)}` });
    res.end();
  };

  const remove = async (res: ServerResponse, name: string): Promise<void> => {
    expect(await deps.ask({ type: 'DELETE', data: name }), 'DELETE');
    res.writeHead(204);
    res.end();
  };

  return { get, put, delete: remove };
}
