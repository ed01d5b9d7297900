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
 * - Requests RING, DELETE, DIGEST and LIST, and ERROR replies.
 */
import { CoopError, isErrorCode, type ErrorCode } from '../errors.js';
import { isAddress, type Address } from './address.js';
import { checkItemName } from './names.js';
import { pyDumps, type PyJson } from './pyjson.js';

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
export interface UpdateMessage {
  type: 'UPDATE';
  creator: Address;
  data: Address[];
  id?: string | undefined;
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
}
export interface PutMessage {
  type: 'PUT';
  data: ItemData;
}
export interface DeleteMessage {
  type: 'DELETE';
  data: string;
}
export interface ForwardPutMessage {
  type: 'FORWARD_PUT';
  creator: Address;
  data: ItemData;
  id?: string | undefined;
}
export interface ForwardGetMessage {
  type: 'FORWARD_GET';
  creator: Address;
  data: LookupData;
  id?: string | undefined;
}
export interface RingMessage {
  type: 'RING';
}
export interface DigestMessage {
  type: 'DIGEST';
}
export interface ListMessage {
  type: 'LIST';
  /** Digest buckets whose entries are wanted. */
  data: number[];
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
  | ListMessage;

export type MessageType = Message['type'];

/** Requests that are answered on the same connection. */
export const REPLIED_TYPES: ReadonlySet<MessageType> = new Set(['GET', 'PUT', 'DELETE', 'RING', 'DIGEST', 'LIST']);

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
}
export interface DigestReply {
  type: 'DIGEST';
  data: string[];
}
export interface ListReply {
  type: 'LIST';
  data: ListEntry[];
}
export interface ErrorReply {
  type: 'ERROR';
  data: { code: ErrorCode; status: string; message: string };
}
export type Reply = GetReply | PutReply | DeleteReply | RingReply | DigestReply | ListReply | ErrorReply;
export type ReplyType = Exclude<Reply['type'], 'ERROR'>;

// ---------------------------------------------------------------- decoding

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(message: string): never {
  throw new CoopError('BAD_FIELD', message);
}

