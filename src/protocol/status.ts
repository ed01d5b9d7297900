/**
 * What a server tells about itself and its ring: the figures one server
 * reports to another (a RING request with `"status": "self"`), and the whole
 * status (`"status": "all"`, and `GET /_ring` as JSON) that `webclient
 * --status` and the ring page show. Shapes and their checks only.
 */
import { CoopError } from '../errors.js';
import { isAddress, type Address } from './address.js';
import type { MemberStatus } from './types.js';

/** One server's own figures, as it reports them to a peer. */
export interface SelfFigures {
  address: Address;
  version: string;
  incarnation: number;
  items: number;
  bytes: number;
  /** Equal digests mean equal holdings. */
  digest: string;
}

/** One member as the asked server sees it; the figures are absent when unknown or unreachable. */
export interface MemberView {
  address: Address;
  status: MemberStatus;
  incarnation: number;
  lastHeardMsAgo?: number | undefined;
  version?: string | undefined;
  items?: number | undefined;
  bytes?: number | undefined;
  digest?: string | undefined;
  /** Its digest equals the asked server's. */
  inSync?: boolean | undefined;
}

export interface Health {
  ok: boolean;
  /** Why not: "joining", "catching up" or "store failed: ...". */
  reason?: string | undefined;
}

/** A server's view of the ring with every member's figures: `GET /_ring`, `webclient --status`. */
export interface RingStatus {
  self: Address;
  version: string;
  uptimeSeconds: number;
  incarnation: number;
  ring: Address[];
  members: MemberView[];
  items: number;
  bytes: number;
  digest: string;
  health: Health;
  /** Copies of each item (`--replicas`); absent: every server holds every item. */
  replicas?: number | undefined;
}

type Fields = Record<string, unknown>;

function bad(message: string): never {
  throw new CoopError('BAD_FIELD', message);
}

function object(value: unknown, field: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(`"${field}" must be an object`);
  return value as Fields;
}

function address(value: unknown, field: string): Address {
  if (!isAddress(value)) bad(`"${field}" must be an address "IP:PORT"`);
  return value;
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad(`"${field}" must be a whole number, 0 or more`);
  return value;
}

function shortText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > 64) bad(`"${field}" must be a string of at most 64 characters`);
  return value;
}

function optional<T>(value: unknown, check: (value: unknown, field: string) => T, field: string): T | undefined {
  return value === undefined || value === null ? undefined : check(value, field);
}

const STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

function memberStatus(value: unknown, field: string): MemberStatus {
  if (!STATUSES.includes(value as MemberStatus)) bad(`"${field}" must be alive, suspect, dead or left`);
  return value as MemberStatus;
}

function flag(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') bad(`"${field}" must be true or false`);
  return value;
}

function number(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) bad(`"${field}" must be a number, 0 or more`);
  return value;
}

/** Checks a peer's figures (the `status` of its RING reply). */
export function decodeFigures(value: unknown): SelfFigures {
  const fields = object(value, 'status');
  return {
    address: address(fields.address, 'status.address'),
    version: shortText(fields.version, 'status.version'),
    incarnation: count(fields.incarnation, 'status.incarnation'),
    items: count(fields.items, 'status.items'),
    bytes: count(fields.bytes, 'status.bytes'),
    digest: shortText(fields.digest, 'status.digest'),
  };
}

function decodeMember(value: unknown): MemberView {
  const fields = object(value, 'members[]');
  return {
    address: address(fields.address, 'members[].address'),
    status: memberStatus(fields.status, 'members[].status'),
    incarnation: count(fields.incarnation, 'members[].incarnation'),
    lastHeardMsAgo: optional(fields.lastHeardMsAgo, number, 'members[].lastHeardMsAgo'),
    version: optional(fields.version, shortText, 'members[].version'),
    items: optional(fields.items, count, 'members[].items'),
    bytes: optional(fields.bytes, count, 'members[].bytes'),
    digest: optional(fields.digest, shortText, 'members[].digest'),
    inSync: optional(fields.inSync, flag, 'members[].inSync'),
  };
}

/** Checks a server's whole status (the `status` of its RING reply to `"status": "all"`). */
export function decodeRingStatus(value: unknown): RingStatus {
  const fields = object(value, 'status');
  const health = object(fields.health, 'status.health');
  const list = (items: unknown, field: string): unknown[] => (Array.isArray(items) ? items : bad(`"${field}" must be a list`));
  return {
    self: address(fields.self, 'status.self'),
    version: shortText(fields.version, 'status.version'),
    uptimeSeconds: number(fields.uptimeSeconds, 'status.uptimeSeconds'),
    incarnation: count(fields.incarnation, 'status.incarnation'),
    ring: list(fields.ring, 'status.ring').map((entry) => address(entry, 'status.ring[]')),
    members: list(fields.members, 'status.members').map(decodeMember),
    items: count(fields.items, 'status.items'),
    bytes: count(fields.bytes, 'status.bytes'),
    digest: shortText(fields.digest, 'status.digest'),
    replicas: optional(fields.replicas, count, 'status.replicas'),
    health: {
      ok: flag(health.ok, 'status.health.ok'),
      reason: optional(
        health.reason,
        (reason, field) => (typeof reason === 'string' ? reason : bad(`"${field}" must be a string`)),
        'status.health.reason',
      ),
    },
  };
}

/** One message seen by a server, as its `/_events` stream and the ring page show it. */
export interface Traffic {
  type: string;
  from: string;
  to: string;
}
