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

/** What tells whether a server has caught up on its ring's data, as it stands now. */
export interface CatchUpInputs {
  /** Started with seeds to join. */
  joinAsked: boolean;
  /** Its join has not completed yet. */
  joining: boolean;
  /** Comparisons of contents with a peer that have completed. */
  passes: number;
  /** Members of ours it could compare with (original servers cannot be compared with). */
  peers: number;
}

/**
 * Whether a server is still catching up, latched: it is caught up once it
 * did not join, or, after its join completed, a comparison has completed or
 * nobody of ours was there to compare with. From then on it stays caught up,
 * so one of ours that joins (or is learned of) later does not take a serving
 * server out of its load balancer; later differences are repaired by the
 * anti-entropy passes while it serves.
 */
export class CatchUp {
  private caughtUp = false;

  /** Whether still catching up, given the state now; called at the join's end and at every health check. */
  catchingUp(inputs: CatchUpInputs): boolean {
    if (!this.caughtUp && (!inputs.joinAsked || (!inputs.joining && (inputs.passes > 0 || inputs.peers === 0)))) this.caughtUp = true;
    return !this.caughtUp;
  }
}

/** A store failure as health tells it: the error's code (EACCES, ENOENT...), not its message, which names files. */
export function storeErrorOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'cannot be used';
}
