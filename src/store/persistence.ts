/**
 * What the item store keeps and where: an item's record (ItemMeta), its
 * content inline or as a blob, and the persistence layer beneath the store
 * (in memory: memory.ts; on disk: durable.ts).
 */
import type { Encoding } from '../protocol/messages.js';
import type { Version } from './version.js';

export interface ItemMeta {
  version: Version;
  deleted: boolean;
  /** How the whole content travels: undefined for UTF-8 text, 'base64' for bytes. */
  encoding?: Encoding | undefined;
  /** Bytes of content. */
  size: number;
  /** Local time (ms) this copy was stored: tombstones are collected by age. */
  storedAt: number;
  /** SHA-1 of the content bytes, hex: damage on disk is found by it. */
  hash: string;
}

/** Content lives inline with its record (small), or as raw bytes in a blob (large). */
export type Body = { inline: string } | { blob: Staged };

/** Bytes written somewhere temporary, ready to become an item's content. */
export interface Staged {
  readonly size: number;
  /** SHA-1 of the bytes appended so far, hex: hashed as they came, or read back when staged without hashing. */
  hash(): Promise<string>;
  /** Appends the chunks, in order. They stay the caller's: once this resolves, their memory may hold other bytes (part-blocks.ts). */
  append(chunks: readonly Buffer[]): Promise<void>;
  discard(): Promise<void>;
}

export interface StoredRecord extends ItemMeta {
  /** Inline content (small items and tombstones); absent when the content is a blob. */
  content?: string;
}

/** Where records and contents are kept: in memory, or on disk. */
export interface Persistence {
  /** Every intact record; damaged ones (content not matching its hash, blob missing) are dropped and named. */
  load(): Promise<{ records: Array<[string, StoredRecord]>; damaged: string[] }>;
  /** Committed when resolved: it survives the process being killed (see the module's header on power cuts). */
  write(name: string, meta: ItemMeta, body: Body): Promise<void>;
  readInline(name: string): string | undefined;
  /**
   * Commits inline content at once, where that takes no I/O (in memory):
   * the store then applies a copy without a promise or a turn of its own.
   */
  writeInlineNow?(name: string, meta: ItemMeta, content: string): void;
  /** The blob of `name`'s stored version, open: reads keep to that version whatever replaces it meanwhile. */
  openBlob(name: string, meta: ItemMeta): Promise<BlobReader>;
  remove(name: string): Promise<void>;
  /**
   * A place for content on its way in; `size`, when known, is checked against
   * the room left (NO_SPACE). Without `hashing`, the bytes are not hashed as
   * they come: for content whose writer's hash will be taken instead.
   */
  stage(size?: number, hashing?: boolean): Promise<Staged>;
  /** Throws when the store can no longer be written (its directory gone or read-only); for health checks. */
  check?(): Promise<void>;
  /** Resolves once work left to the background (removing replaced blob files) is done. */
  settled?(): Promise<void>;
  close(): Promise<void>;
}

/** One version's content, open for reading; a read past its end gives fewer bytes (none at the end). */
export interface BlobReader {
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * A stored copy found damaged while being read (its blob gone or shorter than
 * its record): the store drops it, so anti-entropy fetches it again.
 */
export class DamagedContent extends Error {
  constructor(
    readonly item: string,
    why: string,
    cause?: unknown,
  ) {
    super(`stored copy of ${item} is damaged: ${why}`, { cause });
    this.name = 'DamagedContent';
  }
}
