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
 * Forgetting: a member dead or left for longer than `forgetAfterMs` (timed
 * from `since`, which travels with the entry) is dropped. So that the tree
 * keeps its shape, the members placed after it are placed after its own
 * anchor instead, carrying the forgotten placement in `via`: the walk puts
 * them exactly where they were, on every server, whether it has forgotten
 * yet or not. A forgotten member with a single member below it is not kept
 * as a hop: that member takes its place (`slot`, the placement it is sorted
 * by), so a chain of restarts, each joining through the last, carries one
 * slot and no hops; `via` only names forgotten members that still branch,
 * fewer than there are members. An expired entry that comes back from a
 * server that has not forgotten yet is dropped again as it is merged
 * (folding.ts keeps the folded placements in shape).
 *
 * Pure: no sockets, no timers; time comes in as arguments.
 */
import { createHash } from 'node:crypto';
import type { Address } from '../protocol/address.js';
import { Rumours } from './rumours.js';
import { contract, refold, splitSlots, type Folding } from './folding.js';
import { treeOrder } from './placement.js';
import type { Member, Status } from './member.js';

export { treeOrder } from './placement.js';
export type { Hop, Member, Status } from './member.js';

const RANK: Record<Status, number> = { alive: 0, suspect: 1, dead: 2, left: 2 };

