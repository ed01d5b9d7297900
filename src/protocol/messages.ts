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
 * - Requests RING, DELETE, DIGEST and LIST, and ERROR replies. A RING request
 *   may ask for `"status"` ("self" or "all"), which its reply then carries.
 * - `"extended": true` on GET asks for our fields in the reply; a GET without
 *   it (the original client's) is answered in the original's exact form.
 */
import type { ErrorCode } from '../errors.js';
import type { Address } from './address.js';
import { pyDumps, pyString, type PyJson } from './pyjson.js';

export { decodeMessage, decodeReply } from './decode.js';

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
}
/** A probe that must be answered (unlike CHECK, which a paused process's kernel accepts). */
export interface PingMessage {
  type: 'PING';
  from: Address;
  members?: MemberData[] | undefined;
}
/** Opens a persistent connection between our servers: every object after it is one more peer message. */
export interface StreamMessage {
  type: 'STREAM';
  from: Address;
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
export interface GetMessage {
  type: 'GET';
  data: string;
  /** Ask for a byte range; the reply carries it base64-encoded. */
  part?: RangeRequest | undefined;
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
}
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
  /** A client's access token (--write-token, --read-token on the server). */
  token?: string | undefined;
}
export interface ListMessage {
  type: 'LIST';
  /** Digest buckets whose entries are wanted. */
  data: number[];
  /** A client's access token (--write-token, --read-token on the server). */
  token?: string | undefined;
}

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
  | StreamMessage;

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
  members?: MemberData[] | undefined;
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

// ---------------------------------------------------------------- encoding

function versionFields(value: VersionData | undefined): PyJson | undefined {
  return value && { clock: value.clock, server: value.server };
}

function itemFields(data: ItemData): PyJson {
  const part = data.part && { upload: data.part.upload, offset: data.part.offset, size: data.part.size };
  return {
    item: data.item,
    content: data.content,
    encoding: data.encoding,
    version: versionFields(data.version),
    deleted: data.deleted,
    part,
  };
}

function memberFields(members: MemberData[] | undefined): PyJson | undefined {
  return members?.map((member) => ({
    address: member.address,
    incarnation: member.incarnation,
    status: member.status,
    after: member.after,
    placed: member.placed,
    since: member.since,
    via: member.via?.map((hop) => ({ address: hop.address, placed: hop.placed })),
    slot: member.slot && { address: member.slot.address, placed: member.slot.placed },
  }));
}

function lookupFields(data: LookupData): PyJson {
  return {
    item: data.item,
    content: data.content,
    encoding: data.encoding,
    found: data.found,
    version: versionFields(data.version),
    size: data.size,
    holder: data.holder,
    offset: data.offset,
  };
}

/**
 * A whole item's FORWARD_PUT, written directly: the text pyDumps gives for
 * the same fields, without the intermediate objects (every PUT makes one).
 */
function encodeForwardPut(message: ForwardPutMessage): string {
  const { item, content, encoding, version, deleted } = message.data;
  let out = `{"creator": ${pyString(message.creator)}, "type": "FORWARD_PUT", "data": {"item": ${pyString(item)}, "content": ${pyString(content)}`;
  if (encoding !== undefined) out += `, "encoding": ${pyString(encoding)}`;
  if (version) out += `, "version": {"clock": ${pyDumps(version.clock)}, "server": ${pyString(version.server)}}`;
  if (deleted !== undefined) out += `, "deleted": ${deleted ? 'true' : 'false'}`;
  out += '}';
  if (message.id !== undefined) out += `, "id": ${pyString(message.id)}`;
  if (message.newer) out += `, "newer": {"clock": ${pyDumps(message.newer.clock)}, "server": ${pyString(message.newer.server)}}`;
  if (message.nospace) out += `, "nospace": ${pyDumps(message.nospace)}`;
  return `${out}}`;
}

