/**
 * The client side of the JSON protocol: one request per connection, one reply.
 * Used by the webclient program, by the tests and by anyone embedding the
 * ring; the exchange and the part-by-part fetch it shares with the servers
 * are in transport/ask.ts and transport/peer-requests.ts.
 *
 * Large items move in parts: a PUT per part (each acknowledged after its
 * round), and a GET per byte range, so neither side holds a whole large file.
 */
import { randomBytes } from 'node:crypto';
import { CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import type { Encoding } from '../protocol/messages.js';
import { decodeRingStatus, type RingStatus } from '../protocol/status.js';
import { encodeContent, isFound, PART_BYTES } from '../protocol/content.js';
import { ask, checkItem, type ClientOptions } from '../transport/ask.js';

export { ask, type ClientOptions } from '../transport/ask.js';
export { decodeContent, encodeContent, isFound, PART_BYTES } from '../protocol/content.js';
export { fetchParts, getDigest, listBuckets, type PartInfo } from '../transport/peer-requests.js';

export type Lookup = { found: true; content: string; encoding?: Encoding | undefined } | { found: false };

export async function getItem(server: Address, item: string, options: ClientOptions = {}): Promise<Lookup> {
  const { data } = await ask(server, { type: 'GET', data: item, extended: true }, 'GET', options);
  checkItem(item, data.item);
  return isFound(data) ? { found: true, content: data.content, encoding: data.encoding } : { found: false };
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
