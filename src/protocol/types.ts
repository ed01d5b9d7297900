/**
 * The wire messages: the original's seven types plus our extensions, one
 * tagged union with one decoder that validates and one encoder that keeps the
 * original's field order and byte format.
 *
 * Extension fields (the original ignores fields it does not know; ours always
 * come after the original's):
 * - `"id"` on UPDATE, FORWARD_PUT and FORWARD_GET names the round, so the
 *   creator answers the right client and a server that sees a round twice
 *   knows its creator is gone and drops it.
 * - `"from"` on INSERT and CHECK: the sender's address. Together with `"id"`
 *   it is how a peer shows that it speaks our extensions; new message types
 *   (DIGEST, LIST, GET with `part`) are sent only to such peers.
 * - In item data: `"encoding": "base64"` for bytes, `"version"` (`{"clock",
 *   "server"}`), `"deleted": true` for a tombstone, `"part"` for one part of a
 *   large upload; in lookups also `"found"`, `"size"` and `"holder"`.
 * - `"newer"` on FORWARD_PUT (a version): a server on the way holds that
 *   newer version of the item, so its creator does not acknowledge the write.
 * - `"nospace"` on FORWARD_PUT (addresses): servers on the way that had no
 *   room on disk for the write; its creator answers NO_SPACE, not `200 OK`.
 * - `"lap"` on the FORWARD_PUT of an upload's last part: `"early"` (passed on
 *   before it is committed) or `"confirm"` (the second lap, passed on after).
 * - Requests RING, DELETE, DIGEST and LIST, and ERROR replies. A RING request
 *   may ask for `"status"` ("self" or "all"), which its reply then carries.
 * - `"extended": true` on GET asks for our fields in the reply; a GET without
 *   it (the original client's) is answered in the original's exact form.
 */
import type { ErrorCode } from '../errors.js';
import type { Address } from './address.js';
import type { PyJson } from './pyjson.js';

export const NOT_FOUND_CONTENT = '404 NOT FOUND';
export const PUT_OK_STATUS = '200 OK';

export type Encoding = 'base64';

export interface VersionData {
  clock: number;
  server: Address;
}

/** One part of a large upload: bytes [offset, offset + content) of `size` in all. */
export interface UploadPart {
  upload: string;
  offset: number;
  size: number;
  /**
   * On the last part: the SHA-1 of the whole item (hex), as the server where
   * the upload entered the ring hashed it. Servers on the way record it as
   * their copy's hash instead of hashing the bytes again.
   */
  sha1?: string | undefined;
}

/** A byte range asked for in a GET. */
export interface RangeRequest {
  offset: number;
  length: number;
}

export interface ItemData {
  item: string;
  content: string;
  encoding?: Encoding | undefined;
  version?: VersionData | undefined;
  deleted?: boolean | undefined;
  part?: UploadPart | undefined;
  /**
   * A part's bytes, in place of `content`: they came (or go) attached to the
   * message on a peer stream (transport/attached.ts), or whole in the server.
   * Encoded as base64 `content` wherever they cannot go attached.
   */
  bytes?: readonly Buffer[] | undefined;
}

export interface LookupData {
  item: string;
  content: string;
  encoding?: Encoding | undefined;
  found?: boolean | undefined;
  version?: VersionData | undefined;
  /** Bytes of the whole item (lookups of large items, and part replies). */
  size?: number | undefined;
  /** A server holding a large item whose content did not travel in the lookup. */
  holder?: Address | undefined;
  /** In a reply to a GET with `part`: where this content starts. */
  offset?: number | undefined;
  /** A range's bytes in place of `content`: attached to the reply, or in the server (ItemData.bytes). */
  bytes?: readonly Buffer[] | undefined;
}

export interface ListEntry {
  item: string;
  version: VersionData;
  deleted: boolean;
  size: number;
}

export interface InsertMessage {
  type: 'INSERT';
  data: Address;
  from?: Address | undefined;
}
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** One member's entry in the convergent membership (ring/membership.ts). */
export interface MemberData {
  address: Address;
  incarnation: number;
  status: MemberStatus;
  after?: Address | undefined;
  placed: number;
  /** When it was first known dead or left (ms). */
  since?: number | undefined;
  /** Forgotten members it was placed after, through `after`, outermost first. */
  via?: Array<{ address: Address; placed: number }> | undefined;
  /** The forgotten member whose place it took, whose placement it is sorted by. */
  slot?: { address: Address; placed: number } | undefined;
}

