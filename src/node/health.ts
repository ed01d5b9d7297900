/**
 * Whether a server is ready for traffic (`GET /_health`): it has joined its
 * ring, caught up on its data, and its store can be written. The answer is
 * for load balancers and container health checks, which carry no token: it
 * says ok or why not, and nothing about the data.
 */
import type { Health } from '../protocol/status.js';

export interface HealthInputs {
  /** Asked to join, and no ring has come back yet. */
  joining: boolean;
  /** Joined, and the first comparison of contents with a peer has not completed yet. */
  catchingUp: boolean;
  /** Why the store cannot be used (an error code, never a path); undefined when it can. */
  storeError?: string | undefined;
}

export function decideHealth(inputs: HealthInputs): Health {
  if (inputs.storeError !== undefined) return { ok: false, reason: `store failed: ${inputs.storeError}` };
  if (inputs.joining) return { ok: false, reason: 'joining' };
  if (inputs.catchingUp) return { ok: false, reason: 'catching up' };
  return { ok: true };
}

/** The HTTP answer: 200 `{"status":"ok"}`, or 503 `{"status":"unavailable","reason":...}`. */
export function healthAnswer(health: Health): { statusCode: 200 | 503; body: { status: 'ok' | 'unavailable'; reason?: string } } {
  return health.ok
    ? { statusCode: 200, body: { status: 'ok' } }
    : { statusCode: 503, body: { status: 'unavailable', reason: health.reason ?? 'unknown' } };
}

/** A store failure as health tells it: the error's code (EACCES, ENOENT...), not its message, which names files. */
export function storeErrorOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'cannot be used';
}
