/**
 * How a server reaches its peers: TCP (TLS when configured), with one
 * persistent, acknowledged stream per peer that speaks our extensions (a
 * connection per message to an original, as it expects), every message
 * sealed with the cluster secret's tag when there is one.
 */
import { encodeMessage } from '../protocol/messages.js';
import type { Address } from '../protocol/address.js';
import type { ClientOptions } from '../transport/ask.js';
import type { Log } from '../log/logger.js';
import type { PeerAuth } from '../security/peer-auth.js';
import { sealedTransport } from '../security/sealed.js';
import { tcpTransport, type PeerTransport } from '../transport/peer-transport.js';
import type { ExtensionPeers } from '../ring/extension-peers.js';
import type { NodeMetrics } from './metrics.js';
import { ackTimeoutOf, type NodeOptions, type ResolvedOptions } from './options.js';

export interface PeerLinkDeps {
  options: ResolvedOptions;
  /** The transport a caller gave (tests, simulations): used as it is, sealed when there is a secret. */
  given: PeerTransport | undefined;
  tls: NodeOptions['tls'];
  auth: PeerAuth | undefined;
  /** Only peers that speak our extensions get streams. */
  peers: Pick<ExtensionPeers, 'has'>;
  metrics: Pick<NodeMetrics, 'streamsUnacknowledged'>;
  log(): Log;
  /** This server's address, which opens each of its streams. */
  self(): Address;
}

export function peerTransport(deps: PeerLinkDeps): PeerTransport {
  const { options, auth, tls } = deps;
  const transport =
    deps.given ??
    tcpTransport({
      connectTimeoutMs: options.connectTimeoutMs,
      maxReplyBytes: options.maxMessageBytes,
      streams: {
        opening: (peer) => {
          const payload = encodeMessage({ type: 'STREAM', from: deps.self(), attach: true });
          return auth ? auth.seal(payload, peer).text : payload;
        },
        to: (peer) => deps.peers.has(peer),
        acks: {
          timeoutMs: ackTimeoutOf(options),
          onUnacknowledged: (peer, waitedMs, resent) => {
            deps.metrics.streamsUnacknowledged.inc();
            const seconds = (waitedMs / 1000).toFixed(1);
            deps
              .log()
              .warn(`messages to ${peer} not acknowledged for ${seconds} s: stream closed, ${resent} messages go again on a new one`);
          },
        },
      },
      tls: tls && { ca: tls.ca },
    });
  return auth ? sealedTransport(transport, auth) : transport;
}

/** How a server asks its peers for digests, lists and items: through its transport, so with its tag (and its token). */
export function peerClient(transport: PeerTransport, options: ResolvedOptions, token: string | undefined): ClientOptions {
  return {
    timeoutMs: options.roundTimeoutMs,
    maxReplyBytes: options.maxMessageBytes,
    token,
    exchange: (server, payload, timeoutMs) => transport.request(server, payload, timeoutMs),
    // A transport that cannot carry attached bytes back (one a test or an embedder gave) gets ranges inside replies.
    exchangeBytes: transport.exchange && ((server, payload, timeoutMs) => transport.exchange!(server, payload, timeoutMs)),
  };
}
