/**
 * The peers that have shown they speak our extensions (a round id, PING,
 * STREAM, a CHECK with `from`: what only our servers send). Only they get our
 * message types and fields; any other peer is taken for an original server
 * and gets the original's form of every message.
 *
 * A Set, so the failure detector's probes can add a peer that answered and
 * drop one that is forgotten; `learn` is the way for a peer that spoke first.
 */
import type { Address } from '../protocol/address.js';

export class ExtensionPeers extends Set<Address> {
  /** `learnt`: told of each peer learnt for the first time (this server then greets it, so each of two knows the other). */
  constructor(private readonly learnt: (address: Address) => void = () => undefined) {
    super();
  }

  /** A peer showed that it speaks our extensions. */
  learn(address: Address): void {
    if (this.has(address)) return;
    this.add(address);
    this.learnt(address);
  }

  /**
   * Peers that another server of ours vouches for (an UPDATE's `ours`): known
   * without a greeting, since the same round tells them of this server too.
   */
  vouch(addresses: readonly Address[]): void {
    for (const address of addresses) this.add(address);
  }

  /** Whether every one of `members` but `self` speaks our extensions: no original server among them. */
  everyone(members: readonly Address[], self: Address): boolean {
    return members.every((member) => member === self || this.has(member));
  }

  /** The ones of `members`, other than `self`, that speak our extensions, in the order given. */
  among(members: readonly Address[], self: Address): Address[] {
    return members.filter((member) => member !== self && this.has(member));
  }
}
