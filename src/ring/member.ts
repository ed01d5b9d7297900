/** One member's entry as every server keeps it: its status and where it was placed in the ring. */
import type { Address } from '../protocol/address.js';

export type Status = 'alive' | 'suspect' | 'dead' | 'left';

export interface Member {
  address: Address;
  /** Raised only by the member itself, to refute a suspicion or a death. */
  incarnation: number;
  status: Status;
  /** The member this one was placed right after; absent for the first of a ring. */
  after?: Address | undefined;
  /** When it was placed (ms): later placements after the same member come first. */
  placed: number;
  /** When it was first known dead or left (ms); absent while alive or suspect. */
  since?: number | undefined;
  /** Forgotten members between `after` and this one, outermost first, with their placements. */
  via?: Hop[] | undefined;
  /** The forgotten member whose place this one took (it was all that hung below it): sorted by that placement. */
  slot?: Hop | undefined;
}

/** A forgotten member's placement, kept in the members placed after it. */
export interface Hop {
  address: Address;
  placed: number;
}
