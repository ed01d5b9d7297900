/**
 * Items in a ring that keeps R copies (`--replicas`, ring/owners.ts): where a
 * write goes and where a read asks. A write is stored here only when this
 * server owns the item, and goes along the item's other owners, first to
 * last, then home (`chain`); a read this server cannot answer from its own
 * copy asks the owners, one after the other, until one has it: a miss is
 * answered once every owner reached says so.
 */
import { isCoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import { errorReply, type GetMessage, type LookupData, type RangeRequest, type Reply } from '../protocol/messages.js';
import { isFound, wireContent } from '../protocol/content.js';
import type { Placement } from '../ring/owners.js';
import type { Log } from '../log/logger.js';

export interface OwnersContext {
  readonly self: Address;
  readonly log: Log;
  /** Where items live; undefined when every server holds every item. */
  placement(): Placement | undefined;
  /** An owner's own copy of `item` (GET local): whole, or the range `part`. */
  readOwner(owner: Address, item: string, part: RangeRequest | undefined): Promise<LookupData>;
}

/** Where a write of `item` goes: stored here or not, and the owners to visit after. Undefined: around the whole ring. */
export function writeRoute(ctx: OwnersContext, item: string): { here: boolean; chain: Address[] } | undefined {
  const placement = ctx.placement();
  if (!placement) return undefined;
  const owners = placement.owners(item);
  return { here: owners.includes(ctx.self), chain: owners.filter((owner) => owner !== ctx.self) };
}

/**
 * The answer to a GET this server has no copy for, from the item's owners;
 * undefined when every server holds every item (the ring is asked instead).
 */
export async function readFromOwners(
  ctx: OwnersContext,
  message: GetMessage,
  answer: (data: LookupData) => Reply,
  miss: () => Reply,
): Promise<Reply | undefined> {
  const placement = ctx.placement();
  if (!placement) return undefined;
  const item = message.data;
  const others = placement.owners(item).filter((owner) => owner !== ctx.self);
  let unreached = 0;
  for (const owner of others) {
    try {
      const data = await ctx.readOwner(owner, item, message.part);
      // A range's bytes go on attached only to a reader that asked so; anyone else gets them inside the reply.
      const inline = data.bytes !== undefined && !message.attach;
      if (isFound(data)) return answer(inline ? { ...data, item, content: wireContent(data), bytes: undefined } : { ...data, item });
    } catch (err) {
      // An item too large for one reply is there: the reader asks again by parts.
      if (isCoopError(err, 'TOO_LARGE')) return errorReply('TOO_LARGE', err.message);
      unreached++;
      ctx.log.warn(`owner ${owner} of ${JSON.stringify(item)} did not answer a read: ${(err as Error).message}`);
    }
  }
  if (unreached > 0 && unreached === others.length)
    return errorReply('TIMEOUT', `no owner of ${item} could be reached: ${others.join(', ')}`);
  return miss();
}
