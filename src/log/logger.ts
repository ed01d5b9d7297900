/**
 * Logging. Every line carries a `tag` that is the original's prefix: [INFO]
 * [SEND] [RECV] [WARN] [ERROR]. The "json" format is pino's JSON lines (with
 * the tag, the server's address and a round id where there is one). The
 * "pretty" format prints just the prefix and the message, as the original
 * does, coloured on a terminal (never when NO_COLOR is set); it is formatted
 * here directly, because going through pino's JSON and parsing it back cost
 * half the server's throughput. Both write to standard output through
 * sonic-boom (pino's writer) asynchronously, so a busy server never waits on
 * its log. Heartbeat (PING/CHECK) traffic is logged only with -v.
 */
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

let stdout: SonicBoom | undefined;

/** Standard output, written asynchronously and flushed when the process exits. */
function standardOutput(): SonicBoom {
  if (!stdout) {
    const boom = new SonicBoom({ fd: 1, sync: false });
    process.on('exit', () => {
      try {
        boom.flushSync();
      } catch {
        // Nothing more can be done at exit.
      }
    });
    stdout = boom;
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
  private readonly paint: Record<Tag, (text: string) => string>;

  constructor(
    private readonly out: { write(line: string): unknown },
    private readonly color: boolean,
    private readonly verbose: boolean,
    private readonly prefix: string,
    private readonly prefixNode: boolean,
  ) {
    const c = picocolors.createColors(color);
    this.paint = { INFO: c.green, SEND: c.cyan, RECV: c.magenta, WARN: c.yellow, ERROR: c.red };
  }

  private line(tag: Tag, message: string): void {
    this.out.write(`${this.prefix}${this.paint[tag](`[${tag}]`)} ${message}\n`);
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
