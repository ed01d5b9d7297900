/**
 * The client side of the JSON protocol: one request per connection, one reply.
 * Used by the webclient program, by servers pulling items from each other,
 * by the tests and by anyone embedding the ring.
 *
 * Large items move in parts: a PUT per part (each acknowledged after its
 * round), and a GET per byte range, so neither side holds a whole large file.
 */
import { randomBytes } from 'node:crypto';
import { CoopError, isCoopError } from '../errors.js';
import { parseAddress, type Address } from '../protocol/address.js';
import {
  NOT_FOUND_CONTENT,
  decodeReply,
  encodeMessage,
  type Encoding,
  type ListEntry,
  type LookupData,
  type Message,
  type Reply,
  type ReplyType,
  type VersionData,
} from '../protocol/messages.js';
import { request, type TlsClientOptions } from '../transport/tcp.js';
import { decodeRingStatus, type RingStatus } from '../protocol/status.js';

export interface ClientOptions {
  timeoutMs?: number;
  maxReplyBytes?: number;
  /** Sent with every request: the server's write token (for PUT and DELETE) or read token. */
  token?: string | undefined;
  /** Speak TLS, trusting these certificates (`{}`: the system's). */
  tls?: TlsClientOptions | undefined;
  /** How a request travels and its reply comes back; servers pass their own (which adds the cluster secret's tag). */
  exchange?: ((server: Address, payload: string, timeoutMs: number) => Promise<string>) | undefined;
}

export type Lookup = { found: true; content: string; encoding?: Encoding | undefined } | { found: false };

/** Longer than the servers' round timeout (30 s), so that a server's own answer about a lost round comes first. */
const DEFAULT_TIMEOUT_MS = 35_000;
const DEFAULT_MAX_REPLY = 1024 * 1024 * 1024;
/** Bytes per part of a large item: well under any message limit once base64-encoded. */
export const PART_BYTES = 256 * 1024;

export async function ask<T extends ReplyType>(
  server: Address,
  message: Message,
  expected: T,
  options: ClientOptions = {},
): Promise<Extract<Reply, { type: T }>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const payload = encodeMessage(options.token === undefined ? message : ({ ...message, token: options.token } as Message));
  const text = options.exchange
    ? await options.exchange(server, payload, timeoutMs)
    : await request(parseAddress(server), payload, {
        timeoutMs,
        maxReplyBytes: options.maxReplyBytes ?? DEFAULT_MAX_REPLY,
        tls: options.tls,
      }).catch((err: unknown) => {
        throw writeUnanswered(server, message, err);
      });
  const reply = decodeReply(text, expected) as Reply;
  if (reply.type === 'ERROR') throw new CoopError(reply.data.code, `${server} answered ${reply.data.status}: ${reply.data.message}`);
  return reply as Extract<Reply, { type: T }>;
}

/**
 * A write whose request reached the server but whose answer never came (the
 * server went silent or the connection broke) may have landed: its outcome is
 * unknown, which is not a failure to retry blindly nor a success.
 */
function writeUnanswered(server: Address, message: Message, err: unknown): unknown {
  if (message.type !== 'PUT' && message.type !== 'DELETE') return err;
  const taken = isCoopError(err, 'CLOSED') || (isCoopError(err, 'TIMEOUT') && (err as { connected?: boolean }).connected === true);
  if (!taken) return err;
  const item = typeof message.data === 'string' ? message.data : message.data.item;
  const text = `outcome unknown: ${server} took the ${message.type} of ${item} but did not answer (${(err as Error).message}); it may or may not have landed (read it back, or write it again)`;
  return new CoopError('OUTCOME_UNKNOWN', text, { cause: err });
}

function checkItem(asked: string, answered: string): void {
  if (answered !== asked) throw new CoopError('BAD_FIELD', `asked about ${asked}, the reply is about ${answered}`);
}

/** An original server does not send "found": its miss is the text "404 NOT FOUND". */
export function isFound(data: LookupData): boolean {
  return data.found ?? data.content !== NOT_FOUND_CONTENT;
}

export async function getItem(server: Address, item: string, options: ClientOptions = {}): Promise<Lookup> {
  const { data } = await ask(server, { type: 'GET', data: item, extended: true }, 'GET', options);
  checkItem(item, data.item);
  return isFound(data) ? { found: true, content: data.content, encoding: data.encoding } : { found: false };
}

export interface PartInfo {
  size: number;
  version: VersionData | undefined;
  /** How the item travels whole: text (undefined) or base64. */
  encoding: Encoding | undefined;
}

/**
 * Fetches an item range by range, handing each range's bytes to `sink` in
 * order. Resolves with the item's size and version, or undefined when it is
 * not found. A server that does not know ranges (an original one) answers with
 * the whole content at once, which is handed over the same way.
 */
