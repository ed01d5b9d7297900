/** The types every family of handlers shares: the context they see, and the table's shape. */
import type { CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import type { RingStatus, SelfFigures } from '../protocol/status.js';
import {
  type ForwardGetMessage,
  type ForwardPutMessage,
  type LookupData,
  type Message,
  type MessageType,
  type RangeRequest,
  type Reply,
  type UpdateMessage,
} from '../protocol/messages.js';
import type { RingView } from '../ring/ring.js';
import type { Member } from '../ring/membership.js';
import type { ItemStore } from '../store/items.js';
import type { Version, VersionClock } from '../store/version.js';
import type { Log } from '../log/logger.js';
import type { Connection } from '../transport/tcp.js';
import type { PendingRounds, SeenRounds, StallReason } from './rounds.js';
import type { Uploads } from '../store/uploads.js';
import type { ExtensionPeers } from '../ring/extension-peers.js';

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
  /** A round of this server's was sent again (counted). */
  resent(why: StallReason): void;
  /** The peers that have shown they speak our extensions (ours, not originals). */
  readonly peers: Pick<ExtensionPeers, 'learn' | 'everyone'>;
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

export type Handler<T extends Message> = (message: T, connection: Connection, ctx: HandlerContext) => void | Promise<void>;
export type HandlerTable = { [K in MessageType]: Handler<Extract<Message, { type: K }>> };
