/** Keeps everything in memory: the original's behaviour (`--memory`), and the default for tests. */
import { createHash, type Hash } from 'node:crypto';
import type { BlobReader, Body, ItemMeta, Persistence, Staged, StoredRecord } from './persistence.js';

class MemoryStaged implements Staged {
  readonly chunks: Buffer[] = [];
  size = 0;
  private readonly sha1: Hash | undefined;

  constructor(hashing: boolean) {
    this.sha1 = hashing ? createHash('sha1') : undefined;
  }

  async append(chunks: readonly Buffer[]): Promise<void> {
    for (const bytes of chunks) {
      this.chunks.push(Buffer.from(bytes)); // a copy: the caller's memory may be used again (Staged.append)
      this.size += bytes.length;
      this.sha1?.update(bytes);
    }
  }

  async hash(): Promise<string> {
    if (this.sha1) return this.sha1.copy().digest('hex');
    const sha1 = createHash('sha1');
    for (const bytes of this.chunks) sha1.update(bytes);
    return sha1.digest('hex');
  }

  async discard(): Promise<void> {
    this.chunks.length = 0;
  }
}

export class MemoryPersistence implements Persistence {
  private readonly inline = new Map<string, string>();
  private readonly blobs = new Map<string, Buffer>();

  async load(): Promise<{ records: Array<[string, StoredRecord]>; damaged: string[] }> {
    return { records: [], damaged: [] };
  }

  async write(name: string, meta: ItemMeta, body: Body): Promise<void> {
    if ('inline' in body) {
      this.writeInlineNow(name, meta, body.inline);
    } else {
      this.blobs.set(name, Buffer.concat((body.blob as MemoryStaged).chunks));
      this.inline.delete(name);
    }
  }

  writeInlineNow(name: string, _meta: ItemMeta, content: string): void {
    this.inline.set(name, content);
    this.blobs.delete(name);
  }

  readInline(name: string): string | undefined {
    return this.inline.get(name);
  }

  async openBlob(name: string): Promise<BlobReader> {
    const bytes = this.blobs.get(name) ?? Buffer.alloc(0);
    return { read: async (offset, length) => bytes.subarray(offset, offset + length), close: async () => undefined };
  }

  async remove(name: string): Promise<void> {
    this.inline.delete(name);
    this.blobs.delete(name);
  }

  async stage(_size?: number, hashing = true): Promise<Staged> {
    return new MemoryStaged(hashing);
  }

  async close(): Promise<void> {}
}
