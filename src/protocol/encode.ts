/** Encoding: a message or reply to the wire's text, in the original's field order and byte format. */
import { pyDumps, pyString, type PyJson } from './pyjson.js';
import { wireContent } from './content.js';
import type {
  ForwardGetMessage,
  ForwardPutMessage,
  GetMessage,
  ItemData,
  ListEntry,
  ListMessage,
  LookupData,
  MemberData,
  Message,
  PingRequestMessage,
  Reply,
  UpdateMessage,
  VersionData,
} from './types.js';

function versionFields(value: VersionData | undefined): PyJson | undefined {
  return value && { clock: value.clock, server: value.server };
}

function itemFields(data: ItemData): PyJson {
  const part = data.part && { upload: data.part.upload, offset: data.part.offset, size: data.part.size, sha1: data.part.sha1 };
  return {
    item: data.item,
    content: wireContent(data),
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
    content: wireContent(data),
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
  if (message.chain) out += `, "chain": ${pyDumps(message.chain)}`;
  if (message.lap) out += `, "lap": ${pyString(message.lap)}`;
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
        ours: message.ours,
      });
    case 'PING':
    case 'ACK':
      return pyDumps({
        type: message.type,
        from: message.from,
        members: memberFields(message.members),
        checksum: message.checksum,
        replicas: message.type === 'ACK' ? message.replicas : undefined,
      });
    case 'STREAM':
      return pyDumps({ type: message.type, from: message.from, attach: message.attach });
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
            chain: message.chain,
            lap: message.lap,
          })
        : encodeForwardPut(message);
    case 'FORWARD_GET':
      return pyDumps({ creator: message.creator, type: message.type, data: lookupFields(message.data), id: message.id });
    case 'HANDOVER':
      return pyDumps({ type: message.type, from: message.from });
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
          attach: request.attach,
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
      return pyDumps({
        type: message.type,
        data: message.data as number[],
        with: (message as ListMessage).with,
        token: requestToken(message),
      });
    case 'RING':
      return pyDumps(
        'data' in message
          ? { type: message.type, data: message.data, status: message.status }
          : { type: message.type, status: message.status, token: requestToken(message) },
      );
    case 'DIGEST':
      return pyDumps(
        'data' in message
          ? { type: message.type, data: message.data }
          : { type: message.type, with: message.with, token: requestToken(message) },
      );
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
  const data = message.type === 'UPDATE' ? message.data : { item: message.data.item, content: wireContent(message.data) };
  return pyDumps({ creator: message.creator, type: message.type, data });
}

/** The token a request carries (our extension, always the last field); replies carry none. */
export function requestToken(message: Message | Reply): string | undefined {
  return 'token' in message ? message.token : undefined;
}
