/** What a server reports about itself (`GET /_ring`, RING with a status, the metrics): pure functions of its view and store. */
import { sha1 } from '../store/hash.js';
import type { Address } from '../protocol/address.js';
import type { Health, MemberView, RingStatus, SelfFigures } from '../protocol/status.js';
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

/** This server's own figures, as it reports them to a peer that gathers the ring's. */
export function selfFigures(view: RingView, store: ItemStore, version: string): SelfFigures {
  const { count, bytes } = liveItems(store);
  return {
    address: view.self,
    version,
    incarnation: view.membership.incarnation,
    items: count,
    bytes,
    // Equal digests mean equal holdings: the ring page and --status show who is in sync.
    digest: sha1(store.digest.toWire().join()).slice(0, 16),
  };
}

export interface StatusExtras {
  version: string;
  health: Health;
  /** What the live members reported (gather.ts); this server's own come from `selfFigures`. */
  figures: ReadonlyMap<Address, SelfFigures>;
  /** When each member was last heard from (ms). */
  lastHeard: ReadonlyMap<Address, number>;
  startedAt: number;
  /** Copies of each item (`--replicas`): each server then holds its own share, and digests differ by design. */
  replicas?: number | undefined;
}

export function nodeStatus(view: RingView, store: ItemStore, extras: StatusExtras, now = Date.now()): RingStatus {
  const own = selfFigures(view, store, extras.version);
  const members = view.membership.all().map((member): MemberView => {
    const heard = extras.lastHeard.get(member.address);
    const figures = member.address === view.self ? own : extras.figures.get(member.address);
    return {
      address: member.address,
      status: member.status,
      incarnation: member.incarnation,
      lastHeardMsAgo: heard === undefined ? undefined : Math.max(0, now - heard),
      ...(figures && {
        version: figures.version,
        items: figures.items,
        bytes: figures.bytes,
        digest: figures.digest,
        inSync: extras.replicas === undefined ? figures.digest === own.digest : undefined,
      }),
    };
  });
  return {
    self: view.self,
    version: extras.version,
    uptimeSeconds: (now - extras.startedAt) / 1000,
    incarnation: own.incarnation,
    ring: view.fromSelf(),
    members,
    items: own.items,
    bytes: own.bytes,
    digest: own.digest,
    health: extras.health,
    replicas: extras.replicas,
  };
}
