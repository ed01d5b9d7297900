/**
 * Items on disk, in a data directory:
 *   index/    an LMDB database: name -> record (version, flags, and small content inline)
 *   blobs/    large contents as raw bytes, one file per stored version
 *   staging/  contents being received, part by part
 * A record is written in one LMDB transaction, so an item is never torn; a
 * blob is complete and renamed into blobs/ before the record that points at it
 * is written. Item names never become file paths: blob files are named by a
 * random id. At start, blobs no record points at and stale staging files are removed.
 * Every write first claims room on the disk (space.ts): a full disk gives
 * NO_SPACE, never a half-written record or a blob shorter than its record says.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, constants, mkdir, open, readdir, rename, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { metaFields, type Body, type ItemMeta, type Persistence, type Staged, type StoredRecord } from './items.js';
import { sha1 } from './hash.js';
import { SpaceGuard } from './space.js';
import { CoopError, isCoopError } from '../errors.js';

interface DiskRecord extends StoredRecord {
  blob?: string;
}

/** errno codes of a file system that is full (or a quota that is). */
const FULL_CODES: ReadonlySet<unknown> = new Set(['ENOSPC', 'EDQUOT', 28, 122]);
/** LMDB's own "map full": the database reached its map size. */
const MDB_MAP_FULL = -30792;

/**
 * A failed write as NO_SPACE when the disk (or LMDB's map) is full; other
 * errors as they are. lmdb-js rejects a failed commit with "Commit failed" and
 * the cause in a promise (`commitError`), which must be handled here or it
 * ends the process as an unhandled rejection.
 */
export async function asStoreError(err: unknown, what: string, where: string): Promise<unknown> {
  if (isCoopError(err)) return err;
  let cause = err;
  const commitError = (err as { commitError?: unknown } | null)?.commitError;
  if (commitError instanceof Promise) {
    cause = await Promise.race([
      commitError.then(
        () => err,
        (reason: unknown) => reason,
      ),
      new Promise((resolve) => setTimeout(resolve, 100, err)),
    ]);
  }
  const code = (cause as { code?: unknown } | null)?.code;
  if (FULL_CODES.has(code) || code === MDB_MAP_FULL) {
    return new CoopError('NO_SPACE', `no space left for ${what} in ${where}: ${(cause as Error).message}`, { cause });
  }
  return err;
}

/**
 * lmdb-js's "Commit failed", as it also rejects a promise of its own that
 * nobody can handle (the start of the batch the failed write was in).
 */
export function isCommitFailure(reason: unknown): boolean {
  return reason instanceof Error && 'commitError' in reason && reason.message.startsWith('Commit failed');
}

export class FileStaged implements Staged {
  size = 0;
  private readonly sha1 = createHash('sha1');

  constructor(
    readonly path: string,
    readonly file: FileHandle,
    private readonly space: SpaceGuard,
  ) {}

  /** All of `bytes`, or an error (NO_SPACE when the disk is full): a short write is never taken for a whole one. */
  async append(bytes: Buffer): Promise<void> {
    await this.space.claim(bytes.length, 'content being received');
    let written = 0;
    try {
      while (written < bytes.length) {
        const { bytesWritten } = await this.file.write(bytes, written, bytes.length - written, null);
        if (bytesWritten <= 0) throw Object.assign(new Error('the file system took no more bytes'), { code: 'ENOSPC' });
        written += bytesWritten;
      }
    } catch (err) {
      throw await asStoreError(err, `${bytes.length} bytes of content being received (${written} written)`, this.path);
    }
    this.size += bytes.length;
    this.sha1.update(bytes);
  }

  hash(): string {
    return this.sha1.copy().digest('hex');
  }

