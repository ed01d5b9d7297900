/**
 * Decoding: text from the wire to a validated message. Every failure is a
 * CoopError with a stable code (BAD_JSON, BAD_FIELD, BAD_NAME, UNKNOWN_TYPE),
 * never anything else, whatever the input.
 */
import { CoopError, isErrorCode } from '../errors.js';
import { isAddress, type Address } from './address.js';
import { checkItemName } from './names.js';
import type {
  Encoding,
  ErrorReply,
  ForwardPutMessage,
  ItemData,
  Lap,
  ListEntry,
  LookupData,
  MemberData,
  MemberStatus,
  Message,
  RangeRequest,
  Reply,
  ReplyType,
  UploadPart,
  VersionData,
} from './types.js';

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

function checksum(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) bad('"checksum" must be a short string');
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
  const part: UploadPart = { upload: value.upload, offset: count(value.offset, 'part.offset'), size: count(value.size, 'part.size') };
  if (part.offset > part.size) bad('"part.offset" is past "part.size"');
  if (value.sha1 !== undefined) {
    if (typeof value.sha1 !== 'string' || !/^[0-9a-f]{40}$/.test(value.sha1)) bad('"part.sha1" must be 40 lowercase hex digits');
    part.sha1 = value.sha1;
  }
  return part;
}

function rangeRequest(value: unknown): RangeRequest | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) bad('"part" must be an object with "offset" and "length"');
  return { offset: count(value.offset, 'part.offset'), length: count(value.length, 'part.length') };
}

/** The fields every item message shares: a valid name and string content. */
function itemBase(value: unknown): {
  fields: Fields;
  item: string;
  content: string;
  encoding: Encoding | undefined;
  version: VersionData | undefined;
} {
  if (!isObject(value)) bad('"data" must be an object with "item" and "content"');
  const item = checkItemName(value.item);
  if (typeof value.content !== 'string') bad('"data.content" must be a string');
  return { fields: value, item, content: value.content, encoding: encoding(value.encoding), version: version(value.version) };
}

// Fields are copied one by one: object spread cost a third of decoding a 1 KiB FORWARD_PUT.
function itemData(value: unknown): ItemData {
  const { fields, item, content, encoding, version } = itemBase(value);
  return { item, content, encoding, version, deleted: optionalFlag(fields.deleted, 'data.deleted'), part: uploadPart(fields.part) };
}

function lookupData(value: unknown): LookupData {
  const { fields, item, content, encoding, version } = itemBase(value);
  return {
    item,
    content,
    encoding,
    version,
    found: optionalFlag(fields.found, 'data.found'),
    size: fields.size === undefined ? undefined : count(fields.size, 'data.size'),
    holder: optionalAddress(fields.holder, 'data.holder'),
    offset: fields.offset === undefined ? undefined : count(fields.offset, 'data.offset'),
  };
}

function addressList(value: unknown): Address[] {
  if (!Array.isArray(value) || value.length === 0) bad('"data" must be a non-empty list of addresses');
  const members = value.map((entry) => address(entry, 'data[]'));
  if (new Set(members).size !== members.length) bad('"data" lists an address twice');
  return members;
}

/** The members an UPDATE's senders know to speak our extensions: at most every member. */
function ourServers(value: unknown): Address[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 10_000) bad('"ours" must be a list of addresses');
  return value.map((entry) => address(entry, 'ours[]'));
}

/** A write's owners still to visit (`--replicas`): at most as many as a ring has. */
function chainList(value: unknown): Address[] {
  if (!Array.isArray(value) || value.length > 1000) bad('"chain" must be a list of addresses');
  return value.map((entry) => address(entry, 'chain[]'));
}

/** The servers a write's round passed that had no room for it: a few, never the whole ring twice over. */
function noSpaceList(value: unknown): Address[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 1024) bad('"nospace" must be a non-empty list of addresses');
  return value.map((entry) => address(entry, 'nospace[]'));
}

/** Which lap of an upload's last part a FORWARD_PUT is (types.ts). */
function lap(value: unknown): Lap | undefined {
  if (value === undefined || value === 'early' || value === 'confirm') return value;
  bad('"lap" must be "early" or "confirm"');
}

const STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

/** Forgotten placements a member entry carries (ring/membership.ts); a chain of them is short in any real ring. */
function hops(value: unknown): Array<{ address: Address; placed: number }> {
  if (!Array.isArray(value) || value.length > 1000) bad('"members[].via" must be a list of placements');
  return value.map((hop) => {
    if (!isObject(hop)) bad('a placement in "members[].via" must be an object');
    return { address: address(hop.address, 'members[].via[].address'), placed: count(hop.placed, 'members[].via[].placed') };
  });
}

function slot(value: unknown): { address: Address; placed: number } {
  if (!isObject(value)) bad('"members[].slot" must be a placement');
  return { address: address(value.address, 'members[].slot.address'), placed: count(value.placed, 'members[].slot.placed') };
}

