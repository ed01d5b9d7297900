/** What a peer or a client asks of this server's state: the ring (RING), and contents to compare (DIGEST, LIST). */
import type { RingReply } from '../protocol/messages.js';
import type { HandlerTable } from './types.js';

export const syncHandlers: Pick<HandlerTable, 'RING' | 'DIGEST' | 'LIST'> = {
  async RING(message, connection, ctx) {
    const status = message.status === 'self' ? ctx.figures() : message.status === 'all' ? await ctx.ringStatus() : undefined;
    ctx.reply(connection, { type: 'RING', data: ctx.ring.fromSelf(), status: status as RingReply['status'] });
  },
  DIGEST(_message, connection, ctx) {
    ctx.reply(connection, { type: 'DIGEST', data: ctx.store.digest.toWire() });
  },
  LIST(message, connection, ctx) {
    const wanted = new Set(message.data);
    const entries = ctx.store
      .listBuckets(wanted)
      .map(([item, meta]) => ({ item, version: meta.version, deleted: meta.deleted, size: meta.size }));
    ctx.reply(connection, { type: 'LIST', data: entries });
  },
};
