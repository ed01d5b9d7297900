/**
 * Rounds of items (FORWARD_PUT, FORWARD_GET): passing by, and coming home.
 *
 * How a round ends: a client's PUT, DELETE, or GET that misses locally starts
 * a FORWARD_PUT / FORWARD_GET with this server as creator and a fresh id
 * (items.ts); every other server handles it and passes it to its successor;
 * when it arrives back at its creator, the creator answers the waiting
 * client. An UPDATE round ends the same way, at its creator (membership.ts).
 *
 * What crossed an original server lost its id and version: mixed.ts says
 * what becomes of it.
 */
import { isCoopError, type CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import { errorReply, type ForwardPutMessage, type LookupData, type RangeRequest, type Reply } from '../protocol/messages.js';
import { isFound } from '../protocol/content.js';
import { readLocal, type LocalRead } from '../store/local-read.js';
import type { RingView } from '../ring/ring.js';
import type { ExtensionPeers } from '../ring/extension-peers.js';
import type { ItemStore } from '../store/items.js';
import type { Uploads } from '../store/uploads.js';
import { compareVersions, unversioned, type Version, type VersionClock } from '../store/version.js';
import type { Log } from '../log/logger.js';
import { baseRoundId, confirmingId, isConfirmingId, type PendingRounds, type SeenRounds } from './rounds.js';
import { commitKey, type EarlyCommits } from './commits.js';
import { settledByCreator } from './mixed.js';
import type { Handlers, RoundMessage } from './types.js';
import { lookupReply, missReply, noSpaceReply, overtaken, roundKey, writeDone, type Waiting } from './waiting.js';
import { middlePart, store, type WriteContext } from './items.js';
import { replyLength, serveLocal, tooLargeReply, type LocalReadContext } from './serve-local.js';

/** What deciding whether to pass a round on takes. */
export interface RelayContext {
  readonly ring: Pick<RingView, 'has' | 'knows'>;
  readonly seen: Pick<SeenRounds, 'firstSighting'>;
  readonly log: Log;
}

export interface ForwardedContext extends RelayContext, LocalReadContext, WriteContext {
  readonly self: Address;
  readonly store: Pick<ItemStore, 'head' | 'contentAtHand' | 'get' | 'readRange' | 'apply'>;
  readonly waiting: Pick<PendingRounds<Waiting>, 'peek' | 'take'>;
  readonly clock: Pick<VersionClock, 'peek' | 'next' | 'observe'>;
  readonly uploads: Pick<Uploads, 'receive' | 'abandon'>;
  readonly peers: Pick<ExtensionPeers, 'learn'>;
  /** Commits of last parts passed on before they were done here, for their second lap. */
  readonly commits: Pick<EarlyCommits, 'add' | 'of'>;
  /**
   * Passes a round message to the successor, failing over past dead ones;
   * `received` is its text as it came, when it goes on unchanged. Settles
   * once it was delivered, or could not be.
   */
  forward(message: RoundMessage, received?: string): Promise<void>;
  /** A part's bytes are written here and passed on: nothing reads them any more (part-blocks.ts). */
  letGo(bytes: readonly Buffer[]): void;
  /** Copies an item from the server that holds it; a copy without a version gets `versionless()` (default: the oldest). */
  pull(holder: Address, item: string, versionless?: () => Version): Promise<boolean>;
  /** Bytes of `item` from the server that holds them, for a reader when this server could not keep a copy. */
  readFrom(holder: Address, item: string, part: RangeRequest): Promise<LookupData>;
  /** A copy this server could not store for want of space (NO_SPACE): counted, and logged now and then. */
  noSpace(err: CoopError): void;
}

/**
 * A write that lost in the ring to a version stamped at most this far ahead of
 * its server's clock lost to a concurrent write (newest wins); further ahead,
 * it lost to a clock running ahead, and is not acknowledged.
 */
const CONCURRENT_MS = 1000;

/**
 * A round from another server: pass it on only the first time we see it.
 * Rounds from original servers carry no id; for those, a creator that is no
 * longer in the ring means nobody will ever take the round back. An
 * original's UPDATE lists its creator: one we have never heard of (as when
 * this server has just joined that original's ring and holds none of it
 * yet) is taken; one we hold dead or left is not: that UPDATE is an old one
 * still going round.
 */
export function shouldRelay(message: RoundMessage, ctx: RelayContext): boolean {
  const { creator } = message;
  const relay =
    message.id !== undefined
      ? ctx.seen.firstSighting(message.id)
      : ctx.ring.has(creator) || (message.type === 'UPDATE' && message.data.includes(creator) && !ctx.ring.knows(creator));
  if (!relay) ctx.log.warn(`${message.type} from ${message.creator} came around again: its creator is gone, dropped`);
  return relay;
}

/** A write of ours is home: the answer to its client, if one still waits (it settles the promise its PUT handler returned). */
function writeHome(ctx: ForwardedContext, message: ForwardPutMessage): void {
  if (secondLap(ctx, message)) return;
  const waiting = ctx.waiting.take(message.id && baseRoundId(message.id), roundKey('FORWARD_PUT', message.data.item));
  if (message.newer) {
    // A server on the way holds a newer version. Stamped ahead of this server's clock, it won by skew: not acknowledged.
    // Otherwise it is a concurrent write that came later, and the newest wins as usual.
    const bySkew = message.newer.clock > ctx.clock.peek(ctx.now()) + CONCURRENT_MS;
    ctx.clock.observe(message.newer);
    if (bySkew) {
      if (waiting) waiting.answer(overtaken(ctx.log, waiting.item, message.newer));
      return;
    }
  }
  if (!waiting) return;
  if (message.nospace) {
    // Stored here and at the servers with room, but not everywhere: not acknowledged as done (anti-entropy fills in the rest).
    if (waiting.upload !== undefined) void ctx.uploads.abandon(waiting.upload);
    ctx.log.warn(`round ${message.id}: ${message.nospace.join(', ')} had no space for ${JSON.stringify(waiting.item)}; not acknowledged`);
    waiting.answer(noSpaceReply(waiting.item, message.nospace, waiting.upload === undefined));
    return;
  }
  waiting.answer(writeDone(waiting));
}

/**
 * When the first lap of an upload's last part is home (every server passed it
 * on and is committing it, or has): sends the second, which each server passes
 * on once its commit is over, and whose coming home answers the client. What
 * the first lap found on the way goes with it. False for any other round.
 */
function secondLap(ctx: ForwardedContext, message: ForwardPutMessage): boolean {
  const { id } = message;
  if (id === undefined || isConfirmingId(id)) return false;
  const confirm = ctx.waiting.peek(baseRoundId(id))?.confirm;
  if (!confirm) return false;
  const lap: ForwardPutMessage = { ...confirm, id: confirmingId(id) };
  if (message.newer) lap.newer = message.newer;
  if (message.nospace) lap.nospace = message.nospace;
  void ctx.forward(lap);
  return true;
}

/** A lookup of ours is home: keep what it found, then answer its client, if one still waits. */
async function lookupHome(ctx: ForwardedContext, data: LookupData, id: string | undefined): Promise<void> {
  const waiting = ctx.waiting.take(id && baseRoundId(id), roundKey('FORWARD_GET', data.item));
  if (data.holder !== undefined && isFound(data)) await ctx.pull(data.holder, data.item).catch(() => false);
  else await keepIfRoom(ctx, data, ctx.self);
  if (waiting) waiting.answer(await lookupAnswer(ctx, data, waiting));
}

/** The answer to a lookup's client: from this server's copy when it now has one, else from what the round found. */
async function lookupAnswer(ctx: ForwardedContext, data: LookupData, waiting: Waiting): Promise<Reply> {
  const { item } = data;
  // Its copy here unreadable (damaged, its directory gone): answered from what travelled instead.
  try {
    const local = await serveLocal(ctx, item, waiting.part, waiting.plain);
    if (local) return local;
  } catch (err) {
    ctx.log.warn(`${JSON.stringify(item)} could not be read here: ${(err as Error).message}`);
  }
  if (data.holder !== undefined && isFound(data)) return answerFromHolder(ctx, waiting, data.holder, data.size);
  // Found but not kept here (a stale copy, no room): answer with what travelled.
  if (!isFound(data)) return missReply(item, waiting.plain);
  if (waiting.part) return { type: 'GET', data: travelledRange(data, waiting.part) };
  return lookupReply({ ...data, found: true }, waiting.plain);
}

/**
 * A large item found at `holder` that this server could not copy (no room,
 * or the pull failed): the reader's range is read from the holder instead,
 * so reads keep working on a full server.
 */
async function answerFromHolder(ctx: ForwardedContext, waiting: Waiting, holder: Address, size: number | undefined): Promise<Reply> {
  const { item, part } = waiting;
  if (!part) {
    return tooLargeReply(item, size);
  }
  try {
    const data = await ctx.readFrom(holder, item, { offset: part.offset, length: replyLength(part) });
    return { type: 'GET', data: { ...data, item } };
  } catch (err) {
    ctx.log.warn(`could not read ${JSON.stringify(item)} from ${holder} for a client: ${(err as Error).message}`);
    return errorReply('CONNECT_FAILED', `${item} is held by ${holder}, which did not answer`);
  }
}

/** The range a reader asked for, cut from a whole content that travelled in a lookup. */
function travelledRange(data: LookupData, part: RangeRequest): LookupData {
  const bytes = Buffer.from(data.content, data.encoding === 'base64' ? 'base64' : 'utf8');
  const content = bytes.subarray(part.offset, part.offset + replyLength(part)).toString('base64');
  return { item: data.item, content, encoding: data.encoding, found: true, version: data.version, size: bytes.length, offset: part.offset };
}

/**
 * A write passing by: store this server's copy, then pass the round on. A
 * part between the first and the last is passed on at once while it is
 * written: its place in the upload is taken as it arrives (uploads.ts). The
 * last part, which makes the item whole, is passed on once it is committed
 * here (or carries this server's failure); on its `early` lap, at once, and
 * its second lap waits for the commit instead.
 */
async function keepAndPassOn(ctx: ForwardedContext, message: ForwardPutMessage, received: string | undefined): Promise<undefined> {
  const key = commitKey(message.data);
  // Told by the id (a server of ours from before drops `lap`); parts only, so a whole item's write,
  // the common case, goes by without the id being looked at.
  if (key !== undefined && isConfirmingId(message.id)) {
    // Every copy of the second lap waits: one may come by again, after a first lap sent again.
    void passOn(ctx, message, received, (await ctx.commits.of(key)) ?? false);
    return undefined;
  }
  let passing: Promise<void>;
  const early = message.lap === 'early' && key !== undefined;
  if (!settledByCreator(message) && (early || middlePart(message.data))) {
    const keeping = keep(ctx, message);
    if (early) ctx.commits.add(key, keeping);
    passing = passOn(ctx, message, received, false);
    await keeping;
  } else {
    passing = passOn(ctx, message, received, await keep(ctx, message));
  }
  const { bytes } = message.data;
  // Kept and sent on: its bytes may hold another part's. Not waited for: the next part need not wait on this one's way on.
  if (bytes) void passing.finally(() => ctx.letGo(bytes));
  return undefined;
}

/** Stores this server's copy of a write passing by; resolves true when there was no room for it (NO_SPACE). */
async function keep(ctx: ForwardedContext, message: ForwardPutMessage): Promise<boolean> {
  try {
    if (settledByCreator(message)) await takeFromCreator(ctx, message);
    // The bytes of a large item were hashed where they entered the ring: its last part brings the hash.
    else await store(ctx, message.data, message.data.version ?? unversioned(message.creator), false);
    return false;
  } catch (err) {
    // This copy is lost here (anti-entropy repairs it); the round must go on.
    if (isCoopError(err, 'NO_SPACE')) {
      ctx.noSpace(err);
      return true;
    }
    ctx.log.warn(`could not store ${message.data.item} from ${message.creator}: ${(err as Error).message}`);
    return false;
  }
}

function passOn(ctx: ForwardedContext, message: ForwardPutMessage, received: string | undefined, nospace: boolean): Promise<void> {
  const newer = newerHeld(ctx, message);
  // The creator hears that the write did not land here, so it does not acknowledge it as stored everywhere.
  const marked =
    nospace && message.id !== undefined && !message.nospace?.includes(ctx.self)
      ? { ...message, nospace: [...(message.nospace ?? []), ctx.self] }
      : message;
  if (newer) return ctx.forward({ ...marked, newer });
  if (marked !== message) return ctx.forward(marked);
  return ctx.forward(message, received);
}

/** Keeps the copy a lookup carries, when there is room; a lookup is answered (and passed on) either way. */
async function keepIfRoom(ctx: ForwardedContext, data: LookupData, creator: Address): Promise<void> {
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
function newerHeld(ctx: ForwardedContext, message: ForwardPutMessage): Version | undefined {
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
async function takeFromCreator(ctx: ForwardedContext, message: ForwardPutMessage): Promise<void> {
  const { item } = message.data;
  let reached = true;
  await ctx.pull(message.creator, item, () => ctx.clock.next(ctx.now())).catch(() => (reached = false));
  if (!reached && !ctx.store.head(item)) await store(ctx, message.data, unversioned(message.creator));
}

/** A lookup passing by: keep the copy it carries when ours is missing or older. */
async function keepCopy(ctx: ForwardedContext, data: LookupData, creator: Address): Promise<void> {
  if (data.holder !== undefined || !isFound(data)) return;
  const version = data.version ?? unversioned(creator);
  ctx.clock.observe(version);
  await ctx.store.apply(data.item, { version, encoding: data.encoding, content: data.content }, ctx.now());
}

/** What this server's own copy offers a lookup passing by: its content, or itself as the holder of an item too large to travel. */
async function offer(ctx: ForwardedContext, item: string, read: Exclude<LocalRead, { kind: 'absent' }>): Promise<LookupData | undefined> {
  const { meta } = read;
  if (read.kind === 'too-large') return { item, content: '', found: true, version: meta.version, size: meta.size, holder: ctx.self };
  const content = read.kind === 'whole' ? read.content : (await ctx.store.get(item).catch(() => undefined))?.content;
  return content === undefined ? undefined : { item, content, encoding: meta.encoding, found: true, version: meta.version };
}

export const forwardedHandlers: Handlers<'FORWARD_PUT' | 'FORWARD_GET', ForwardedContext> = {
  FORWARD_PUT(message, ctx, _from, received) {
    if (message.creator === ctx.self) {
      writeHome(ctx, message);
      return undefined;
    }
    if (message.id !== undefined) ctx.peers.learn(message.creator);
    if (!shouldRelay(message, ctx)) return undefined;
    return keepAndPassOn(ctx, message, received);
  },

  async FORWARD_GET(message, ctx, _from, received) {
    if (message.creator === ctx.self) {
      await lookupHome(ctx, message.data, message.id);
      return undefined;
    }
    if (message.id !== undefined) ctx.peers.learn(message.creator);
    if (!shouldRelay(message, ctx)) return undefined;
    const { item } = message.data;
    const read = isFound(message.data) ? undefined : readLocal(ctx.store, item, ctx.wholeLimit);
    if (read !== undefined && read.kind !== 'absent') {
      const offered = await offer(ctx, item, read);
      // A copy that cannot be read here is not offered: the lookup goes on to the others.
      if (offered) {
        ctx.forward({ ...message, data: offered });
        return undefined;
      }
    }
    await keepIfRoom(ctx, message.data, message.creator);
    ctx.forward(message, received);
    return undefined;
  },
};