  async discard(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class DiskPersistence implements Persistence {
  /**
   * The blob file of each item whose content is one, known without reading its
   * record: reading it back before every write (to find a blob to delete)
   * decoded the whole record, content and all, and cost as much as the write.
   * Filled by load(), which the store calls first.
   */
  private readonly blobs = new Map<string, string>();

  private constructor(
    private readonly dir: string,
    private readonly db: RootDatabase<DiskRecord, string>,
    private readonly space: SpaceGuard,
  ) {}

  /** `reserveBytes`: kept free on the disk; writes that would leave less are refused with NO_SPACE. */
  static async open(dir: string, { reserveBytes = 0 }: { reserveBytes?: number } = {}): Promise<DiskPersistence> {
    for (const sub of ['index', 'blobs', 'staging']) await mkdir(join(dir, sub), { recursive: true });
    const space = new SpaceGuard({
      probe: async () => {
        const { bavail, bsize } = await statfs(dir);
        return bavail * bsize;
      },
      reserveBytes,
      where: `data directory ${dir}`,
    });
    const db = openLmdb<DiskRecord, string>({ path: join(dir, 'index'), compression: false });
    return new DiskPersistence(dir, db, space);
  }

  /** Freeing writes (tombstones, removals) may use half the reserve, so a full server still takes deletes. */
  private get freeingFloor(): number {
    return Math.floor(this.space.reserveBytes / 2);
  }

  /** Every folder the store writes to is there and writable (a cheap look, for health checks). */
  async check(): Promise<void> {
    for (const sub of ['index', 'blobs', 'staging']) await access(join(this.dir, sub), constants.W_OK);
  }

  async load(): Promise<{ records: Array<[string, StoredRecord]>; damaged: string[] }> {
    const records: Array<[string, StoredRecord]> = [];
    const damaged: string[] = [];
    const referenced = new Set<string>();
    for (const { key, value } of this.db.getRange()) {
      if (await this.intact(value)) {
        const { blob, ...record } = value;
        records.push([key, record]);
        if (blob) {
          referenced.add(blob);
          this.blobs.set(key, blob);
        }
      } else {
        damaged.push(key);
      }
    }
    for (const name of damaged) {
      // Without room to remove it, a damaged record stays on disk, dropped again at the next start.
      await this.remove(name).catch((err: unknown) => {
        if (!isCoopError(err, 'NO_SPACE')) throw err;
      });
    }
    for (const file of await readdir(join(this.dir, 'blobs'))) {
      if (!referenced.has(file)) await rm(join(this.dir, 'blobs', file), { force: true });
    }
    await rm(join(this.dir, 'staging'), { recursive: true, force: true });
    await mkdir(join(this.dir, 'staging'), { recursive: true });
    return { records, damaged };
  }

  /** Inline content must match its hash; a blob must be there with the right size (its bytes are not re-read at start). */
  private async intact(record: DiskRecord): Promise<boolean> {
    if (record.content !== undefined) {
      return sha1(Buffer.from(record.content, record.encoding === 'base64' ? 'base64' : 'utf8')) === record.hash;
    }
    if (!record.blob) return false;
    try {
      return (await stat(this.blobPath(record.blob))).size === record.size;
    } catch {
      return false;
    }
  }

  async write(name: string, meta: ItemMeta, body: Body): Promise<void> {
    const where = `data directory ${this.dir}`;
    const previous = this.blobs.get(name);
    let record: DiskRecord;
    if ('inline' in body) {
      // Bytes kept as base64 take more room in the record than they are.
      const recorded = Math.max(meta.size, body.inline.length);
      await this.space.claim(recorded, JSON.stringify(name), meta.deleted ? this.freeingFloor : undefined);
      record = { ...metaFields(meta), content: body.inline };
    } else {
      const staged = body.blob as FileStaged;
      // The record is small; the content is on disk already (claimed as it was staged).
      await this.space.claim(0, JSON.stringify(name));
      try {
        await staged.file.sync();
        // What the record will say must be what is on disk: a short file is never committed.
        const onDisk = (await staged.file.stat()).size;
        if (onDisk !== meta.size || staged.size !== meta.size) {
          throw new Error(`the staged content of ${JSON.stringify(name)} is ${onDisk} bytes on disk, not ${meta.size}: not stored`);
        }
        await staged.file.close();
        const blob = `${meta.version.clock}-${randomBytes(8).toString('hex')}`;
        await rename(staged.path, this.blobPath(blob));
        await syncDirectory(join(this.dir, 'blobs'));
        record = { ...metaFields(meta), blob };
      } catch (err) {
        throw await asStoreError(err, JSON.stringify(name), where);
      }
    }
    try {
      await this.db.put(name, record);
    } catch (err) {
      if (record.blob) await rm(this.blobPath(record.blob), { force: true });
      throw await asStoreError(err, JSON.stringify(name), where);
    }
    if (record.blob) this.blobs.set(name, record.blob);
    else this.blobs.delete(name);
    if (previous && previous !== record.blob) await rm(this.blobPath(previous), { force: true });
  }

  readInline(name: string): string | undefined {
    return this.db.get(name)?.content;
  }

  async readRange(name: string, _meta: ItemMeta, offset: number, length: number): Promise<Buffer> {
    const blob = this.blobs.get(name);
    if (!blob) return Buffer.alloc(0);
    const file = await open(this.blobPath(blob), 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  async remove(name: string): Promise<void> {
    const blob = this.blobs.get(name);
    // LMDB copies the pages it changes, a removal too.
    await this.space.claim(0, `removing ${JSON.stringify(name)}`, this.freeingFloor);
    try {
      await this.db.remove(name);
    } catch (err) {
      throw await asStoreError(err, `removing ${JSON.stringify(name)}`, `data directory ${this.dir}`);
    }
    this.blobs.delete(name);
    if (blob) await rm(this.blobPath(blob), { force: true });
  }

  async stage(size?: number): Promise<Staged> {
    // A content that cannot fit is refused before its first byte is taken.
    if (size !== undefined) await this.space.check(size, `content of ${size} bytes`);
    const path = join(this.dir, 'staging', randomBytes(8).toString('hex'));
    let file: FileHandle;
    try {
      file = await open(path, 'wx');
    } catch (err) {
      throw await asStoreError(err, 'content being received', `data directory ${this.dir}`);
    }
    return new FileStaged(path, file, this.space);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private blobPath(blob: string): string {
    return join(this.dir, 'blobs', blob);
  }
}
