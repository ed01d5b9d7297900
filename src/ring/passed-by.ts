/**
 * Members this server could not send to, and since when: rounds pass them by
 * until one answers a PING from here. Beside the failure detector, which
 * decides whether a member is gone for everybody, this is what one server
 * knows of its own ways to the others (a one-way or lossy link).
 */
import type { Address } from '../protocol/address.js';

export class PassedBy {
  private readonly since = new Map<Address, number>();

  has(address: Address): boolean {
    return this.since.has(address);
  }

  /** The members passed by now, to be PINGed. */
  addresses(): IterableIterator<Address> {
    return this.since.keys();
  }

  /** `address` could not be sent to at `now` (ms); false when it was passed by already. */
  note(address: Address, now: number): boolean {
    if (this.since.has(address)) return false;
    this.since.set(address, now);
    return true;
  }

  /** `address` answered at `now`: how long it was passed by (ms), or undefined when it was not. */
  answered(address: Address, now: number): number | undefined {
    const since = this.since.get(address);
    if (since === undefined) return undefined;
    this.since.delete(address);
    return now - since;
  }

  /** Forgets the members the ring no longer knows. */
  keepOnly(known: (address: Address) => boolean): void {
    for (const address of this.since.keys()) if (!known(address)) this.since.delete(address);
  }
}
