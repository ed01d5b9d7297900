/**
 * A strict recognizer of the simplest HTTP/1.1 requests, for the fast path in
 * front of node:http (fast-get.ts): `GET` or `HEAD` of an origin-form target,
 * `HTTP/1.1`, exactly one Host header, a few harmless others, and nothing that
 * asks for more than a plain answer (no body, no conditions, ranges,
 * credentials, upgrade, expectation, or closing).
 *
 * It is a strict subset of what node's parser (llhttp, strict mode) takes:
 * CRLF line ends only (no bare CR or LF), no NUL or other control bytes, no
 * bytes above 0x7E, no obs-fold, no space before a colon, no empty lines
 * before the request line, a bounded head. Whatever is not simple is left to
 * node:http, which then owns the connection from that request on.
 *
 * No smuggling disagreement is possible: a simple request has neither
 * Content-Length nor Transfer-Encoding, so it has no body (RFC 9112 6.3: such
 * a request's body is empty) and it ends at its first CRLFCRLF, for us as for
 * any parser that accepts it. Bytes after that are the next request, read
 * from the same boundary whether we read it or node:http does.
 */

/** Longer heads are not simple (node:http takes up to 16 KiB). */
export const MAX_SIMPLE_HEAD_BYTES = 8192;
/** More header lines than this are not simple. */
export const MAX_SIMPLE_HEADERS = 32;

export type SimpleMethod = 'GET' | 'HEAD';

export type Recognized =
  /** A prefix of a simple request: more bytes are needed to tell. */
  | { readonly kind: 'partial' }
  /** Anything else (or a prefix that can no longer become simple): node:http's. */
  | { readonly kind: 'other' }
  /** One simple request of `length` bytes (its head; it has no body). */
  | { readonly kind: 'simple'; readonly method: SimpleMethod; readonly target: string; readonly length: number };

const PARTIAL: Recognized = { kind: 'partial' };
const OTHER: Recognized = { kind: 'other' };

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const SLASH = 0x2f;

const GET = Buffer.from('GET ', 'latin1');
const HEAD = Buffer.from('HEAD ', 'latin1');
const VERSION = Buffer.from(' HTTP/1.1\r\n', 'latin1');

/** tchar of RFC 9110 5.6.2: the bytes of a header name. */
const TOKEN = new Uint8Array(256);
for (const char of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[char.charCodeAt(0)] = 1;

/**
 * Headers that make a request more than a plain GET: a body, conditions,
 * ranges, credentials, a protocol change, an expectation. (Connection is
 * allowed as `keep-alive` only.)
 */
const NOT_SIMPLE = new Set([
  'content-length',
  'transfer-encoding',
  'upgrade',
  'expect',
  'range',
  'if-range',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'authorization',
  'te',
  'trailer',
]);

/** Where `literal` ends when `bytes` holds it at `at`; -1 when the bytes end first (a prefix of it); -2 when it differs. */
function literalEnd(bytes: Buffer, at: number, end: number, literal: Buffer): number {
  for (let i = 0; i < literal.length; i++) {
    if (at + i >= end) return -1;
    if (bytes[at + i] !== literal[i]) return -2;
  }
  return at + literal.length;
}

/** A header value without its optional whitespace around it, in lower case. */
function trimmedLower(bytes: Buffer, start: number, end: number): string {
  while (start < end && (bytes[start] === SP || bytes[start] === HTAB)) start++;
  while (end > start && (bytes[end - 1] === SP || bytes[end - 1] === HTAB)) end--;
  return bytes.toString('latin1', start, end).toLowerCase();
}

/** Recognizes the request that starts at `start` in `bytes` (the bytes received and not yet consumed). */
export function recognize(bytes: Buffer, start = 0): Recognized {
  // Bytes past the bound are never looked at: running into it means "too long", not "need more".
  const end = Math.min(bytes.length, start + MAX_SIMPLE_HEAD_BYTES);
  const cut = (): Recognized => (end - start >= MAX_SIMPLE_HEAD_BYTES ? OTHER : PARTIAL);

  const method: SimpleMethod = bytes[start] === 0x48 ? 'HEAD' : 'GET';
  let pos = literalEnd(bytes, start, end, method === 'HEAD' ? HEAD : GET);
  if (pos === -1) return cut();
  if (pos === -2) return OTHER;

  const targetStart = pos;
  if (pos >= end) return cut();
  if (bytes[pos] !== SLASH) return OTHER;
  while (pos < end && bytes[pos]! > SP && bytes[pos]! < 0x7f) pos++;
  const targetEnd = pos;
  pos = literalEnd(bytes, pos, end, VERSION);
  if (pos === -1) return cut();
  if (pos === -2) return OTHER;

  const names: string[] = [];
  let hosts = 0;
  for (;;) {
    if (pos >= end) return cut();
    if (bytes[pos] === CR) {
      if (pos + 1 >= end) return cut();
      if (bytes[pos + 1] !== LF || hosts !== 1) return OTHER;
      return { kind: 'simple', method, target: bytes.toString('latin1', targetStart, targetEnd), length: pos + 2 - start };
    }
    const nameStart = pos;
    while (pos < end && TOKEN[bytes[pos]!] === 1) pos++;
    if (pos >= end) return cut();
    if (pos === nameStart || bytes[pos] !== COLON) return OTHER;
    const name = bytes.toString('latin1', nameStart, pos).toLowerCase();
    const valueStart = ++pos;
    while (pos < end && (bytes[pos] === HTAB || (bytes[pos]! >= SP && bytes[pos]! < 0x7f))) pos++;
    if (pos >= end) return cut();
    if (bytes[pos] !== CR) return OTHER;
    if (pos + 1 >= end) return cut();
    if (bytes[pos + 1] !== LF) return OTHER;
    if (NOT_SIMPLE.has(name) || names.includes(name) || names.length >= MAX_SIMPLE_HEADERS) return OTHER;
    if (name === 'connection' && trimmedLower(bytes, valueStart, pos) !== 'keep-alive') return OTHER;
    if (name === 'host') hosts++;
    names.push(name);
    pos += 2;
  }
}
