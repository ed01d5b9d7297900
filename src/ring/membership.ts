/**
 * Membership as a convergent structure: every server keeps an entry per
 * member ever seen, and merging two views takes, per address, the greater
 * entry in one total order (incarnation, then dead/left over suspect over
 * alive, then placement). Merging is commutative, associative and idempotent,
 * so every server that has seen the same entries, in any order, holds the
 * same view.
 *
 * The ring order is derived from placements, as in a replicated growable
 * array: each member was placed right after another one (`after`), at a time
 * (`placed`); the order is a walk of that tree in which, among members placed
 * after the same one, the latest comes first. So a newcomer sits right after
 * the server it joined, and concurrent joins at one place get one order
 * everywhere. Dead members stay in the tree as anchors; only alive and
 * suspect ones are in the ring.
 *
 * Pure: no sockets, no timers; time comes in as arguments.
 */
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
}

const RANK: Record<Status, number> = { alive: 0, suspect: 1, dead: 2, left: 2 };

export function inRing(status: Status): boolean {
  return status === 'alive' || status === 'suspect';
}

/** The total order behind merging: which of two entries for one address wins. */
export function compareEntries(a: Member, b: Member): number {
  return (
    a.incarnation - b.incarnation ||
    RANK[a.status] - RANK[b.status] ||
    (a.status === b.status ? 0 : a.status === 'left' ? 1 : b.status === 'left' ? -1 : 0) ||
    a.placed - b.placed ||
    ((a.after ?? '') < (b.after ?? '') ? -1 : (a.after ?? '') > (b.after ?? '') ? 1 : 0)
  );
}

/** Order among members placed after the same one (or among roots): latest first, then by address. */
function siblingOrder(a: Member, b: Member): number {
  return b.placed - a.placed || (a.address < b.address ? 1 : a.address > b.address ? -1 : 0);
}