function members(value: unknown): MemberData[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 10_000) bad('"members" must be a list of member entries');
  const seen = new Set<string>();
  return value.map((entry): MemberData => {
    if (!isObject(entry)) bad('a member entry must be an object');
    const status = entry.status as MemberStatus;
    if (!STATUSES.includes(status)) bad('a member\'s "status" must be alive, suspect, dead or left');
    const member: MemberData = {
      address: address(entry.address, 'members[].address'),
      incarnation: count(entry.incarnation, 'members[].incarnation'),
      status,
      after: optionalAddress(entry.after, 'members[].after'),
      placed: count(entry.placed, 'members[].placed'),
    };
    if (entry.since !== undefined) member.since = count(entry.since, 'members[].since');
    if (entry.via !== undefined) member.via = hops(entry.via);
    if (entry.slot !== undefined) member.slot = slot(entry.slot);
    if (seen.has(member.address)) bad('"members" lists an address twice');
    seen.add(member.address);
    return member;
  });
}

/** Tokens are compared, never stored; a bound keeps hostile ones from costing anything. */
const MAX_TOKEN_LENGTH = 1024;

function token(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > MAX_TOKEN_LENGTH)
    bad(`"token" must be a string of at most ${MAX_TOKEN_LENGTH} characters`);
  return value;
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
      return {
        type,
        creator: address(fields.creator, 'creator'),
        data: addressList(fields.data),
        id: optionalId(fields.id),
        members: members(fields.members),
        ours: ourServers(fields.ours),
      };
    case 'PING':
      return { type, from: address(fields.from, 'from'), members: members(fields.members), checksum: checksum(fields.checksum) };
    case 'PING_REQ':
      return { type, data: address(fields.data, 'data'), from: address(fields.from, 'from') };
    case 'STREAM':
      return { type, from: address(fields.from, 'from'), attach: optionalFlag(fields.attach, 'attach') };
    case 'HANDOVER':
      return { type, from: address(fields.from, 'from') };
    case 'CHECK':
      return { type, from: optionalAddress(fields.from, 'from') };
    case 'RING':
      if (fields.status !== undefined && fields.status !== 'self' && fields.status !== 'all') bad('"status" must be "self" or "all"');
      return { type, status: fields.status, token: token(fields.token) };
    case 'DIGEST':
      return { type, with: optionalAddress(fields.with, 'with'), token: token(fields.token) };
    case 'GET':
      return {
        type,
        data: checkItemName(fields.data),
        part: rangeRequest(fields.part),
        attach: optionalFlag(fields.attach, 'attach'),
        local: optionalFlag(fields.local, 'local'),
        extended: optionalFlag(fields.extended, 'extended'),
        token: token(fields.token),
      };
    case 'DELETE':
      return { type, data: checkItemName(fields.data), token: token(fields.token) };
    case 'PUT':
      return { type, data: itemData(fields.data), token: token(fields.token) };
    case 'LIST': {
      const buckets = fields.data;
      if (!Array.isArray(buckets) || buckets.length > 256) bad('"data" must be a list of bucket numbers');
      return {
        type,
        data: buckets.map((bucket) => count(bucket, 'data[]')),
        with: optionalAddress(fields.with, 'with'),
        token: token(fields.token),
      };
    }
    case 'FORWARD_PUT': {
      const message: ForwardPutMessage = {
        type,
        creator: address(fields.creator, 'creator'),
        data: itemData(fields.data),
        id: optionalId(fields.id),
      };
      const newer = version(fields.newer);
      if (newer) message.newer = newer; // absent, not undefined, on nearly every round
      if (fields.nospace !== undefined) message.nospace = noSpaceList(fields.nospace);
      if (fields.chain !== undefined) message.chain = chainList(fields.chain);
      if (fields.lap !== undefined) message.lap = lap(fields.lap);
      return message;
    }
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
      if (fields.status !== undefined && !isObject(fields.status)) bad('"status" of a RING reply must be an object');
      reply = {
        type: 'RING',
        data: data.map((entry) => address(entry, 'data[]')),
        status: fields.status as Extract<Reply, { type: 'RING' }>['status'],
      };
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
    case 'ACK':
      reply = {
        type: 'ACK',
        from: address(fields.from, 'from'),
        members: members(fields.members),
        checksum: checksum(fields.checksum),
        replicas: fields.replicas === undefined ? undefined : count(fields.replicas, 'replicas'),
      };
      break;
    case 'PING_REQ':
      if (!isObject(data) || typeof data.alive !== 'boolean') bad('a PING_REQ reply needs "data.target" and "data.alive"');
      reply = { type: 'PING_REQ', data: { target: address(data.target, 'data.target'), alive: data.alive } };
      break;
  }
  return reply as Extract<Reply, { type: T }>;
}
