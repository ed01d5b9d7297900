/**
 * Membership: a server joining (INSERT), views going round (UPDATE), our
 * servers making themselves known (STREAM, CHECK) and probes for the failure
 * detector (PING, PING_REQ). The view itself is ring/; this side only feeds it.
 */
import type { Address } from '../protocol/address.js';
import type { AckReply, PingMessage } from '../protocol/messages.js';
import type { Member } from '../ring/membership.js';
import type { RingView } from '../ring/ring.js';
import type { ExtensionPeers } from '../ring/extension-peers.js';
import type { Handlers, RoundMessage } from './types.js';
import { shouldRelay, type RelayContext } from './forwarded.js';

export interface MembershipContext extends RelayContext {
  readonly self: Address;
  readonly ring: Pick<RingView, 'insertAfter' | 'adopt' | 'has' | 'knows' | 'members' | 'membership'>;
  readonly peers: Pick<ExtensionPeers, 'learn' | 'vouch' | 'among'>;
  /** Passes a round message to the successor, failing over past dead ones. */
  forward(message: RoundMessage): void;
  /** Starts an UPDATE round with this server as creator. */
  announceRing(): void;
  /** The view changed: print it. */
  ringChanged(): void;
  /** Merges a view that a peer sent and prints what changed; announces only a refutation (keeper.ts). */
  absorb(members: Member[]): void;
  /** The ACK to a PING, its changes merged first (keeper.ts). */
  answerPing(ping: PingMessage): AckReply;
  /** The copies this ring keeps of each item (`--replicas`); undefined: every server holds every item. */
  readonly replicas: number | undefined;
  /** Asks `target` whether it is alive, on behalf of another member. */
  probeFor(target: Address): Promise<boolean>;
  /** A member was heard from directly (for the status's "last heard"). */
  heard(address: Address): void;
}

export const membershipHandlers: Handlers<'INSERT' | 'UPDATE' | 'STREAM' | 'CHECK' | 'PING' | 'PING_REQ', MembershipContext> = {
  INSERT(message, ctx) {
    if (message.from !== undefined) ctx.peers.learn(message.from);
    if (message.data === ctx.self) return undefined;
    if (ctx.ring.insertAfter(ctx.self, message.data)) ctx.ringChanged();
    ctx.announceRing();
    return undefined;
  },

  UPDATE(message, ctx) {
    if (message.creator === ctx.self) {
      // Our round came home, carrying what the servers on the way knew.
      if (message.ours) ctx.peers.vouch(message.ours);
      if (message.members) ctx.absorb(message.members);
      return undefined;
    }
    if (message.id !== undefined) ctx.peers.learn(message.creator);
    if (!shouldRelay(message, ctx)) return undefined;
    if (message.members) {
      // Learnt first: the servers it names are not taken for originals when the ring changes here.
      if (message.ours) ctx.peers.vouch(message.ours);
      // Our servers' views merge; the round goes on carrying the merged view, and no new round starts here.
      ctx.absorb(message.members);
      const { ring, self } = ctx;
      ctx.forward({
        ...message,
        data: [...ring.members],
        members: ring.membership.all(),
        ours: [self, ...ctx.peers.among(ring.members, self)],
      });
      return undefined;
    }
    if (!message.data.includes(ctx.self)) {
      ctx.log.warn(`UPDATE from ${message.creator} does not list this server; ignored`);
      return undefined;
    }
    if (ctx.ring.adopt(message.data, message.creator)) ctx.ringChanged();
    // A list that still names members gone here goes on with our ring, so the originals after us do not take them back.
    const stale = message.data.some((address) => ctx.ring.knows(address) && !ctx.ring.has(address));
    ctx.forward(stale ? { ...message, data: [...ctx.ring.members] } : message);
    return undefined;
  },

  STREAM(message, ctx) {
    ctx.peers.learn(message.from);
    return undefined;
  },

  CHECK(message, ctx) {
    if (message.from !== undefined) ctx.peers.learn(message.from);
    return undefined;
  },

  PING(message, ctx) {
    ctx.peers.learn(message.from);
    ctx.heard(message.from);
    const ack = ctx.answerPing(message);
    // A joiner compares it with its own: every server of a ring places items the same way.
    return ctx.replicas === undefined ? ack : { ...ack, replicas: ctx.replicas };
  },

  async PING_REQ(message, ctx) {
    ctx.peers.learn(message.from);
    const alive = await ctx.probeFor(message.data);
    return { type: 'PING_REQ', data: { target: message.data, alive } };
  },
};
