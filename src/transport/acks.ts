/**
 * Acknowledgements on a peer stream (streams.ts), without sockets.
 *
 * The receiver of a stream writes back, now and then, how many messages it
 * has taken off that connection so far: a decimal count and a newline
 * ("0\n" as soon as the stream opens, then "17\n" ...). The sender keeps
 * every message written and not yet covered by such a count; when the oldest
 * has waited longer than a bound, the connection is taken for broken even
 * though the kernel took every byte (a one-way fault: nothing ever fails on
 * the sending side), and what it held is resent on a fresh one.
 */

/** One message written on a stream and not acknowledged yet. */
export interface Unacked<T> {
  /** Its number on this connection: the first message after the opening is 1. */
  seq: number;
  /** When it was written (ms). */
  at: number;
  item: T;
}

export class AckWindow<T> {
  /** Acknowledged entries before `head` are cleared at once: a message may be a large part of an upload. */
  private queue: Array<Unacked<T> | undefined> = [];
  private head = 0;
  private written = 0;
  private acked = 0;

  /** Counts a message written; kept (for a resend) unless `track` is false. Returns its number. */
  write(item: T, now: number, track = true): number {
    const seq = ++this.written;
    if (track) this.queue.push({ seq, at: now, item });
    return seq;
  }

  /**
   * The receiver has taken `count` messages: returns those it covers, oldest
   * first. A count that goes back (an old ack) covers nothing new; one past
   * what was written is a broken peer (throws RangeError).
   */
  ack(count: number): T[] {
    if (count > this.written) throw new RangeError(`acknowledged ${count} messages of ${this.written} written`);
    if (count <= this.acked) return [];
    this.acked = count;
    const done: T[] = [];
    while (this.head < this.queue.length && this.queue[this.head]!.seq <= count) {
      done.push(this.queue[this.head]!.item);
      this.queue[this.head++] = undefined;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return done;
  }

  /** How long the oldest message not acknowledged has waited (ms); 0 when there is none. */
  oldestAge(now: number): number {
    const oldest = this.queue[this.head];
    return oldest === undefined ? 0 : now - oldest.at;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Takes every message not acknowledged, oldest first (the connection is given up). */
  drain(): T[] {
    const rest = this.queue.slice(this.head).map((entry) => entry!.item);
    this.queue = [];
    this.head = 0;
    return rest;
  }
}

/**
 * The line a receiver writes first when the stream's opening asked whether it
 * reads attached bytes and it does; a receiver that does not never writes it.
 */
export const ATTACHING = 'bytes';

/** The longest count line accepted: a peer that sends more is broken. */
const MAX_LINE = 20;

/**
 * Reads the counts a receiver writes back. `push` returns the latest
 * complete count in the chunk (undefined when none completed); anything
 * but digits and newlines throws.
 */
export class AckReader {
  private partial = '';
  /** The receiver said it reads attached bytes (attached.ts). */
  attaching = false;

  push(chunk: string): number | undefined {
    let latest: number | undefined;
    let text = this.partial + chunk;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n')) {
      const line = text.slice(0, end);
      if (line === ATTACHING) this.attaching = true;
      else latest = parseCount(line);
      text = text.slice(end + 1);
    }
    if (text.length > MAX_LINE || !/^(\d*|[a-z]*)$/.test(text)) throw new RangeError('not an acknowledgement');
    this.partial = text;
    return latest;
  }
}

function parseCount(line: string): number {
  if (line.length === 0 || line.length > MAX_LINE || !/^\d+$/.test(line)) throw new RangeError('not an acknowledgement');
  const count = Number(line);
  if (!Number.isSafeInteger(count)) throw new RangeError('not an acknowledgement');
  return count;
}

/** What a receiver writes to acknowledge `count` messages. */
export function ackLine(count: number): string {
  return `${count}\n`;
}