/** Every entry in tree order: a walk of placements, cycles broken deterministically. */
export function treeOrder(entries: Iterable<Member>): Member[] {
  const all = [...entries];
  const byAddress = new Map(all.map((entry) => [entry.address, entry]));
  const children = new Map<Address | undefined, Member[]>();
  for (const entry of all) {
    const parent = entry.after !== undefined && byAddress.has(entry.after) && entry.after !== entry.address ? entry.after : undefined;
    const list = children.get(parent) ?? [];
    list.push(entry);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort(siblingOrder);
  const order: Member[] = [];
  const visited = new Set<Address>();
  const walk = (start: Member): void => {
    const stack = [start];
    while (stack.length > 0) {
      const entry = stack.pop()!;
      if (visited.has(entry.address)) continue;
      visited.add(entry.address);
      order.push(entry);
      const below = children.get(entry.address) ?? [];
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

export interface MergeResult {
  /** The view (entries or ring) changed. */
  changed: boolean;
  /** This server found itself suspected or dead and raised its incarnation. */
  refuted: boolean;
}

export class Membership {
  private readonly entries = new Map<Address, Member>();
  private ringCache: Address[] | undefined;
  /** When each member was first suspected here (ms). */
  private readonly suspectedSince = new Map<Address, number>();
  /** When this server started (kept for logs and tests). */
  readonly startedAt: number;

  constructor(
    readonly self: Address,
    now: number,
  ) {
    // Placed at time 0: any placement by the server it joins is newer and wins, whatever the clocks say.
    this.entries.set(self, { address: self, incarnation: 0, status: 'alive', placed: 0 });
    this.startedAt = now;
  }

  /** Every entry, dead ones included, in tree order: what travels in UPDATE and PING. */
  all(): Member[] {
    return treeOrder(this.entries.values()).map((entry) => ({ ...entry }));
  }

  get(address: Address): Member | undefined {
    const entry = this.entries.get(address);
    return entry && { ...entry };
  }

  /** The ring: alive and suspect members, in order. */
  ring(): Address[] {
    this.ringCache ??= treeOrder(this.entries.values())
      .filter((entry) => inRing(entry.status))
      .map((entry) => entry.address);
    return this.ringCache;
  }

  get incarnation(): number {
    return this.entries.get(this.self)!.incarnation;
  }

  /** Places a newcomer right after `anchor` (default: this server), as an INSERT asks. */
  place(newcomer: Address, now: number, anchor: Address = this.self): boolean {
    if (newcomer === anchor || !this.entries.has(anchor)) return false;
    const known = this.entries.get(newcomer);
    const ring = this.ring();
    const anchorAt = ring.indexOf(anchor);
    if (known && inRing(known.status) && anchorAt !== -1 && ring[(anchorAt + 1) % ring.length] === newcomer) return false;
    // A member that comes back after being suspected or declared dead (a restart) gets a new life at its new place.
    const incarnation = known ? known.incarnation + (known.status === 'alive' ? 0 : 1) : 0;
    const placed = Math.max(now, this.latestPlacement() + 1);
    return this.put({ address: newcomer, incarnation, status: 'alive', after: anchor, placed });
  }

  /** Marks a member suspect (not this server). True when that is news. */
  suspect(address: Address, now: number): boolean {
    const entry = this.entries.get(address);
    if (!entry || address === this.self || entry.status !== 'alive') return false;
    this.suspectedSince.set(address, now);
    return this.put({ ...entry, status: 'suspect' });
  }

  /** Declares a member dead (not this server). True when that is news. */
  declareDead(address: Address): boolean {
    const entry = this.entries.get(address);
    if (!entry || address === this.self || !inRing(entry.status)) return false;
    return this.put({ ...entry, status: 'dead' });
  }

  /** This server leaves the ring gracefully. */
  leave(): Member {
    const entry = this.entries.get(this.self)!;
    this.put({ ...entry, status: 'left', incarnation: entry.incarnation + 1 });
    return { ...this.entries.get(this.self)! };
  }

  /** Suspects whose suspicion is older than `timeoutMs` are declared dead; returns them. */
  expireSuspicions(now: number, timeoutMs: number): Address[] {
    const expired: Address[] = [];
    for (const [address, since] of this.suspectedSince) {
      if (now - since >= timeoutMs && this.declareDead(address)) expired.push(address);
    }
    return expired;
  }

  /** Merges entries from another view; refutes any claim that this server is suspect or dead. */
  merge(entries: readonly Member[], now: number): MergeResult {
    const before = this.ring();
    let changed = false;
    let refuted = false;
    for (const incoming of entries) {
      if (incoming.address === this.self) {
        const own = this.entries.get(this.self)!;
        if (incoming.status !== 'alive' && own.status !== 'left' && incoming.incarnation >= own.incarnation) {
          // Somebody thinks we are gone: come back with a higher incarnation (and the newer placement if any).
          const base = compareEntries(incoming, own) > 0 ? incoming : own;
          this.put({ ...base, status: 'alive', incarnation: incoming.incarnation + 1 });
          refuted = changed = true;
        } else if (incoming.status === 'alive' && compareEntries(incoming, own) > 0) {
          changed = this.put(incoming) || changed;
        }
        continue;
      }
      const held = this.entries.get(incoming.address);
      if (held && compareEntries(incoming, held) <= 0) continue;
      // A suspicion is timed from when it was heard here (a newer incarnation's suspicion is a new one).
      if (incoming.status === 'suspect' && (held?.status !== 'suspect' || incoming.incarnation > held.incarnation)) {
        this.suspectedSince.set(incoming.address, now);
      }
      changed = this.put({ ...incoming }) || changed;
    }
    const ringChanged = !sameList(before, this.ring());
    return { changed: changed || ringChanged, refuted };
  }

  /**
   * Takes a plain ring from an UPDATE of an original server (no entries):
   * members new to us are placed after their predecessor in that list, and
   * ours that it leaves out were cut out by its creator.
   */
  mergePlainList(list: readonly Address[], now: number): boolean {
    if (!list.includes(this.self)) return false;
    let changed = false;
    list.forEach((address, i) => {
      const known = this.entries.get(address);
      if (known && inRing(known.status)) return;
      const after = list[(i - 1 + list.length) % list.length]!;
      const incarnation = known ? known.incarnation + 1 : 0;
      // Later than every placement held, so it lands right after its predecessor even if our clock is behind.
      const placed = Math.max(now, this.latestPlacement() + 1);
      changed = this.put({ address, incarnation, status: 'alive', after, placed }) || changed;
    });
    for (const address of this.ring()) {
      if (!list.includes(address)) changed = this.declareDead(address) || changed;
    }
    return changed;
  }

  private latestPlacement(): number {
    let latest = 0;
    for (const entry of this.entries.values()) latest = Math.max(latest, entry.placed);
    return latest;
  }

  private put(entry: Member): boolean {
    const held = this.entries.get(entry.address);
    if (held && compareEntries(entry, held) === 0) return false;
    this.entries.set(entry.address, entry);
    if (entry.status !== 'suspect') this.suspectedSince.delete(entry.address);
    this.ringCache = undefined;
    return true;
  }
}

function sameList(a: readonly Address[], b: readonly Address[]): boolean {
  return a.length === b.length && a.every((address, i) => address === b[i]);
}