export interface UpdateMessage {
  type: 'UPDATE';
  creator: Address;
  data: Address[];
  id?: string | undefined;
  /** Our servers' whole membership, merged rather than adopted. */
  members?: MemberData[] | undefined;
  /** The members its creator and relays know to speak our extensions, so that none is taken for an original. */
  ours?: Address[] | undefined;
}
/** A probe that must be answered (unlike CHECK, which a paused process's kernel accepts). */
export interface PingMessage {
  type: 'PING';
  from: Address;
  /** Recent changes (a bounded few), or the whole membership when the two views were seen to differ. */
  members?: MemberData[] | undefined;
  /** The sender's membership checksum: the answer carries the whole membership only when it differs. */
  checksum?: string | undefined;
}
/** Opens a persistent connection between our servers: every object after it is one more peer message. */
export interface StreamMessage {
  type: 'STREAM';
  from: Address;
  /** The sender attaches bytes to messages if the receiver says it reads them (transport/attached.ts). */
  attach?: boolean | undefined;
}
/** Asks a member to probe `data` on our behalf. */
export interface PingRequestMessage {
  type: 'PING_REQ';
  data: Address;
  from: Address;
}
export interface CheckMessage {
  type: 'CHECK';
  from?: Address | undefined;
}
/** `--replicas`: a server leaving asks the ones that own its items after it to pull them from it now. */
export interface HandOverMessage {
  type: 'HANDOVER';
  from: Address;
}
export interface GetMessage {
  type: 'GET';
  data: string;
  /** Ask for a byte range; the reply carries it base64-encoded, or attached with `attach`. */
  part?: RangeRequest | undefined;
  /** The range may come as raw bytes attached to the reply (transport/attached.ts), not base64 inside it. */
  attach?: boolean | undefined;
  /** Answer from this server's copy only, without a lookup round (peers syncing). */
  local?: boolean | undefined;
  /** Asks for our fields in the reply (`found`, `version`); without it (and `part`, `local`) the reply is the original's. */
  extended?: boolean | undefined;
  /** A client's access token (--write-token, --read-token on the server). */
  token?: string | undefined;
}
export interface PutMessage {
  type: 'PUT';
  data: ItemData;
  /** A client's access token (--write-token, --read-token on the server). */
  token?: string | undefined;
}
export interface DeleteMessage {
  type: 'DELETE';
  data: string;
  /** A client's access token (--write-token, --read-token on the server). */
  token?: string | undefined;
}
export interface ForwardPutMessage {
  type: 'FORWARD_PUT';
  creator: Address;
  data: ItemData;
  id?: string | undefined;
  /** The newest version of the item held by a server on the way that is newer than the write's: the write did not win there. */
  newer?: VersionData | undefined;
  /** Servers on the way that had no room for the write (NO_SPACE): it did not land everywhere. */
  nospace?: Address[] | undefined;
  /** In a ring that keeps R copies (`--replicas`): the item's owners still to visit, in order, before home. */
  chain?: Address[] | undefined;
  /**
   * The last part of an upload goes around twice (handlers/forwarded.ts):
   * `early`, each server passes it on before committing it; `confirm`, each
   * passes the second lap on once its commit is done, marking `nospace`.
   */
  lap?: Lap | undefined;
}
export type Lap = 'early' | 'confirm';
export interface ForwardGetMessage {
  type: 'FORWARD_GET';
  creator: Address;
  data: LookupData;
  id?: string | undefined;
}
/** What a RING request asks for besides the ring: this server's own figures, or its whole status (protocol/status.ts). */
export type RingDetail = 'self' | 'all';
export interface RingMessage {
  type: 'RING';
  status?: RingDetail | undefined;
  /** A client's access token (--write-token, --read-token on the server). */
  token?: string | undefined;
}
export interface DigestMessage {
  type: 'DIGEST';
  /** `--replicas`: the digest of only the items the asking server (this address) and this one both own. */
  with?: Address | undefined;
  /** A client's access token (--write-token, --read-token on the server). */
  token?: string | undefined;
}
export interface ListMessage {
  type: 'LIST';
  /** Digest buckets whose entries are wanted. */
  data: number[];
  /** `--replicas`: only the items the asking server (this address) and this one both own. */
  with?: Address | undefined;
  /** A client's access token (--write-token, --read-token on the server). */
  token?: string | undefined;
}

/** The messages that travel around the ring in rounds, from their creator back to it. */
export type RoundMessage = UpdateMessage | ForwardPutMessage | ForwardGetMessage;

export type Message =
  | InsertMessage
  | UpdateMessage
  | CheckMessage
  | GetMessage
  | PutMessage
  | DeleteMessage
  | ForwardPutMessage
  | ForwardGetMessage
  | RingMessage
  | DigestMessage
  | ListMessage
  | PingMessage
  | PingRequestMessage
  | StreamMessage
  | HandOverMessage;

export type MessageType = Message['type'];

/** Requests that are answered on the same connection. */
export const REPLIED_TYPES: ReadonlySet<MessageType> = new Set(['GET', 'PUT', 'DELETE', 'RING', 'DIGEST', 'LIST', 'PING', 'PING_REQ']);

export interface GetReply {
  type: 'GET';
  data: LookupData;
}
export interface PutReply {
  type: 'PUT';
  data: { item: string; status: string };
}
export interface DeleteReply {
  type: 'DELETE';
  data: { item: string; status: string };
}
export interface RingReply {
  type: 'RING';
  data: Address[];
  /** Present when asked for (RingMessage.status): checked by its reader with protocol/status.ts. */
  status?: { [key: string]: PyJson | undefined } | undefined;
}
export interface DigestReply {
  type: 'DIGEST';
  data: string[];
}
export interface ListReply {
  type: 'LIST';
  data: ListEntry[];
}
export interface AckReply {
  type: 'ACK';
  from: Address;
  /** Recent changes, or the whole membership when the PING's checksum differed from this server's. */
  members?: MemberData[] | undefined;
  checksum?: string | undefined;
  /** The copies this server's ring keeps of each item (`--replicas`); absent: every server holds every item. */
  replicas?: number | undefined;
}
export interface PingRequestReply {
  type: 'PING_REQ';
  data: { target: Address; alive: boolean };
}
export interface ErrorReply {
  type: 'ERROR';
  data: { code: ErrorCode; status: string; message: string };
}
export type Reply = GetReply | PutReply | DeleteReply | RingReply | DigestReply | ListReply | AckReply | PingRequestReply | ErrorReply;
export type ReplyType = Exclude<Reply['type'], 'ERROR'>;
