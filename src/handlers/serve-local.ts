/** A GET answered from this server's own copy of an item, whole or a range, in the form its reader asked in. */
import { errorReply, type RangeRequest, type Reply } from '../protocol/messages.js';
import { PART_BYTES } from '../protocol/content.js';
import type { ItemMeta, ItemStore } from '../store/items.js';
import { readLocal } from '../store/local-read.js';
import { lookupReply } from './waiting.js';

/** What reading this server's own copy of an item takes. */
export interface LocalReadContext {
  readonly store: Pick<ItemStore, 'head' | 'contentAtHand' | 'get' | 'readRange'>;
  /** Largest content sent whole in one reply or lookup; larger items go by parts. */
  readonly wholeLimit: number;
}

/**
 * Answers a GET from this server's own copy (store/local-read.ts decides how);
 * undefined when it has none to give. A whole item whose content is at hand is
 * answered at once (no promise); a part or a copy on disk is a promise.
 */
export function serveLocal(
  ctx: LocalReadContext,
  item: string,
  part: RangeRequest | undefined,
  plain: boolean | undefined,
  attach = false,
): Reply | undefined | Promise<Reply | undefined> {
  const read = readLocal(ctx.store, item, ctx.wholeLimit, part);
  switch (read.kind) {
    case 'absent':
      return undefined;
    case 'range':
      return serveRange(ctx, item, read.meta, read.part, attach);
    case 'too-large':
      return tooLargeReply(item, read.meta.size);
    case 'whole':
      return wholeReply(item, read.meta, read.content, plain);
    case 'from-disk': {
      const { meta } = read;
      return ctx.store.get(item).then((held) => (held ? wholeReply(item, meta, held.content, plain) : undefined));
    }
  }
}

/** A whole item's answer, in the form its reader asked in. */
function wholeReply(item: string, meta: ItemMeta, content: string, plain: boolean | undefined): Reply {
  return lookupReply({ item, content, encoding: meta.encoding, found: true, version: meta.version }, plain);
}

/** One reply carries at most one part of an item, whatever length its reader asked for. */
export function replyLength(part: RangeRequest): number {
  return Math.min(part.length, PART_BYTES);
}

/** The answer to a whole GET of an item larger than one reply carries. */
export function tooLargeReply(item: string, size: number | undefined): Reply {
  return errorReply('TOO_LARGE', `${item} is ${size ?? 'too many'} bytes, more than one reply carries: fetch it in parts (webclient does)`);
}

/** A range of an item held here: base64 in the reply, or its bytes, attached to the reply, when the reader can take them so. */
async function serveRange(ctx: LocalReadContext, item: string, meta: ItemMeta, part: RangeRequest, attach: boolean): Promise<Reply> {
  const bytes = await ctx.store.readRange(item, part.offset, replyLength(part));
  const content = attach ? '' : bytes.toString('base64');
  const data = { item, content, encoding: meta.encoding, found: true, version: meta.version, size: meta.size, offset: part.offset };
  return { type: 'GET', data: attach ? { ...data, bytes: [bytes] } : data };
}
