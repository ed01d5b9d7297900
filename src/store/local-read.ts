/**
 * How an item held here is read, decided in one place for the JSON GET
 * (handlers/), the HTTP route and its ready answers (http/), so a rule added
 * here holds for both protocols. It only decides; each caller reads and
 * answers in its own form.
 */
import type { RangeRequest } from '../protocol/messages.js';
import type { ItemMeta, ItemStore } from './items.js';

/** One way of reading; every kind has the same fields, so that an engine can keep it out of the heap. */
interface Read<K extends string, M, C, P> {
  readonly kind: K;
  readonly meta: M;
  readonly content: C;
  readonly part: P;
}

export type LocalRead =
  /** Not held here, or deleted (a tombstone): the caller looks further or answers not found. */
  | Read<'absent', undefined, undefined, undefined>
  /** The bytes the reader asked for (`part`), whatever the item's size: `store.readRange`. */
  | Read<'range', ItemMeta, undefined, RangeRequest>
  /** The whole item was asked for, and it is more than one reply carries: it is read in parts. */
  | Read<'too-large', ItemMeta, undefined, undefined>
  /** The whole item, its content at hand (kept inline): answered now, without I/O. */
  | Read<'whole', ItemMeta, string, undefined>
  /** The whole item, its content on disk: `store.get`. */
  | Read<'from-disk', ItemMeta, undefined, undefined>;

/**
 * How `name` is read from `store` for a reader asking for `part` of it, or,
 * without `part`, for all of it in one reply of at most `wholeLimit` bytes.
 * Each answer is a new object of one shape: a caller that only reads its
 * fields then costs no allocation per GET (V8 replaces it by its fields).
 */
export function readLocal(
  store: Pick<ItemStore, 'head' | 'contentAtHand'>,
  name: string,
  wholeLimit: number,
  part?: RangeRequest,
): LocalRead {
  const meta = store.head(name);
  if (meta === undefined || meta.deleted) return { kind: 'absent', meta: undefined, content: undefined, part: undefined };
  if (part !== undefined) return { kind: 'range', meta, content: undefined, part };
  if (meta.size > wholeLimit) return { kind: 'too-large', meta, content: undefined, part: undefined };
  const content = store.contentAtHand(name);
  if (content === undefined) return { kind: 'from-disk', meta, content: undefined, part: undefined };
  return { kind: 'whole', meta, content, part: undefined };
}
