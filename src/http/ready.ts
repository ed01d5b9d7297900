/**
 * Ready-made HTTP answers for the small items a server holds: the headers
 * (type, ETag, Last-Modified, length) and the body are made once per stored
 * version, so a keep-alive GET of a small item costs a lookup and one write.
 * An answer is kept with the store entry it was made from; every write
 * replaces that entry, so a stale answer is never served, only made again.
 */
import mime from 'mime-types';
import type { ItemMeta, ItemStore } from '../store/items.js';
import { readLocal } from '../store/local-read.js';

export function contentType(name: string): string {
  const type = mime.lookup(name) || 'application/octet-stream';
  const charset = mime.charset(type);
  return charset ? `${type}; charset=${charset.toLowerCase()}` : type;
}

/**
 * The headers of a stored item's answer, general or ready (for writeHead: name,
 * value, ...): its type, ranges accepted, its ETag and Last-Modified when known.
 */
export function itemHeaders(name: string, hash: string | undefined, clock: number | undefined): string[] {
  const headers = ['content-type', contentType(name), 'accept-ranges', 'bytes'];
  if (hash !== undefined) headers.push('etag', `"${hash}"`);
  if (clock !== undefined) headers.push('last-modified', new Date(clock).toUTCString());
  return headers;
}

export interface ReadyAnswer {
  /** The store entry this answer was made from. */
  readonly meta: ItemMeta;
  /** For writeHead: name, value, name, value... */
  readonly headers: string[];
  /**
   * The status line and these headers as node:http writes them (each line
   * ending in CRLF), for the fast path, which adds Date and Connection itself.
   */
  readonly head: string;
  /** Text stays a string: Node then writes the head and the body in one call. */
  readonly body: string | Buffer;
}

/** How node:http writes a 200 with these headers, before its own Date and Connection lines. */
function headOf(headers: readonly string[]): string {
  let head = 'HTTP/1.1 200 OK\r\n';
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]!}: ${headers[i + 1]!}\r\n`;
  return head;
}

export interface ReadyLimits {
  /** Larger items are answered the general way. */
  itemBytes: number;
  /** The answers together hold at most this much content; the oldest go first. */
  totalBytes: number;
}

export class ReadyAnswers {
  private readonly answers = new Map<string, ReadyAnswer>();
  private bytes = 0;

  constructor(private readonly limits: ReadyLimits = { itemBytes: 64 * 1024, totalBytes: 8 * 1024 * 1024 }) {}

  /**
   * The answer for an item read whole from content at hand (store/local-read.ts),
   * no larger than the limit; undefined for anything else. A kept answer is
   * checked first: made from the entry held now, it stands for the same read.
   */
  get(store: ItemStore, name: string): ReadyAnswer | undefined {
    const kept = this.answers.get(name);
    if (kept !== undefined && kept.meta === store.head(name)) return kept;
    const read = readLocal(store, name, this.limits.itemBytes);
    if (read.kind !== 'whole') return undefined;
    const { meta, content } = read;
    const headers = [...itemHeaders(name, meta.hash, meta.version.clock), 'content-length', String(meta.size)];
    const body = meta.encoding === 'base64' ? Buffer.from(content, 'base64') : content;
    const answer: ReadyAnswer = { meta, headers, head: headOf(headers), body };
    this.keep(name, answer);
    return answer;
  }

  private keep(name: string, answer: ReadyAnswer): void {
    this.forget(name);
    this.answers.set(name, answer);
    this.bytes += answer.meta.size;
    for (const oldest of this.answers.keys()) {
      if (this.bytes <= this.limits.totalBytes) break;
      this.forget(oldest);
    }
  }

  private forget(name: string): void {
    const kept = this.answers.get(name);
    if (!kept) return;
    this.answers.delete(name);
    this.bytes -= kept.meta.size;
  }
}
