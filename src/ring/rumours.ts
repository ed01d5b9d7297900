/**
 * What a server tells on its probes (SWIM's piggyback): the members whose
 * entries changed lately, each told a bounded number of times, the least
 * told first. A PING and its ACK carry a few of them instead of the whole
 * membership; the membership checksum (membership.ts) tells when the two
 * views still differ and a whole exchange is due. Pure.
 */
import type { Address } from '../protocol/address.js';

/** Entries on one probe or its answer, at most. */
export const RUMOURS_PER_PROBE = 8;

/** How many times each change is told: λ·log10(N+1), λ = 4, as memberlist's retransmit multiplier. */
export function tellsFor(ringSize: number): number {
  return 4 * Math.max(1, Math.ceil(Math.log10(ringSize + 1)));
}

export class Rumours {
  /** Each member with a change to tell, and how many times it was told; newest changes last. */
  private readonly told = new Map<Address, number>();

  get size(): number {
    return this.told.size;
  }

  /** `address`'s entry changed: told afresh, as many times as a new change. */
  note(address: Address): void {
    this.told.delete(address);
    this.told.set(address, 0);
  }

  /** Nothing more to tell of `address` (it was forgotten). */
  drop(address: Address): void {
    this.told.delete(address);
  }

  /**
   * Up to `limit` members to tell of now, the least told first and, among
   * those, the newest; each is counted as told, and dropped once told `tells` times.
   */
  take(limit: number, tells: number): Address[] {
    const order = [...this.told].reverse().sort((a, b) => a[1] - b[1]);
    const chosen = order.slice(0, limit).map(([address]) => address);
    for (const address of chosen) {
      const times = this.told.get(address)! + 1;
      if (times >= tells) this.told.delete(address);
      else this.told.set(address, times);
    }
    return chosen;
  }
}
