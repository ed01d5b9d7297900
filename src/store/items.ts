/**
 * The items a server holds: merge rules on top of a persistence layer.
 *
 * Every item has a version; a copy is applied only if its version supersedes
 * the one held (version.ts), so copies arriving in any order end the same.
 * A delete is a tombstone: an item with `deleted` set and a version, so a stale
 * copy cannot bring it back; tombstones are collected after a while.
 *
 * The decision to apply is taken synchronously against the in-memory index,
 * then the write goes to the persistence layer; `apply` resolves once the copy
 * is committed there (it survives the process being killed; on disk, LMDB
 * flushes a commit to the device in the background, overlapping the next one,
 * so a power cut can lose the last moment). Until then reads are served from
 * the in-flight copy.
 */
import type { Encoding } from '../protocol/messages.js';
import { BucketDigest, bucketOf } from './digest.js';
import { supersedes, type Version } from './version.js';
import { sha1 } from './hash.js';
import { isCoopError } from '../errors.js';
import { DamagedContent, type BlobReader, type ItemMeta, type Persistence, type Staged } from './persistence.js';

// The persistence layer's types that the store's users take with it.
export { DamagedContent, type BlobReader, type ItemMeta, type Persistence, type Staged } from './persistence.js';

/** Content up to this size (in wire characters) is kept inline; larger is a blob of raw bytes. */
export const INLINE_LIMIT = 1024 * 1024;

/** The record of content kept inline. */
function inlineMeta(version: Version, deleted: boolean, encoding: Encoding | undefined, content: string, now: number): ItemMeta {
  if (encoding === 'base64') {
    const bytes = Buffer.from(content, 'base64');
    return { version, deleted, encoding, size: bytes.length, storedAt: now, hash: sha1(bytes) };
  }
  return new TextMeta(version, deleted, content, now);
}

/**
 * The record of inline text. Its hash is taken when first asked for (an
 * ETag, a disk store's record), not when the copy is stored: in memory, a
 * copy overwritten before anyone reads it by HTTP never needs one, and a PUT
 * does not hash its content on every server of the ring. Once taken, the
 * record lets go of the text. The hash is a getter, which a spread
 * does not copy: `metaFields` makes the plain record.
 */
class TextMeta implements ItemMeta {
  readonly encoding = undefined;
  readonly size: number;
  #text: string | undefined;
  #hash: string | undefined;

  constructor(
    readonly version: Version,
    readonly deleted: boolean,
    text: string,
    readonly storedAt: number,
  ) {
    this.size = Buffer.byteLength(text, 'utf8');
    this.#text = text;
  }

  get hash(): string {
    if (this.#hash === undefined) {
      this.#hash = sha1(this.#text!); // as its UTF-8 bytes, without making a Buffer of them
      this.#text = undefined;
    }
    return this.#hash;
  }
}

/** A record's fields as a plain object (what a disk store keeps). */
export function metaFields(meta: ItemMeta): ItemMeta {
  const { version, deleted, encoding, size, storedAt, hash } = meta;
  return { version, deleted, encoding, size, storedAt, hash };
}

const APPLIED = Promise.resolve(true);

export class ItemStore {
  private readonly index = new Map<string, ItemMeta>();
  private readonly inflight = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  private watcher: ((version: Version) => void) | undefined;
  readonly digest = new BucketDigest();

  private constructor(private readonly persistence: Persistence) {}

  /** Names whose copies were found damaged when the store was opened; anti-entropy fetches them again. */
  damaged: string[] = [];
  /** Told when a copy is found damaged while serving (it is dropped, to be fetched again). */
  onDamaged: ((err: DamagedContent) => void) | undefined;

  static async open(persistence: Persistence): Promise<ItemStore> {
    const store = new ItemStore(persistence);
    const { records, damaged } = await persistence.load();
    for (const [name, record] of records) {
      const { content, ...meta } = record;
      store.index.set(name, meta);
      store.digest.update(name, undefined, meta);
    }
    store.damaged = damaged;
    return store;
  }

  /**
   * Calls `watch` with the version of every entry held now and of every copy
   * stored from now on: the version clock is kept past all of them.
   */
  watchVersions(watch: (version: Version) => void): void {
    this.watcher = watch;
    for (const meta of this.index.values()) watch(meta.version);
  }

  get size(): number {
    return this.index.size;
  }

  /** Live items and tombstones. */
  entries(): IterableIterator<[string, ItemMeta]> {
    return this.index.entries();
  }

  /** Entries whose names fall in the given digest buckets. */
  listBuckets(buckets: ReadonlySet<number>): Array<[string, ItemMeta]> {
    return [...this.index].filter(([name]) => buckets.has(bucketOf(name)));
  }

