/**
 * The HTTP face, on the same port as the JSON protocol: the app that routes a
 * request and maps what went wrong to a status. Items (item-routes.ts) go
 * through the same handlers as the JSON requests; plain GETs of small items
 * held here are answered first, from ready answers (ready-route.ts); the
 * routes about the server itself are status-routes.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isCoopError } from '../errors.js';
import { ERROR_HEADER, httpStatusOf } from '../protocol/messages.js';
import type { Log } from '../log/logger.js';
import type { AccessPolicy } from '../security/access.js';
import type { ReadyAnswer } from './ready.js';
import { HttpError } from './http-error.js';
import { itemName, itemRoutes, type ItemDeps } from './item-routes.js';
import { readyRoute } from './ready-route.js';
import { statusRoutes, type StatusDeps } from './status-routes.js';

export interface WebDeps extends ItemDeps, StatusDeps {
  log: () => Log;
  /** Who may read and write (the tokens). */
  access: AccessPolicy;
}

/**
 * The token of `Authorization: Bearer TOKEN`, or the password of Basic credentials (what a browser prompts for).
 * A Bearer token is everything after "Bearer ", spaces included, since `--write-token` may hold spaces.
 */
export function tokenOf(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^\s*(Bearer|Basic)\s+(\S.*?)\s*$/i.exec(header);
  if (!match) return undefined;
  if (match[1]!.toLowerCase() === 'bearer') return match[2];
  if (/\s/.test(match[2]!)) return undefined;
  const credentials = Buffer.from(match[2]!, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon < 0 ? undefined : credentials.slice(colon + 1);
}

/** What a 503 for a server still joining tells clients to wait (`Retry-After`, seconds): its join is retried every few seconds at most. */
export const NOT_READY_RETRY_AFTER_SECONDS = 5;

/** The methods the HTTP face answers (the Allow header of a 405). */
export const ALLOWED_METHODS = 'GET, HEAD, PUT, DELETE';

/**
 * The path of the request target, as sent: no dot segments resolved, since a
 * name is a key, never a file path ("/a/../b" names the item "a/../b").
 */
function pathOf(target: string | undefined): string {
  const raw = target ?? '/';
  const end = raw.search(/[?#]/);
  const path = end < 0 ? raw : raw.slice(0, end);
  if (!path.startsWith('/')) throw new HttpError(400, 'the request target must be a path, such as /index.html');
  return path;
}

export interface WebApp {
  /** node:http's request listener. */
  listener(req: IncomingMessage, res: ServerResponse): void;
  /**
   * The ready answer to a plain GET or HEAD of `target` (as sent, query
   * included), counted as answered; undefined when the request needs the
   * general path. For the fast path in front of node:http.
   */
  ready(target: string, method: 'GET' | 'HEAD'): ReadyAnswer | undefined;
}

/** How long the rest of a refused request's body is read and dropped before its connection is cut. */
const LINGER_MS = 30_000;

/** Reads and drops the rest of `req`'s body, then `end`s the answer; after LINGER_MS, the connection is cut instead. */
function linger(req: IncomingMessage, end: () => void): void {
  const cut = setTimeout(() => req.socket.destroy(), LINGER_MS).unref();
  req.once('end', () => {
    clearTimeout(cut);
    end();
  });
  req.once('close', () => clearTimeout(cut));
  req.resume();
}

export function createWebApp(deps: WebDeps): WebApp {
  const ready = readyRoute(deps, deps.access.readsOpen);
  const items = itemRoutes(deps, ready);
  const status = statusRoutes(deps);

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req.url);
    const method = req.method ?? 'GET';
    // Open to probes without a token (load balancers carry none): it tells ok or why not, nothing about the data.
    if (path === '/_health' && (method === 'GET' || method === 'HEAD')) return status.health(res, method);
    deps.access.check(method === 'PUT' || method === 'DELETE' ? 'write' : 'read', tokenOf(req.headers.authorization));
    if (path === '/_ring' && (method === 'GET' || method === 'HEAD')) return status.ring(req, res, method);
    if (path === '/_events' && method === 'GET') return status.events(req, res);
    if (path === '/metrics' && method === 'GET') return status.metrics(res);
    const name = itemName(path);
    switch (method) {
      case 'GET':
      case 'HEAD':
        return items.get(req, res, name);
      case 'PUT':
        return items.put(req, res, name);
      case 'DELETE':
        return items.delete(res, name);
      default:
        res.writeHead(405, { allow: ALLOWED_METHODS, 'content-type': 'text/plain; charset=utf-8' });
        res.end(`${method} is not supported here\n`);
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (ready.serve(req, res)) return;
    res.on('finish', () => deps.metrics.http.inc({ method: req.method ?? '?', status: String(res.statusCode) }));
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : isCoopError(err) ? httpStatusOf(err.code) : 500;
      const code = err instanceof HttpError ? err.code : isCoopError(err) ? err.code : undefined;
      if (status === 500) deps.log().error(`HTTP ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const text = `${(err as Error).message}\n`;
      const headers: Record<string, string> = {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(Buffer.byteLength(text)),
        connection: 'close',
      };
      // The code names the error for programs (webclient), as the JSON protocol's replies do.
      if (code !== undefined) headers[ERROR_HEADER] = code;
      // Browsers prompt for Basic credentials; the password is the token.
      if (status === 401) headers['www-authenticate'] = 'Basic realm="Co-op WebServers", charset="UTF-8"';
      if (code === 'NOT_READY') headers['retry-after'] = String(NOT_READY_RETRY_AFTER_SECONDS);
      res.writeHead(status, headers);
      // A body still coming (an upload refused early): the answer goes now, whole by its length, and the
      // connection closes once the rest is read and dropped. Closed at once, it would reset its client,
      // still sending, before that client read the answer (nginx lingers so too).
      if (req.complete) {
        res.end(text);
      } else {
        res.write(text);
        linger(req, () => res.end());
      }
    });
  };

  // The fast path writes the answer itself, at once.
  return { listener, ready: ready.answer };
}
