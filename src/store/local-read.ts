/**
 * How an item held here is read, decided in one place for the JSON GET
 * (handlers/), the HTTP route and its ready answers (http/), so a rule added
 * here holds for both protocols. It only decides; each caller reads and
 * answers in its own form.
 */
import type { RangeRequest } from '../protocol/messages.js';
import type { ItemMeta, ItemStore } from './items.js';

export type LocalRead =
  /** Not held here, or deleted (a tombstone): the caller looks further or answers not found. */
  | { readonly kind: 'absent' }
  /** The bytes the reader asked for, whatever the item's size: `store.readRange`. */
  | { readonly kind: 'range'; readonly meta: ItemMeta; readonly part: RangeRequest }
  /** The whole item was asked for, and it is more than one reply carries: it is read in parts. */
  | { readonly kind: 'too-large'; readonly meta: ItemMeta }
  /** The whole item, its content at hand (kept inline): answered now, without I/O. */
  | { readonly kind: 'whole'; readonly meta: ItemMeta; readonly content: string }
  /** The whole item, its content on disk: `store.get`. */
  | { readonly kind: 'from-disk'; readonly meta: ItemMeta };

const ABSENT: LocalRead = { kind: 'absent' };

/**
 * How `name` is read from `store` for a reader asking for `part` of it, or,
 * without `part`, for all of it in one reply of at most `wholeLimit` bytes.
 */
export function readLocal(store: ItemStore, name: string, wholeLimit: number, part?: RangeRequest): LocalRead {
  const meta = store.head(name);
  if (meta === undefined || meta.deleted) return ABSENT;
  if (part !== undefined) return { kind: 'range', meta, part };
  if (meta.size > wholeLimit) return { kind: 'too-large', meta };
  const content = store.contentAtHand(name);
  return content === undefined ? { kind: 'from-disk', meta } : { kind: 'whole', meta, content };
}