  head(name: string): ItemMeta | undefined {
    return this.index.get(name);
  }

  /** The whole content of a live item, as it travels (text, or base64 for bytes). */
  async get(name: string): Promise<{ meta: ItemMeta; content: string } | undefined> {
    const meta = this.index.get(name);
    if (!meta || meta.deleted) return undefined;
    const inline = this.contentAtHand(name);
    if (inline !== undefined) return { meta, content: inline };
    const bytes = await this.readStored(name, meta, 0, meta.size);
    return { meta, content: bytes.toString(meta.encoding === 'base64' ? 'base64' : 'utf8') };
  }

  /** The whole content of a live item when it is kept inline (no I/O to wait for); undefined otherwise. */
  contentAtHand(name: string): string | undefined {
    const meta = this.index.get(name);
    if (!meta || meta.deleted) return undefined;
    return this.inflight.get(name) ?? this.persistence.readInline(name);
  }

  /** Raw bytes [offset, offset + length) of a live item's content. */
  async readRange(name: string, offset: number, length: number): Promise<Buffer> {
    const meta = this.index.get(name);
    if (!meta || meta.deleted) throw new Error(`no item ${name}`);
    const end = Math.min(meta.size, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    const inline = this.contentAtHand(name);
    if (inline !== undefined) return Buffer.from(inline, meta.encoding === 'base64' ? 'base64' : 'utf8').subarray(offset, end);
    return this.readStored(name, meta, offset, end - offset);
  }

  /** Reads a blob's bytes; a copy found damaged is dropped (and the read still fails). */
  private async readStored(name: string, meta: ItemMeta, offset: number, length: number): Promise<Buffer> {
    const reader = await this.openStored(name, meta);
    try {
      return await reader.read(offset, length);
    } finally {
      await reader.close();
    }
  }

  /**
   * The content of a live item's current version, open for reads in any
   * order: a large item streamed out keeps to the version it started with,
   * whatever replaces it meanwhile. Undefined when the item is not held here.
   */
  async reader(name: string): Promise<{ meta: ItemMeta; content: BlobReader } | undefined> {
    const meta = this.index.get(name);
    if (!meta || meta.deleted) return undefined;
    const inline = this.contentAtHand(name);
    if (inline === undefined) return { meta, content: await this.openStored(name, meta) };
    const bytes = Buffer.from(inline, meta.encoding === 'base64' ? 'base64' : 'utf8');
    return { meta, content: { read: async (offset, length) => bytes.subarray(offset, offset + length), close: async () => undefined } };
  }

  /** A blob opened for reading; a copy found damaged, at the opening or at a read, is dropped (and the read still fails). */
  private async openStored(name: string, meta: ItemMeta): Promise<BlobReader> {
    const damaged = async (err: unknown): Promise<never> => {
      if (err instanceof DamagedContent) await this.drop(name, meta, err);
      throw err;
    };
    const blob = await this.persistence.openBlob(name, meta).catch(damaged);
    return { read: (offset, length) => blob.read(offset, length).catch(damaged), close: () => blob.close() };
  }

  /** Forgets a damaged copy, unless a newer one replaced it meanwhile: the digest then differs, and sync fetches it again. */
  private async drop(name: string, meta: ItemMeta, err: DamagedContent): Promise<void> {
    await this.serially(name, async () => {
      if (this.index.get(name) !== meta) return;
      this.index.delete(name);
      this.digest.update(name, meta, undefined);
      this.onDamaged?.(err);
      await this.persistence.remove(name);
    });
  }

  /**
   * Applies a copy (or a tombstone, with deleted set and content '') when its
   * version supersedes the held one. Resolves true once committed, false
   * when the held version is as new or newer.
   */
  apply(
    name: string,
    copy: { version: Version; deleted?: boolean; encoding?: Encoding | undefined; content: string },
    now: number,
  ): Promise<boolean> {
    if (!supersedes(copy.version, this.index.get(name)?.version)) return Promise.resolve(false);
    const deleted = copy.deleted === true;
    const content = deleted ? '' : copy.content;
    const encoding = deleted ? undefined : copy.encoding;
    if (content.length > INLINE_LIMIT) return this.applyLarge(name, copy.version, deleted, encoding, content, now);
    const meta = inlineMeta(copy.version, deleted, encoding, content, now);
    if (this.persistence.writeInlineNow && !this.chains.has(name)) {
      // Nothing of this name in flight, and a write that needs no waiting: done here and now,
      // (the common case: every copy of every small PUT, on every server of an in-memory ring).
      this.replace(name, meta);
      this.persistence.writeInlineNow(name, meta, content);
      return APPLIED;
    }
    return this.serially(name, () => this.writeInline(name, meta, content));
  }

  private async writeInline(name: string, meta: ItemMeta, content: string): Promise<boolean> {
    const previous = this.index.get(name);
    if (!supersedes(meta.version, previous?.version)) return false;
    this.replace(name, meta);
    this.inflight.set(name, content);
    try {
      await this.persistence.write(name, meta, { inline: content });
    } catch (err) {
      // Not stored (no space, say): the held copy is the one before, so it is neither served nor listed as held.
      if (this.index.get(name) === meta) this.restore(name, meta, previous);
      throw err;
    } finally {
      if (this.inflight.get(name) === content) this.inflight.delete(name);
    }
    return true;
  }

  private async applyLarge(
    name: string,
    version: Version,
    deleted: boolean,
    encoding: Encoding | undefined,
    content: string,
    now: number,
  ): Promise<boolean> {
    const bytes = Buffer.from(content, encoding === 'base64' ? 'base64' : 'utf8');
    const staged = await this.persistence.stage(bytes.length);
    try {
      await staged.append([bytes]); // the staged file hashes what it takes
    } catch (err) {
      await staged.discard();
      throw err;
    }
    const meta: ItemMeta = { version, deleted, encoding, size: bytes.length, storedAt: now, hash: await staged.hash() };
    return this.applyStaged(name, meta, staged);
  }

  /** Applies content that was staged part by part (large items). */
  applyStaged(name: string, meta: ItemMeta, staged: Staged): Promise<boolean> {
    return this.serially(name, async () => {
      if (!supersedes(meta.version, this.index.get(name)?.version)) {
        await staged.discard();
        return false;
      }
      try {
        await this.persistence.write(name, meta, { blob: staged });
      } catch (err) {
        await staged.discard(); // its file and descriptor
        throw err;
      }
      this.replace(name, meta);
      return true;
    });
  }

  /** Writes of one name happen one after another, so the disk ends with the newest. */
  private serially<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(name);
    // Nothing of this name in flight (the usual case): start at once, without waiting a turn of promises.
    const result = previous ? previous.then(task) : task();
    const settled = (): void => {
      if (this.chains.get(name) === tail) this.chains.delete(name);
    };
    const tail: Promise<void> = result.then(settled, settled);
    this.chains.set(name, tail);
    return result;
  }