export async function fetchParts(
  server: Address,
  item: string,
  sink: (bytes: Buffer, info: PartInfo) => Promise<void> | void,
  options: ClientOptions & { local?: boolean; partBytes?: number } = {},
): Promise<PartInfo | undefined> {
  const partBytes = options.partBytes ?? PART_BYTES;
  let offset = 0;
  let first: PartInfo | undefined;
  for (;;) {
    const message: Message = { type: 'GET', data: item, part: { offset, length: partBytes }, local: options.local };
    const { data } = await ask(server, message, 'GET', options);
    checkItem(item, data.item);
    if (!isFound(data)) {
      if (first) throw new CoopError('NOT_FOUND', `${item} disappeared while it was being fetched`);
      return undefined;
    }
    if (data.offset === undefined) {
      // A whole reply (a server without ranges): content in the item's own encoding.
      const info = { size: 0, version: data.version, encoding: data.encoding };
      const bytes = Buffer.from(data.content, data.encoding === 'base64' ? 'base64' : 'utf8');
      info.size = bytes.length;
      await sink(bytes, info);
      return info;
    }
    const info: PartInfo = { size: data.size ?? 0, version: data.version, encoding: data.encoding };
    if (first && (first.version?.clock !== info.version?.clock || first.version?.server !== info.version?.server)) {
      throw new CoopError('CLOSED', `${item} changed while it was being fetched; try again`);
    }
    first ??= info;
    if (data.offset !== offset) throw new CoopError('BAD_FIELD', `asked for bytes from ${offset}, got them from ${data.offset}`);
    const bytes = Buffer.from(data.content, 'base64');
    if (bytes.length === 0 && offset < info.size) throw new CoopError('BAD_FIELD', 'an empty part before the end');
    await sink(bytes, info);
    offset += bytes.length;
    if (offset >= info.size) return info;
  }
}

export async function putItem(
  server: Address,
  item: string,
  content: string,
  encoding?: Encoding,
  options: ClientOptions = {},
): Promise<string> {
  const { data } = await ask(server, { type: 'PUT', data: { item, content, encoding } }, 'PUT', options);
  checkItem(item, data.item);
  return data.status;
}

/**
 * Stores `size` bytes read by `read(offset, length)`: in one PUT when they fit
 * in a part, else part by part. The item is visible once its last part is in.
 */
export async function putBytes(
  server: Address,
  item: string,
  size: number,
  read: (offset: number, length: number) => Promise<Buffer>,
  options: ClientOptions & { partBytes?: number } = {},
): Promise<string> {
  const partBytes = options.partBytes ?? PART_BYTES;
  if (size <= partBytes) {
    const { content, encoding } = encodeContent(await read(0, size));
    return putItem(server, item, content, encoding, options);
  }
  const upload = randomBytes(8).toString('hex');
  let status = '';
  for (let offset = 0; offset < size; offset += partBytes) {
    const bytes = await read(offset, Math.min(partBytes, size - offset));
    const part = { upload, offset, size };
    const { data } = await ask(
      server,
      { type: 'PUT', data: { item, content: bytes.toString('base64'), encoding: 'base64', part } },
      'PUT',
      options,
    );
    checkItem(item, data.item);
    status = data.status;
  }
  return status;
}

export async function deleteItem(server: Address, item: string, options: ClientOptions = {}): Promise<string> {
  const { data } = await ask(server, { type: 'DELETE', data: item }, 'DELETE', options);
  checkItem(item, data.item);
  return data.status;
}

export async function getRing(server: Address, options: ClientOptions = {}): Promise<Address[]> {
  return (await ask(server, { type: 'RING' }, 'RING', options)).data;
}

/** The server's view of its ring with every member's figures (what `GET /_ring` gives as JSON). */
export async function getStatus(server: Address, options: ClientOptions = {}): Promise<RingStatus> {
  const reply = await ask(server, { type: 'RING', status: 'all' }, 'RING', options);
  if (reply.status === undefined) throw new CoopError('BAD_FIELD', `${server} does not report its status (an older version?)`);
  return decodeRingStatus(reply.status);
}

export async function getDigest(server: Address, options: ClientOptions = {}): Promise<string[]> {
  return (await ask(server, { type: 'DIGEST' }, 'DIGEST', options)).data;
}

export async function listBuckets(server: Address, buckets: number[], options: ClientOptions = {}): Promise<ListEntry[]> {
  return (await ask(server, { type: 'LIST', data: buckets }, 'LIST', options)).data;
}

/** Content for the wire: UTF-8 text stays text (as the original sends it); anything else goes as base64. */
export function encodeContent(bytes: Buffer): { content: string; encoding?: Encoding } {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? { content: text } : { content: bytes.toString('base64'), encoding: 'base64' };
}

export function decodeContent(lookup: { content: string; encoding?: Encoding | undefined }): Buffer {
  return Buffer.from(lookup.content, lookup.encoding === 'base64' ? 'base64' : 'utf8');
}
