/**
 * Logging through pino. Every line carries a `tag` that is the original's
 * prefix: [INFO] [SEND] [RECV] [WARN] [ERROR]. The "pretty" format prints
 * exactly that prefix and the message (coloured on a terminal, never when
 * NO_COLOR is set); the "json" format prints pino's JSON lines.
 * Heartbeat (CHECK) traffic is logged at debug level, shown only with -v.
 */
import { pino, type Logger as PinoLogger } from 'pino';
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

function prettyStream(destination: { write(line: string): unknown }, color: boolean, prefixNode: boolean) {
  const c = picocolors.createColors(color);
  const paint: Record<Tag, (text: string) => string> = {
    INFO: c.green,
    SEND: c.cyan,
    RECV: c.magenta,
    WARN: c.yellow,
    ERROR: c.red,
  };
  return {
    write(line: string): void {
      const entry = JSON.parse(line) as { tag?: Tag; msg?: string; node?: string };
      const tag = entry.tag ?? 'INFO';
      const prefix = prefixNode && entry.node ? `${c.dim(entry.node)} ` : '';
      destination.write(`${prefix}${paint[tag](`[${tag}]`)} ${entry.msg ?? ''}\n`);
    },
  };
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

export function createLogger(options: LoggerOptions = {}): Log {
  const destination = options.destination ?? process.stdout;
  const level = options.silent ? 'silent' : options.verbose ? 'debug' : 'info';
  const stream =
    options.format === 'json'
      ? destination
      : prettyStream(destination, wantsColor(destination, options.color), options.prefixNode ?? false);
  return new PinoLog(pino({ level, base: undefined }, stream));
}

/** A logger that drops everything, for tests and embedding. */
export const silentLog: Log = createLogger({ silent: true });
