/**
 * Large items arrive in parts (each one PUT or FORWARD_PUT with a `part`),
 * in order, and are staged until the last part makes them whole. Parts may
 * come while the one before is still being written (a writer keeps several
 * in flight): each is written after the one before, and taken only when it is
 * written, so a server passes parts on in the order they came. Memory stays
 * bounded by the parts in flight: the bytes go straight to the store's staging area.
 *
 * Only the server where an upload enters the ring hashes its bytes; the
 * others take that hash from the last part (`sha1`), as the datanodes of an
 * HDFS pipeline keep their writer's checksums: each server passes on the
 * bytes it writes, so a copy damaged on the way fails its hash when its
 * server next checks its store (start-up reads every blob).
 */
import { createHash, type Hash } from 'node:crypto';
import { CoopError } from '../errors.js';
import { chunksLength } from '../protocol/content.js';
import type { Encoding, UploadPart } from '../protocol/messages.js';
import type { ItemStore, Staged } from './items.js';
import { compareVersions, type Version } from './version.js';

interface Upload {
  item: string;
  version: Version;
  encoding: Encoding | undefined;
  size: number;
  staged: Staged;
  received: number;
  touchedAt: number;
  /** The last part's write: the next one waits for it. */
  writing: Promise<void>;
  /** Whether this server hashes the bytes as they come (else the last part brings its writer's hash). */
  hashing: boolean;
}

export class Uploads {
  private readonly open = new Map<string, Upload>();
  /** Uploads whose staging failed (no space): their later parts get the same error, not "out of order". */
  private readonly failed = new Map<string, { error: unknown; touchedAt: number }>();

  constructor(private readonly store: ItemStore) {}

  /** Uploads this server passes on without keeping (`--replicas`: it does not own the item): their versions, and their bytes hashed. */
  private readonly passed = new Map<string, { version: Version; touchedAt: number; sha1: Hash }>();

  /** The version of upload `key`, when its first part has arrived. */
  versionOf(key: string): Version | undefined {
    return this.open.get(key)?.version ?? this.passed.get(key)?.version;
  }

  /** Upload `key` passes through this server without being kept: its later parts take `version`. */
  passing(key: string, version: Version, now: number): void {
    this.passed.set(key, { version, touchedAt: now, sha1: createHash('sha1') });
  }

  /** A part of upload `key` passed on (in order): hashed; the SHA-1 of the whole item once `last`. */
  pass(key: string, bytes: readonly Buffer[], last: boolean, now: number): string | undefined {
    const upload = this.passed.get(key);
    if (!upload) return undefined;
    upload.touchedAt = now;
    for (const chunk of bytes) upload.sha1.update(chunk);
    return last ? upload.sha1.digest('hex') : undefined;
  }

  /**
   * Takes one part. Resolves true when it was the last one and the item is now
   * stored (if its version is the newest). Throws BAD_FIELD for a part out of order.
   * A part taken already (its round was sent again, rounds.ts) is a no-op.
   * `hashing` (on the first part): false where the last part will bring its writer's hash.
   * `hashed`: told the item's SHA-1 once it is known, before the commit (its writer sends the last part on meanwhile).
   */
  async receive(
    key: string,
    item: string,
    version: Version,
    encoding: Encoding | undefined,
    part: UploadPart,
    bytes: readonly Buffer[],
    now: number,
    hashing = true,
    hashed?: (sha1: string) => void,
  ): Promise<boolean> {
    const length = chunksLength(bytes);
    let upload = this.open.get(key);
    if (this.taken(upload, item, version, part, length)) return false;
    const failed = this.failed.get(key);
    if (failed && part.offset > 0) {
      failed.touchedAt = now;
      throw failed.error;
    }
    if (part.offset === 0) {
      if (upload) await upload.staged.discard();
      this.open.delete(key);
      let staged: Staged;
      try {
        staged = await this.store.stage(part.size, hashing);
      } catch (err) {
        this.failed.set(key, { error: err, touchedAt: now });
        throw err;
      }
      this.failed.delete(key);
      upload = { item, version, encoding, size: part.size, staged, received: 0, touchedAt: now, writing: Promise.resolve(), hashing };
      this.open.set(key, upload);
    }
    if (!upload || upload.item !== item || upload.received !== part.offset || upload.size !== part.size) {
      throw new CoopError('BAD_FIELD', `part at ${part.offset} of upload ${key} does not follow what was received`);
    }
    if (part.offset + length > part.size) throw new CoopError('BAD_FIELD', 'part runs past the upload size');
    // Claim the range before writing, so a copy of this part arriving meanwhile is refused.
    upload.received += length;
    upload.touchedAt = now;
    const { staged } = upload;
    // After the part before: a failed write fails every part after it too.
    const writing = upload.writing.then(() => staged.append(bytes));
    upload.writing = writing;
    try {
      await writing;
    } catch (err) {
      this.open.delete(key);
      this.failed.set(key, { error: err, touchedAt: now });
      await upload.staged.discard();
      throw err;
    }
    // Only the part that ends the item completes it: the ones before may finish writing after a later part was claimed.
    if (part.offset + length < upload.size) return false;
    this.open.delete(key);
    let hash = upload.hashing ? undefined : part.sha1;
    try {
      // An older writer of ours sends no hash: the staged file is read back for it.
      hash ??= await upload.staged.hash();
    } catch (err) {
      await upload.staged.discard();
      throw err;
    }
    hashed?.(hash);
    const meta = { version: upload.version, deleted: false, encoding: upload.encoding, size: upload.size, storedAt: now, hash };
    await this.store.applyStaged(item, meta, upload.staged);
    return true;
  }

  /** Whether this part of this version is here already: within what the open upload received, or the whole item is stored. */
  private taken(upload: Upload | undefined, item: string, version: Version, part: UploadPart, length: number): boolean {
    if (upload) {
      const repeated = part.offset < upload.received && part.offset + length <= upload.received;
      return repeated && upload.item === item && compareVersions(upload.version, version) === 0;
    }
    const held = this.store.head(item)?.version;
    return held !== undefined && compareVersions(held, version) === 0;
  }

  /** Drops upload `key` and its staged bytes: it will not be completed (its writer was told NO_SPACE). */
  async abandon(key: string): Promise<void> {
    const upload = this.open.get(key);
    this.open.delete(key);
    await upload?.staged.discard();
  }

  /** Drops uploads that have not moved since `before`; their senders gave up. */
  async expire(before: number): Promise<void> {
    for (const [key, failed] of this.failed) if (failed.touchedAt < before) this.failed.delete(key);
    for (const [key, passed] of this.passed) if (passed.touchedAt < before) this.passed.delete(key);
    for (const [key, upload] of this.open) {
      if (upload.touchedAt < before) {
        this.open.delete(key);
        await upload.staged.discard();
      }
    }
  }

  async clear(): Promise<void> {
    await this.expire(Infinity);
  }
}
