/**
 * The client side of the JSON protocol: one request per connection, one reply.
 * Used by the webclient program, the tests and anyone embedding the ring.
 */
import { CoopError } from '../errors.js';
import { parseAddress, type Address } from '../protocol/address.js';
import { decodeReply, encodeMessage, type Encoding, type Message } from '../protocol/messages.js';
import { request } from '../transport/tcp.js';

export interface ClientOptions {
  timeoutMs?: number;
  maxReplyBytes?: number;
}

export type Lookup = { found: true; content: string; encoding?: Encoding | undefined } | { found: false };

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_REPLY = 1024 * 1024 * 1024;

async function ask(server: Address, message: Message, expected: 'GET' | 'PUT' | 'RING', options: ClientOptions) {
  const text = await request(parseAddress(server), encodeMessage(message), {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxReplyBytes: options.maxReplyBytes ?? DEFAULT_MAX_REPLY,
  });
  const reply = decodeReply(text, expected);
  if (reply.type === 'ERROR') throw new CoopError(reply.data.code, `${server} answered ${reply.data.status}: ${reply.data.message}`);
  return reply;
}

export async function getItem(server: Address, item: string, options: ClientOptions = {}): Promise<Lookup> {
  const reply = await ask(server, { type: 'GET', data: item }, 'GET', options);
  if (reply.type !== 'GET') throw new CoopError('BAD_FIELD', 'unexpected reply');
  const data = reply.data;
  if (data.item !== item) throw new CoopError('BAD_FIELD', `asked for ${item}, the reply is for ${data.item}`);
  // An original server does not send "found"; its miss is the text "404 NOT FOUND".
  const found = data.found ?? data.content !== '404 NOT FOUND';
  return found ? { found: true, content: data.content, encoding: data.encoding } : { found: false };
}

export async function putItem(
  server: Address,
  item: string,
  content: string,
  encoding?: Encoding,
  options: ClientOptions = {},
): Promise<string> {
  const reply = await ask(server, { type: 'PUT', data: { item, content, encoding } }, 'PUT', options);
  if (reply.type !== 'PUT') throw new CoopError('BAD_FIELD', 'unexpected reply');
  if (reply.data.item !== item) throw new CoopError('BAD_FIELD', `stored ${item}, the reply is for ${reply.data.item}`);
  return reply.data.status;
}

export async function getRing(server: Address, options: ClientOptions = {}): Promise<Address[]> {
  const reply = await ask(server, { type: 'RING' }, 'RING', options);
  if (reply.type !== 'RING') throw new CoopError('BAD_FIELD', 'unexpected reply');
  return reply.data;
}

/** Content for the wire: UTF-8 text stays text (as the original sends it); anything else goes as base64. */
export function encodeContent(bytes: Buffer): { content: string; encoding?: Encoding } {
  const text = bytes.toString('utf8');
  return Buffer.byteLength(text, 'utf8') === bytes.length && Buffer.from(text, 'utf8').equals(bytes)
    ? { content: text }
    : { content: bytes.toString('base64'), encoding: 'base64' };
}

export function decodeContent(lookup: { content: string; encoding?: Encoding | undefined }): Buffer {
  return Buffer.from(lookup.content, lookup.encoding === 'base64' ? 'base64' : 'utf8');
}