export function inRing(status: Status): boolean {
  return status === 'alive' || status === 'suspect';
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function viaKey(entry: Member): string {
  const slot = entry.slot ? `${entry.slot.address}@${entry.slot.placed}|` : '';
  return slot + (entry.via ? entry.via.map((hop) => `${hop.address}@${hop.placed}`).join(',') : '');
}

const NEVER = Number.MAX_SAFE_INTEGER;

/**
 * The total order behind merging: which of two entries for one address wins.
 * Of two copies of one placement, the one that took the slot of an older
 * forgotten member wins, then the one with more forgotten members folded in
 * (so a server that has forgotten keeps its copy), and of two deaths the
 * earlier known one (so every server forgets it at the same time).
 */
export function compareEntries(a: Member, b: Member): number {
  return (
    a.incarnation - b.incarnation ||
    RANK[a.status] - RANK[b.status] ||
    (a.status === b.status ? 0 : a.status === 'left' ? 1 : b.status === 'left' ? -1 : 0) ||
    a.placed - b.placed ||
    (b.slot ?? b).placed - (a.slot ?? a).placed ||
    (a.via?.length ?? 0) - (b.via?.length ?? 0) ||
    compareText(a.after ?? '', b.after ?? '') ||
    compareText(viaKey(a), viaKey(b)) ||
    Math.sign((b.since ?? NEVER) - (a.since ?? NEVER))
  );
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
  /** Each ring member's index in `ringCache`: "is X in the ring" and "who is next" at no cost per member. */
  private ringIndex: Map<Address, number> | undefined;
  private checksumCache: string | undefined;
  /** The entries changed lately, to tell on probes. */
  readonly rumours = new Rumours();
  private readonly folding: Folding = { entries: this.entries, put: (entry) => this.put(entry) };
  /** When each member was first suspected here (ms). */
  private readonly suspectedSince = new Map<Address, number>();
  /** When this server started (kept for logs and tests). */
  readonly startedAt: number;

  constructor(
    readonly self: Address,
    now: number,
    /** Dead and left members are dropped this long after `since` (Infinity: kept for ever). */
    readonly forgetAfterMs = Infinity,
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

  /** `address`'s index in the ring, or -1 when it is not in it. */
  position(address: Address): number {
    this.ringIndex ??= new Map(this.ring().map((member, i) => [member, i]));
    return this.ringIndex.get(address) ?? -1;
  }

  /**
   * A digest of every entry: two views holding the same entries have the
   * same checksum, in whatever order they learnt them. Probes compare it.
   */
  checksum(): string {
    if (this.checksumCache === undefined) {
      const hash = createHash('sha1');
      for (const address of [...this.entries.keys()].sort()) hash.update(entryText(this.entries.get(address)!));
      this.checksumCache = hash.digest('base64url').slice(0, 16);
    }
    return this.checksumCache;
  }

  /** The entries of `addresses` still held (the ones forgotten since are left out). */
  entriesOf(addresses: readonly Address[]): Member[] {
    const out: Member[] = [];
    for (const address of addresses) {
      const entry = this.entries.get(address);
      if (entry) out.push({ ...entry });
    }
    return out;
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

  /** Declares a member dead (not this server). True when that is news. Without `now`, `since` is set when next forgetting. */
  declareDead(address: Address, now?: number): boolean {
    const entry = this.entries.get(address);
    if (!entry || address === this.self || !inRing(entry.status)) return false;
    return this.put({ ...entry, status: 'dead', since: now });
  }

  /** This server leaves the ring gracefully. */
  leave(now?: number): Member {
    const entry = this.entries.get(this.self)!;
    this.put({ ...entry, status: 'left', incarnation: entry.incarnation + 1, since: now });
    return { ...this.entries.get(this.self)! };
  }

  /**
   * Drops the members dead or left for `forgetAfterMs` or longer (never this
   * server), folding each into the placements of the members placed after it
   * so the ring keeps its order. Dead entries not yet timed are timed from
   * `now`. Returns the forgotten addresses.
   */
  forgetExpired(now: number): Address[] {
    return this.forget(now, true);
  }

  /** `settled`: this view is whole (not in the middle of a merge), so every forgotten member with one node below is merged with it. */
  private forget(now: number, settled: boolean): Address[] {
    if (!Number.isFinite(this.forgetAfterMs)) return [];
    const expired: Address[] = [];
    for (const entry of [...this.entries.values()]) {
      if (inRing(entry.status) || entry.address === this.self) continue;
      if (entry.since === undefined) this.put({ ...entry, since: now });
      else if (this.expired(entry, now)) expired.push(entry.address);
    }
    const hops = new Set(expired.sort().map((address) => this.fold(address)));
    if (settled || hops.size > 0) contract(this.folding, settled ? undefined : hops);
    return expired;
  }

  /** Drops `address`'s entry; the members placed right after it are placed after its anchor, through it (the hop returned). */
  private fold(address: Address): Address {
    const gone = this.entries.get(address)!;
    const hop = gone.slot ?? { address, placed: gone.placed };
    const hops = [...(gone.via ?? []), hop];
    this.entries.delete(address);
    this.suspectedSince.delete(address);
    this.rumours.drop(address);
    this.changed();
    for (const entry of [...this.entries.values()]) {
      if (entry.after !== address) continue;
      this.put({ ...entry, after: gone.after, via: [...hops, ...(entry.via ?? [])] });
    }
    return hop.address;
  }

  private expired(entry: Member, now: number): boolean {
    return !inRing(entry.status) && entry.since !== undefined && now - entry.since >= this.forgetAfterMs;
  }

  /** Suspects whose suspicion is older than `timeoutMs` (the same for all, or per suspect) are declared dead; returns them. */
  expireSuspicions(now: number, timeoutMs: number | ((address: Address) => number)): Address[] {
    const expired: Address[] = [];
    for (const [address, since] of this.suspectedSince) {
      const timeout = typeof timeoutMs === 'number' ? timeoutMs : timeoutMs(address);
      if (now - since >= timeout && this.declareDead(address, now)) expired.push(address);
    }
    return expired;
  }

  /** Merges entries from another view; refutes any claim that this server is suspect or dead. */
  merge(entries: readonly Member[], now: number): MergeResult {
    const before = this.ring();
    const forgetting = Number.isFinite(this.forgetAfterMs);
    const held = forgetting ? new Map(this.entries) : undefined;
    let changed = false;
    let refuted = false;
    for (let incoming of entries) {
      if (inRing(incoming.status) && incoming.since !== undefined) incoming = { ...incoming, since: undefined };
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
      // Forgotten here, and would be again at once: its old placement is not let back in.
      if (!held && forgetting && this.expired(incoming, now)) continue;
      // A suspicion is timed from when it was heard here (a newer incarnation's suspicion is a new one).
      if (incoming.status === 'suspect' && (held?.status !== 'suspect' || incoming.incarnation > held.incarnation)) {
        this.suspectedSince.set(incoming.address, now);
      }
      changed = this.put({ ...incoming }) || changed;
    }
    if (held) {
      // What was forgotten here and came back from a server that has not forgotten yet goes again.
      // Copies from servers that have not forgotten yet are folded first, so that what is forgotten now hangs in place.
      refold(this.folding, held);
      this.forget(now, false);
      refold(this.folding, held);
      splitSlots(this.folding);
      changed = !sameEntries(held, this.entries);
    }
    const ringChanged = !sameList(before, this.ring());
    return { changed: changed || ringChanged, refuted };
  }

  /**
   * Takes a plain ring from an UPDATE of an original server (no entries).
   * The list speaks only for what its `creator` did: members new to us are
   * placed after their predecessor in it (whom it inserted), and the members
   * right after the creator in our ring that it leaves out were cut out by
   * it (its dead successors). Members we hold dead or left stay so, whatever
   * an older list says: only they can come back, by refuting; others it
   * leaves out it may simply not have heard of yet.
   */
  mergePlainList(list: readonly Address[], now: number, creator?: Address): boolean {
    if (!list.includes(this.self)) return false;
    let changed = false;
    const ring = this.ring();
    const listed = new Set(list);
    const at = creator === undefined ? -1 : ring.indexOf(creator);
    for (let i = 1; at !== -1 && i < ring.length; i++) {
      const address = ring[(at + i) % ring.length]!;
      if (listed.has(address) || address === this.self) break;
      changed = this.declareDead(address, now) || changed;
    }
    list.forEach((address, i) => {
      if (this.entries.has(address)) return;
      const after = list[(i - 1 + list.length) % list.length]!;
      // Later than every placement held, so it lands right after its predecessor even if our clock is behind.
      const placed = Math.max(now, this.latestPlacement() + 1);
      changed = this.put({ address, incarnation: 0, status: 'alive', after, placed }) || changed;
    });
    return changed;
  }

  private latestPlacement(): number {
    let latest = 0;
    for (const entry of this.entries.values()) latest = Math.max(latest, entry.placed);
    return latest;
  }

  private put(dirty: Member): boolean {
    const entry = clean(dirty);
    const held = this.entries.get(entry.address);
    if (held && compareEntries(entry, held) === 0) return false;
    this.entries.set(entry.address, entry);
    if (entry.status !== 'suspect') this.suspectedSince.delete(entry.address);
    this.rumours.note(entry.address);
    this.changed();
    return true;
  }

  private changed(): void {
    this.ringCache = undefined;
    this.ringIndex = undefined;
    this.checksumCache = undefined;
  }
}

/** Without empty optional fields, and without `since` while in the ring: one shape per entry, whoever made it. */
function clean(entry: Member): Member {
  const { after, since, via, slot, ...rest } = entry;
  const out: Member = rest;
  if (after !== undefined) out.after = after;
  if (since !== undefined && !inRing(entry.status)) out.since = since;
  if (via !== undefined && via.length > 0) out.via = via;
  if (slot !== undefined) out.slot = slot;
  return out;
}

/**
 * The fields that merging compares, in one fixed form; not `since`: each
 * server times a death by its own clock until the earliest reaches it (by
 * rounds and rumours), and views that differ only there are in step.
 */
function entryText(entry: Member): string {
  return `${entry.address} ${entry.incarnation} ${entry.status} ${entry.after ?? ''} ${entry.placed} ${viaKey(entry)}\n`;
}

function sameEntries(a: ReadonlyMap<Address, Member>, b: ReadonlyMap<Address, Member>): boolean {
  if (a.size !== b.size) return false;
  for (const [address, entry] of a) {
    const other = b.get(address);
    if (!other || compareEntries(entry, other) !== 0) return false;
  }
  return true;
}

function sameList(a: readonly Address[], b: readonly Address[]): boolean {
  return a.length === b.length && a.every((address, i) => address === b[i]);
}
