/** What a server is told when it is made: options, defaults, the transport it sends through, and the events it emits. */
import type { Address } from '../protocol/address.js';
import type { Log } from '../log/logger.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { Traffic } from '../protocol/status.js';

export interface NodeOptions {
  /** Address to bind; port 0 takes any free port. */
  host: string;
  port: number;
  /** When the port is taken, take the next free one upward (the original's 4043, 4044, ...). */
  probeUpward?: boolean;
  /**
   * A running server to join (it becomes this server's predecessor), or several
   * seeds tried in turn: "HOST:PORT", host names resolved at each attempt.
   * start() resolves once a ring that holds the seed has come back.
   */
  join?: string | readonly string[] | undefined;
  /** How long start() keeps trying to join before it rejects with JOIN_FAILED (default 60 s). */
  joinTimeoutMs?: number;
  /**
   * The address other servers reach this one at, and its name in the ring:
   * "HOST" or "HOST:PORT" (default: the bound port); a host name is resolved
   * to an IP at start. With it, `host` may be a wildcard (0.0.0.0, ::).
   */
  advertise?: string | undefined;
  heartbeatMs?: number;
  /** How long a silent successor may stay suspected before it is declared dead (default: 3 heartbeats). */
  suspicionTimeoutMs?: number;
  /** How long a probe may wait for its answer (default: half a heartbeat, at most 2 s). */
  probeTimeoutMs?: number;
  /** How long a client waits for its round to come back before an error reply. */
  roundTimeoutMs?: number;
  /** How long a peer may take to accept a connection before it counts as down. */
  connectTimeoutMs?: number;
  maxMessageBytes?: number;
  /** How long a connection may stay silent before its message (or HTTP request head) is complete. */
  idleTimeoutMs?: number;
  /** How long a connection may take to deliver a whole JSON message or HTTP request head, however it trickles. */
  requestTimeoutMs?: number;
  /** Connections held at once; past it, the oldest that has not delivered a message yet is closed. */
  maxConnections?: number;
  /** HTTP requests served on one keep-alive connection before it is closed (0: no limit). */
  maxRequestsPerConnection?: number;
  /** Largest item accepted from a client, in bytes. */
  maxItemBytes?: number;
  /** Longest item name accepted from a client, in UTF-8 bytes (at most 255). */
  maxNameBytes?: number;
  /** Item names from clients must match this. */
  namePattern?: RegExp | undefined;
  /** The cluster secret: peer messages carry its tag, and messages without a valid one are refused. */
  secret?: string | Buffer | undefined;
  /** PUT and DELETE need this token. */
  writeToken?: string | undefined;
  /** Reads (GET, the ring page, metrics) need this token, or the write token. */
  readToken?: string | undefined;
  /** Serve and dial TLS instead of plain TCP (PEM certificate and key; `ca`: whom to trust when dialing peers). */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer | undefined } | undefined;
  /** Keep items on disk here (a function gets this server's address); without it, in memory. */
  dataDir?: string | ((self: Address) => string) | undefined;
  /** A damaged index in the data directory is moved aside and the server starts empty (refilled from the ring), instead of failing. */
  repair?: boolean | undefined;
  /** Bytes kept free on the data directory's disk: writes that would leave less are refused (NO_SPACE). */
  minFreeBytes?: number;
  /** How often to compare contents with a peer and pull what is newer. */
  syncIntervalMs?: number;
  /** Keep each item on this many servers (ring/owners.ts); undefined: every server holds every item. */
  replicas?: number | undefined;
  /** How long a delete's tombstone is kept before it is collected. */
  tombstoneTtlMs?: number;
  /** Dead and left members are forgotten this long after they went (Infinity: never). */
  forgetAfterMs?: number;
  /** Answer simple GETs of small items in front of node:http (transport/fast-get.ts); default true, false for comparisons. */
  httpFastPath?: boolean;
  log?: Log;
  transport?: PeerTransport;
  /** The time, for versions and tombstone ages; tests may pass their own. */
  now?: () => number;
}

export const DEFAULTS = {
  heartbeatMs: 5000,
  roundTimeoutMs: 30_000,
  connectTimeoutMs: 2000,
  maxMessageBytes: 64 * 1024 * 1024,
  idleTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  maxConnections: 1000,
  maxRequestsPerConnection: 1000,
  maxItemBytes: 4 * 1024 ** 3,
  maxNameBytes: 255,
  syncIntervalMs: 10_000,
  minFreeBytes: 64 * 1024 * 1024,
  joinTimeoutMs: 60_000,
  tombstoneTtlMs: 24 * 3600 * 1000,
  forgetAfterMs: 24 * 3600 * 1000,
} as const;

export interface NodeEvents {
  ring: [members: Address[]];
  /** Messages this server sends, and requests it answers: what the ring page animates. */
  traffic: [Traffic];
  /** The server stopped by itself, having left the ring: its data directory can no longer keep writes. */
  failed: [error: Error];
}

/** Every option a server has a default for, filled in. */
export type ResolvedOptions = Required<
  Omit<
    NodeOptions,
    | 'join'
    | 'advertise'
    | 'dataDir'
    | 'repair'
    | 'log'
    | 'transport'
    | 'now'
    | 'secret'
    | 'writeToken'
    | 'readToken'
    | 'tls'
    | 'namePattern'
    | 'httpFastPath'
    | 'replicas'
  >
>;

/**
 * How long a message on a peer stream may wait for its acknowledgement
 * before the stream is taken for broken: a heartbeat, at least two probe
 * timeouts and a second (TCP's retransmissions on a lossy link take that long).
 */
export function ackTimeoutOf(options: Pick<ResolvedOptions, 'heartbeatMs' | 'probeTimeoutMs'>): number {
  return Math.max(options.heartbeatMs, 2 * options.probeTimeoutMs, 1000);
}

export function resolveOptions(options: NodeOptions): ResolvedOptions {
  const heartbeatMs = options.heartbeatMs ?? DEFAULTS.heartbeatMs;
  return {
    host: options.host,
    port: options.port,
    probeUpward: options.probeUpward ?? false,
    heartbeatMs,
    suspicionTimeoutMs: options.suspicionTimeoutMs ?? 3 * heartbeatMs,
    probeTimeoutMs: options.probeTimeoutMs ?? Math.min(2000, heartbeatMs / 2),
    roundTimeoutMs: options.roundTimeoutMs ?? DEFAULTS.roundTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    syncIntervalMs: options.syncIntervalMs ?? DEFAULTS.syncIntervalMs,
    minFreeBytes: options.minFreeBytes ?? DEFAULTS.minFreeBytes,
    joinTimeoutMs: options.joinTimeoutMs ?? DEFAULTS.joinTimeoutMs,
    tombstoneTtlMs: options.tombstoneTtlMs ?? DEFAULTS.tombstoneTtlMs,
    forgetAfterMs: options.forgetAfterMs ?? DEFAULTS.forgetAfterMs,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    maxConnections: options.maxConnections ?? DEFAULTS.maxConnections,
    maxRequestsPerConnection: options.maxRequestsPerConnection ?? DEFAULTS.maxRequestsPerConnection,
    maxItemBytes: options.maxItemBytes ?? DEFAULTS.maxItemBytes,
    maxNameBytes: options.maxNameBytes ?? DEFAULTS.maxNameBytes,
  };
}
