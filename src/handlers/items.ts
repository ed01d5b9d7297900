/** Items: a client's GET, PUT and DELETE, answered from here or by a round around the ring. */
import { isCoopError } from '../errors.js';
import {
  NOT_FOUND_CONTENT,
  errorReply,
  type ForwardGetMessage,
  type ForwardPutMessage,
  type GetMessage,
  type ItemData,
  type RangeRequest,
  type Reply,
} from '../protocol/messages.js';
import { PART_BYTES } from '../client/client.js';
import type { ItemMeta } from '../store/items.js';
import type { Version } from '../store/version.js';
import type { Connection } from '../transport/tcp.js';
import { resendId, stallAfterMs, type RoundTrail, type StallReason } from './rounds.js';
import type { HandlerContext, HandlerTable, Waiting } from './types.js';
import { lookupReply, missReply, noSpaceReply, overtaken, roundKey, writeDone } from './waiting.js';

/** A GET without `part`, `local` or `extended` (the original client's) is answered in the original's form. */
function plainRequest(message: GetMessage): boolean {
  return message.part === undefined && message.local !== true && message.extended !== true;
}

/**
 * Answers a GET from this server's own copy; false when it has none to give.
 * A whole item whose content is at hand is answered at once (true, no
 * promise); a part or a copy on disk resolves once answered.
 */
export function serveLocal(
  ctx: HandlerContext,
  connection: Connection,
  item: string,
  part: RangeRequest | undefined,
  plain: boolean | undefined,
): boolean | Promise<boolean> {
  const meta = ctx.store.head(item);
  if (!meta || meta.deleted) return false;
  const version = meta.version;
  if (part) return serveRange(ctx, connection, item, meta, part);
  if (meta.size > ctx.wholeLimit) {
    const message = `${item} is ${meta.size} bytes, more than one reply carries: fetch it in parts (webclient does)`;
    ctx.reply(connection, errorReply('TOO_LARGE', message));
    return true;
  }
  const content = ctx.store.contentAtHand(item);
  if (content !== undefined) {
    ctx.reply(connection, lookupReply({ item, content, encoding: meta.encoding, found: true, version }, plain));
    return true;
  }
  return ctx.store.get(item).then((held) => {
    if (!held) return false;
    ctx.reply(connection, lookupReply({ item, content: held.content, encoding: meta.encoding, found: true, version }, plain));
    return true;
  });
}

async function serveRange(ctx: HandlerContext, connection: Connection, item: string, meta: ItemMeta, part: RangeRequest): Promise<boolean> {
  const length = Math.min(part.length, PART_BYTES);
  const content = (await ctx.store.readRange(item, part.offset, length)).toString('base64');
  const data = { item, content, encoding: meta.encoding, found: true, version: meta.version, size: meta.size, offset: part.offset };
  ctx.reply(connection, { type: 'GET', data });
  return true;
}

/** A GET this server could not answer at once (`served`): a part, a copy on disk, or a lookup around the ring. */
async function lookUp(message: GetMessage, connection: Connection, ctx: HandlerContext, served: false | Promise<boolean>): Promise<void> {
  const item = message.data;
  const plain = plainRequest(message);
  if (await served) return;
  const refusal = message.local ? undefined : notInRing(ctx);
  if (refusal) {
    ctx.reply(connection, refusal);
    return;
  }
  // A tombstone is an answer too: the item was deleted.
  if (message.local || ctx.ring.size === 1 || ctx.store.head(item)?.deleted) {
    ctx.reply(connection, missReply(item, plain));
    return;
  }
  const round: ForwardGetMessage = {
    type: 'FORWARD_GET',
    creator: ctx.self,
    data: { item, content: NOT_FOUND_CONTENT },
    id: ctx.newRoundId(),
  };
  startRound(ctx, round, { connection, request: 'GET', item, part: message.part, plain });
}

/**
 * Why this server takes no client requests that need the ring now: still
 * joining, or leaving (its view is itself alone: a write would be stored
 * here only and a lookup would miss); undefined when it takes them.
 */
function notInRing(ctx: HandlerContext): Reply | undefined {
  if (ctx.joining()) return errorReply('NOT_READY', 'this server is still joining the ring; ask again shortly');
  if (ctx.leaving()) return errorReply('SHUTTING_DOWN', 'this server is leaving the ring; ask another one');
  return undefined;
}

/** Sends a write around the ring and answers the client when it is back (at once in a ring of one). */
function replicate(ctx: HandlerContext, waiting: Waiting, data: ItemData): void {
  if (ctx.ring.size === 1) {
    ctx.reply(waiting.connection, writeDone(waiting));
    return;
  }
  startRound(ctx, { type: 'FORWARD_PUT', creator: ctx.self, data, id: ctx.newRoundId() }, waiting);
}

/**
 * Sends a round of this server's and waits for it to come home. The round is
 * kept until then: when it is lost on the way (rounds.ts), the same message
 * goes around again, and servers that stored it already take it as a no-op.
 */
function startRound(ctx: HandlerContext, round: ForwardPutMessage | ForwardGetMessage, waiting: Waiting): void {
  const id = round.id!;
  // The round id ties the client's request to every forward it causes, in every server's log.
  ctx.log.info(`${waiting.request} ${JSON.stringify(waiting.item)} from client ${waiting.connection.remote}: round ${id}`, { round: id });
  const resend = (_waiting: Waiting, attempt: number, why: StallReason): boolean => {
    // Not while an original server is in the ring: a copy of ours that crossed it comes home without its id,
    // and could answer another client's request for the same item.
    if (!ctx.peers.everyone(ctx.ring.members, ctx.self)) return false;
    const cause = why === 'ring' ? 'a server was cut out of the ring' : `not back after ${Math.round(stallAfterMs(ctx.roundTimeoutMs))} ms`;
    ctx.log.info(`round ${id}: ${cause}; sent again (attempt ${attempt})`, { round: id });
    ctx.forward({ ...round, id: resendId(id, attempt) });
    ctx.resent(why);
    return true;
  };
  ctx.waiting.add(
    id,
    roundKey(round.type, round.data.item),
    waiting,
    ctx.roundTimeoutMs,
    (late, trail) => roundLost(ctx, id, late, trail),
    resend,
  );
  ctx.forward(round);
}

