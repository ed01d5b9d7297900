/**
 * Log lines to a file descriptor (standard output), gathered and written in
 * the background. A write that fails (a reader that went away: EPIPE; a hung
 * up terminal: EIO; a full disk) drops the lines it carried, counted, and the
 * next lines try again; nothing is retried for ever and nothing throws, so a
 * server whose log cannot be written keeps serving. sonic-boom (pino's
 * writer) is not used here: after a failed write it keeps the lines and
 * retries them, and its synchronous flush at exit retries EPIPE every 100 ms
 * for ever, freezing the process.
 */
import { fstatSync, write, writeSync } from 'node:fs';

/** Why lines were dropped: the descriptor refused them, or the reader fell too far behind. */
export type DropReason = 'unwritable' | 'backlog';

export interface OutputOptions {
  /** Write on the main thread (files and terminals never wait on a reader). */
  sync: boolean;
  /** Gathered characters held while the reader is slow; later lines are dropped. */
  maxPendingChars: number;
  /** Called with the number of lines dropped and why. */
  onDrop(lines: number, reason: DropReason): void;
}

/** The longest a log line waits before it is written. */
const LOG_FLUSH_MS = 10;
/** Gathered lines past this many characters go out at the end of the turn. */
const LOG_FLUSH_CHARS = 64 * 1024;
/** How long a full non-blocking pipe (EAGAIN) is given before the write is tried again. */
const BUSY_RETRY_MS = 100;

function countLines(text: string | Buffer): number {
  let lines = 0;
  if (typeof text === 'string') {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  } else {
    for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

function isBusy(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EAGAIN' || code === 'EBUSY';
}

/**
 * Lines are written gathered, at most LOG_FLUSH_MS after the first of them
 * (at the end of the turn past LOG_FLUSH_CHARS), and at exit: each write is
 * an asynchronous file write that wakes libuv's thread pool, too dear to pay
 * per line or per turn of a busy server. A process that ends by
 * itself waits for the timer (and the write it starts); a process killed
 * outright loses at most the last LOG_FLUSH_MS of its log.
 */
export class LineOutput {
  /** Lines not yet handed to a write. */
  private pending = '';
  /** What a write holds (the unwritten rest of it after a short write). */
  private writing: Buffer | undefined;
  /** Whether a write of `writing` is on its way in libuv's thread pool. */
  private inThreadPool = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly fd: number,
    private readonly options: OutputOptions,
  ) {}

  write(line: string): boolean {
    if (this.pending.length + line.length > this.options.maxPendingChars) {
      this.options.onDrop(countLines(line), 'backlog');
      return true;
    }
    this.pending += line;
    // Not written here and now: a write started in the middle of a turn may still be on its way
    // when process.exit comes later in that turn, and the lines written at exit would overtake it.
    if (this.pending.length >= LOG_FLUSH_CHARS) this.immediate ??= setImmediate(this.flush);
    else this.timer ??= setTimeout(this.flush, LOG_FLUSH_MS);
    return true;
  }

  /**
   * At exit (process.exit), when no timer runs and no asynchronous write
   * finishes any more: what is held, written synchronously. A reader that
   * does not take it at once (EAGAIN on a non-blocking pipe) or cannot (EPIPE)
   * loses it: the exit never waits on a reader.
   */
  flushSync(): void {
    this.cancelTimers();
    clearTimeout(this.retry);
    this.retry = undefined;
    // A write in the thread pool goes out (or not) by itself; what waits behind it follows.
    let bytes =
      this.inThreadPool || this.writing === undefined
        ? Buffer.from(this.pending)
        : Buffer.concat([this.writing, Buffer.from(this.pending)]);
    this.pending = '';
    if (!this.inThreadPool) this.writing = undefined;
    while (bytes.length > 0) {
      try {
        bytes = bytes.subarray(writeSync(this.fd, bytes));
      } catch {
        this.options.onDrop(countLines(bytes), 'unwritable');
        return;
      }
    }
  }

  private cancelTimers(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private readonly flush = (): void => {
    this.cancelTimers();
    if (this.writing === undefined && this.pending !== '') this.next();
  };

  /** Starts writing what is pending; a write already under way takes it when it ends. */
  private next(): void {
    this.writing = Buffer.from(this.pending);
    this.pending = '';
    this.attempt();
  }

  private attempt(): void {
    const buffer = this.writing!;
    if (!this.options.sync) {
      this.inThreadPool = true;
      write(this.fd, buffer, 0, buffer.length, null, this.written);
      return;
    }
    let written;
    try {
      written = writeSync(this.fd, buffer);
    } catch (err) {
      this.written(err as NodeJS.ErrnoException, 0);
      return;
    }
    this.written(null, written);
  }

  private readonly written = (err: NodeJS.ErrnoException | null, bytes: number): void => {
    this.inThreadPool = false;
    const buffer = this.writing;
    if (buffer === undefined) return; // flushed at exit meanwhile
    if (err) {
      if (isBusy(err)) {
        this.retry = setTimeout(this.retryWrite, BUSY_RETRY_MS);
        return;
      }
      this.writing = undefined;
      this.options.onDrop(countLines(buffer), 'unwritable');
    } else if (bytes < buffer.length) {
      this.writing = buffer.subarray(bytes);
      this.attempt();
      return;
    } else {
      this.writing = undefined;
    }
    // Lines gathered while the write was under way go out now (a failed write is not repeated with them).
    if (this.pending !== '') {
      this.cancelTimers();
      this.next();
    }
  };

  private readonly retryWrite = (): void => {
    this.retry = undefined;
    if (this.writing !== undefined) this.attempt();
  };
}

/**
 * Whether a descriptor is a file, a terminal or /dev/null: writes there
 * never wait on a reader, so they are made at once, as Node's own
 * process.stdout does. A pipe or socket (a reader that may be slow) is
 * written asynchronously, through libuv's thread pool.
 */
export function writesNeverWait(fd: number): boolean {
  try {
    const stats = fstatSync(fd);
    return stats.isFile() || stats.isCharacterDevice();
  } catch {
    return false;
  }
}
