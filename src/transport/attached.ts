/**
 * Bytes attached to a message on a peer stream, so that a large item's part
 * travels between our servers as raw bytes, not base64 inside JSON. An
 * attached message is written as a header line `#N\n`, the message's JSON
 * object, and then its N bytes. Only a receiver that announced it reads them
 * (its first acknowledgement line is ATTACHING, acks.ts) gets one; everyone
 * else gets the message `inline`, its bytes as base64 in the JSON.
 */
import { CoopError } from '../errors.js';
import { JsonObjectFramer } from '../protocol/framing.js';
import type { PartBlocks } from './part-blocks.js';

/** A message with its bytes beside it, and the same message whole, for a peer that takes no attachments. */
export interface Attached {
  text: string;
  /** The bytes, in the chunks they are held in. */
  bytes: readonly Buffer[];
  inline(): string;
}

/** What a peer transport sends: a message's text, or a message with bytes attached. */
export type Payload = string | Attached;

/** The text a payload goes as to a peer that takes no attachments. */
export function inlineText(payload: Payload): string {
  return typeof payload === 'string' ? payload : payload.inline();
}

/** The header that precedes an attached message. */
export function attachedHeader(bytes: number): string {
  return `#${bytes}\n`;
}

/** One message read off a stream: its JSON object's bytes, and its attached bytes when it had some. */
export interface StreamFrame {
  /** With `blocks`, a view of the chunk pushed: read it before the next push. */
  frame: Buffer;
  /** In the chunks they arrived in (a part passed on is never copied into one Buffer); with `blocks`, one buffer taken from them. */
  bytes?: Buffer[] | undefined;
}

const HASH = 0x23;
const NEWLINE = 0x0a;
/** Digits of the longest length a header may give. */
const MAX_HEADER_DIGITS = 10;

function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Splits a stream into messages, each a JSON object, optionally preceded by
 * an attachment header (then followed by its bytes). Throws CoopError
 * (BAD_JSON, TOO_LARGE) on anything else: the stream is then given up.
 * With `blocks`, the chunks pushed are borrowed (a read buffer used again
 * after each push): attached bytes are copied into a buffer taken from the
 * blocks, and what is kept of a message begun is copied.
 */
export class StreamFrames {
  private readonly framer: JsonObjectFramer;
  /** Digits of a header being read; undefined when none is. */
  private header: string | undefined;
  /** Bytes the current message has attached (-1: none), and the ones gathered so far. */
  private expected = -1;
  private frame: Buffer | undefined;
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  /** With blocks: where the current message's attached bytes are copied. */
  private target: Buffer | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly blocks?: PartBlocks,
  ) {
    this.framer = new JsonObjectFramer(maxBytes);
  }

  /** Feeds a chunk; returns the messages it completed, in order. */
  push(chunk: Buffer): StreamFrame[] {
    const done: StreamFrame[] = [];
    let rest = chunk;
    while (rest.length > 0) {
      if (this.frame !== undefined) {
        rest = this.gather(rest, done);
        continue;
      }
      if (this.header !== undefined) {
        rest = this.readHeader(rest);
        continue;
      }
      if (!this.framer.hasStarted && this.expected < 0) {
        let at = 0;
        while (at < rest.length && isBlank(rest[at]!)) at++;
        if (at === rest.length) break;
        rest = rest.subarray(at);
        if (rest[0] === HASH) {
          this.header = '';
          rest = this.readHeader(rest.subarray(1));
          continue;
        }
      }
      const result = this.framer.push(rest);
      if (!result) break;
      this.framer.reset();
      rest = result.rest;
      if (this.expected < 0) {
        done.push({ frame: result.frame });
      } else {
        // Kept until its attached bytes are all here: a borrowed chunk's view would not last.
        this.frame = this.blocks ? Buffer.from(result.frame) : result.frame;
        rest = this.gather(rest, done);
      }
    }
    if (this.blocks) this.framer.own();
    return done;
  }

  private readHeader(chunk: Buffer): Buffer {
    const end = chunk.indexOf(NEWLINE);
    const digits = this.header + chunk.subarray(0, end === -1 ? chunk.length : end).toString('latin1');
    if (digits.length > MAX_HEADER_DIGITS || !/^\d*$/.test(digits)) throw new CoopError('BAD_JSON', 'a malformed attachment header');
    if (end === -1) {
      this.header = digits;
      return chunk.subarray(chunk.length);
    }
    const length = Number(digits);
    if (digits.length === 0) throw new CoopError('BAD_JSON', 'a malformed attachment header');
    if (length > this.maxBytes) throw new CoopError('TOO_LARGE', `attachment larger than the limit of ${this.maxBytes} bytes`);
    this.header = undefined;
    this.expected = length;
    this.target = this.blocks?.take(length);
    return chunk.subarray(end + 1);
  }

  /** Gathers the current message's attached bytes; completes it when they are all here. */
  private gather(chunk: Buffer, done: StreamFrame[]): Buffer {
    const wanted = this.expected - this.gatheredBytes;
    const taken = chunk.subarray(0, wanted);
    if (taken.length > 0) {
      if (this.target) taken.copy(this.target, this.gatheredBytes);
      else this.gathered.push(taken);
      this.gatheredBytes += taken.length;
    }
    if (this.gatheredBytes < this.expected) return chunk.subarray(chunk.length);
    done.push({ frame: this.frame!, bytes: this.target ? [this.target] : this.gathered });
    this.frame = undefined;
    this.target = undefined;
    this.gathered = [];
    this.gatheredBytes = 0;
    this.expected = -1;
    return chunk.subarray(taken.length);
  }
}
