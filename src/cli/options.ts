/** Parsing and checking of command-line values, with messages a person understands. */
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { InvalidArgumentError } from 'commander';
import { parseHostPort, parsePort } from '../protocol/address.js';

export const DEFAULT_PORT = 4043;

export function seconds(text: string): number {
  const value = Number(text);
  if (!(text.trim() !== '' && Number.isFinite(value) && value > 0 && value <= 86_400)) {
    throw new InvalidArgumentError('expected a number of seconds, more than 0 (for example 5 or 0.5).');
  }
  return value;
}

/** A duration from one second to a year, in seconds. */
export function longSeconds(text: string): number {
  const value = Number(text);
  if (!(text.trim() !== '' && Number.isFinite(value) && value >= 1 && value <= 365 * 86_400)) {
    throw new InvalidArgumentError('expected a number of seconds, from 1 to 31536000 (a year).');
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

export function bytes(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  const value = match && unit ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!(value >= 1024 && value <= 4 * 1024 ** 3)) {
    throw new InvalidArgumentError('expected a size from 1KiB to 4GiB, such as 1048576, 512KiB or 64MiB.');
  }
  return value;
}

/** A whole number from `min` to `max`. */
export function integer(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!(text.trim() !== '' && Number.isInteger(value) && value >= min && value <= max)) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    }
    return value;
  };
}

/** A regular expression that whole item names must match. */
export function namePattern(text: string): RegExp {
  try {
    return new RegExp(`^(?:${text})$`, 'u');
  } catch (err) {
    throw new InvalidArgumentError(`not a regular expression: ${(err as Error).message}.`);
  }
}

export function port(text: string): number {
  try {
    return parsePort(text);
  } catch {
    throw new InvalidArgumentError('expected a port number from 1 to 65535.');
  }
}

export interface ListenSpec {
  host: string | undefined;
  port: number;
  probeUpward: boolean;
}

/**
 * HOST, HOST:PORT or HOST:PORT+ (PORT, or the next free port upward). Port 0
 * means any free port. A wildcard HOST (0.0.0.0, [::]) needs --advertise (checked in main).
 */
export function listen(text: string): ListenSpec {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d{1,5})(\+?))?$/.exec(text.trim());
  const host = match ? (match[1] ?? match[2]) || undefined : undefined;
  if (!match || (host !== undefined && !isIP(host) && !/^[a-z0-9.-]+$/i.test(host))) {
    throw new InvalidArgumentError('expected HOST, HOST:PORT or HOST:PORT+ (for example 127.0.0.1:4043+).');
  }
  if (match[3] === undefined) return { host, port: DEFAULT_PORT, probeUpward: true };
  let value: number;
  try {
    value = parsePort(match[3], { allowZero: true });
  } catch {
    throw new InvalidArgumentError('the port must be from 0 to 65535.');
  }
  return { host, port: value, probeUpward: match[4] === '+' };
}

/** The address this machine's host name resolves to, as the original listens on. */
export async function hostAddress(): Promise<string> {
  try {
    return (await lookup(hostname(), { family: 4 })).address;
  } catch {
    return '127.0.0.1';
  }
}

/** A name such as "localhost" becomes an IP: servers name each other by IP. */
export async function resolveHost(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch {
    throw new InvalidArgumentError(`cannot resolve host name ${JSON.stringify(host)}.`);
  }
}

/** --join: HOST:PORT[,HOST:PORT...], each port defaulting to 4043; host names stay names (resolved at each attempt). */
export function seeds(text: string): string[] {
  const list = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (list.length === 0) throw new InvalidArgumentError('expected HOST:PORT, or several separated by commas.');
  return list.map((entry) => {
    try {
      const { host, port } = parseHostPort(entry, DEFAULT_PORT);
      return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    } catch {
      throw new InvalidArgumentError(`not HOST:PORT: ${JSON.stringify(entry)} (for example db1:4043,10.0.0.2:4043).`);
    }
  });
}

/** --advertise: HOST or HOST:PORT (default: the port listened on). */
export function advertise(text: string): string {
  try {
    parseHostPort(text, 0);
  } catch {
    throw new InvalidArgumentError('expected HOST or HOST:PORT, the address other servers reach this one at (for example 10.0.0.5:4043).');
  }
  return text.trim();
}
