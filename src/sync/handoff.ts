/**
 * A ring that keeps R copies (`--replicas`): when the members change, items
 * change owners. A server that holds an item it no longer owns lets it go,
 * but only once every owner holds that version or a newer one (never before:
 * a join does not lose the copy the joiner has not pulled yet). The owners
 * pull what they lack by anti-entropy.
 */
import type { Address } from '../protocol/address.js';
import type { ClientOptions } from '../transport/ask.js';
import { listBuckets } from '../transport/peer-requests.js';
import type { ItemStore } from '../store/items.js';
import { bucketOf } from '../store/digest.js';
import { compareVersions } from '../store/version.js';
import type { Placement } from '../ring/owners.js';

/** Lets go of the copies this server holds and does not own, once their owners hold them. Resolves with how many. */
export async function releaseUnowned(
  store: ItemStore,
  self: Address,
  placement: Placement,
  client: ClientOptions,
  stopped: () => boolean,
): Promise<number> {
  let released = 0;
  for (const [item, meta] of [...store.entries()]) {
    if (stopped()) break;
    const owners = placement.owners(item);
    if (owners.length === 0 || owners.includes(self)) continue;
    let everywhere = true;
    for (const owner of owners) {
      const entries = await listBuckets(owner, [bucketOf(item)], client).catch(() => []);
      const theirs = entries.find((entry) => entry.item === item);
      if (!theirs || compareVersions(theirs.version, meta.version) < 0) {
        everywhere = false;
        break;
      }
    }
    if (everywhere && (await store.release(item, meta))) released++;
  }
  return released;
}
