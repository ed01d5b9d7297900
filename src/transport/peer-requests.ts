/** The requests a server makes of its peers (pulling items, comparing contents), which the client makes too. */
import { CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import type { Encoding, ListEntry, Message, VersionData } from '../protocol/messages.js';
import { isFound, PART_BYTES } from '../protocol/content.js';
import { ask, checkItem, type ClientOptions } from './ask.js';

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

export async function getDigest(server: Address, options: ClientOptions = {}): Promise<string[]> {
  return (await ask(server, { type: 'DIGEST' }, 'DIGEST', options)).data;
}

export async function listBuckets(server: Address, buckets: number[], options: ClientOptions = {}): Promise<ListEntry[]> {
  return (await ask(server, { type: 'LIST', data: buckets }, 'LIST', options)).data;
}
