/** Content being received part by part, into a file under staging/, hashed as it comes (unless its writer's hash is taken). */
import { createHash, type Hash } from 'node:crypto';
import { rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Staged } from './persistence.js';
import type { SpaceGuard } from './space.js';
import { asStoreError, unwritable } from './disk-errors.js';
import { chunksLength } from '../protocol/content.js';
import { hashFile } from './hash.js';

/** What is left of `chunks` once their first `taken` bytes are written. */
function after(chunks: readonly Buffer[], taken: number): readonly Buffer[] {
  let at = 0;
  while (at < chunks.length && taken >= chunks[at]!.length) taken -= chunks[at++]!.length;
  if (at === chunks.length) return [];
  return [chunks[at]!.subarray(taken), ...chunks.slice(at + 1)];
}

/**
 * What is written is flushed to the disk every this many bytes while more
 * arrives (as RocksDB's bytes_per_sync): the commit's fsync then has little
 * left to write, where it would stall a large item's last part on every
 * server in turn, and a disk found full at write-back is told while receiving.
 */
export const FLUSH_BYTES = 16 * 1024 * 1024;

export class FileStaged implements Staged {
  size = 0;
  private readonly sha1: Hash | undefined;
  /** Bytes covered by the flushes started so far. */
  private flushedTo = 0;
  /** The flushes in the background, one after another; a failure is kept for the next append or the commit. */
  private flushing: Promise<void> = Promise.resolve();
  private flushFailure: unknown;

  constructor(
    readonly path: string,
    readonly file: FileHandle,
    private readonly space: SpaceGuard,
    hashing = true,
  ) {
    this.sha1 = hashing ? createHash('sha1') : undefined;
  }

  /** All of the chunks, in one write where the system takes them whole, or an error (NO_SPACE when the disk is full): a short write is never taken for a whole one. */
  async append(chunks: readonly Buffer[]): Promise<void> {
    const length = chunksLength(chunks);
    await this.space.claim(length, 'content being received');
    let written = 0;
    try {
      if (this.flushFailure !== undefined) throw this.flushFailure;
      let rest = chunks;
      while (rest.length > 0) {
        const { bytesWritten } = await this.file.writev(rest as Buffer[]);
        if (bytesWritten <= 0) throw Object.assign(new Error('the file system took no more bytes'), { code: 'ENOSPC' });
        written += bytesWritten;
        rest = after(rest, bytesWritten);
      }
    } catch (err) {
      throw unwritable(
        dirname(dirname(this.path)),
        await asStoreError(err, `${length} bytes of content being received (${written} written)`, this.path),
      );
    }
    this.size += length;
    if (this.sha1) for (const chunk of chunks) this.sha1.update(chunk);
    if (this.size - this.flushedTo >= FLUSH_BYTES) this.flushInBackground();
  }

  private flushInBackground(): void {
    this.flushedTo = this.size;
    this.flushing = this.flushing
      .then(() => this.file.datasync())
      .catch((err: unknown) => {
        this.flushFailure ??= err;
      });
  }

  /** Every byte appended is on the disk: before the content is committed. */
  async sync(): Promise<void> {
    await this.flushing;
    if (this.flushFailure !== undefined) throw this.flushFailure;
    await this.file.sync();
  }

  async hash(): Promise<string> {
    return this.sha1 ? this.sha1.copy().digest('hex') : hashFile(this.path);
  }

  async discard(): Promise<void> {
    await this.flushing;
    await this.file.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}