/** Encodes with the original's field order (creator, type, data) and byte format; our fields follow. */
export function encodeMessage(message: Message | Reply): string {
  switch (message.type) {
    case 'UPDATE':
      return pyDumps({
        creator: message.creator,
        type: message.type,
        data: message.data,
        id: message.id,
        members: memberFields(message.members),
      });
    case 'PING':
    case 'ACK':
      return pyDumps({ type: message.type, from: message.from, members: memberFields(message.members) });
    case 'STREAM':
      return pyDumps({ type: message.type, from: message.from });
    case 'PING_REQ':
      return pyDumps(
        typeof message.data === 'string'
          ? { type: message.type, data: message.data, from: (message as PingRequestMessage).from }
          : { type: message.type, data: { target: message.data.target, alive: message.data.alive } },
      );
    case 'FORWARD_PUT':
      return message.data.part
        ? pyDumps({
            creator: message.creator,
            type: message.type,
            data: itemFields(message.data),
            id: message.id,
            newer: message.newer && { clock: message.newer.clock, server: message.newer.server },
            nospace: message.nospace,
          })
        : encodeForwardPut(message);
    case 'FORWARD_GET':
      return pyDumps({ creator: message.creator, type: message.type, data: lookupFields(message.data), id: message.id });
    case 'CHECK':
      return pyDumps({ type: message.type, from: message.from });
    case 'INSERT':
      return pyDumps({ type: message.type, data: message.data, from: message.from });
    case 'PUT':
      // The answer to every PUT, written directly (the text pyDumps gives).
      if ('status' in message.data)
        return `{"type": "PUT", "data": {"item": ${pyString(message.data.item)}, "status": ${pyString(message.data.status)}}}`;
      return pyDumps({ type: message.type, data: itemFields(message.data), token: requestToken(message) });
    case 'GET':
      if (typeof message.data === 'string') {
        const request = message as GetMessage;
        const part = request.part && { offset: request.part.offset, length: request.part.length };
        return pyDumps({
          type: request.type,
          data: request.data,
          part,
          local: request.local,
          extended: request.extended,
          token: requestToken(request),
        });
      }
      return pyDumps({ type: message.type, data: lookupFields(message.data) });
    case 'LIST':
      if (message.data.length > 0 && typeof message.data[0] === 'object') {
        const entries = (message.data as ListEntry[]).map((entry) => ({
          item: entry.item,
          version: versionFields(entry.version),
          deleted: entry.deleted,
          size: entry.size,
        }));
        return pyDumps({ type: message.type, data: entries });
      }
      return pyDumps({ type: message.type, data: message.data as number[], token: requestToken(message) });
    case 'RING':
      return pyDumps(
        'data' in message
          ? { type: message.type, data: message.data, status: message.status }
          : { type: message.type, status: message.status, token: requestToken(message) },
      );
    case 'DIGEST':
      return pyDumps('data' in message ? { type: message.type, data: message.data } : { type: message.type, token: requestToken(message) });
    case 'DELETE':
      return pyDumps({ type: message.type, data: message.data, token: requestToken(message) });
    case 'ERROR':
      return pyDumps({ type: message.type, data: message.data });
  }
}

/**
 * A round message as the original writes it, for an original server: only
 * `creator`, `type` and `data` (the list, or `item` and `content`). It reads
 * a message with one 1024-byte read and drops every other field when it
 * passes a message on anyway.
 */
export function encodeForOriginal(message: UpdateMessage | ForwardPutMessage | ForwardGetMessage): string {
  const data = message.type === 'UPDATE' ? message.data : { item: message.data.item, content: message.data.content };
  return pyDumps({ creator: message.creator, type: message.type, data });
}

/** The token a request carries (our extension, always the last field); replies carry none. */
export function requestToken(message: Message | Reply): string | undefined {
  return 'token' in message ? message.token : undefined;
}

/** The one mapping from error codes to statuses: the JSON reply's text, and the HTTP face's number. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, string>> = {
  TOO_LARGE: '413 PAYLOAD TOO LARGE',
  TIMEOUT: '504 GATEWAY TIMEOUT',
  OUTCOME_UNKNOWN: '504 GATEWAY TIMEOUT',
  SHUTTING_DOWN: '503 SERVICE UNAVAILABLE',
  NOT_READY: '503 SERVICE UNAVAILABLE',
  NOT_FOUND: NOT_FOUND_CONTENT,
  CONNECT_FAILED: '502 BAD GATEWAY',
  CLOSED: '502 BAD GATEWAY',
  JOIN_FAILED: '502 BAD GATEWAY',
  JOIN_REFUSED: '502 BAD GATEWAY',
  UNAUTHENTICATED: '401 UNAUTHORIZED',
  UNAUTHORIZED: '401 UNAUTHORIZED',
  FORBIDDEN: '403 FORBIDDEN',
  CONFLICT: '409 CONFLICT',
  STORE_UNAVAILABLE: '503 SERVICE UNAVAILABLE',
  NO_SPACE: '507 INSUFFICIENT STORAGE',
  INTERNAL: '500 INTERNAL SERVER ERROR',
};

export function statusOf(code: ErrorCode): string {
  return STATUS_BY_CODE[code] ?? '400 BAD REQUEST';
}

/** The HTTP status number for an error code. */
export function httpStatusOf(code: ErrorCode): number {
  return Number(statusOf(code).slice(0, 3));
}

export function errorReply(code: ErrorCode, message: string): ErrorReply {
  return { type: 'ERROR', data: { code, status: statusOf(code), message } };
}