  /** A place for content on its way in; with its `size`, refused at once (NO_SPACE) when it cannot fit (Persistence.stage). */
  stage(size?: number, hashing = true): Promise<Staged> {
    return this.persistence.stage(size, hashing);
  }

  /** Forgets tombstones stored before `before` (ms). Returns how many. */
  async collectTombstones(before: number): Promise<number> {
    const old = [...this.index].filter(([, meta]) => meta.deleted && meta.storedAt < before);
    let collected = 0;
    for (const [name, meta] of old) {
      const removed = this.serially(name, async () => {
        if (this.index.get(name) !== meta) return; // replaced meanwhile
        await this.persistence.remove(name); // first: one that cannot be removed (no space) stays held, and is tried again later
        this.index.delete(name);
        this.digest.update(name, meta, undefined);
        collected++;
      });
      try {
        await removed;
      } catch (err) {
        if (isCoopError(err, 'NO_SPACE')) break; // the rest when there is room
        throw err;
      }
    }
    return collected;
  }

  /**
   * Forgets the copy `meta` of `name` (not a delete: no tombstone), unless a
   * newer one replaced it meanwhile; `--replicas`: a server that no longer
   * owns an item lets it go once its owners hold it. Resolves true when forgotten.
   */
  async release(name: string, meta: ItemMeta): Promise<boolean> {
    return this.serially(name, async () => {
      if (this.index.get(name) !== meta) return false;
      await this.persistence.remove(name);
      this.index.delete(name);
      this.digest.update(name, meta, undefined);
      return true;
    });
  }

  /** Throws when the store cannot be used (see Persistence.check). */
  async check(): Promise<void> {
    await this.persistence.check?.();
  }

  /** Resolves once the store's background work on disk is done (see Persistence.settled). */
  async settled(): Promise<void> {
    await this.persistence.settled?.();
  }

  close(): Promise<void> {
    return this.persistence.close();
  }

  /** Undoes `replace(name, meta)` of a copy that could not be stored. */
  private restore(name: string, meta: ItemMeta, previous: ItemMeta | undefined): void {
    this.digest.update(name, meta, previous);
    if (previous) this.index.set(name, previous);
    else this.index.delete(name);
  }

  private replace(name: string, meta: ItemMeta): void {
    this.watcher?.(meta.version);
    this.digest.update(name, this.index.get(name), meta);
    this.index.set(name, meta);
  }
}
