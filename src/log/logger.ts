/**
 * Logging. Every line carries a `tag` that is the original's prefix: [INFO]
 * [SEND] [RECV] [WARN] [ERROR]. The "json" format is pino's JSON lines (with
 * the tag, the server's address and a round id where there is one). The
 * "pretty" format prints just the prefix and the message, as the original
 * does, coloured on a terminal (never when NO_COLOR is set); it is formatted
 * here directly, because going through pino's JSON and parsing it back cost
 * half the server's throughput. Both write to standard output through
 * sonic-boom (pino's writer), gathered for up to LOG_FLUSH_MS and written
 * together; asynchronously to a pipe or socket, so a busy server never waits
 * on a slow reader of its log. Heartbeat (PING, PING_REQ, CHECK) traffic is logged only with -v.
 */
import { fstatSync, writeSync } from 'node:fs';
import { pino, type Logger as PinoLogger } from 'pino';
import sonicBoom from 'sonic-boom';

type SonicBoom = sonicBoom.SonicBoom;
const { SonicBoom } = sonicBoom;
import picocolors from 'picocolors';

export type LogFormat = 'pretty' | 'json';
export type Tag = 'INFO' | 'SEND' | 'RECV' | 'WARN' | 'ERROR';

export interface LoggerOptions {
  format?: LogFormat;
  /** Also log heartbeat traffic. */
  verbose?: boolean;
  /** Log nothing at all (tests, library use). */
  silent?: boolean;
  /** Where lines go; default standard output. */
  destination?: { write(line: string): unknown; isTTY?: boolean };
  /** Force colour on or off; default: on for a terminal unless NO_COLOR is set. */
  color?: boolean;
  /** Pretty format: start each line with the server's address (several servers in one process). */
  prefixNode?: boolean;
}

export type Fields = Record<string, unknown>;

export interface Log {
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** A message this server sent; `heartbeat` ones only show with -v. */
  send(message: string, fields?: Fields, heartbeat?: boolean): void;
  recv(message: string, fields?: Fields, heartbeat?: boolean): void;
  child(bindings: Fields): Log;
}

function wantsColor(destination: { isTTY?: boolean }, forced: boolean | undefined): boolean {
  if (forced !== undefined) return forced;
  if (process.env.NO_COLOR) return false;
  if (process.env.FORCE_COLOR) return true;
  return destination.isTTY === true;
}

/** The longest a log line waits before it is written. */
const LOG_FLUSH_MS = 10;
/** Gathered lines past this many characters go out at the end of the turn. */
const LOG_FLUSH_CHARS = 64 * 1024;

/**
 * Lines reach sonic-boom gathered, at most LOG_FLUSH_MS after the first of
 * them (at the end of the turn past LOG_FLUSH_CHARS), and at exit. A write per line cost
 * an asynchronous file write each, with a wake-up of libuv's thread pool:
 * about a quarter of a busy relaying server's time (issue 6). A write per
 * turn of the event loop still cost a JSON GET about 8% of its CPU: under
 * load a turn holds a request or two, and each turn that logged paid a
 * system call and an extra pass of the event loop for its setImmediate.
 * A process that ends by itself waits for the timer (and the write it
 * starts); a process killed outright loses at most the last LOG_FLUSH_MS of
 * its log.
 */
class GatheredLines {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly out: SonicBoom,
    private readonly fd: number,
  ) {}

  write(line: string): boolean {
    this.pending += line;
    // Not written here and now: a write started in the middle of a turn may still be on its way
    // when process.exit comes later in that turn, and the lines written at exit would overtake it.
    if (this.pending.length >= LOG_FLUSH_CHARS) this.immediate ??= setImmediate(this.flush);
    else this.timer ??= setTimeout(this.flush, LOG_FLUSH_MS);
    return true;
  }

  /**
   * At exit (process.exit), when no timer runs and no asynchronous write
   * finishes any more: what sonic-boom holds, then what is gathered here,
   * written synchronously. Handing the gathered lines to sonic-boom would
   * start an asynchronous write of them that the exit may cut off.
   */
  flushSync(): void {
    const text = this.take();
    this.out.flushSync();
    let bytes = Buffer.from(text);
    while (bytes.length > 0) bytes = bytes.subarray(writeSync(this.fd, bytes));
  }

  private take(): string {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const text = this.pending;
    this.pending = '';
    return text;
  }

  private readonly flush = (): void => {
    const text = this.take();
    if (text !== '') this.out.write(text);
  };
}

let stdout: GatheredLines | undefined;

