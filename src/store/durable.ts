/**
 * Items on disk, in a data directory:
 *   index/    an LMDB database: name -> record (version, flags, and small content inline)
 *   blobs/    large contents as raw bytes, one file per stored version
 *   staging/  contents being received, part by part
 * A record is written in one LMDB transaction, so an item is never torn; a
 * blob is complete and renamed into blobs/ before the record that points at it
 * is written. Item names never become file paths: blob files are named by a
 * random id. At start, blobs no record points at and stale staging files are removed.
 *
 * Every record carries a checksum over all its fields (record-check.ts), and
 * at start every record, inline content and blob is checked against it: a
 * damaged one is dropped, so the digest differs from the ring's and
 * anti-entropy fetches it again. The index is first read by a child process
 * (index-check.ts), since LMDB faults on some damage instead of failing.
 * While running, the directory's identity (device and inode of the directory,
 * its index and its lock file) is checked after every commit and on every
 * health check: a directory removed or replaced takes no more writes.
 *
 * Every write first claims room on the disk (space.ts): a full disk gives
 * NO_SPACE, never a half-written record or a blob shorter than its record says.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { access, constants, mkdir, open, readdir, rename, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { CoopError, isCoopError } from '../errors.js';
import { asStoreError, unwritable } from './disk-errors.js';
import { FileStaged } from './staged-file.js';
import { metaFields } from './items.js';
import {
  DamagedContent,
  type BlobReader,
  type Body,
  type ItemMeta,
  type Persistence,
  type Staged,
  type StoredRecord,
} from './persistence.js';
import { hashFile, sha1 } from './hash.js';
import { recordCheck, verifyRecord } from './record-check.js';
import { checkIndex, LMDB_DAMAGE } from './index-check.js';
import { SpaceGuard } from './space.js';
import { Removals } from './removals.js';

interface DiskRecord extends StoredRecord {
  blob?: string;
  /** recordCheck() of the record; absent in records written before checksums. */
  check?: string;
}

export interface DiskOptions {
  /** Move a damaged index aside and start with an empty one (refilled from the ring), instead of failing. */
  repair?: boolean | undefined;
  /** Files whose identity must not change while running, besides the directory and its index (the lock file). */
  guard?: readonly string[] | undefined;
  /** Kept free on the disk: writes that would leave less are refused with NO_SPACE. */
  reserveBytes?: number | undefined;
  /** Told when a damaged index was moved aside. */
  repaired?: ((aside: string, why: string) => void) | undefined;
}

