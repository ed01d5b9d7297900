/** What a peer or a client asks of this server's state: its view of the ring (RING), and contents to compare (DIGEST, LIST). */
import type { RingReply } from '../protocol/messages.js';
import type { Address } from '../protocol/address.js';
import { digestOf } from '../store/digest.js';
import type { RingStatus, SelfFigures } from '../protocol/status.js';
import type { RingView } from '../ring/ring.js';
import type { ItemStore } from '../store/items.js';
import type { Handlers } from './types.js';

export interface SyncContext {
  readonly ring: Pick<RingView, 'fromSelf'>;
  readonly store: Pick<ItemStore, 'digest' | 'listBuckets' | 'entries'>;
  /** This server's own figures (a RING asking for `"status": "self"`). */
  figures(): SelfFigures;
  /** This server's whole status, members' figures included (a RING asking for `"status": "all"`). */
  ringStatus(): Promise<RingStatus>;
  /** Compares with `peer` and pulls what is newer there, now (anti-entropy). */
  syncWith(peer: Address): void;
  /**
   * `--replicas`: whether `peer` owns an item; undefined when every server holds every item. A peer
   * compares what both own, and also learns of what this server holds for it without owning it.
   */
  ownedBy(peer: Address): ((item: string) => boolean) | undefined;
}

export const syncHandlers: Handlers<'RING' | 'DIGEST' | 'LIST' | 'HANDOVER', SyncContext> = {
  HANDOVER(message, ctx) {
    // The leaver no longer counts among the owners here: what it held and this server owns now is pulled from it.
    ctx.syncWith(message.from);
    return undefined;
  },

  RING(message, ctx) {
    // Only the whole ring's status is gathered from the members: the rest is answered at once.
    if (message.status === 'all') return withStatus(ctx);
    return ringReply(ctx, message.status === 'self' ? ctx.figures() : undefined);
  },

  DIGEST(message, ctx) {
    // With --replicas, a peer compares only what both own.
    const theirs = message.with === undefined ? undefined : ctx.ownedBy(message.with);
    const data = theirs ? digestOf(ctx.store.entries(), theirs) : ctx.store.digest.toWire();
    return { type: 'DIGEST', data };
  },

  LIST(message, ctx) {
    const wanted = new Set(message.data);
    const theirs = message.with === undefined ? undefined : ctx.ownedBy(message.with);
    const entries = ctx.store
      .listBuckets(wanted)
      .filter(([item]) => !theirs || theirs(item))
      .map(([item, meta]) => ({ item, version: meta.version, deleted: meta.deleted, size: meta.size }));
    return { type: 'LIST', data: entries };
  },
};

/** The ring with this server's whole status, once gathered. */
async function withStatus(ctx: SyncContext): Promise<RingReply> {
  return ringReply(ctx, await ctx.ringStatus());
}

function ringReply(ctx: SyncContext, status: SelfFigures | RingStatus | undefined): RingReply {
  return { type: 'RING', data: ctx.ring.fromSelf(), status: status as RingReply['status'] };
}
