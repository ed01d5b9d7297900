/**
 * The node:http server behind the HTTP face. It never listens itself: the
 * TCP listener hands it the connections whose first byte is not `{`. Its
 * limits: a deadline for each request head (slow loris), an idle timeout, a
 * cap on requests per keep-alive connection; CONNECT is refused (no proxy).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ALLOWED_METHODS } from './web.js';

export interface HttpLimits {
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  maxRequestsPerConnection: number;
}

export function createHttpFace(app: RequestListener, limits: HttpLimits): Server {
  // Slow-loris clients are cut off by the header deadline, checked this often.
  const server = createServer({ connectionsCheckingInterval: Math.min(1000, limits.requestTimeoutMs / 4) }, app);
  server.headersTimeout = limits.requestTimeoutMs;
  server.requestTimeout = 0; // large bodies stream for as long as they need (the idle timeout still applies)
  server.timeout = limits.idleTimeoutMs;
  server.maxRequestsPerSocket = limits.maxRequestsPerConnection;
  server.on('connect', (_request, socket: Duplex) => {
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOWED_METHODS}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  // Its deadline checks start when it listens, which it never does: start them here.
  server.emit('listening');
  return server;
}
