/**
 * The ring order from placements (see membership.ts): a walk of the tree in
 * which each member hangs under the one it was placed after, latest
 * placement first among siblings, the oldest roots first. Members forgotten
 * since still hold their places as ghosts, rebuilt from the `via` chains of
 * the entries placed after them; an entry with a `slot` sits where the
 * forgotten member it stands for sat. Pure.
 */
import type { Address } from '../protocol/address.js';
import type { Hop, Member } from './member.js';

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order among members placed after the same one (or among roots): latest first, then by address. */
function siblingOrder(a: Place, b: Place): number {
  return b.placed - a.placed || -compareText(a.key, b.key) || -compareText(a.address, b.address);
}

/** A node of the placement tree: a member, or a forgotten one that still holds its place (a ghost). */
interface Place {
  address: Address;
  /** The placement it is sorted by among its siblings: its own, or the slot it took. */
  placed: number;
  key: Address;
  parent: Address | undefined;
  entry?: Member;
}

/** A ghost's placement as some entry's `via` tells it: the member at the top of its chain, and the ghosts between. */
export interface Ghost {
  after: Address | undefined;
  via: Hop[];
  placed: number;
}

/** The forgotten members that entries' `via` lists name and no entry is held for; one pick per address whatever the order. */
export function ghostsOf(entries: ReadonlyMap<Address, Member>): Map<Address, Ghost> {
  const ghosts = new Map<Address, Ghost>();
  for (const entry of entries.values()) {
    const hops = entry.via ?? [];
    hops.forEach((hop, i) => {
      if (entries.has(hop.address)) return;
      const ghost: Ghost = { after: entry.after, via: hops.slice(0, i), placed: hop.placed };
      const held = ghosts.get(hop.address);
      // Copies agree unless placements were folded at different times; take one by a fixed rule.
      if (!held || ghost.placed > held.placed || (ghost.placed === held.placed && compareText(ghostKey(ghost), ghostKey(held)) > 0)) {
        ghosts.set(hop.address, ghost);
      }
    });
  }
  return ghosts;
}

function ghostKey(ghost: Ghost): string {
  return `${ghost.after ?? ''}|${ghost.via.map((hop) => `${hop.address}@${hop.placed}`).join(',')}`;
}

/** Every entry in tree order: a walk of placements (forgotten ones included, then left out), cycles broken deterministically. */
export function treeOrder(entries: Iterable<Member>): Member[] {
  const byAddress = new Map<Address, Member>();
  for (const entry of entries) byAddress.set(entry.address, entry);
  const places = new Map<Address, Place>();
  for (const entry of byAddress.values()) {
    const parent = entry.via && entry.via.length > 0 ? entry.via.at(-1)!.address : entry.after;
    const slot = entry.slot ?? entry;
    places.set(entry.address, { address: entry.address, placed: slot.placed, key: slot.address, parent, entry });
  }
  for (const [address, ghost] of ghostsOf(byAddress)) {
    places.set(address, { address, placed: ghost.placed, key: address, parent: ghost.via.at(-1)?.address ?? ghost.after });
  }
  const all = [...places.values()];
  const children = new Map<Address | undefined, Place[]>();
  for (const place of all) {
    const parent = place.parent !== undefined && places.has(place.parent) && place.parent !== place.address ? place.parent : undefined;
    const list = children.get(parent) ?? [];
    list.push(place);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort(siblingOrder);
  const order: Member[] = [];
  const visited = new Set<Address>();
  const walk = (start: Place): void => {
    const stack = [start];
    while (stack.length > 0) {
      const place = stack.pop()!;
      if (visited.has(place.address)) continue;
      visited.add(place.address);
      if (place.entry) order.push(place.entry);
      const below = children.get(place.address) ?? [];
      for (let i = below.length - 1; i >= 0; i--) stack.push(below[i]!);
    }
  };
  // Roots: the oldest ring first, so that merged rings keep a stable order.
  const roots = [...(children.get(undefined) ?? [])].sort((a, b) => -siblingOrder(a, b));
  for (const root of roots) walk(root);
  // Members only reachable through a cycle of placements: start from the oldest of them.
  const rest = all.filter((entry) => !visited.has(entry.address)).sort((a, b) => -siblingOrder(a, b));
  for (const entry of rest) walk(entry);
  return order;
}
