/** What a server is told when it is made: options, defaults, the transport it sends through, and the events it emits. */
import type { Address } from '../protocol/address.js';
import { parseAddress } from '../protocol/address.js';
import type { Log } from '../log/logger.js';
import { request, sendMessage } from '../transport/tcp.js';
import { PeerStreams } from '../transport/streams.js';
import type { Traffic } from './web.js';

/** How peer messages leave this server; tests swap in a faulty one. */
export interface PeerTransport {
  /** One message, no reply (the original's peer style). */
  send(to: Address, payload: string): Promise<void>;
  /** One message and its reply (our probes). */
  request(to: Address, payload: string, timeoutMs: number): Promise<string>;
  /** Closes whatever connections it keeps. */
  close?(): void;
}

/**
 * TCP, as the original: a connection per message. With `streams`, messages to
 * the peers it names go over one persistent connection per peer instead.
 */
export function tcpTransport(
  connectTimeoutMs: number,
  maxReplyBytes: number,
  streams?: { self(): Address; to(peer: Address): boolean },
): PeerTransport {
  const pool = streams && new PeerStreams(streams.self, connectTimeoutMs);
  return {
    send: (to, payload) => (pool && streams.to(to) ? pool.send(to, payload) : sendMessage(parseAddress(to), payload, connectTimeoutMs)),
    request: (to, payload, timeoutMs) => request(parseAddress(to), payload, { timeoutMs, maxReplyBytes }),
    close: () => pool?.close(),
  };
}

export interface NodeOptions {
  /** Address to bind; port 0 takes any free port. */
  host: string;
  port: number;
  /** When the port is taken, take the next free one upward (the original's 4043, 4044, ...). */
  probeUpward?: boolean;
  /** A running server to join; it becomes this server's predecessor. */
  join?: Address | undefined;
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
  /** How long a connection may take to deliver its message. */
  idleTimeoutMs?: number;
  /** Keep items on disk here (a function gets this server's address); without it, in memory. */
  dataDir?: string | ((self: Address) => string) | undefined;
  /** How often to compare contents with a peer and pull what is newer. */
  syncIntervalMs?: number;
  /** How long a delete's tombstone is kept before it is collected. */
  tombstoneTtlMs?: number;
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
  syncIntervalMs: 10_000,
  tombstoneTtlMs: 24 * 3600 * 1000,
} as const;

export interface NodeEvents {
  ring: [members: Address[]];
  /** Messages this server sends, and requests it answers: what the ring page animates. */
  traffic: [Traffic];
}