/**
 * Whether standard output is a file, a terminal or /dev/null: writes there
 * never wait on a reader, so they are made at once, as Node's own
 * process.stdout does. A pipe or socket (a reader that may be slow) is
 * written asynchronously, through libuv's thread pool.
 */
function writesNeverWait(fd: number): boolean {
  try {
    const stats = fstatSync(fd);
    return stats.isFile() || stats.isCharacterDevice();
  } catch {
    return false;
  }
}

/** Log bytes held for a pipe that does not take them. */
const MAX_PENDING_LOG_BYTES = 16 * 1024 * 1024;

/** Standard output, written every LOG_FLUSH_MS at most and flushed when the process exits. */
function standardOutput(): GatheredLines {
  if (!stdout) {
    // At exit, a reader that has stopped reading (a full pipe) must not keep the process
    // from ending: what it has not taken is dropped instead of retried for ever.
    let exiting = false;
    // A reader that stops reading for good costs at most MAX_PENDING_LOG_BYTES of memory; later lines are dropped.
    const fd = 1;
    const out = new GatheredLines(
      new SonicBoom({ fd, sync: writesNeverWait(fd), retryEAGAIN: () => !exiting, maxLength: MAX_PENDING_LOG_BYTES }),
      fd,
    );
    process.on('exit', () => {
      exiting = true;
      try {
        out.flushSync();
      } catch {
        // Nothing more can be done at exit.
      }
    });
    stdout = out;
  }
  return stdout;
}

class PinoLog implements Log {
  constructor(private readonly logger: PinoLogger) {}

  info(message: string, fields?: Fields): void {
    this.logger.info({ ...fields, tag: 'INFO' }, message);
  }
  warn(message: string, fields?: Fields): void {
    this.logger.warn({ ...fields, tag: 'WARN' }, message);
  }
  error(message: string, fields?: Fields): void {
    this.logger.error({ ...fields, tag: 'ERROR' }, message);
  }
  send(message: string, fields?: Fields, heartbeat = false): void {
    if (heartbeat) this.logger.debug({ ...fields, tag: 'SEND' }, message);
    else this.logger.info({ ...fields, tag: 'SEND' }, message);
  }
  recv(message: string, fields?: Fields, heartbeat = false): void {
    if (heartbeat) this.logger.debug({ ...fields, tag: 'RECV' }, message);
    else this.logger.info({ ...fields, tag: 'RECV' }, message);
  }
  child(bindings: Fields): Log {
    return new PinoLog(this.logger.child(bindings));
  }
}

class PrettyLog implements Log {
  /** Each tag as printed, `[INFO]` and so on, painted once. */
  private readonly tags: Record<Tag, string>;

  constructor(
    private readonly out: { write(line: string): unknown },
    private readonly color: boolean,
    private readonly verbose: boolean,
    private readonly prefix: string,
    private readonly prefixNode: boolean,
  ) {
    const c = picocolors.createColors(color);
    this.tags = {
      INFO: c.green('[INFO]'),
      SEND: c.cyan('[SEND]'),
      RECV: c.magenta('[RECV]'),
      WARN: c.yellow('[WARN]'),
      ERROR: c.red('[ERROR]'),
    };
  }

  private line(tag: Tag, message: string): void {
    this.out.write(`${this.prefix}${this.tags[tag]} ${message}\n`);
  }

  info(message: string): void {
    this.line('INFO', message);
  }
  warn(message: string): void {
    this.line('WARN', message);
  }
  error(message: string): void {
    this.line('ERROR', message);
  }
  send(message: string, _fields?: Fields, heartbeat = false): void {
    if (!heartbeat || this.verbose) this.line('SEND', message);
  }
  recv(message: string, _fields?: Fields, heartbeat = false): void {
    if (!heartbeat || this.verbose) this.line('RECV', message);
  }
  child(bindings: Fields): Log {
    const node = typeof bindings.node === 'string' && this.prefixNode ? `${picocolors.createColors(this.color).dim(bindings.node)} ` : '';
    return new PrettyLog(this.out, this.color, this.verbose, node || this.prefix, this.prefixNode);
  }
}

const nothing: Log = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  send: () => undefined,
  recv: () => undefined,
  child: () => nothing,
};

export function createLogger(options: LoggerOptions = {}): Log {
  if (options.silent) return nothing;
  const destination = options.destination ?? standardOutput();
  if (options.format === 'json') {
    return new PinoLog(pino({ level: options.verbose ? 'debug' : 'info', base: undefined }, destination));
  }
  const color = wantsColor(options.destination ?? process.stdout, options.color);
  return new PrettyLog(destination, color, options.verbose ?? false, '', options.prefixNode ?? false);
}

/** A logger that drops everything, for tests and embedding. */
export const silentLog: Log = nothing;
