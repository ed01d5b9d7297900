/**
 * Plain GETs and HEADs of small items held here, answered from ready answers
 * (ready.ts) before any routing: by node:http's listener, and by the fast
 * path in front of it (fast-get.ts). A target is answered this way once the
 * item route has served it from here; it is remembered with the item name it
 * decodes to, so it is not parsed again. Only where reads are open: a ready
 * answer skips the token check.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ItemStore } from '../store/items.js';
import type { NodeMetrics } from '../node/metrics.js';
import { ReadyAnswers, type ReadyAnswer } from './ready.js';

/** Request targets remembered with the item name they decode to; a full table starts again empty. */
const TARGETS_REMEMBERED = 1024;

export interface ReadyRouteDeps {
  store(): ItemStore;
  metrics: NodeMetrics;
}

export interface ReadyRoute {
  /**
   * The ready answer to a plain GET or HEAD of `target` (as sent, query
   * included), counted as answered; undefined when the request needs the
   * general path. For the fast path in front of node:http.
   */
  answer(target: string, method: 'GET' | 'HEAD'): ReadyAnswer | undefined;
  /**
   * Answers a node:http request at once from a ready answer: no URL parsing,
   * no promise, no header built. False when it needs the general path (first
   * sight of its target, ranges, conditions, items not held or large).
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean;
  /** `target` named `name`, just served from here: its next plain GET can be a ready answer. */
  remember(target: string, name: string): void;
}

/** `readsOpen`: reads need no token (otherwise nothing is remembered, and every request takes the general path). */
export function readyRoute(deps: ReadyRouteDeps, readsOpen: boolean): ReadyRoute {
  const ready = new ReadyAnswers();
  const targets = new Map<string, string>();
  const getOk = deps.metrics.requests.labels({ type: 'GET', outcome: 'ok' });
  const getLatency = deps.metrics.latency.labels({ type: 'GET' });
  const answered = {
    GET: deps.metrics.http.labels({ method: 'GET', status: '200' }),
    HEAD: deps.metrics.http.labels({ method: 'HEAD', status: '200' }),
  };

  const answer = (target: string, method: 'GET' | 'HEAD'): ReadyAnswer | undefined => {
    const name = targets.get(target);
    if (name === undefined) return undefined;
    const started = performance.now();
    const found = ready.get(deps.store(), name);
    if (!found) return undefined;
    getOk.inc();
    getLatency.observe((performance.now() - started) / 1000);
    answered[method].inc();
    return found;
  };

  const serve = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!readsOpen) return false;
    const method = req.method;
    const target = req.url;
    if ((method !== 'GET' && method !== 'HEAD') || target === undefined) return false;
    if (req.headers.range !== undefined || req.headers['if-none-match'] !== undefined) return false;
    const found = answer(target, method);
    if (!found) return false;
    res.writeHead(200, found.headers);
    res.end(method === 'HEAD' ? undefined : found.body);
    return true;
  };

  // Only items served from here are remembered, so misses cannot crowd them out.
  const remember = (target: string, name: string): void => {
    if (!readsOpen || targets.has(target)) return;
    if (targets.size >= TARGETS_REMEMBERED) targets.clear();
    targets.set(target, name);
  };

  return { answer, serve, remember };
}
