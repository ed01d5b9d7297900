/**
 * Items: a client's GET, PUT and DELETE. A GET is answered from this
 * server's copy when it has one; otherwise, and for every write, a round
 * starts with this server as its creator and the client is answered when it
 * comes home (forwarded.ts).
 *
 * Every write carries a version; a server applies a copy only when it is
 * newer than what it holds (store/items.ts), so all copies end the same.
 */
import { isCoopError, type CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import {
  NOT_FOUND_CONTENT,
  errorReply,
  type ForwardGetMessage,
  type ForwardPutMessage,
  type GetMessage,
  type ItemData,
  type Reply,
  type UploadPart,
} from '../protocol/messages.js';
import { chunksLength } from '../protocol/content.js';
import type { RingView } from '../ring/ring.js';
import type { ExtensionPeers } from '../ring/extension-peers.js';
import type { ItemStore } from '../store/items.js';
import type { Uploads } from '../store/uploads.js';
import { compareVersions, type Version, type VersionClock } from '../store/version.js';
import type { Log } from '../log/logger.js';
import { resendId, stallAfterMs, type PendingRounds, type RoundTrail, type StallReason } from './rounds.js';
import type { Handlers, RoundMessage } from './types.js';
import { lookupReply, missReply, noSpaceReply, notYetAnswerable, overtaken, roundKey, writeDone, type Waiting } from './waiting.js';
import { readFromOwners, writeRoute, type OwnersContext } from './owners.js';
import { serveLocal, type LocalReadContext } from './serve-local.js';

/** What storing a write (a client's, or one passing by) takes. */
export interface WriteContext {
  readonly store: Pick<ItemStore, 'apply'>;
  readonly clock: Pick<VersionClock, 'observe'>;
  readonly uploads: Pick<Uploads, 'receive'>;
  now(): number;
}

export interface ItemsContext extends LocalReadContext, WriteContext, OwnersContext {
  readonly self: Address;
  readonly ring: Pick<RingView, 'size' | 'members' | 'fromSelf' | 'membership'>;
  readonly store: Pick<ItemStore, 'head' | 'contentAtHand' | 'get' | 'readRange' | 'apply'>;
  readonly log: Log;
  readonly waiting: Pick<PendingRounds<Waiting>, 'add'>;
  readonly clock: Pick<VersionClock, 'stamp' | 'observe'>;
  readonly uploads: Pick<Uploads, 'receive' | 'versionOf' | 'passing' | 'pass'>;
  readonly roundTimeoutMs: number;
  readonly peers: Pick<ExtensionPeers, 'everyone'>;
  /** Still waiting for the ring it asked to join: alone, it cannot say an item is missing. */
  joining(): boolean;
  /** Leaving the ring (a graceful stop): a write taken now would be acknowledged by this server alone. */
  leaving(): boolean;
  newRoundId(): string;
  /** Passes a round message to the successor, failing over past dead ones. */
  forward(message: RoundMessage): void;
  /** A round of this server's was sent again (counted). */
  resent(why: StallReason): void;
  /** A write this server could not store for want of space (NO_SPACE): counted, and logged now and then. */
  noSpace(err: CoopError): void;
}

/** A round this server starts: it always carries an id. */
type OwnRound = (ForwardPutMessage | ForwardGetMessage) & { id: string };

/** A GET without `part`, `local` or `extended` (the original client's) is answered in the original's form. */
function plainRequest(message: GetMessage): boolean {
  return message.part === undefined && message.local !== true && message.extended !== true;
}

/** A GET this server could not answer at once (`served`): a part, a copy on disk, or a lookup around the ring. */
async function lookUp(
  message: GetMessage,
  ctx: ItemsContext,
  from: string,
  served: Promise<Reply | undefined> | undefined,
): Promise<Reply> {
  const item = message.data;
  const plain = plainRequest(message);
  const local = await served;
  if (local) return local;
  const refusal = message.local ? undefined : notInRing(ctx);
  if (refusal) return refusal;
  // A tombstone is an answer too: the item was deleted.
  if (message.local || ctx.ring.size === 1 || ctx.store.head(item)?.deleted) return missReply(item, plain);
  const fromOwners = await readFromOwners(
    ctx,
    message,
    (data) => (message.part ? { type: 'GET', data } : lookupReply(data, plain)),
    () => missReply(item, plain),
  );
  if (fromOwners) return fromOwners;
  const round: OwnRound = {
    type: 'FORWARD_GET',
    creator: ctx.self,
    data: { item, content: NOT_FOUND_CONTENT },
    id: ctx.newRoundId(),
  };
  return startRound(ctx, round, { answer: notYetAnswerable, client: from, request: 'GET', item, part: message.part, plain });
}

/**
 * Why this server takes no client requests that need the ring now: still
 * joining, or leaving (its view is itself alone: a write would be stored
 * here only and a lookup would miss); undefined when it takes them.
 */
function notInRing(ctx: ItemsContext): Reply | undefined {
  if (ctx.joining()) return errorReply('NOT_READY', 'this server is still joining the ring; ask again shortly');
  if (ctx.leaving()) return errorReply('SHUTTING_DOWN', 'this server is leaving the ring; ask another one');
  return undefined;
}

/**
 * Sends a write around the ring and answers the client when it is back (at
 * once in a ring of one). An upload's last part goes around twice when every
 * server is ours: passed on before each commits it, then once each has
 * (forwarded.ts), so the commits run at once, not one after another.
 */
function replicate(ctx: ItemsContext, waiting: Waiting, data: ItemData, chain?: Address[]): Reply | Promise<Reply> {
  if (ctx.ring.size === 1 || chain?.length === 0) return writeDone(waiting);
  const round: OwnRound = { type: 'FORWARD_PUT', creator: ctx.self, data, id: ctx.newRoundId(), chain };
  if (lastPart(data) && ctx.peers.everyone(ctx.ring.members, ctx.self)) {
    round.lap = 'early';
    waiting.confirm = { ...round, data: { ...data, content: '', bytes: undefined }, lap: 'confirm' };
  }
  return startRound(ctx, round, waiting);
}

/**
 * Sends a round of this server's and waits for it to come home: resolves with
 * the client's answer. The round is kept until then: when it is lost on the
 * way (rounds.ts), the same message goes around again, and servers that
 * stored it already take it as a no-op.
 */
function startRound(ctx: ItemsContext, round: OwnRound, waiting: Waiting): Promise<Reply> {
  return new Promise((answer) => {
    waiting.answer = answer;
    sendRound(ctx, round, waiting);
  });
}

/**
 * A client's whole write: stored here, then sent around. One promise for the
 * client's answer, settled by a refusal or by the round coming home (a write
 * is the busiest request; a promise adopting another would cost a few more
 * turns of the microtask queue).
 */
function writeAround(ctx: ItemsContext, data: ItemData, version: Version, waiting: Waiting): Promise<Reply> {
  // With --replicas: stored here only by an owner, and sent along the other owners.
  const route = writeRoute(ctx, data.item);
  return new Promise((answer, fail) => {
    waiting.answer = answer;
    (route?.here === false ? Promise.resolve(true) : storeOrRefuse(ctx, data, version)).then((stored) => {
      try {
        if (typeof stored !== 'boolean') answer(stored);
        else if (!stored) answer(overtaken(ctx.log, data.item));
        else if (ctx.ring.size === 1 || route?.chain.length === 0) answer(writeDone(waiting));
        else sendRound(ctx, { type: 'FORWARD_PUT', creator: ctx.self, data, id: ctx.newRoundId(), chain: route?.chain }, waiting);
      } catch (err) {
        fail(err);
      }
    }, fail);
  });
}

/** Sends a round of this server's, kept under its id until it comes home to `waiting.answer`. */
function sendRound(ctx: ItemsContext, round: OwnRound, waiting: Waiting): void {
  const id = round.id;
  // The round id ties the client's request to every forward it causes, in every server's log.
  ctx.log.info(`${waiting.request} ${JSON.stringify(waiting.item)} from client ${waiting.client}: round ${id}`, { round: id });
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
function roundLost(ctx: ItemsContext, id: string, waiting: Waiting, trail: RoundTrail): void {
  const seconds = `${ctx.roundTimeoutMs / 1000} s`;
  const where = trail.to === undefined ? 'could not be sent to any server' : `was last handed to ${trail.to}`;
  // Past the first hop this server cannot see the round; members not answering probes are where it likely waits.
  const suspects = ctx.ring.fromSelf().filter((member) => ctx.ring.membership.get(member)?.status === 'suspect');
  const suspected = suspects.length > 0 ? `, not answering probes: ${suspects.join(', ')}` : '';
  const tries = `${trail.attempts > 1 ? ` (sent ${trail.attempts} times)` : ''}${suspected}`;
  ctx.log.warn(`round ${id} did not come back within ${seconds}: it ${where}${tries}`, { round: id });
  if (waiting.request === 'GET') {
    const message = `the ring did not answer in time: the lookup ${where} and did not come back within ${seconds}${tries}`;
    waiting.answer(errorReply('TIMEOUT', message));
    return;
  }
  const message =
    `outcome unknown: the ${waiting.request} of ${waiting.item} is stored on ${ctx.self}, but its round ${where} ` +
    `and did not come back within ${seconds}${tries}; it may or may not have reached the other servers (read it back, or write it again)`;
  waiting.answer(errorReply('OUTCOME_UNKNOWN', message));
}

/**
 * The version of a client's write: newer than the copy of the item held here,
 * whatever this server's wall clock says, so the write wins here.
 */
function stampFor(ctx: ItemsContext, item: string): Version {
  return ctx.clock.stamp(ctx.now(), ctx.store.head(item)?.version);
}

/**
 * Applies a write that came around the ring (or from a client), whole or one
 * part. Resolves false when a whole copy was not kept (what is held is as new
 * or newer), and for every part but the last. `hashing`: whether this server
 * hashes a large item's bytes (where it entered the ring) or takes the hash
 * its last part brings (uploads.ts); `hashed` is told that hash before the commit.
 */
export function store(
  ctx: WriteContext,
  data: ItemData,
  version: Version,
  hashing = true,
  hashed?: (sha1: string) => void,
): Promise<boolean> {
  ctx.clock.observe(version);
  if (data.part) {
    const bytes = data.bytes ?? [Buffer.from(data.content, 'base64')];
    return ctx.uploads.receive(data.part.upload, data.item, version, data.encoding, data.part, bytes, ctx.now(), hashing, hashed);
  }
  return ctx.store.apply(data.item, { version, deleted: data.deleted, encoding: data.encoding, content: data.content }, ctx.now());
}

/**
 * A part of an upload after its first (which opens the upload on every
 * server) and before its last (which makes the item whole): one that may be
 * sent on while it is still being written here.
 */
export function middlePart(data: ItemData): boolean {
  const part = data.part;
  return part !== undefined && part.offset > 0 && part.offset + partLength(data) < part.size;
}

/** The part that makes its upload whole. */
function lastPart(data: ItemData): boolean {
  return data.part !== undefined && data.part.offset + partLength(data) === data.part.size;
}

function partLength(data: ItemData): number {
  return data.bytes ? chunksLength(data.bytes) : Buffer.byteLength(data.content, 'base64');
}

/** The SHA-1 of `item` as stored here in `version`, when that is the version held. */
function storedHash(ctx: ItemsContext, item: string, version: Version): string | undefined {
  const held = ctx.store.head(item);
  return held && compareVersions(held.version, version) === 0 ? held.hash : undefined;
}

/** Stores a client's write here (resolving as store() does), or resolves with NO_SPACE's answer when this server has no room for it. */
async function storeOrRefuse(
  ctx: ItemsContext,
  data: ItemData,
  version: Version,
  hashed?: (sha1: string) => void,
): Promise<boolean | Reply> {
  try {
    return await store(ctx, data, version, true, hashed);
  } catch (err) {
    if (!isCoopError(err, 'NO_SPACE')) throw err;
    ctx.noSpace(err);
    return noSpaceReply(data.item, [ctx.self], false);
  }
}

/** One part of a large item's upload: staged here, then sent around with its round. */
async function putPart(ctx: ItemsContext, put: ItemData, part: UploadPart, from: string): Promise<Reply> {
  const { item, content, bytes } = put;
  const key = `${ctx.self}/${part.upload}`;
  const version = part.offset === 0 ? stampFor(ctx, item) : ctx.uploads.versionOf(key);
  if (!version) return errorReply('BAD_FIELD', `no upload ${part.upload} in progress`);
  // A client's own "sha1" is not passed on: the ring takes the hash of the bytes from this server only.
  const data: ItemData = { item, content, encoding: 'base64', version, part: { upload: key, offset: part.offset, size: part.size }, bytes };
  const waiting: Waiting = { answer: notYetAnswerable, client: from, request: 'PUT', item, upload: key };
  // With --replicas, a server that does not own the item only passes its parts on to the owners (hashing them).
  const route = writeRoute(ctx, item);
  if (route?.here === false) {
    if (part.offset === 0) ctx.uploads.passing(key, version, ctx.now());
    const sha1 = ctx.uploads.pass(key, bytes ?? [Buffer.from(content, 'base64')], lastPart(data), ctx.now());
    return replicate(ctx, waiting, sha1 ? withHash(data, sha1) : data, route.chain);
  }
  if (middlePart(data)) {
    // Sent around while it is written here: the client hears of a failure here first, else of the round.
    const [stored, around] = await Promise.all([storeOrRefuse(ctx, data, version), replicate(ctx, waiting, data, route?.chain)]);
    return typeof stored !== 'boolean' ? stored : around;
  }
  if (lastPart(data)) return lastPartAround(ctx, waiting, data, version, route?.chain);
  const stored = await storeOrRefuse(ctx, data, version);
  return typeof stored !== 'boolean' ? stored : replicate(ctx, waiting, data, route?.chain);
}

/**
 * The last part of an upload: sent around with the item's SHA-1 as soon as
 * that is known here, while the item is committed here. The client hears of
 * a failure here, else of the round; a failure here after the round went
 * around leaves the item on the servers that stored it, and says so.
 */
async function lastPartAround(ctx: ItemsContext, waiting: Waiting, data: ItemData, version: Version, chain?: Address[]): Promise<Reply> {
  let hashed!: (sha1: string) => void;
  const hash = new Promise<string>((resolve) => (hashed = resolve));
  const storing = storeOrRefuse(ctx, data, version, hashed);
  const sha1 = await Promise.race([hash, storing.then(() => undefined)]);
  if (sha1 === undefined) {
    // Over before it was hashed: refused (no room), or taken already (the part came again).
    const stored = await storing;
    if (typeof stored !== 'boolean') return stored;
    const held = storedHash(ctx, data.item, version);
    return replicate(ctx, waiting, held ? withHash(data, held) : data, chain);
  }
  const [stored, around] = await Promise.all([storing, replicate(ctx, waiting, withHash(data, sha1), chain)]);
  if (typeof stored === 'boolean') return around;
  return around.type === 'PUT' ? noSpaceReply(data.item, [ctx.self], true) : stored;
}

/** The last part of an upload with the item's SHA-1, which the other servers record instead of hashing it again. */
function withHash(data: ItemData, sha1: string): ItemData {
  return { ...data, part: { ...data.part!, sha1 } };
}

export const itemHandlers: Handlers<'GET' | 'PUT' | 'DELETE', ItemsContext> = {
  GET(message, ctx, from) {
    const served = serveLocal(ctx, message.data, message.part, plainRequest(message), message.attach);
    return served === undefined || served instanceof Promise ? lookUp(message, ctx, from, served) : served;
  },

  PUT(message, ctx, from) {
    // Taken while joining, a write would be acknowledged and then lost with the server if the join fails.
    const refusal = notInRing(ctx);
    if (refusal) return refusal;
    const { item, content, encoding, part } = message.data;
    // A client's PUT gets a fresh version here; a client cannot choose one, nor delete with a PUT.
    if (part) return putPart(ctx, message.data, part, from);
    const version = stampFor(ctx, item);
    return writeAround(ctx, { item, content, encoding, version }, version, {
      answer: notYetAnswerable,
      client: from,
      request: 'PUT',
      item,
    });
  },

  DELETE(message, ctx, from) {
    const refusal = notInRing(ctx);
    if (refusal) return refusal;
    const item = message.data;
    const version = stampFor(ctx, item);
    const data: ItemData = { item, content: '', version, deleted: true };
    return writeAround(ctx, data, version, { answer: notYetAnswerable, client: from, request: 'DELETE', item });
  },
};
