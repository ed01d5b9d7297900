/**
 * One server's view of the ring, as the node uses it: a thin face over the
 * convergent membership (membership.ts), answering "who is next", "is X in
 * the ring" and "what does the ring look like". Pure state, no I/O: the node
 * decides when to change it and what to send afterwards. Every mutator reports
 * whether the view changed, so the caller knows when to print the ring and
 * start an UPDATE round.
 */
import type { Address } from '../protocol/address.js';
import { Membership, type Member, type MergeResult } from './membership.js';

export class RingView {
  readonly membership: Membership;

  constructor(
    readonly self: Address,
    members: readonly Address[] = [self],
    private readonly now: () => number = Date.now,
    /** Dead and left members are forgotten this long after they went (default: never). */
    forgetAfterMs = Infinity,
  ) {
    this.membership = new Membership(self, now(), forgetAfterMs);
    if (members.length > 1) this.membership.mergePlainList(members.includes(self) ? members : [self, ...members], now());
  }

  get size(): number {
    return this.membership.ring().length;
  }

  /** The members in ring order, as they travel in UPDATE. */
  get members(): readonly Address[] {
    return this.membership.ring();
  }

  /** The members in ring order starting with this server. */
  fromSelf(): Address[] {
    const list = this.membership.ring();
    const at = Math.max(0, this.membership.position(this.self));
    return [...list.slice(at), ...list.slice(0, at)];
  }

  has(address: Address): boolean {
    return this.membership.position(address) !== -1;
  }

  /** The member after `address` (default: this server), or undefined when this server is alone. */
  successor(address: Address = this.self): Address | undefined {
    const list = this.membership.ring();
    if (list.length < 2) return undefined;
    const at = this.membership.position(address);
    if (at === -1) return undefined;
    return list[(at + 1) % list.length];
  }

  /** The member before this server, or undefined when it is alone. */
  predecessor(): Address | undefined {
    const list = this.membership.ring();
    if (list.length < 2) return undefined;
    return list[(this.membership.position(this.self) - 1 + list.length) % list.length];
  }

  /** Places `address` right after `anchor`, as an INSERT asks. */
  insertAfter(anchor: Address, address: Address): boolean {
    return this.membership.place(address, this.now(), anchor);
  }

  /** Cuts a member out (declared dead); this server never removes itself. */
  remove(address: Address): boolean {
    return this.membership.declareDead(address, this.now());
  }

  /** Drops the members dead or left for longer than the limit; returns them. */
  forget(): Address[] {
    return this.membership.forgetExpired(this.now());
  }

  /** This server leaves the ring gracefully. */
  leave(): void {
    this.membership.leave(this.now());
  }

  suspect(address: Address): boolean {
    return this.membership.suspect(address, this.now());
  }

  /** Whether this server holds an entry for `address`, in the ring or not (dead, left). */
  knows(address: Address): boolean {
    return this.membership.get(address) !== undefined;
  }

  /** Takes a plain ring from an UPDATE that `creator` started (membership.ts mergePlainList). Refused when it does not list this server. */
  adopt(members: readonly Address[], creator?: Address): boolean {
    if (!members.includes(this.self) || sameCycle(members, this.membership.ring())) return false;
    return this.membership.mergePlainList(members, this.now(), creator);
  }

  /** Merges another view's entries (our servers' UPDATE, PING and ACK). */
  merge(entries: readonly Member[]): MergeResult {
    return this.membership.merge(entries, this.now());
  }

  /** The original's picture: `[a] --> [b] --> [c]`, starting with this server. */
  format(): string {
    return formatRing(this.fromSelf());
  }
}

export function formatRing(members: readonly Address[]): string {
  return members.map((member) => `[${member}]`).join(' --> ');
}

/** True when both lists hold the same members in the same circular order. */
export function sameCycle(a: readonly Address[], b: readonly Address[]): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 0) return true;
  const offset = b.indexOf(a[0]!);
  if (offset === -1) return false;
  return a.every((member, i) => b[(offset + i) % b.length] === member);
}
