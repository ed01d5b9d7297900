/** Rounds passing by (FORWARD_PUT, FORWARD_GET), and this server's own rounds coming home. */
import { isCoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import { errorReply, type ForwardPutMessage, type LookupData, type RangeRequest } from '../protocol/messages.js';
import { isFound, PART_BYTES } from '../client/client.js';
import { compareVersions, unversioned, type Version } from '../store/version.js';
import { baseRoundId } from './rounds.js';
import { settledByCreator } from './mixed.js';
import type { HandlerContext, HandlerTable, RoundMessage, Waiting } from './types.js';
import { lookupReply, missReply, noSpaceReply, overtaken, roundKey, writeDone } from './waiting.js';
import { serveLocal, store } from './items.js';

/**
 * A large item found at `holder` that this server could not copy (no room,
 * or the pull failed): the reader's range is read from the holder instead,
 * so reads keep working on a full server.
 */
async function answerFromHolder(ctx: HandlerContext, waiting: Waiting, holder: Address, size: number | undefined): Promise<void> {
  const { item, part } = waiting;
  if (!part) {
    const message = `${item} is ${size ?? 'too many'} bytes, more than one reply carries: fetch it in parts (webclient does)`;
    ctx.reply(waiting.connection, errorReply('TOO_LARGE', message));
    return;
  }
  try {
    const data = await ctx.readFrom(holder, item, { offset: part.offset, length: Math.min(part.length, PART_BYTES) });
    ctx.reply(waiting.connection, { type: 'GET', data: { ...data, item } });
  } catch (err) {
    ctx.log.warn(`could not read ${JSON.stringify(item)} from ${holder} for a client: ${(err as Error).message}`);
    ctx.reply(waiting.connection, errorReply('CONNECT_FAILED', `${item} is held by ${holder}, which did not answer`));
  }
}

/** The range a reader asked for, cut from a whole content that travelled in a lookup. */
function travelledRange(data: LookupData, part: RangeRequest): LookupData {
  const bytes = Buffer.from(data.content, data.encoding === 'base64' ? 'base64' : 'utf8');
  const length = Math.min(part.length, PART_BYTES);
  const content = bytes.subarray(part.offset, part.offset + length).toString('base64');
  return { item: data.item, content, encoding: data.encoding, found: true, version: data.version, size: bytes.length, offset: part.offset };
}

/**
 * A round from another server: pass it on only the first time we see it.
 * Rounds from original servers carry no id; for those, a creator that is no
 * longer in the ring means nobody will ever take the round back. An
 * original's UPDATE lists its creator: one we have never heard of (as when
 * this server has just joined that original's ring and holds none of it
 * yet) is taken; one we hold dead or left is not: that UPDATE is an old one
 * still going round.
 */
export function shouldRelay(message: RoundMessage, ctx: HandlerContext): boolean {
  const { creator } = message;
  const relay =
    message.id !== undefined
      ? ctx.seen.firstSighting(message.id)
      : ctx.ring.has(creator) || (message.type === 'UPDATE' && message.data.includes(creator) && !ctx.ring.knows(creator));
  if (!relay) ctx.log.warn(`${message.type} from ${message.creator} came around again: its creator is gone, dropped`);
  return relay;
}

/**
 * A write that lost in the ring to a version stamped at most this far ahead of
 * its server's clock lost to a concurrent write (newest wins); further ahead,
 * it lost to a clock running ahead, and is not acknowledged.
 */
export const CONCURRENT_MS = 1000;

/** A write passing by: store this server's copy, then pass the round on. */
async function keepAndPassOn(ctx: HandlerContext, message: ForwardPutMessage, received: string | undefined): Promise<void> {
  let nospace = false;
  try {
    if (settledByCreator(message)) await takeFromCreator(ctx, message);
    else await store(ctx, message.data, message.data.version ?? unversioned(message.creator));
  } catch (err) {
    // This copy is lost here (anti-entropy repairs it); the round must go on.
    if (isCoopError(err, 'NO_SPACE')) {
      nospace = true;
      ctx.noSpace(err);
    } else {
      ctx.log.warn(`could not store ${message.data.item} from ${message.creator}: ${(err as Error).message}`);
    }
  }
  const newer = newerHeld(ctx, message);
  // The creator hears that the write did not land here, so it does not acknowledge it as stored everywhere.
  const marked = nospace && message.id !== undefined ? { ...message, nospace: [...(message.nospace ?? []), ctx.self] } : message;
  if (newer) ctx.forward({ ...marked, newer });
  else if (marked !== message) ctx.forward(marked);
  else ctx.forward(message, received);
}

/** Keeps the copy a lookup carries, when there is room; a lookup is answered (and passed on) either way. */
async function keepIfRoom(ctx: HandlerContext, data: LookupData, creator: Address): Promise<void> {
  try {
    await keepCopy(ctx, data, creator);
  } catch (err) {
    // Keeping a copy is optional: the lookup's answer and its way on must not depend on it.
    if (isCoopError(err, 'NO_SPACE')) ctx.noSpace(err);
    else ctx.log.warn(`a copy of ${JSON.stringify(data.item)} found by a lookup was not kept here: ${(err as Error).message}`);
  }
}

/**
 * The version held here when it is newer than both the round's write and any
 * newer version the round already carries: the write lost here, and its
 * creator must hear so. Rounds without an id (an original's) have nobody to tell.
 */
function newerHeld(ctx: HandlerContext, message: ForwardPutMessage): Version | undefined {
  const written = message.data.version;
  if (message.id === undefined || !written) return undefined;
  const held = ctx.store.head(message.data.item)?.version;
  if (!held || compareVersions(held, message.newer ?? written) <= 0) return undefined;
  return held;
}

/**
 * A write that came without its version (mixed.ts): its creator's copy is
 * taken instead, with its version and encoding; an original's, which has
 * none, is stamped here as new. Only when the creator cannot be reached and
 * nothing is held here is the relayed text kept, as the oldest of versions.
 */
async function takeFromCreator(ctx: HandlerContext, message: ForwardPutMessage): Promise<void> {
  const { item } = message.data;
  let reached = true;
  await ctx.pull(message.creator, item, () => ctx.clock.next(ctx.now())).catch(() => (reached = false));
  if (!reached && !ctx.store.head(item)) await store(ctx, message.data, unversioned(message.creator));
}

/** A lookup passing by: keep the copy it carries when ours is missing or older. */
async function keepCopy(ctx: HandlerContext, data: LookupData, creator: Address): Promise<void> {
  if (data.holder !== undefined || !isFound(data)) return;
  const version = data.version ?? unversioned(creator);
  ctx.clock.observe(version);
  await ctx.store.apply(data.item, { version, encoding: data.encoding, content: data.content }, ctx.now());
}

export const forwardedHandlers: Pick<HandlerTable, 'FORWARD_PUT' | 'FORWARD_GET'> = {
  FORWARD_PUT(message, connection, ctx) {
    if (message.creator === ctx.self) {
      // Our round is home (the busiest path of a PUT's creator): answered at once, no promise.
      const waiting = ctx.waiting.take(message.id && baseRoundId(message.id), roundKey('FORWARD_PUT', message.data.item));
      if (message.newer) {
        // A server on the way holds a newer version. Stamped ahead of this server's clock, it won by skew: not acknowledged.
        // Otherwise it is a concurrent write that came later, and the newest wins as usual.
        const bySkew = message.newer.clock > ctx.clock.peek(ctx.now()) + CONCURRENT_MS;
        ctx.clock.observe(message.newer);
        if (bySkew) {
          if (waiting) overtaken(ctx, waiting.connection, waiting.item, message.newer);
          return;
        }
      }
      if (message.nospace && waiting) {
        // Stored here and at the servers with room, but not everywhere: not acknowledged as done (anti-entropy fills in the rest).
        if (waiting.upload !== undefined) void ctx.uploads.abandon(waiting.upload);
        ctx.log.warn(
          `round ${message.id}: ${message.nospace.join(', ')} had no space for ${JSON.stringify(waiting.item)}; not acknowledged`,
        );
        ctx.reply(waiting.connection, noSpaceReply(waiting.item, message.nospace, waiting.upload === undefined));
        return;
      }
      if (waiting) ctx.reply(waiting.connection, writeDone(waiting));
      return;
    }
    if (message.id !== undefined) ctx.peers.learn(message.creator);
    if (!shouldRelay(message, ctx)) return;
    return keepAndPassOn(ctx, message, connection.received);
  },
  async FORWARD_GET(message, connection, ctx) {
    const { item } = message.data;
    if (message.creator === ctx.self) {
      const waiting = ctx.waiting.take(message.id && baseRoundId(message.id), roundKey('FORWARD_GET', item));
      const data = message.data;
      if (data.holder !== undefined && isFound(data)) await ctx.pull(data.holder, item).catch(() => false);
      else await keepIfRoom(ctx, data, message.creator);
      if (!waiting) return;
      // Its copy here unreadable (damaged, its directory gone): answered from what travelled instead.
      try {
        if (await serveLocal(ctx, waiting.connection, item, waiting.part, waiting.plain)) return;
      } catch (err) {
        ctx.log.warn(`${JSON.stringify(item)} could not be read here: ${(err as Error).message}`);
      }
      if (data.holder !== undefined && isFound(data)) return answerFromHolder(ctx, waiting, data.holder, data.size);
      // Found but not kept here (a stale copy, no room): answer with what travelled.
      if (!isFound(data)) ctx.reply(waiting.connection, missReply(item, waiting.plain));
      else if (waiting.part) ctx.reply(waiting.connection, { type: 'GET', data: travelledRange(data, waiting.part) });
      else ctx.reply(waiting.connection, lookupReply({ ...data, found: true }, waiting.plain));
      return;
    }
    if (message.id !== undefined) ctx.peers.learn(message.creator);
    if (!shouldRelay(message, ctx)) return;
    const meta = ctx.store.head(item);
    if (!isFound(message.data) && meta && !meta.deleted) {
      // A copy that cannot be read here is not offered: the lookup goes on to the others.
      const held = meta.size <= ctx.wholeLimit ? await ctx.store.get(item).catch(() => null) : undefined;
      if (held !== null) {
        const data: LookupData = held
          ? { item, content: held.content, encoding: meta.encoding, found: true, version: meta.version }
          : { item, content: '', found: true, version: meta.version, size: meta.size, holder: ctx.self };
        ctx.forward({ ...message, data });
        return;
      }
    }
    await keepIfRoom(ctx, message.data, message.creator);
    ctx.forward(message, connection.received);
  },
};
