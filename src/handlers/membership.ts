/** Membership: joining (INSERT), view rounds (UPDATE), streams, greetings and probes. */
import type { HandlerTable } from './types.js';
import { shouldRelay } from './forwarded.js';

export const membershipHandlers: Pick<HandlerTable, 'INSERT' | 'UPDATE' | 'STREAM' | 'CHECK' | 'PING' | 'PING_REQ'> = {
  INSERT(message, _connection, ctx) {
    if (message.from !== undefined) ctx.peers.learn(message.from);
    if (message.data === ctx.self) return;
    if (ctx.ring.insertAfter(ctx.self, message.data)) ctx.ringChanged();
    ctx.announceRing();
  },
  UPDATE(message, _connection, ctx) {
    if (message.creator === ctx.self) return; // our round came home
    if (message.id !== undefined) ctx.peers.learn(message.creator);
    if (!shouldRelay(message, ctx)) return;
    if (message.members) {
      // Our servers' views merge; the round goes on carrying the merged view.
      ctx.absorb(message.members);
      ctx.forward({ ...message, data: [...ctx.ring.members], members: ctx.ring.membership.all() });
      return;
    }
    if (!message.data.includes(ctx.self)) {
      ctx.log.warn(`UPDATE from ${message.creator} does not list this server; ignored`);
      return;
    }
    if (ctx.ring.adopt(message.data, message.creator)) ctx.ringChanged();
    // A list that still names members gone here goes on with our ring, so the originals after us do not take them back.
    const stale = message.data.some((address) => ctx.ring.knows(address) && !ctx.ring.has(address));
    ctx.forward(stale ? { ...message, data: [...ctx.ring.members] } : message);
  },
  STREAM(message, _connection, ctx) {
    ctx.peers.learn(message.from);
  },
  CHECK(message, _connection, ctx) {
    if (message.from !== undefined) ctx.peers.learn(message.from);
  },
  PING(message, connection, ctx) {
    ctx.peers.learn(message.from);
    ctx.heard(message.from);
    if (message.members) ctx.absorb(message.members);
    ctx.reply(connection, { type: 'ACK', from: ctx.self, members: ctx.ring.membership.all() });
  },
  async PING_REQ(message, connection, ctx) {
    ctx.peers.learn(message.from);
    const alive = await ctx.probeFor(message.data);
    ctx.reply(connection, { type: 'PING_REQ', data: { target: message.data, alive } });
  },
};
