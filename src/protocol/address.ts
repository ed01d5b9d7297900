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

/** 0.0.0.0, ::, and every other spelling of them: listening everywhere, no address to be reached at. */
export function isWildcard(host: string): boolean {
  if (isIP(host) === 4) return host.split('.').every((part) => Number(part) === 0);
  if (isIP(host) === 6) return new URL(`http://[${host}]/`).hostname === '[::]';
  return false;
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

/**
 * "HOST:PORT" as a person writes it, where HOST may also be a host name
 * (resolved later, by whoever dials it) or "[IPv6]". Without `defaultPort`,
 * the port is required.
 */
export function parseHostPort(text: string, defaultPort?: number): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::([^:]*))?$/.exec(text.trim());
  const host = match ? (match[1] ?? match[2])! : '';
  const valid = match && (match[1] !== undefined ? isIP(host) === 6 : isIP(host) === 4 || (HOST_NAME.test(host) && !/^[\d.]+$/.test(host)));
  if (!valid || (match[3] === undefined && defaultPort === undefined)) {
    throw new CoopError('BAD_ADDRESS', `not an address of the form HOST:PORT: ${JSON.stringify(text)}`);
  }
  return { host, port: match[3] === undefined ? defaultPort! : parsePort(match[3]) };
}

/** Host names as DNS and /etc/hosts have them (underscores too: container names use them). */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;
