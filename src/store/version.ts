/**
 * Versions that order writes across the ring: a hybrid logical clock (wall
 * milliseconds, pushed forward past anything seen) plus the writing server's
 * address as tie-break. Newest wins, everywhere, whatever order copies arrive
 * in, so every live server ends with the same content.
 */
import type { Address } from '../protocol/address.js';

export interface Version {
  clock: number;
  server: Address;
}

/** The version given to a copy that came without one (from an original server): older than any real write. */
export function unversioned(creator: Address): Version {
  return { clock: 0, server: creator };
}

export function compareVersions(a: Version, b: Version): number {
  if (a.clock !== b.clock) return a.clock < b.clock ? -1 : 1;
  return a.server < b.server ? -1 : a.server > b.server ? 1 : 0;
}

/**
 * Whether an incoming copy replaces what is held. Equal versions are the same
 * write and change nothing, except unversioned copies (clock 0): the original
 * overwrites on every PUT, and so do we among those.
 */
export function supersedes(incoming: Version, held: Version | undefined): boolean {
  if (held === undefined) return true;
  const order = compareVersions(incoming, held);
  return order > 0 || (order === 0 && incoming.clock === 0);
}

export class VersionClock {
  private last = 0;

  constructor(private readonly server: Address) {}

  /** A version newer than every version this server has made or seen. */
  next(nowMs: number): Version {
    this.last = Math.max(this.last + 1, Math.floor(nowMs));
    return { clock: this.last, server: this.server };
  }

  /**
   * The version of a client's write of an item held at `held`: newer than it
   * whatever the wall clock says, so a write accepted here always supersedes
   * what this server holds (a peer's clock running ahead cannot swallow it).
   */
  stamp(nowMs: number, held: Version | undefined): Version {
    if (held) this.observe(held);
    return this.next(nowMs);
  }

  /** Where the clock stands now, without making a version. */
  peek(nowMs: number): number {
    return Math.max(this.last, Math.floor(nowMs));
  }

  /** Moves the clock past a version seen from elsewhere. */
  observe(version: Version): void {
    if (version.clock > this.last) this.last = version.clock;
  }
}