/**
 * A round that did not come home in time. A lookup times out; a write is
 * stored here and may have reached any of the others: its outcome is unknown,
 * not failed. Either way the answer names the server the round was last
 * handed to.
 */
function roundLost(ctx: HandlerContext, id: string, waiting: Waiting, trail: RoundTrail): void {
  const seconds = `${ctx.roundTimeoutMs / 1000} s`;
  const where = trail.to === undefined ? 'could not be sent to any server' : `was last handed to ${trail.to}`;
  // Past the first hop this server cannot see the round; members not answering probes are where it likely waits.
  const suspects = ctx.ring.fromSelf().filter((member) => ctx.ring.membership.get(member)?.status === 'suspect');
  const suspected = suspects.length > 0 ? `, not answering probes: ${suspects.join(', ')}` : '';
  const tries = `${trail.attempts > 1 ? ` (sent ${trail.attempts} times)` : ''}${suspected}`;
  ctx.log.warn(`round ${id} did not come back within ${seconds}: it ${where}${tries}`, { round: id });
  if (waiting.request === 'GET') {
    const message = `the ring did not answer in time: the lookup ${where} and did not come back within ${seconds}${tries}`;
    ctx.reply(waiting.connection, errorReply('TIMEOUT', message));
    return;
  }
  const message =
    `outcome unknown: the ${waiting.request} of ${waiting.item} is stored on ${ctx.self}, but its round ${where} ` +
    `and did not come back within ${seconds}${tries}; it may or may not have reached the other servers (read it back, or write it again)`;
  ctx.reply(waiting.connection, errorReply('OUTCOME_UNKNOWN', message));
}

/**
 * The version of a client's write: newer than the copy of the item held here,
 * whatever this server's wall clock says, so the write wins here.
 */
function stampFor(ctx: HandlerContext, item: string): Version {
  return ctx.clock.stamp(ctx.now(), ctx.store.head(item)?.version);
}

/**
 * Applies a write that came around the ring (or from a client), whole or one
 * part. Resolves false when a whole copy was not kept (what is held is as new
 * or newer), and for every part but the last.
 */
export function store(ctx: HandlerContext, data: ItemData, version: Version): Promise<boolean> {
  ctx.clock.observe(version);
  if (data.part) {
    const bytes = Buffer.from(data.content, 'base64');
    return ctx.uploads.receive(data.part.upload, data.item, version, data.encoding, data.part, bytes, ctx.now());
  }
  return ctx.store.apply(data.item, { version, deleted: data.deleted, encoding: data.encoding, content: data.content }, ctx.now());
}

/** Stores a client's write here, or answers NO_SPACE (and resolves undefined) when this server has no room for it. */
async function storeOrRefuse(ctx: HandlerContext, connection: Connection, data: ItemData, version: Version): Promise<boolean | undefined> {
  try {
    return await store(ctx, data, version);
  } catch (err) {
    if (!isCoopError(err, 'NO_SPACE')) throw err;
    ctx.noSpace(err);
    ctx.reply(connection, noSpaceReply(data.item, [ctx.self], false));
    return undefined;
  }
}

export const itemHandlers: Pick<HandlerTable, 'GET' | 'PUT' | 'DELETE'> = {
  GET(message: GetMessage, connection, ctx) {
    const served = serveLocal(ctx, connection, message.data, message.part, plainRequest(message));
    return served === true ? undefined : lookUp(message, connection, ctx, served);
  },
  async PUT(message, connection, ctx) {
    // Taken while joining, a write would be acknowledged and then lost with the server if the join fails.
    const refusal = notInRing(ctx);
    if (refusal) {
      ctx.reply(connection, refusal);
      return;
    }
    const { item, content, encoding, part } = message.data;
    // A client's PUT gets a fresh version here; a client cannot choose one, nor delete with a PUT.
    if (part) {
      const key = `${ctx.self}/${part.upload}`;
      const version = part.offset === 0 ? stampFor(ctx, item) : ctx.uploads.versionOf(key);
      if (!version) {
        ctx.reply(connection, errorReply('BAD_FIELD', `no upload ${part.upload} in progress`));
        return;
      }
      const data: ItemData = { item, content, encoding: 'base64', version, part: { ...part, upload: key } };
      if ((await storeOrRefuse(ctx, connection, data, version)) === undefined) return;
      replicate(ctx, { connection, request: 'PUT', item, upload: key }, data);
      return;
    }
    const version = stampFor(ctx, item);
    const data: ItemData = { item, content, encoding, version };
    const stored = await storeOrRefuse(ctx, connection, data, version);
    if (stored === undefined) return;
    if (!stored) return overtaken(ctx, connection, item);
    replicate(ctx, { connection, request: 'PUT', item }, data);
  },
  async DELETE(message, connection, ctx) {
    const refusal = notInRing(ctx);
    if (refusal) {
      ctx.reply(connection, refusal);
      return;
    }
    const item = message.data;
    const version = stampFor(ctx, item);
    const data: ItemData = { item, content: '', version, deleted: true };
    const stored = await storeOrRefuse(ctx, connection, data, version);
    if (stored === undefined) return;
    if (!stored) return overtaken(ctx, connection, item);
    replicate(ctx, { connection, request: 'DELETE', item }, data);
  },
};
