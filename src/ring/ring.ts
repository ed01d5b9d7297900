/**
 * One server's view of the ring: the members in circular order. Pure state,
 * no I/O: the node decides when to change it and what to send afterwards.
 * Every mutator reports whether the view changed, so the caller knows when to
 * print the ring and start an UPDATE round.
 */
import type { Address } from '../protocol/address.js';

export class RingView {
  private list: Address[];

  constructor(
    readonly self: Address,
    members: readonly Address[] = [self],
  ) {
    this.list = members.includes(self) ? [...members] : [self, ...members];
  }

  get size(): number {
    return this.list.length;
  }

  /** The members in ring order, as they travel in UPDATE. */
  get members(): readonly Address[] {
    return this.list;
  }

  /** The members in ring order starting with this server. */
  fromSelf(): Address[] {
    const at = this.list.indexOf(this.self);
    return [...this.list.slice(at), ...this.list.slice(0, at)];
  }

  has(address: Address): boolean {
    return this.list.includes(address);
  }

  /** The member after `address` (default: this server), or undefined when this server is alone. */
  successor(address: Address = this.self): Address | undefined {
    if (this.list.length < 2) return undefined;
    const at = this.list.indexOf(address);
    if (at === -1) return undefined;
    return this.list[(at + 1) % this.list.length];
  }

  /** Places `address` right after `anchor` (moving it there if it was elsewhere). */
  insertAfter(anchor: Address, address: Address): boolean {
    if (address === anchor || !this.list.includes(anchor)) return false;
    if (this.successor(anchor) === address) return false;
    const without = this.list.filter((member) => member !== address);
    without.splice(without.indexOf(anchor) + 1, 0, address);
    this.list = without;
    return true;
  }

  /** Cuts a member out; this server never removes itself. */
  remove(address: Address): boolean {
    if (address === this.self || !this.list.includes(address)) return false;
    this.list = this.list.filter((member) => member !== address);
    return true;
  }

  /** Takes a ring that travelled in an UPDATE. Refused when it does not list this server. */
  adopt(members: readonly Address[]): boolean {
    if (!members.includes(this.self) || sameCycle(members, this.list)) return false;
    this.list = [...members];
    return true;
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
