/** What a server reports about itself (`GET /_ring`, the metrics): pure functions of its view and store. */
import { sha1 } from '../store/hash.js';
import type { Address } from '../protocol/address.js';
import type { RingView } from '../ring/ring.js';
import type { ItemStore } from '../store/items.js';

export function liveItems(store: ItemStore): { count: number; bytes: number } {
  let count = 0;
  let bytes = 0;
  for (const [, meta] of store.entries()) {
    if (meta.deleted) continue;
    count++;
    bytes += meta.size;
  }
  return { count, bytes };
}

export function nodeStatus(
  view: RingView,
  store: ItemStore,
  lastHeard: ReadonlyMap<Address, number>,
  startedAt: number,
  now = Date.now(),
): unknown {
  const { count, bytes } = liveItems(store);
  return {
    self: view.self,
    uptimeSeconds: (now - startedAt) / 1000,
    incarnation: view.membership.incarnation,
    ring: view.fromSelf(),
    members: view.membership.all().map((member) => ({
      address: member.address,
      status: member.status,
      incarnation: member.incarnation,
      lastHeardMsAgo: lastHeard.has(member.address) ? now - lastHeard.get(member.address)! : undefined,
    })),
    items: count,
    bytes,
    // Equal digests mean equal holdings: the ring page shows who is in sync.
    digest: sha1(store.digest.toWire().join()).slice(0, 16),
  };
}
