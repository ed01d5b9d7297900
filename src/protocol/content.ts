/** Item content on the wire: text or base64, whole or in parts, found or not. */
import { NOT_FOUND_CONTENT, type Encoding, type ItemData, type LookupData } from './types.js';

/** Bytes per part of a large item: well under any message limit once base64-encoded. */
export const PART_BYTES = 256 * 1024;

/** An original server does not send "found": its miss is the text "404 NOT FOUND". */
export function isFound(data: LookupData): boolean {
  return data.found ?? data.content !== NOT_FOUND_CONTENT;
}

/** Content for the wire: UTF-8 text stays text (as the original sends it); anything else goes as base64. */
export function encodeContent(bytes: Buffer): { content: string; encoding?: Encoding } {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? { content: text } : { content: bytes.toString('base64'), encoding: 'base64' };
}

/** A part's bytes inside a server: the chunks they arrived in, never copied into one Buffer. */
export type Chunks = readonly Buffer[];

export function chunksLength(chunks: Chunks): number {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  return length;
}

/** An item's content as JSON carries it: bytes held as chunks (a part, a range) as base64. */
export function wireContent(data: ItemData | LookupData): string {
  return data.bytes ? Buffer.concat(data.bytes).toString('base64') : data.content;
}

export function decodeContent(lookup: { content: string; encoding?: Encoding | undefined }): Buffer {
  return Buffer.from(lookup.content, lookup.encoding === 'base64' ? 'base64' : 'utf8');
}
