/**
 * One handler per message type. Each sees only the narrow context it needs;
 * sockets, timers and failover live in node.ts.
 *
 * How a round ends: a client's PUT, DELETE, or GET that misses locally starts
 * a FORWARD_PUT / FORWARD_GET with this server as creator and a fresh id;
 * every other server handles it and passes it to its successor; when it
 * arrives back at its creator, the creator answers the waiting client. An
 * UPDATE round ends the same way, at its creator.
 *
 * Every write carries a version; a server applies a copy only when it is newer
 * than what it holds (store/items.ts), so all copies end the same. What
 * crossed an original server lost its id and version: mixed.ts says what
 * becomes of it.
 */
import { isCoopError, type CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import type { RingStatus, SelfFigures } from '../protocol/status.js';
import {
  NOT_FOUND_CONTENT,
  PUT_OK_STATUS,
  errorReply,
  type ForwardGetMessage,
  type ForwardPutMessage,
  type GetMessage,
  type ItemData,
  type LookupData,
  type Message,
  type MessageType,
  type RangeRequest,
  type Reply,
  type RingReply,
  type UpdateMessage,
} from '../protocol/messages.js';
import { isFound, PART_BYTES } from '../protocol/content.js';
import type { RingView } from '../ring/ring.js';
import type { Member } from '../ring/membership.js';
import type { ItemMeta, ItemStore } from '../store/items.js';
import { readLocal } from '../store/local-read.js';
import { compareVersions, unversioned, type Version, type VersionClock } from '../store/version.js';
import type { Log } from '../log/logger.js';
import type { Connection } from '../transport/listener.js';
import { baseRoundId, resendId, stallAfterMs, type PendingRounds, type RoundTrail, type SeenRounds, type StallReason } from './rounds.js';
import type { Uploads } from '../store/uploads.js';
import { settledByCreator } from './mixed.js';

export type RoundMessage = UpdateMessage | ForwardPutMessage | ForwardGetMessage;

/** A client waiting for its round: what it asked, so the answer fits the question. */
export interface Waiting {
  connection: Connection;
  request: 'PUT' | 'DELETE' | 'GET';
  item: string;
  part?: RangeRequest | undefined;
  /** A GET in the original's form, answered in the original's form. */
  plain?: boolean | undefined;
  /** The upload a part belongs to (its key here): dropped when the ring had no room for it. */
  upload?: string | undefined;
}

export interface HandlerContext {
  readonly self: Address;
  readonly ring: RingView;
  readonly store: ItemStore;
  readonly log: Log;
  readonly waiting: PendingRounds<Waiting>;
  readonly seen: SeenRounds;
  readonly clock: VersionClock;
  readonly uploads: Uploads;
  readonly roundTimeoutMs: number;
  /** Largest content sent whole in one reply or lookup; larger items go by parts. */
  readonly wholeLimit: number;
  /** Still waiting for the ring it asked to join: alone, it cannot say an item is missing. */
  joining(): boolean;
  /** Leaving the ring (a graceful stop): a write taken now would be acknowledged by this server alone. */
  leaving(): boolean;
  now(): number;
  newRoundId(): string;
  /**
   * Passes a round message to the successor, failing over past dead ones;
   * `received` is its text as it came, when it goes on unchanged (Connection.received).
   */
  forward(message: RoundMessage, received?: string): void;
  /** Starts an UPDATE round with this server as creator. */
  announceRing(): void;
  /** The view changed: print it. */
  ringChanged(): void;
  /**
   * Whether a lost round may be sent again: not while an original server is
   * in the ring, since a copy of ours that crossed it comes home without its
   * id and could answer another client's request for the same item.
   */
  resendable(): boolean;
  /** A round of this server's was sent again (counted). */
  resent(why: StallReason): void;
  /** A peer showed that it speaks our extensions. */
  peerSpeaksExtensions(address: Address): void;
  /** Whether a peer has shown that it speaks our extensions (one of ours, not an original). */
  speaksExtensions(address: Address): boolean;
  /** Merges a view that a peer sent; prints and announces what changed, refutes if needed. */
  absorb(members: Member[]): void;
  /** Asks `target` whether it is alive, on behalf of another member. */
  probeFor(target: Address): Promise<boolean>;
  /** Copies an item from the server that holds it; a copy without a version gets `versionless()` (default: the oldest). */
  pull(holder: Address, item: string, versionless?: () => Version): Promise<boolean>;
  /** Bytes of `item` from the server that holds them, for a reader when this server could not keep a copy. */
  readFrom(holder: Address, item: string, part: RangeRequest): Promise<LookupData>;
  /** A write this server could not store for want of space (NO_SPACE): counted, and logged now and then. */
  noSpace(err: CoopError): void;
  /** A member was heard from directly (for the status's "last heard"). */
  heard(address: Address): void;
  /** This server's own figures (a RING asking for `"status": "self"`). */
  figures(): SelfFigures;
  /** This server's whole status, members' figures included (a RING asking for `"status": "all"`). */
  ringStatus(): Promise<RingStatus>;
  reply(connection: Connection, reply: Reply): void;
}

type Handler<T extends Message> = (message: T, connection: Connection, ctx: HandlerContext) => void | Promise<void>;
export type HandlerTable = { [K in MessageType]: Handler<Extract<Message, { type: K }>> };

export function roundKey(type: 'FORWARD_PUT' | 'FORWARD_GET', item: string): string {
  return `${type}\u0000${item}`;
}

/** A GET without `part`, `local` or `extended` (the original client's) is answered in the original's form. */
function plainRequest(message: GetMessage): boolean {
  return message.part === undefined && message.local !== true && message.extended !== true;
}

/** The original's reply carries item and content only; `encoding` stays for bytes, which it cannot carry otherwise. */
function lookupReply(data: LookupData, plain: boolean | undefined): Reply {
  return { type: 'GET', data: plain ? { item: data.item, content: data.content, encoding: data.encoding } : data };
}

function missReply(item: string, plain: boolean | undefined): Reply {
  return lookupReply({ item, content: NOT_FOUND_CONTENT, found: false }, plain);
}

/**
 * Answers a GET from this server's own copy (store/local-read.ts decides how);
 * false when it has none to give. A whole item whose content is at hand is
 * answered at once (true, no promise); a part or a copy on disk resolves once
 * answered.
 */
function serveLocal(
  ctx: HandlerContext,
  connection: Connection,
  item: string,
  part: RangeRequest | undefined,
  plain: boolean | undefined,
): boolean | Promise<boolean> {
  const read = readLocal(ctx.store, item, ctx.wholeLimit, part);
  switch (read.kind) {
    case 'absent':
      return false;
    case 'range':
      return serveRange(ctx, connection, item, read.meta, read.part);
    case 'too-large':
      ctx.reply(connection, tooLargeReply(item, read.meta.size));
      return true;
    case 'whole':
      ctx.reply(connection, wholeReply(item, read.meta, read.content, plain));
      return true;
    case 'from-disk': {
      const { meta } = read;
      return ctx.store.get(item).then((held) => {
        if (!held) return false;
        ctx.reply(connection, wholeReply(item, meta, held.content, plain));
        return true;
      });
    }
  }
}

/** A whole item's answer, in the form its reader asked in. */
function wholeReply(item: string, meta: ItemMeta, content: string, plain: boolean | undefined): Reply {
  return lookupReply({ item, content, encoding: meta.encoding, found: true, version: meta.version }, plain);
}

/** One reply carries at most one part of an item, whatever length its reader asked for. */
function replyLength(part: RangeRequest): number {
  return Math.min(part.length, PART_BYTES);
}

/** The answer to a whole GET of an item larger than one reply carries. */
function tooLargeReply(item: string, size: number | undefined): Reply {
  return errorReply('TOO_LARGE', `${item} is ${size ?? 'too many'} bytes, more than one reply carries: fetch it in parts (webclient does)`);
}

async function serveRange(ctx: HandlerContext, connection: Connection, item: string, meta: ItemMeta, part: RangeRequest): Promise<boolean> {
  const content = (await ctx.store.readRange(item, part.offset, replyLength(part))).toString('base64');
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
 * A large item found at `holder` that this server could not copy (no room,
 * or the pull failed): the reader's range is read from the holder instead,
 * so reads keep working on a full server.
 */
async function answerFromHolder(ctx: HandlerContext, waiting: Waiting, holder: Address, size: number | undefined): Promise<void> {
  const { item, part } = waiting;
  if (!part) {
    ctx.reply(waiting.connection, tooLargeReply(item, size));
    return;
  }
  try {
    const data = await ctx.readFrom(holder, item, { offset: part.offset, length: replyLength(part) });
    ctx.reply(waiting.connection, { type: 'GET', data: { ...data, item } });
  } catch (err) {
    ctx.log.warn(`could not read ${JSON.stringify(item)} from ${holder} for a client: ${(err as Error).message}`);
    ctx.reply(waiting.connection, errorReply('CONNECT_FAILED', `${item} is held by ${holder}, which did not answer`));
  }
}

/** The range a reader asked for, cut from a whole content that travelled in a lookup. */
function travelledRange(data: LookupData, part: RangeRequest): LookupData {
  const bytes = Buffer.from(data.content, data.encoding === 'base64' ? 'base64' : 'utf8');
  const content = bytes.subarray(part.offset, part.offset + replyLength(part)).toString('base64');
  return { item: data.item, content, encoding: data.encoding, found: true, version: data.version, size: bytes.length, offset: part.offset };
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

/**
 * A round from another server: pass it on only the first time we see it.
 * Rounds from original servers carry no id; for those, a creator that is no
 * longer in the ring means nobody will ever take the round back. An
 * original's UPDATE lists its creator: one we have never heard of (as when
 * this server has just joined that original's ring and holds none of it
 * yet) is taken; one we hold dead or left is not: that UPDATE is an old one
 * still going round.
 */
function shouldRelay(message: RoundMessage, ctx: HandlerContext): boolean {
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

/** The answer to a write whose round is complete: `200 OK`, in the type the client asked with. */
function writeDone(waiting: Waiting): Reply {
  return { type: waiting.request === 'DELETE' ? 'DELETE' : 'PUT', data: { item: waiting.item, status: PUT_OK_STATUS } };
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
    if (!ctx.resendable()) return false;
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
 * A client's write that lost to a newer version of its item, here before it
 * was stored or at a server on the round: never acknowledged as done.
 */
function overtaken(ctx: HandlerContext, connection: Connection, item: string, newer?: Version): void {
  const where = newer ? `version ${newer.clock} by ${newer.server} is held in the ring` : 'one arrived here before it was stored';
  ctx.log.warn(`a write of ${JSON.stringify(item)} lost to a newer version (${where}); not acknowledged`);
  ctx.reply(connection, errorReply('CONFLICT', `a newer version of ${item} exists (${where}); this write did not win`));
}

/**
 * Applies a write that came around the ring (or from a client), whole or one
 * part. Resolves false when a whole copy was not kept (what is held is as new
 * or newer), and for every part but the last.
 */
function store(ctx: HandlerContext, data: ItemData, version: Version): Promise<boolean> {
  ctx.clock.observe(version);
  if (data.part) {
    const bytes = Buffer.from(data.content, 'base64');
    return ctx.uploads.receive(data.part.upload, data.item, version, data.encoding, data.part, bytes, ctx.now());
  }
  return ctx.store.apply(data.item, { version, deleted: data.deleted, encoding: data.encoding, content: data.content }, ctx.now());
}

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

/** The answer to a client whose write could not be stored at `servers` for want of space. */
function noSpaceReply(item: string, servers: readonly Address[], elsewhere: boolean): Reply {
  const where = servers.length === 1 ? `server ${servers[0]} has` : `servers ${servers.join(', ')} have`;
  // A part of an upload is given up with it: the write is then complete nowhere.
  const rest = elsewhere
    ? '; the other servers stored it, and the full ones will take it from them once space is freed'
    : '; the write was not stored';
  return errorReply('NO_SPACE', `${where} no space left on disk for ${item}${rest}`);
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

export const handlers: HandlerTable = {
  INSERT(message, _connection, ctx) {
    if (message.from !== undefined) ctx.peerSpeaksExtensions(message.from);
    if (message.data === ctx.self) return;
    if (ctx.ring.insertAfter(ctx.self, message.data)) ctx.ringChanged();
    ctx.announceRing();
  },

  UPDATE(message, _connection, ctx) {
    if (message.creator === ctx.self) return; // our round came home
    if (message.id !== undefined) ctx.peerSpeaksExtensions(message.creator);
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
    ctx.peerSpeaksExtensions(message.from);
  },

  CHECK(message, _connection, ctx) {
    if (message.from !== undefined) ctx.peerSpeaksExtensions(message.from);
  },

  PING(message, connection, ctx) {
    ctx.peerSpeaksExtensions(message.from);
    ctx.heard(message.from);
    if (message.members) ctx.absorb(message.members);
    ctx.reply(connection, { type: 'ACK', from: ctx.self, members: ctx.ring.membership.all() });
  },

  async PING_REQ(message, connection, ctx) {
    ctx.peerSpeaksExtensions(message.from);
    const alive = await ctx.probeFor(message.data);
    ctx.reply(connection, { type: 'PING_REQ', data: { target: message.data, alive } });
  },

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
    if (message.id !== undefined) ctx.peerSpeaksExtensions(message.creator);
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
    if (message.id !== undefined) ctx.peerSpeaksExtensions(message.creator);
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
