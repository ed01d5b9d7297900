/**
 * The wire messages: the original's seven types plus our extensions, one
 * tagged union with one decoder that validates and one encoder that keeps the
 * original's field order and byte format.
 *
 * Extensions (the original ignores fields it does not know):
 * - `"id"` on UPDATE, FORWARD_PUT and FORWARD_GET names the round, so the
 *   creator answers the right client and a server that sees a round twice
 *   knows its creator is gone and drops it.
 * - `"encoding": "base64"` in item data marks binary content.
 * - `"found"` in FORWARD_GET data and GET replies tells a miss from a file
 *   whose text is "404 NOT FOUND".
 * - Request `{"type": "RING"}`, answered `{"type": "RING", "data": [...]}`.
 * - Reply `{"type": "ERROR", "data": {"code", "status", "message"}}`.
 */
import { CoopError, isErrorCode, type ErrorCode } from '../errors.js';
import { isAddress, type Address } from './address.js';
import { checkItemName } from './names.js';
import { pyDumps, type PyJson } from './pyjson.js';

export const NOT_FOUND_CONTENT = '404 NOT FOUND';
export const PUT_OK_STATUS = '200 OK';

export type Encoding = 'base64';

export interface ItemData {
  item: string;
  content: string;
  encoding?: Encoding | undefined;
}

export interface LookupData extends ItemData {
  found?: boolean | undefined;
}

export interface InsertMessage {
  type: 'INSERT';
  data: Address;
}
export interface UpdateMessage {
  type: 'UPDATE';
  creator: Address;
  data: Address[];
  id?: string | undefined;
}
export interface CheckMessage {
  type: 'CHECK';
}
export interface GetMessage {
  type: 'GET';
  data: string;
}
export interface PutMessage {
  type: 'PUT';
  data: ItemData;
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

export type Message =
  InsertMessage | UpdateMessage | CheckMessage | GetMessage | PutMessage | ForwardPutMessage | ForwardGetMessage | RingMessage;

export type MessageType = Message['type'];

/** Requests that a client sends and that are answered on the same connection. */
export const REPLIED_TYPES: ReadonlySet<MessageType> = new Set(['GET', 'PUT', 'RING']);

export interface GetReply {
  type: 'GET';
  data: LookupData;
}
export interface PutReply {
  type: 'PUT';
  data: { item: string; status: string };
}
export interface RingReply {
  type: 'RING';
  data: Address[];
}
export interface ErrorReply {
  type: 'ERROR';
  data: { code: ErrorCode; status: string; message: string };
}
export type Reply = GetReply | PutReply | RingReply | ErrorReply;

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

function optionalId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) bad('"id" must be a short string');
  return value;
}

function encoding(value: unknown): Encoding | undefined {
  if (value === undefined || value === null) return undefined;
  if (value !== 'base64') bad('"encoding" must be "base64" when present');
  return value;
}

function itemData(value: unknown): ItemData {
  if (!isObject(value)) bad('"data" must be an object with "item" and "content"');
  const item = checkItemName(value.item);
  if (typeof value.content !== 'string') bad('"data.content" must be a string');
  return { item, content: value.content, encoding: encoding(value.encoding) };
}

function lookupData(value: unknown): LookupData {
  const data = itemData(value);
  const found = (value as Fields).found;
  if (found !== undefined && typeof found !== 'boolean') bad('"data.found" must be true or false');
  return { ...data, found };
}

function describeType(type: unknown): string {
  return typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : `a value of type ${Array.isArray(type) ? 'array' : typeof type}`;
}

function decodeFields(fields: Fields): Message {
  const type = fields.type;
  switch (type) {
    case 'INSERT':
      return { type, data: address(fields.data, 'data') };
    case 'UPDATE': {
      const list = fields.data;
      if (!Array.isArray(list) || list.length === 0) bad('"data" must be a non-empty list of addresses');
      const members = list.map((entry) => address(entry, 'data[]'));
      if (new Set(members).size !== members.length) bad('"data" lists an address twice');
      return { type, creator: address(fields.creator, 'creator'), data: members, id: optionalId(fields.id) };
    }
    case 'CHECK':
    case 'RING':
      return { type };
    case 'GET':
      return { type, data: checkItemName(fields.data) };
    case 'PUT':
      return { type, data: itemData(fields.data) };
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

/** Parses and validates a server's reply to `expected`. */
export function decodeReply(text: string, expected: 'GET' | 'PUT' | 'RING'): Exclude<Reply, ErrorReply> | ErrorReply {
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
  switch (expected) {
    case 'GET':
      return { type: 'GET', data: lookupData(fields.data) };
    case 'PUT': {
      const data = fields.data;
      if (!isObject(data) || typeof data.status !== 'string' || typeof data.item !== 'string') {
        bad('a PUT reply needs "data.item" and "data.status"');
      }
      return { type: 'PUT', data: { item: data.item, status: data.status } };
    }
    case 'RING': {
      const list = fields.data;
      if (!Array.isArray(list)) bad('a RING reply needs a list in "data"');
      return { type: 'RING', data: list.map((entry) => address(entry, 'data[]')) };
    }
  }
}

// ---------------------------------------------------------------- encoding

function itemFields(data: LookupData): PyJson {
  return { item: data.item, content: data.content, encoding: data.encoding, found: data.found };
}

/** Encodes with the original's field order (creator, type, data) and byte format; our fields follow. */
export function encodeMessage(message: Message | Reply): string {
  switch (message.type) {
    case 'UPDATE':
      return pyDumps({ creator: message.creator, type: message.type, data: message.data, id: message.id });
    case 'FORWARD_PUT':
    case 'FORWARD_GET':
      return pyDumps({ creator: message.creator, type: message.type, data: itemFields(message.data), id: message.id });
    case 'CHECK':
      return pyDumps({ type: message.type });
    case 'PUT':
      return pyDumps({ type: message.type, data: 'status' in message.data ? message.data : itemFields(message.data) });
    case 'GET':
      return pyDumps({ type: message.type, data: typeof message.data === 'string' ? message.data : itemFields(message.data) });
    case 'RING':
      return pyDumps('data' in message ? { type: message.type, data: message.data } : { type: message.type });
    case 'INSERT':
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
