/** The requests a server makes of its peers (pulling items, comparing contents), which the client makes too. */
import { CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import type { Encoding, ListEntry, VersionData } from '../protocol/messages.js';
import { isFound, PART_BYTES } from '../protocol/content.js';
import { ask, checkItem, type ClientOptions } from './ask.js';
import { InFlight } from '../util/in-flight.js';

export interface PartInfo {
  size: number;
  version: VersionData | undefined;
  /** How the item travels whole: text (undefined) or base64. */
  encoding: Encoding | undefined;
}

/** Ranges of one item asked for at once after the first (each on its own connection), handed on in order. */
const FETCHES_IN_FLIGHT = 4;

/**
 * Fetches an item range by range, handing each range's bytes to `sink` in
 * order; each range comes as raw bytes attached to its reply (base64 inside
 * it from a server of ours from before). Resolves with the item's size and version, or undefined when it is
 * not found. After the first range (which tells the size), a few ranges are
 * asked for at once. A server that does not know ranges (an original one)
 * answers with the whole content at once, which is handed over the same way.
 */
export async function fetchParts(
  server: Address,
  item: string,
  sink: (bytes: Buffer, info: PartInfo) => Promise<void> | void,
  options: ClientOptions & { local?: boolean; partBytes?: number } = {},
): Promise<PartInfo | undefined> {
  const partBytes = options.partBytes ?? PART_BYTES;
  /** The bytes of [offset, offset + length), in as many asks as the server needs; every one of the first part's version. */
  const range = async (offset: number, length: number, first?: PartInfo): Promise<{ bytes: Buffer; info: PartInfo } | undefined> => {
    const chunks: Buffer[] = [];
    let got = 0;
    let info = first;
    while (got < length) {
      const at = offset + got;
      const { data } = await ask(
        server,
        { type: 'GET', data: item, part: { offset: at, length: length - got }, attach: true, local: options.local },
        'GET',
        options,
      );
      checkItem(item, data.item);
      if (!isFound(data)) {
        if (first) throw new CoopError('NOT_FOUND', `${item} disappeared while it was being fetched`);
        return undefined;
      }
      if (data.offset === undefined) {
        // A whole reply (a server without ranges): content in the item's own encoding.
        const bytes = Buffer.from(data.content, data.encoding === 'base64' ? 'base64' : 'utf8');
        return { bytes, info: { size: bytes.length, version: data.version, encoding: data.encoding } };
      }
      const part: PartInfo = { size: data.size ?? 0, version: data.version, encoding: data.encoding };
      if (info && (info.version?.clock !== part.version?.clock || info.version?.server !== part.version?.server)) {
        throw new CoopError('CLOSED', `${item} changed while it was being fetched; try again`);
      }
      info ??= part;
      if (data.offset !== at) throw new CoopError('BAD_FIELD', `asked for bytes from ${at}, got them from ${data.offset}`);
      const bytes = data.bytes ? Buffer.concat(data.bytes) : Buffer.from(data.content, 'base64');
      if (bytes.length === 0 && at < info.size) throw new CoopError('BAD_FIELD', 'an empty part before the end');
      chunks.push(bytes);
      got += bytes.length;
      if (at + bytes.length >= info.size) break;
    }
    return { bytes: Buffer.concat(chunks), info: info! };
  };
  const head = await range(0, partBytes);
  if (!head) return undefined;
  const { info } = head;
  await sink(head.bytes, info);
  const flying = new InFlight<Buffer>(FETCHES_IN_FLIGHT);
  let next = head.bytes.length;
  for (let offset = next; offset < info.size;) {
    for (; !flying.full && next < info.size; next += partBytes) {
      flying.add(range(next, Math.min(partBytes, info.size - next), info).then((got) => got!.bytes));
    }
    const bytes = await flying.next();
    await sink(bytes, info);
    offset += bytes.length;
  }
  return info;
}

/** `asker`: with `--replicas`, only the items `asker` and the server both own are compared. */
export async function getDigest(server: Address, options: ClientOptions = {}, asker?: Address): Promise<string[]> {
  return (await ask(server, { type: 'DIGEST', with: asker }, 'DIGEST', options)).data;
}

export async function listBuckets(server: Address, buckets: number[], options: ClientOptions = {}, asker?: Address): Promise<ListEntry[]> {
  return (await ask(server, { type: 'LIST', data: buckets, with: asker }, 'LIST', options)).data;
}
