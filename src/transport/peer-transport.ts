/** How peer messages leave a server: a connection per message, or a persistent stream per peer. */
import type { Address } from '../protocol/address.js';
import { parseAddress } from '../protocol/address.js';
import { exchange, request, sendMessage, type Answer, type TlsClientOptions } from './dial.js';
import { PeerStreams, type AckOptions } from './streams.js';
import { inlineText, type Payload } from './attached.js';

/** How peer messages leave this server; tests swap in a faulty one. */
export interface PeerTransport {
  /** One message, no reply (the original's peer style); attached bytes go as bytes only on a stream whose receiver reads them. */
  send(to: Address, payload: Payload): Promise<void>;
  /** One message and its reply (our probes). */
  request(to: Address, payload: string, timeoutMs: number): Promise<string>;
  /** One message and its reply, with the bytes attached to it (a range asked for with `attach`); `request` where absent. */
  exchange?(to: Address, payload: string, timeoutMs: number): Promise<Answer>;
  /** Closes whatever connections it keeps (their peers given a moment to read what was sent). */
  close?(): void | Promise<void>;
}

/**
 * TCP, as the original: a connection per message. With `streams`, messages to
 * the peers it names go over one persistent connection per peer instead,
 * opened with the message `streams.opening()` gives. With `tls`, TLS.
 */
export function tcpTransport(options: {
  connectTimeoutMs: number;
  maxReplyBytes: number;
  streams?: { opening(peer: Address): string; to(peer: Address): boolean; acks?: AckOptions } | undefined;
  tls?: TlsClientOptions | undefined;
}): PeerTransport {
  const { connectTimeoutMs, maxReplyBytes, streams, tls } = options;
  const pool = streams && new PeerStreams(streams.opening, connectTimeoutMs, tls, streams.acks);
  return {
    send: (to, payload) =>
      pool && streams.to(to) ? pool.send(to, payload) : sendMessage(parseAddress(to), inlineText(payload), connectTimeoutMs, tls),
    request: (to, payload, timeoutMs) => request(parseAddress(to), payload, { timeoutMs, maxReplyBytes, tls }),
    exchange: (to, payload, timeoutMs) => exchange(parseAddress(to), payload, { timeoutMs, maxReplyBytes, tls }),
    close: () => pool?.close(),
  };
}
