/**
 * How the placements of forgotten members are kept (see membership.ts): an
 * entry placed after a member forgotten here is folded under it again, a
 * forgotten member with one node below it hands it its slot, and a slot
 * taken where more hung below is given back. Pure: works on a view's
 * entries through `put`, which keeps the view's caches right.
 */
import type { Address } from '../protocol/address.js';
import type { Member } from './member.js';
import { ghostsOf } from './placement.js';

/** The entries of a view, and how to change one. */
export interface Folding {
  readonly entries: ReadonlyMap<Address, Member>;
  put(entry: Member): boolean;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Entries still placed right after a member forgotten here (newer copies
 * from servers that knew it) are folded the same way: under its ghost, or
 * under the slot an entry took for it. A copy of the placement held
 * `previous`ly takes the folded place that copy had.
 */
export function refold(view: Folding, previous: ReadonlyMap<Address, Member>): void {
  const ghosts = ghostsOf(view.entries);
  const slots = new Map<Address, Member>();
  for (const entry of [...previous.values(), ...view.entries.values()]) if (entry.slot) slots.set(entry.slot.address, entry);
  for (const entry of [...view.entries.values()]) {
    if (entry.after === undefined || view.entries.has(entry.after)) continue;
    const tail = entry.via ?? [];
    const ghost = ghosts.get(entry.after);
    const holder = slots.get(entry.after);
    const before = previous.get(entry.address);
    if (before && before.placed === entry.placed && (before.after === undefined || view.entries.has(before.after))) {
      view.put({ ...entry, after: before.after, via: before.via, slot: before.slot });
    } else if (ghost) {
      view.put({ ...entry, after: ghost.after, via: [...ghost.via, { address: entry.after, placed: ghost.placed }, ...tail] });
    } else if (holder?.slot && (holder.after === undefined || view.entries.has(holder.after))) {
      view.put({ ...entry, after: holder.after, via: [...(holder.via ?? []), holder.slot, ...tail] });
    }
  }
}

/**
 * A forgotten member (of `only`, when given) with one node below it (an
 * entry, or another forgotten one) is merged with it, keeping its own
 * placement: an entry takes its slot, a forgotten one is dropped from the
 * chains. The result does not depend on the order, and keeps the ring
 * order; it keeps `via` from growing with every restart. In the middle of
 * a merge only the members just forgotten here are merged so: this server
 * held them, and all that hung below them, for a whole `forgetAfterMs`,
 * while a member known only from a part of another view may have more
 * below it than that part shows.
 */
export function contract(view: Folding, only?: ReadonlySet<Address>): void {
  splitSlots(view);
  for (;;) {
    const ghosts = new Map([...ghostsOf(view.entries)].filter(([address]) => !only || only.has(address)));
    if (ghosts.size === 0) return;
    const below = new Map<Address, Set<Address>>();
    for (const entry of view.entries.values()) {
      const via = entry.via ?? [];
      via.forEach((hop, i) => {
        if (!ghosts.has(hop.address)) return;
        const next = via[i + 1]?.address ?? entry.address;
        const set = below.get(hop.address) ?? new Set<Address>();
        set.add(next);
        below.set(hop.address, set);
      });
    }
    const single = [...below.entries()]
      .filter(([, set]) => set.size === 1)
      .map(([ghost, set]): [Address, Address] => [ghost, [...set][0]!])
      .filter(([, child]) => ghosts.has(child) || view.entries.has(child))
      .sort((a, b) => compareText(a[0], b[0]))[0];
    if (!single) return;
    const [ghost, child] = single;
    for (const entry of [...view.entries.values()]) {
      const via = entry.via ?? [];
      const at = via.findIndex((hop) => hop.address === ghost);
      if (at === -1) continue;
      if (at === via.length - 1 && entry.address === child) view.put({ ...entry, via: via.slice(0, -1), slot: via[at] });
      else if (via[at + 1]?.address === child) view.put({ ...entry, via: [...via.slice(0, at + 1), ...via.slice(at + 2)] });
    }
  }
}

/**
 * A slot taken by a member that turns out not to be all that hung below
 * the forgotten one (a server merged them before it knew the others) is
 * given back: the member hangs below it again, sorted by its own placement.
 */
export function splitSlots(view: Folding): void {
  const below = new Map<Address, Set<Address>>();
  const note = (anchor: Address, node: Address): void => {
    const set = below.get(anchor) ?? new Set<Address>();
    set.add(node);
    below.set(anchor, set);
  };
  for (const entry of view.entries.values()) {
    const chain = [entry.after, ...(entry.via ?? []).map((hop) => hop.address), entry.address];
    for (let i = 0; i + 1 < chain.length; i++) if (chain[i] !== undefined) note(chain[i]!, chain[i + 1]!);
    if (entry.slot) note(entry.slot.address, entry.address);
  }
  for (const entry of [...view.entries.values()]) {
    if (entry.slot && (below.get(entry.slot.address)?.size ?? 0) > 1) {
      view.put({ ...entry, via: [...(entry.via ?? []), entry.slot], slot: undefined });
    }
  }
}
