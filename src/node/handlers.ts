/**
 * One handler per message type. Each sees only the narrow context it needs;
 * sockets, timers and failover live in node.ts.
 *
 * How a round ends: a client's PUT or GET missing locally starts a
 * FORWARD_PUT / FORWARD_GET with this server as creator and a fresh id; every
 * other server handles it and passes it to its successor; when it arrives back
 * at its creator, the creator answers the waiting client. An UPDATE round ends
 * the same way, at its creator.
 */
import type { Address } from '../protocol/address.js';
import {
  NOT_FOUND_CONTENT,
  PUT_OK_STATUS,
  type ForwardGetMessage,
  type ForwardPutMessage,
  type LookupData,
  type Message,
  type MessageType,
  type Reply,
  type UpdateMessage,
} from '../protocol/messages.js';
import type { RingView } from '../ring/ring.js';
import type { ItemStore, StoredItem } from '../store/store.js';
import type { Log } from '../log/logger.js';
import type { Connection } from '../transport/tcp.js';
import type { PendingRounds, SeenRounds } from './rounds.js';

export type RoundMessage = UpdateMessage | ForwardPutMessage | ForwardGetMessage;

export interface HandlerContext {
  readonly self: Address;
  readonly ring: RingView;
  readonly store: ItemStore;
  readonly log: Log;
  readonly waiting: PendingRounds<Connection>;
  readonly seen: SeenRounds;
  readonly roundTimeoutMs: number;
  newRoundId(): string;
  /** Passes a round message to the successor, failing over past dead ones. */
  forward(message: RoundMessage): void;
  /** Starts an UPDATE round with this server as creator. */
  announceRing(): void;
  /** The view changed: print it. */
  ringChanged(): void;
  reply(connection: Connection, reply: Reply): void;
}

type Handler<T extends Message> = (message: T, connection: Connection, ctx: HandlerContext) => void | Promise<void>;
export type HandlerTable = { [K in MessageType]: Handler<Extract<Message, { type: K }>> };

export function roundKey(type: 'FORWARD_PUT' | 'FORWARD_GET', item: string): string {
  return `${type}\u0000${item}`;
}

function lookupReply(data: LookupData): Reply {
  const found = data.found === true || data.content !== NOT_FOUND_CONTENT;
  return {
    type: 'GET',
    data: found
      ? { item: data.item, content: data.content, encoding: data.encoding, found: true }
      : { item: data.item, content: NOT_FOUND_CONTENT, found: false },
  };
}

function isFound(data: LookupData): boolean {
  return data.found === true || data.content !== NOT_FOUND_CONTENT;
}

function stored(data: LookupData): StoredItem {
  return { content: data.content, encoding: data.encoding };
}

/**
 * A round from another server: pass it on only the first time we see it.
 * Rounds from original servers carry no id; for those, a creator that is no
 * longer in the ring means nobody will ever take the round back.
 */
function shouldRelay(message: RoundMessage, ctx: HandlerContext): boolean {
  const relay = message.id !== undefined ? ctx.seen.firstSighting(message.id) : ctx.ring.has(message.creator);
  if (!relay) ctx.log.warn(`${message.type} from ${message.creator} came around again: its creator is gone, dropped`);
  return relay;
}

function waitForRound(ctx: HandlerContext, id: string, key: string, connection: Connection): void {
  ctx.waiting.add(id, key, connection, ctx.roundTimeoutMs, (waiting) => {
    ctx.log.warn(`round ${id} did not come back within ${ctx.roundTimeoutMs} ms`);
    ctx.reply(waiting, {
      type: 'ERROR',
      data: { code: 'TIMEOUT', status: '504 GATEWAY TIMEOUT', message: 'the ring did not answer in time' },
    });
  });
}

export const handlers: HandlerTable = {
  INSERT(message, _connection, ctx) {
    if (message.data === ctx.self) return;
    if (ctx.ring.insertAfter(ctx.self, message.data)) ctx.ringChanged();
    ctx.announceRing();
  },

  UPDATE(message, _connection, ctx) {
    if (message.creator === ctx.self) return; // our round came home
    if (!shouldRelay(message, ctx)) return;
    if (!message.data.includes(ctx.self)) {
      ctx.log.warn(`UPDATE from ${message.creator} does not list this server; ignored`);
      return;
    }
    if (ctx.ring.adopt(message.data)) ctx.ringChanged();
    ctx.forward(message);
  },

  CHECK() {},

  RING(_message, connection, ctx) {
    ctx.reply(connection, { type: 'RING', data: ctx.ring.fromSelf() });
  },

  async GET(message, connection, ctx) {
    const item = message.data;
    const local = await ctx.store.get(item);
    if (local || ctx.ring.size === 1) {
      const data = local ? { item, ...local, found: true } : { item, content: NOT_FOUND_CONTENT, found: false };
      ctx.reply(connection, lookupReply(data));
      return;
    }
    const id = ctx.newRoundId();
    waitForRound(ctx, id, roundKey('FORWARD_GET', item), connection);
    ctx.forward({ type: 'FORWARD_GET', creator: ctx.self, data: { item, content: NOT_FOUND_CONTENT }, id });
  },

  async PUT(message, connection, ctx) {
    const { item, content, encoding } = message.data;
    await ctx.store.put(item, { content, encoding });
    if (ctx.ring.size === 1) {
      ctx.reply(connection, { type: 'PUT', data: { item, status: PUT_OK_STATUS } });
      return;
    }
    const id = ctx.newRoundId();
    waitForRound(ctx, id, roundKey('FORWARD_PUT', item), connection);
    ctx.forward({ type: 'FORWARD_PUT', creator: ctx.self, data: { item, content, encoding }, id });
  },

  async FORWARD_PUT(message, _connection, ctx) {
    const { item } = message.data;
    if (message.creator === ctx.self) {
      const waiting = ctx.waiting.take(message.id, roundKey('FORWARD_PUT', item));
      if (waiting) ctx.reply(waiting, { type: 'PUT', data: { item, status: PUT_OK_STATUS } });
      return;
    }
    if (!shouldRelay(message, ctx)) return;
    await ctx.store.put(item, stored(message.data));
    ctx.forward(message);
  },

  async FORWARD_GET(message, _connection, ctx) {
    const { item } = message.data;
    const found = isFound(message.data);
    if (message.creator === ctx.self) {
      const waiting = ctx.waiting.take(message.id, roundKey('FORWARD_GET', item));
      if (found && !(await ctx.store.get(item))) await ctx.store.put(item, stored(message.data));
      if (waiting) ctx.reply(waiting, lookupReply(message.data));
      return;
    }
    if (!shouldRelay(message, ctx)) return;
    const local = await ctx.store.get(item);
    if (!found && local) {
      ctx.forward({ ...message, data: { item, content: local.content, encoding: local.encoding, found: true } });
      return;
    }
    // A server that lacks the item keeps the copy that the round carries.
    if (found && !local) await ctx.store.put(item, stored(message.data));
    ctx.forward(message);
  },
};
