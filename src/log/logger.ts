/**
 * Logging. Every line carries a `tag` that is the original's prefix: [INFO]
 * [SEND] [RECV] [WARN] [ERROR]. The "json" format is pino's JSON lines (with
 * the tag, the server's address and a round id where there is one). The
 * "pretty" format prints the time, the prefix and the message (the original
 * printed no time), coloured on a terminal (never when NO_COLOR is set); it
 * is formatted here directly, because going through pino's JSON and parsing
 * it back cost half the server's throughput. Both write to standard output
 * through LineOutput (./output.ts), gathered and written together;
 * asynchronously to a pipe or socket, so a busy server never waits on a slow
 * reader of its log, and lines that cannot be written are dropped and counted.
 * Heartbeat (PING, PING_REQ, CHECK) traffic is logged only with -v.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import picocolors from 'picocolors';
import { LineOutput, writesNeverWait, type DropReason } from './output.js';

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
  /** Start each line with the time (ISO 8601, UTC, milliseconds; JSON: `time`); default on. */
  time?: boolean;
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

export type LogStream = 'stdout' | 'stderr';

/** Lines this process could not write, by stream and reason; process-wide, as the streams are. */
const dropped = new Map<`${LogStream} ${DropReason}`, number>();

function countDropped(stream: LogStream, reason: DropReason, lines: number): void {
  const key = `${stream} ${reason}` as const;
  dropped.set(key, (dropped.get(key) ?? 0) + lines);
}

/** Log lines dropped so far by this process, by stream and reason (for the metrics). */
export function droppedLogLines(): { stream: LogStream; reason: DropReason; lines: number }[] {
  return [...dropped].map(([key, lines]) => {
    const [stream, reason] = key.split(' ') as [LogStream, DropReason];
    return { stream, reason, lines };
  });
}

let guarded = false;

/**
 * Node ignores SIGPIPE, so a write to standard output or error whose reader
 * has gone fails with EPIPE, as an 'error' event on process.stdout or
 * process.stderr that ends the process when nobody listens (console.error,
 * NODE_DEBUG and Node's warnings write there). For a server such a line is
 * dropped and counted; the server goes on.
 */
export function surviveClosedStandardStreams(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', () => countDropped('stdout', 'unwritable', 1));
  process.stderr.on('error', () => countDropped('stderr', 'unwritable', 1));
}

let stdout: LineOutput | undefined;

/** Log bytes held for a pipe that does not take them. */
const MAX_PENDING_LOG_CHARS = 16 * 1024 * 1024;

/** Standard output, written every LOG_FLUSH_MS at most and flushed when the process exits. */
function standardOutput(): LineOutput {
  if (!stdout) {
    // Made first, process.stdout sets a pipe non-blocking: the exit's synchronous write then never waits on a reader.
    void process.stdout;
    const fd = 1;
    // A reader that stops reading for good costs at most MAX_PENDING_LOG_CHARS of memory; later lines are dropped.
    const out = new LineOutput(fd, {
      sync: writesNeverWait(fd),
      maxPendingChars: MAX_PENDING_LOG_CHARS,
      onDrop: (lines, reason) => countDropped('stdout', reason, lines),
    });
    process.on('exit', () => out.flushSync());
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

/** The time at the start of a pretty line, ISO 8601 in UTC with milliseconds; made once per millisecond. */
class Stamp {
  private millis = -1;
  private text = '';

  constructor(private readonly paint: (text: string) => string) {}

  now(): string {
    const millis = Date.now();
    if (millis !== this.millis) {
      this.millis = millis;
      this.text = `${this.paint(new Date(millis).toISOString())} `;
    }
    return this.text;
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
    private readonly stamp: Stamp | undefined,
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
    this.out.write(`${this.stamp?.now() ?? ''}${this.prefix}${this.tags[tag]} ${message}\n`);
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
    return new PrettyLog(this.out, this.color, this.verbose, node || this.prefix, this.prefixNode, this.stamp);
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
  const time = options.time ?? true;
  if (options.format === 'json') {
    return new PinoLog(pino({ level: options.verbose ? 'debug' : 'info', base: undefined, timestamp: time }, destination));
  }
  const color = wantsColor(options.destination ?? process.stdout, options.color);
  const stamp = time ? new Stamp(picocolors.createColors(color).dim) : undefined;
  return new PrettyLog(destination, color, options.verbose ?? false, '', options.prefixNode ?? false, stamp);
}

/** A logger that drops everything, for tests and embedding. */
export const silentLog: Log = nothing;
