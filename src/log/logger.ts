/**
 * Logging. Every line carries a `tag` that is the original's prefix: [INFO]
 * [SEND] [RECV] [WARN] [ERROR]. The "json" format is pino's JSON lines (with
 * the tag, the server's address and a round id where there is one). The
 * "pretty" format prints just the prefix and the message, as the original
 * does, coloured on a terminal (never when NO_COLOR is set); it is formatted
 * here directly, because going through pino's JSON and parsing it back cost
 * half the server's throughput. Both write to standard output through
 * sonic-boom (pino's writer), gathered per turn of the event loop;
 * asynchronously to a pipe or socket, so a busy server never waits on a slow
 * reader of its log. Heartbeat (PING, PING_REQ, CHECK) traffic is logged only with -v.
 */
import { fstatSync } from 'node:fs';
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

/**
 * Lines written in one turn of the event loop reach sonic-boom as one string,
 * at the end of the turn. A write per line cost an asynchronous file write
 * each, with a wake-up of libuv's thread pool: about a quarter of a busy
 * relaying server's time (issue 6). Nothing waits longer than the turn.
 */
class TurnBuffer {
  private pending = '';
  private scheduled = false;

  constructor(private readonly out: SonicBoom) {}

  write(line: string): boolean {
    this.pending += line;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return true;
  }

  flushSync(): void {
    this.flush();
    this.out.flushSync();
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const text = this.pending;
    this.pending = '';
    if (text !== '') this.out.write(text);
  };
}

let stdout: TurnBuffer | undefined;

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

/** Standard output, written once per turn of the event loop and flushed when the process exits. */
function standardOutput(): TurnBuffer {
  if (!stdout) {
    // At exit, a reader that has stopped reading (a full pipe) must not keep the process
    // from ending: what it has not taken is dropped instead of retried for ever.
    let exiting = false;
    // A reader that stops reading for good costs at most MAX_PENDING_LOG_BYTES of memory; later lines are dropped.
    const out = new TurnBuffer(
      new SonicBoom({ fd: 1, sync: writesNeverWait(1), retryEAGAIN: () => !exiting, maxLength: MAX_PENDING_LOG_BYTES }),
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