function parseJson(text: string): Fields {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CoopError('BAD_JSON', `malformed JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new CoopError('BAD_JSON', 'a message must be one JSON object');
  return value;
}

function address(value: unknown, field: string): Address {
  if (!isAddress(value)) bad(`"${field}" must be an address "IP:PORT"`);
  return value;
}

function optionalAddress(value: unknown, field: string): Address | undefined {
  return value === undefined ? undefined : address(value, field);
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad(`"${field}" must be a whole number, 0 or more`);
  return value;
}

function optionalId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) bad('"id" must be a short string');
  return value;
}

function optionalFlag(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') bad(`"${field}" must be true or false`);
  return value;
}

function encoding(value: unknown): Encoding | undefined {
  if (value === undefined || value === null) return undefined;
  if (value !== 'base64') bad('"encoding" must be "base64" when present');
  return value;
}

function version(value: unknown): VersionData | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) bad('"version" must be an object with "clock" and "server"');
  return { clock: count(value.clock, 'version.clock'), server: address(value.server, 'version.server') };
}

function uploadPart(value: unknown): UploadPart | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || typeof value.upload !== 'string' || value.upload.length === 0 || value.upload.length > 128) {
    bad('"part" must be an object with "upload", "offset" and "size"');
  }
  const part = { upload: value.upload, offset: count(value.offset, 'part.offset'), size: count(value.size, 'part.size') };
  if (part.offset > part.size) bad('"part.offset" is past "part.size"');
  return part;
}

function rangeRequest(value: unknown): RangeRequest | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) bad('"part" must be an object with "offset" and "length"');
  return { offset: count(value.offset, 'part.offset'), length: count(value.length, 'part.length') };
}

function itemData(value: unknown): ItemData {
  if (!isObject(value)) bad('"data" must be an object with "item" and "content"');
  const item = checkItemName(value.item);
  if (typeof value.content !== 'string') bad('"data.content" must be a string');
  return {
    item,
    content: value.content,
    encoding: encoding(value.encoding),
    version: version(value.version),
    deleted: optionalFlag(value.deleted, 'data.deleted'),
    part: uploadPart(value.part),
  };
}

function lookupData(value: unknown): LookupData {
  if (!isObject(value)) bad('"data" must be an object with "item" and "content"');
  const item = checkItemName(value.item);
  if (typeof value.content !== 'string') bad('"data.content" must be a string');
  return {
    item,
    content: value.content,
    encoding: encoding(value.encoding),
    found: optionalFlag(value.found, 'data.found'),
    version: version(value.version),
    size: value.size === undefined ? undefined : count(value.size, 'data.size'),
    holder: optionalAddress(value.holder, 'data.holder'),
    offset: value.offset === undefined ? undefined : count(value.offset, 'data.offset'),
  };
}

function addressList(value: unknown): Address[] {
  if (!Array.isArray(value) || value.length === 0) bad('"data" must be a non-empty list of addresses');
  const members = value.map((entry) => address(entry, 'data[]'));
  if (new Set(members).size !== members.length) bad('"data" lists an address twice');
  return members;
}

function describeType(type: unknown): string {
  return typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : `a value of type ${Array.isArray(type) ? 'array' : typeof type}`;
}

function decodeFields(fields: Fields): Message {
  const type = fields.type;
  switch (type) {
    case 'INSERT':
      return { type, data: address(fields.data, 'data'), from: optionalAddress(fields.from, 'from') };
    case 'UPDATE':
      return { type, creator: address(fields.creator, 'creator'), data: addressList(fields.data), id: optionalId(fields.id) };
    case 'CHECK':
      return { type, from: optionalAddress(fields.from, 'from') };
    case 'RING':
    case 'DIGEST':
      return { type };
    case 'GET':
      return { type, data: checkItemName(fields.data), part: rangeRequest(fields.part), local: optionalFlag(fields.local, 'local') };
    case 'DELETE':
      return { type, data: checkItemName(fields.data) };
    case 'PUT':
      return { type, data: itemData(fields.data) };
    case 'LIST': {
      const buckets = fields.data;
      if (!Array.isArray(buckets) || buckets.length > 256) bad('"data" must be a list of bucket numbers');
      return { type, data: buckets.map((bucket) => count(bucket, 'data[]')) };
    }
    case 'FORWARD_PUT':
      return { type, creator: address(fields.creator, 'creator'), data: itemData(fields.data), id: optionalId(fields.id) };
    case 'FORWARD_GET':
      return { type, creator: address(fields.creator, 'creator'), data: lookupData(fields.data), id: optionalId(fields.id) };
    default:
      if (typeof type !== 'string') bad('"type" must be a string');
      throw new CoopError('UNKNOWN_TYPE', `unknown message type ${describeType(type)}`);
  }
}

/** Parses and validates one request or peer message. Throws CoopError, never anything else. */
export function decodeMessage(text: string): Message {
  return decodeFields(parseJson(text));
}

function statusData(value: unknown, type: string): { item: string; status: string } {
  if (!isObject(value) || typeof value.status !== 'string' || typeof value.item !== 'string') {
    bad(`a ${type} reply needs "data.item" and "data.status"`);
  }
  return { item: value.item, status: value.status };
}

function listEntry(value: unknown): ListEntry {
  if (!isObject(value)) bad('a LIST entry must be an object');
  return {
    item: checkItemName(value.item),
    version: version(value.version) ?? bad('a LIST entry needs "version"'),
    deleted: optionalFlag(value.deleted, 'deleted') ?? false,
    size: count(value.size, 'size'),
  };
}

/** Parses and validates a server's reply to a request of type `expected`. */
export function decodeReply<T extends ReplyType>(text: string, expected: T): Extract<Reply, { type: T }> | ErrorReply {
  const fields = parseJson(text);
  if (fields.type === 'ERROR' && isObject(fields.data)) {
    const data = fields.data;
    return {
      type: 'ERROR',
      data: {
        code: isErrorCode(data.code) ? data.code : 'BAD_FIELD',
        status: typeof data.status === 'string' ? data.status : '',
        message: typeof data.message === 'string' ? data.message : '',
      },
    };
  }
  if (fields.type !== expected) bad(`expected a ${expected} reply, got ${describeType(fields.type)}`);
  const data = fields.data;
  let reply: Reply;
  switch (expected as ReplyType) {
    case 'GET':
      reply = { type: 'GET', data: lookupData(data) };
      break;
    case 'PUT':
      reply = { type: 'PUT', data: statusData(data, 'PUT') };
      break;
    case 'DELETE':
      reply = { type: 'DELETE', data: statusData(data, 'DELETE') };
      break;
    case 'RING':
      if (!Array.isArray(data)) bad('a RING reply needs a list in "data"');
      reply = { type: 'RING', data: data.map((entry) => address(entry, 'data[]')) };
      break;
    case 'DIGEST':
      if (!Array.isArray(data) || !data.every((value) => typeof value === 'string' && value.length <= 32)) {
        bad('a DIGEST reply needs a list of bucket values');
      }
      reply = { type: 'DIGEST', data: data as string[] };
      break;
    case 'LIST':
      if (!Array.isArray(data)) bad('a LIST reply needs a list in "data"');
      reply = { type: 'LIST', data: data.map(listEntry) };
      break;
  }
  return reply as Extract<Reply, { type: T }>;
}

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

/** Encodes with the original's field order (creator, type, data) and byte format; our fields follow. */
export function encodeMessage(message: Message | Reply): string {
  switch (message.type) {
    case 'UPDATE':
      return pyDumps({ creator: message.creator, type: message.type, data: message.data, id: message.id });
    case 'FORWARD_PUT':
      return pyDumps({ creator: message.creator, type: message.type, data: itemFields(message.data), id: message.id });
    case 'FORWARD_GET':
      return pyDumps({ creator: message.creator, type: message.type, data: lookupFields(message.data), id: message.id });
    case 'CHECK':
      return pyDumps({ type: message.type, from: message.from });
    case 'INSERT':
      return pyDumps({ type: message.type, data: message.data, from: message.from });
    case 'PUT':
      return pyDumps({ type: message.type, data: 'status' in message.data ? message.data : itemFields(message.data) });
    case 'GET':
      if (typeof message.data === 'string') {
        const request = message as GetMessage;
        const part = request.part && { offset: request.part.offset, length: request.part.length };
        return pyDumps({ type: request.type, data: request.data, part, local: request.local });
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
      return pyDumps({ type: message.type, data: message.data as number[] });
    case 'RING':
    case 'DIGEST':
      return pyDumps('data' in message ? { type: message.type, data: message.data } : { type: message.type });
    case 'DELETE':
    case 'ERROR':
      return pyDumps({ type: message.type, data: message.data });
  }
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, string>> = {
  TOO_LARGE: '413 PAYLOAD TOO LARGE',
  TIMEOUT: '504 GATEWAY TIMEOUT',
  SHUTTING_DOWN: '503 SERVICE UNAVAILABLE',
  NOT_FOUND: NOT_FOUND_CONTENT,
};

export function errorReply(code: ErrorCode, message: string): ErrorReply {
  return { type: 'ERROR', data: { code, status: STATUS_BY_CODE[code] ?? '400 BAD REQUEST', message } };
}
