/**
 * Finds where one JSON object ends in a byte stream, without waiting for the
 * peer to half-close: the original client keeps its side open while it waits
 * for the reply. The scanner tracks strings and nesting across chunks; UTF-8
 * continuation bytes never equal an ASCII delimiter, so scanning bytes is safe.
 */
import { CoopError } from '../errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** No message of the protocol nests deeper than this; deeper input is hostile. */
export const MAX_DEPTH = 32;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

export interface FrameResult {
  /** The whole object's bytes. */
  frame: Buffer;
  /** Bytes that followed the object in the same chunk. */
  rest: Buffer;
}

export class JsonObjectFramer {
  private readonly chunks: Buffer[] = [];
  /** Chunks at the front of `chunks` that are copies of their own (own()). */
  private owned = 0;
  private buffered = 0;
  private started = false;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxBytes: number) {}

  /** True once the first non-blank byte opened an object. */
  get hasStarted(): boolean {
    return this.started;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Forgets the object found (or begun), to find the next one in the same stream. */
  reset(): void {
    this.chunks.length = 0;
    this.owned = 0;
    this.buffered = 0;
    this.started = false;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }

  /** Feeds a chunk; returns the completed object, or undefined when more bytes are needed. Throws CoopError. */
  push(chunk: Buffer): FrameResult | undefined {
    const end = this.scan(chunk);
    const used = end === -1 ? chunk.length : end + 1;
    if (this.buffered + used > this.maxBytes) {
      throw new CoopError('TOO_LARGE', `message larger than the limit of ${this.maxBytes} bytes`);
    }
    this.chunks.push(end === -1 ? chunk : chunk.subarray(0, used));
    this.buffered += used;
    if (end === -1) return undefined;
    const frame = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    return { frame, rest: chunk.subarray(used) };
  }

  /** Copies what is kept of an object begun, for a caller whose chunks are used again once pushed (a reused read buffer). */
  own(): void {
    for (; this.owned < this.chunks.length; this.owned++) this.chunks[this.owned] = Buffer.from(this.chunks[this.owned]!);
  }

  /** Returns the index of the closing brace in chunk, or -1. */
  private scan(chunk: Buffer): number {
    let i = 0;
    const n = chunk.length;
    // Next quote and backslash at or after i, found once and reused, so that a
    // string full of escapes costs one pass rather than one search per escape.
    let quote = -2;
    let backslash = -2;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        if (quote !== -1 && quote < i) quote = chunk.indexOf(QUOTE, i);
        if (backslash !== -1 && backslash < i) backslash = chunk.indexOf(BACKSLASH, i);
        if (backslash !== -1 && (quote === -1 || backslash < quote)) {
          this.escaped = true;
          i = backslash + 1;
        } else if (quote !== -1) {
          this.inString = false;
          i = quote + 1;
        } else {
          return -1;
        }
        continue;
      }
      const byte = chunk[i]!;
      if (!this.started) {
        if (!isWhitespace(byte)) {
          if (byte !== OPEN_BRACE) throw new CoopError('BAD_JSON', 'a message must be one JSON object');
          this.started = true;
          this.depth = 1;
        }
      } else if (byte === QUOTE) {
        this.inString = true;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        if (++this.depth > MAX_DEPTH) throw new CoopError('TOO_DEEP', `JSON nested deeper than ${MAX_DEPTH} levels`);
      } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (--this.depth === 0) return i;
      }
      i++;
    }
    return -1;
  }
}
