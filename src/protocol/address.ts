/** Server addresses as the protocol writes them: "IPv4:PORT", or "[IPv6]:PORT". Never a host name: servers name each other by IP. */
import { isIP } from 'node:net';
import { CoopError } from '../errors.js';

export type Address = string;

export interface HostPort {
  host: string;
  port: number;
}

const PORT_PATTERN = /^\d{1,5}$/;

export function parsePort(text: string, { allowZero = false } = {}): number {
  const port = PORT_PATTERN.test(text) ? Number(text) : NaN;
  if (!(port >= (allowZero ? 0 : 1) && port <= 65535)) {
    throw new CoopError('BAD_ADDRESS', `not a port number: ${JSON.stringify(text)}`);
  }
  return port;
}

export function parseAddress(text: string, options?: { allowZero?: boolean }): HostPort {
  const bracketed = /^\[([^\]]+)\]:([^:]+)$/.exec(text);
  const plain = /^([^:[\]]+):([^:]+)$/.exec(text);
  const match = bracketed ?? plain;
  if (!match || isIP(match[1]!) !== (bracketed ? 6 : 4)) {
    throw new CoopError('BAD_ADDRESS', `not an address of the form IP:PORT: ${JSON.stringify(text)}`);
  }
  return { host: match[1]!, port: parsePort(match[2]!, options) };
}

export function formatAddress(host: string, port: number): Address {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Addresses already found valid: a ring names the same few servers in every message. */
const VALID = new Set<string>();
const MAX_VALID = 1024;

export function isAddress(value: unknown): value is Address {
  if (typeof value !== 'string' || value.length > 300) return false;
  if (VALID.has(value)) return true;
  try {
    parseAddress(value);
  } catch {
    return false;
  }
  if (VALID.size >= MAX_VALID) VALID.clear();
  VALID.add(value);
  return true;
}
