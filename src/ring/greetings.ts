/**
 * Telling members that this server speaks our extensions: a CHECK with
 * `from`, which an original server ignores and ours answer in kind, once per
 * member. Until a peer has shown the same, it is taken for an original and
 * gets the original's form of every message.
 */
import type { Address } from '../protocol/address.js';
import { encodeMessage } from '../protocol/messages.js';
import type { ExtensionPeers } from './extension-peers.js';

export interface GreetingsDeps {
  self(): Address;
  running(): boolean;
  peers: Pick<ExtensionPeers, 'has'>;
  send(address: Address, payload: string): Promise<void>;
}

export class Greetings {
  /** Members told that this server speaks our extensions. */
  private readonly greeted = new Set<Address>();

  constructor(private readonly deps: GreetingsDeps) {}

  /** Greets the members not yet known to speak our extensions, and not greeted yet. */
  members(members: readonly Address[]): void {
    for (const member of members) {
      if (!this.deps.peers.has(member) && !this.greeted.has(member)) this.greet(member);
    }
  }

  /**
   * A peer showed, for the first time, that it speaks our extensions: it
   * hears the same of this server, so each of two servers of ours knows the
   * other even when only one sends to the other. Even if greeted before (it
   * may have been an original then, or restarted since); this ends, since a
   * peer answers only a greeting from a server it did not know yet.
   */
  again(address: Address): void {
    this.greeted.delete(address);
    this.greet(address);
  }

  private greet(address: Address): void {
    const self = this.deps.self();
    if (!this.deps.running() || address === self || this.greeted.has(address)) return;
    this.greeted.add(address);
    // Not reached: greeted again at the next change of the ring.
    this.deps.send(address, encodeMessage({ type: 'CHECK', from: self })).catch(() => this.greeted.delete(address));
  }
}
