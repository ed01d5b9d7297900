/**
 * Items on disk, in a data directory:
 *   index/    an LMDB database: name -> record (version, flags, and small content inline)
 *   blobs/    large contents as raw bytes, one file per stored version
 *   staging/  contents being received, part by part
 * A record is written in one LMDB transaction, so an item is never torn; a
 * blob is complete and renamed into blobs/ before the record that points at it
 * is written. Item names never become file paths: blob files are named by a
 * random id. At start, blobs no record points at and stale staging files are removed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, constants, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { metaFields, type Body, type ItemMeta, type Persistence, type Staged, type StoredRecord } from './items.js';
import { sha1 } from './hash.js';

interface DiskRecord extends StoredRecord {
  blob?: string;
}

class FileStaged implements Staged {
  size = 0;
  private readonly sha1 = createHash('sha1');

  constructor(
    readonly path: string,
    readonly file: FileHandle,
  ) {}

  async append(bytes: Buffer): Promise<void> {
    await this.file.write(bytes, 0, bytes.length, null);
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
  ) {}

  static async open(dir: string): Promise<DiskPersistence> {
    for (const sub of ['index', 'blobs', 'staging']) await mkdir(join(dir, sub), { recursive: true });
    const db = openLmdb<DiskRecord, string>({ path: join(dir, 'index'), compression: false });
    return new DiskPersistence(dir, db);
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
    for (const name of damaged) await this.db.remove(name);
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
    const previous = this.blobs.get(name);
    let record: DiskRecord;
    if ('inline' in body) {
      record = { ...metaFields(meta), content: body.inline };
    } else {
      const staged = body.blob as FileStaged;
      await staged.file.sync();
      await staged.file.close();
      const blob = `${meta.version.clock}-${randomBytes(8).toString('hex')}`;
      await rename(staged.path, this.blobPath(blob));
      await syncDirectory(join(this.dir, 'blobs'));
      record = { ...metaFields(meta), blob };
    }
    await this.db.put(name, record);
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
    await this.db.remove(name);
    this.blobs.delete(name);
    if (blob) await rm(this.blobPath(blob), { force: true });
  }

  async stage(): Promise<Staged> {
    const path = join(this.dir, 'staging', randomBytes(8).toString('hex'));
    return new FileStaged(path, await open(path, 'wx'));
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private blobPath(blob: string): string {
    return join(this.dir, 'blobs', blob);
  }
}
