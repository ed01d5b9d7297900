/**
 * What the HTTP face tells about this server rather than its items: `/_health`
 * (ready for traffic, for load balancers), `/_ring` (its view of the ring:
 * JSON, or a live page for a browser), `/_events` (its traffic, as
 * server-sent events) and `/metrics` (for Prometheus).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeMetrics } from '../node/metrics.js';
import type { Health, RingStatus, Traffic } from '../protocol/status.js';
import { ringPage } from './ring-page.js';

/** The HTTP answer: 200 `{"status":"ok"}`, or 503 `{"status":"unavailable","reason":...}`. */
export function healthAnswer(health: Health): { statusCode: 200 | 503; body: { status: 'ok' | 'unavailable'; reason?: string } } {
  return health.ok
    ? { statusCode: 200, body: { status: 'ok' } }
    : { statusCode: 503, body: { status: 'unavailable', reason: health.reason ?? 'unknown' } };
}

export interface StatusDeps {
  self(): string;
  /** This server's view of the ring with every member's figures (`GET /_ring` as JSON). */
  status(): Promise<RingStatus>;
  /** Ready for traffic: joined, caught up, store usable (`GET /_health`). */
  health(): Promise<Health>;
  metrics: NodeMetrics;
  traffic: {
    on(event: 'traffic', listener: (traffic: Traffic) => void): unknown;
    off(event: 'traffic', listener: (traffic: Traffic) => void): unknown;
  };
}

export interface StatusRoutes {
  health(res: ServerResponse, method: 'GET' | 'HEAD'): Promise<void>;
  ring(req: IncomingMessage, res: ServerResponse, method: 'GET' | 'HEAD'): Promise<void>;
  events(req: IncomingMessage, res: ServerResponse): void;
  metrics(res: ServerResponse): Promise<void>;
}

export function statusRoutes(deps: StatusDeps): StatusRoutes {
  return {
    async health(res, method) {
      const { statusCode, body } = healthAnswer(await deps.health());
      res.writeHead(statusCode, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : JSON.stringify(body));
    },

    async ring(req, res, method) {
      if ((req.headers.accept ?? '').includes('text/html')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(method === 'HEAD' ? undefined : ringPage(deps.self()));
        return;
      }
      const body = method === 'HEAD' ? undefined : JSON.stringify(await deps.status());
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
      res.end(body);
    },

    events(req, res) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(': traffic of this server\n\n');
      const send = (traffic: Traffic): void => void res.write(`data: ${JSON.stringify(traffic)}\n\n`);
      deps.traffic.on('traffic', send);
      req.on('close', () => deps.traffic.off('traffic', send));
    },

    async metrics(res) {
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(await deps.metrics.registry.metrics());
    },
  };
}
