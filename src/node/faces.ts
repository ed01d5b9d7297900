/**
 * The one port a server listens on, and what answers there: the JSON protocol
 * (first byte `{`) goes to the inbox; anything else is HTTP, where simple GETs
 * of small items are answered by the fast-get front and the rest by node:http
 * and the web app (http/).
 */
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { createHttpFace } from '../http/server.js';
import { createWebApp, type WebDeps } from '../http/web.js';
import { fastGetFront, handToHttp } from '../http/fast-get.js';
import { TcpListener } from '../transport/listener.js';
import { formatAddress, type Address } from '../protocol/address.js';
import { resolvedSeeds } from '../ring/joiner.js';
import { advertisedAddress } from './advertise.js';
import { checkAdvertisedPort, firstPortToProbe } from './listen-port.js';
import type { Inbox } from './inbox.js';
import type { LocalFailures } from './local-failures.js';
import type { NodeOptions, ResolvedOptions } from './options.js';

export interface FacesDeps {
  options: ResolvedOptions;
  tls: NodeOptions['tls'];
  /** False turns the fast-get front off (for comparisons); it is off anyway while reads need a token. */
  httpFastPath: boolean;
  inbox: Inbox;
  failures: LocalFailures;
  /** What the web app needs, but the way to ask, which is the inbox's. */
  web: Omit<WebDeps, 'ask' | 'checkClient' | 'maxBodyBytes'>;
}

export interface Faces {
  listener: TcpListener;
  http: HttpServer;
}

export function openFaces(deps: FacesDeps): Faces {
  const { options, inbox, tls } = deps;
  const web = createWebApp({
    ...deps.web,
    ask: (message) => inbox.ask(message),
    checkClient: (message) => inbox.checkClient(message),
    maxBodyBytes: Math.floor(options.maxMessageBytes / 2),
  });
  const http = createHttpFace(web.listener, options);
  // In front of node:http only while reads are open: a token check is node:http's to make.
  const takeHttp =
    deps.httpFastPath && deps.web.access.readsOpen ? fastGetFront(http, web.ready) : (socket: Socket) => handToHttp(http, socket);
  const listener = new TcpListener(
    {
      maxMessageBytes: options.maxMessageBytes,
      idleTimeoutMs: options.idleTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      maxConnections: options.maxConnections,
    },
    {
      onMessage: (text, connection) => inbox.receive(text, connection),
      onStreamMessage: (text, stream, bytes) => inbox.receiveStreamed(text, stream, bytes),
      onFrameError: (error, connection) => inbox.refuse(error, connection),
      onOtherProtocol: takeHttp,
      onAcceptError: (err) => deps.failures.localError(err.code ?? 'UNKNOWN', 'accept', 'accepting a connection'),
    },
    tls && { cert: tls.cert, key: tls.key },
  );
  return { listener, http };
}

/**
 * Binds the port (probing upward from it when asked) and names the server:
 * its advertised address, or else the one it bound.
 */
export async function bindPort(
  listener: TcpListener,
  options: ResolvedOptions,
  advertise: string | undefined,
  seeds: readonly string[],
): Promise<{ self: Address; boundAs: Address }> {
  const advertised = await advertisedAddress(advertise, options.host);
  const { host, port, probeUpward } = options;
  const ownHosts = [host, ...(advertised ? [advertised.host] : [])];
  const firstPort = probeUpward ? firstPortToProbe(port, ownHosts, await resolvedSeeds([...seeds])) : port;
  const bound = await listener.start(host, firstPort, probeUpward);
  if (probeUpward) {
    try {
      checkAdvertisedPort(advertised, port, bound);
    } catch (err) {
      await listener.stop();
      throw err;
    }
  }
  const self = formatAddress(advertised?.host ?? bound.host, advertised?.port ?? bound.port);
  return { self, boundAs: formatAddress(bound.host, bound.port) };
}
