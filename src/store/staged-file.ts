/** Content being received part by part, into a file under staging/, hashed as it comes. */
import { createHash } from 'node:crypto';
import { rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Staged } from './persistence.js';
import type { SpaceGuard } from './space.js';
import { asStoreError, unwritable } from './disk-errors.js';

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
      throw unwritable(
        dirname(dirname(this.path)),
        await asStoreError(err, `${bytes.length} bytes of content being received (${written} written)`, this.path),
      );
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