/** Device and inode of a path, to tell it removed (undefined) or replaced. */
function identityOf(path: string): string | undefined {
  try {
    const info = statSync(path);
    return `${info.dev}:${info.ino}`;
  } catch {
    return undefined;
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

  /** Why the directory can no longer be used (removed or replaced while running); undefined while it can. */
  private lost: CoopError | undefined;
  /** Device and inode of the directory, its index and the files named by `guard`, as opened. */
  private readonly identity = new Map<string, string | undefined>();
  private readonly index: string;

  private constructor(
    private readonly dir: string,
    private readonly db: RootDatabase<DiskRecord, string>,
    guard: readonly string[],
    private readonly space: SpaceGuard,
    private readonly removals: Removals,
  ) {
    this.index = join(dir, 'index');
    for (const path of [dir, this.index, ...guard]) this.identity.set(path, identityOf(path));
  }

  /** Freeing writes (tombstones, removals) may use half the reserve, so a full server still takes deletes. */
  private get freeingFloor(): number {
    return Math.floor(this.space.reserveBytes / 2);
  }

  /**
   * Opens the store in `dir`. Throws DATA_DIR_UNUSABLE naming the directory when it
   * cannot be written, DATA_DIR_DAMAGED when its index is damaged (unless `repair`).
   */
  static async open(dir: string, options: DiskOptions = {}): Promise<DiskPersistence> {
    try {
      for (const sub of ['index', 'blobs', 'staging']) await mkdir(join(dir, sub), { recursive: true });
      for (const sub of ['', 'index', 'blobs', 'staging']) await access(join(dir, sub), constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new CoopError('DATA_DIR_UNUSABLE', `data directory ${dir} cannot be written (${code}): ${(err as Error).message}`, {
        cause: err,
      });
    }
    const index = join(dir, 'index');
    const verdict = await checkIndex(index);
    if (!verdict.ok && !verdict.damaged) {
      throw new CoopError('DATA_DIR_UNUSABLE', `data directory ${dir}: cannot read its index ${index}: ${verdict.why}`);
    }
    if (!verdict.ok) await DiskPersistence.damagedIndex(dir, verdict.why, options);
    let db: RootDatabase<DiskRecord, string>;
    try {
      db = openLmdb<DiskRecord, string>({ path: index, compression: false });
    } catch (err) {
      const message = (err as Error).message;
      if (!LMDB_DAMAGE.test(message)) {
        throw new CoopError('DATA_DIR_UNUSABLE', `data directory ${dir}: cannot open its index ${index}: ${message}`, { cause: err });
      }
      await DiskPersistence.damagedIndex(dir, `LMDB: ${message}`, options);
      db = openLmdb<DiskRecord, string>({ path: index, compression: false });
    }
    const removals = new Removals();
    const space = new SpaceGuard({
      probe: async () => {
        const { bavail, bsize } = await statfs(dir);
        return bavail * bsize;
      },
      freeing: () => removals.settled(),
      reserveBytes: options.reserveBytes ?? 0,
      where: `data directory ${dir}`,
    });
    return new DiskPersistence(dir, db, options.guard ?? [], space, removals);
  }

  /** A damaged index: moved aside with `repair` (the ring refills this server), else DATA_DIR_DAMAGED. */
  private static async damagedIndex(dir: string, why: string, options: DiskOptions): Promise<void> {
    const index = join(dir, 'index');
    if (!options.repair) {
      throw new CoopError(
        'DATA_DIR_DAMAGED',
        `data directory ${dir}: its index ${index} is damaged (${why}); start with --repair to move it aside and refill this server from the ring`,
      );
    }
    const aside = `${index}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await rename(index, aside);
    await mkdir(index, { recursive: true });
    options.repaired?.(aside, why);
  }

  /**
   * Every folder the store writes to is there, writable, and still the one opened
   * (a cheap look, for health checks and the periodic check).
   */
  async check(): Promise<void> {
    this.checkIdentity([...this.identity.keys()]);
    for (const sub of ['index', 'blobs', 'staging']) await access(join(this.dir, sub), constants.W_OK);
  }

  /** Throws STORE_UNAVAILABLE, for good, once one of `paths` was removed or replaced. */
  private checkIdentity(paths: readonly string[]): void {
    if (this.lost) throw this.lost;
    const changed = paths.filter((path) => identityOf(path) !== this.identity.get(path));
    if (changed.length === 0) return;
    this.lost = new CoopError(
      'STORE_UNAVAILABLE',
      `data directory ${this.dir} was removed or replaced while this server ran (${changed.join(', ')} gone or changed): ` +
        'writes can no longer be kept',
    );
    throw this.lost;
  }

  async load(): Promise<{ records: Array<[string, StoredRecord]>; damaged: string[] }> {
    const records: Array<[string, StoredRecord]> = [];
    const damaged: string[] = [];
    const referenced = new Set<string>();
    const unchecked: Array<[string, DiskRecord]> = [];
    for (const key of this.db.getKeys()) {
      if (typeof key !== 'string') continue;
      let value: DiskRecord | undefined;
      try {
        value = this.db.get(key);
      } catch {
        value = undefined; // does not decode
      }
      const verdict = verifyRecord(key, value);
      if (value !== undefined && verdict !== 'damaged' && (await this.intact(value))) {
        const { blob, check, ...record } = value;
        records.push([key, record]);
        if (verdict === 'unchecked') unchecked.push([key, value]);
        if (blob) {
          referenced.add(blob);
          this.blobs.set(key, blob);
        }
      } else {
        damaged.push(key);
      }
    }
    // Issued together, so that LMDB commits them in one transaction rather than one each.
    // Without room, a damaged record stays on disk, dropped again at the next start.
    const room =
      damaged.length + unchecked.length === 0 ||
      (await this.space.claim(0, 'checking records at start', this.freeingFloor).then(
        () => true,
        (err: unknown) => {
          if (!isCoopError(err, 'NO_SPACE')) throw err;
          return false;
        },
      ));
    if (room)
      await Promise.all([
        ...damaged.map((name) => this.db.remove(name)),
        // Records written before checksums are kept, and get one now.
        ...unchecked.map(([name, value]) => this.db.put(name, { ...value, check: recordCheck(name, value) })),
      ]).catch(async (err: unknown) => {
        const error = await asStoreError(err, 'checking records at start', `data directory ${this.dir}`);
        if (!isCoopError(error, 'NO_SPACE')) throw error;
      });
    for (const file of await readdir(join(this.dir, 'blobs'))) {
      if (!referenced.has(file)) await rm(join(this.dir, 'blobs', file), { force: true });
    }
    await rm(join(this.dir, 'staging'), { recursive: true, force: true });
    await mkdir(join(this.dir, 'staging'), { recursive: true });
    return { records, damaged };
  }

  /**
   * Inline content must match its hash; a blob must be there with the right size
   * and content (read whole: start-up reads every stored byte once).
   */
  private async intact(record: DiskRecord): Promise<boolean> {
    if (record.content != null) {
      return sha1(Buffer.from(record.content, record.encoding === 'base64' ? 'base64' : 'utf8')) === record.hash;
    }
    if (!record.blob) return false;
    try {
      const path = this.blobPath(record.blob);
      return (await stat(path)).size === record.size && (await hashFile(path)) === record.hash;
    } catch {
      return false;
    }
  }

  async write(name: string, meta: ItemMeta, body: Body): Promise<void> {
    try {
      await this.commit(name, meta, body);
    } catch (err) {
      throw unwritable(this.dir, err);
    }
    // Committed into a directory removed meanwhile is not kept: not acknowledged. One stat per write: the
    // index, which LMDB writes into, goes with the directory; the lock file is looked at every second (check()).
    this.checkIdentity([this.index]);
  }

  private async commit(name: string, meta: ItemMeta, body: Body): Promise<void> {
    if (this.lost) throw this.lost;
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
        await staged.sync();
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
    record.check = recordCheck(name, record);
    try {
      await this.db.put(name, record);
    } catch (err) {
      if (record.blob) await rm(this.blobPath(record.blob), { force: true });
      throw await asStoreError(err, JSON.stringify(name), where);
    }
    if (record.blob) this.blobs.set(name, record.blob);
    else this.blobs.delete(name);
    if (previous && previous !== record.blob) this.removals.remove(this.blobPath(previous));
  }

  readInline(name: string): string | undefined {
    return this.db.get(name)?.content;
  }

  async openBlob(name: string, meta: ItemMeta): Promise<BlobReader> {
    const blob = this.blobs.get(name);
    if (!blob) return { read: async () => Buffer.alloc(0), close: async () => undefined };
    const path = this.blobPath(blob);
    let file: FileHandle;
    try {
      // Open, the file stays readable when a newer version replaces (and removes) it.
      file = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DamagedContent(name, `its blob ${path} is gone`, err);
      throw err;
    }
    return {
      read: async (offset, length) => {
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await file.read(buffer, 0, length, offset);
        if (bytesRead < length && offset + bytesRead < meta.size) {
          const { size } = await file.stat();
          throw new DamagedContent(name, `its blob ${path} ends at ${size} bytes, its record says ${meta.size}`);
        }
        return buffer.subarray(0, bytesRead);
      },
      close: () => file.close(),
    };
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
    if (blob) this.removals.remove(this.blobPath(blob));
  }

  async stage(size?: number, hashing = true): Promise<Staged> {
    if (this.lost) throw this.lost;
    // A content that cannot fit is refused before its first byte is taken.
    if (size !== undefined) await this.space.check(size, `content of ${size} bytes`);
    const path = join(this.dir, 'staging', randomBytes(8).toString('hex'));
    let file: FileHandle;
    try {
      file = await open(path, 'wx');
    } catch (err) {
      throw unwritable(this.dir, await asStoreError(err, 'content being received', `data directory ${this.dir}`));
    }
    return new FileStaged(path, file, this.space, hashing);
  }

  async settled(): Promise<void> {
    await this.removals.settled();
  }

  async close(): Promise<void> {
    await this.removals.settled();
    await this.db.close();
  }

  private blobPath(blob: string): string {
    return join(this.dir, 'blobs', blob);
  }
}
