/**
 * Where an item lives when a ring keeps R copies (`--replicas R`): consistent
 * hashing with virtual nodes. Each member stands at VNODES points of a 32-bit
 * circle (the SHA-1 of its address and the point's number); an item's owners
 * are the first R distinct members met going clockwise from the SHA-1 of its
 * name, in that order (its chain: a write goes from the first to the last).
 * A member joining or leaving moves about 1/N of the items. Every server
 * builds the same placement from the same members. Pure.
 */
import { createHash } from 'node:crypto';
import type { Address } from '../protocol/address.js';

/** Points per member: enough that each member's share stays within a few tens of percent of 1/N. */
export const VNODES = 64;

function point(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32BE(0);
}

/** The placement for the ring's members now, built again only when they change. */
export function placementOf(members: () => readonly Address[], replicas: number): () => Placement {
  let built: { key: string; placement: Placement } | undefined;
  return () => {
    const now = members();
    const key = now.join(',');
    if (built?.key !== key) built = { key, placement: new Placement(now, replicas) };
    return built.placement;
  };
}

export class Placement {
  private readonly points: number[] = [];
  private readonly at: Address[] = [];
  readonly members: readonly Address[];

  constructor(
    members: readonly Address[],
    /** Copies of each item; at least the number of members means every member owns every item. */
    readonly replicas: number,
  ) {
    this.members = [...new Set(members)].sort();
    const all = this.members.flatMap((address) => Array.from({ length: VNODES }, (_, i) => ({ point: point(`${address}#${i}`), address })));
    all.sort((a, b) => a.point - b.point || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    for (const { point: p, address } of all) {
      this.points.push(p);
      this.at.push(address);
    }
  }

  /** The owners of `item`, first to last: min(R, N) distinct members. */
  owners(item: string): Address[] {
    const wanted = Math.min(this.replicas, this.members.length);
    const owners: Address[] = [];
    if (wanted === 0) return owners;
    let index = this.firstAtOrAfter(point(item));
    while (owners.length < wanted) {
      const address = this.at[index % this.at.length]!;
      if (!owners.includes(address)) owners.push(address);
      index++;
    }
    return owners;
  }

  owns(member: Address, item: string): boolean {
    return this.owners(item).includes(member);
  }

  private firstAtOrAfter(value: number): number {
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.points[middle]! < value) low = middle + 1;
      else high = middle;
    }
    return low === this.points.length ? 0 : low;
  }
}
