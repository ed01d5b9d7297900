/**
 * Memory for the bytes of parts read off peer streams, used again once a
 * part is written here and passed on. Node gives every read of a socket a
 * fresh buffer; at hundreds of MB/s through a relay, mapping that fresh
 * memory and collecting it again cost more than writing the bytes did. A
 * part is handed out as a view of a block of BLOCK_BYTES; `give` takes it
 * back, after which nothing may read it (forwarded.ts gives a part back only
 * once its write and its sending on are over). A part never given back is
 * simply collected.
 */
/** The largest part served from a block: the parts of an HTTP upload (1 MiB) and of webclient (256 KiB). */
export const BLOCK_BYTES = 1024 * 1024;
/** Free blocks kept for reuse, at most: a window of parts in flight. */
const KEPT_BLOCKS = 16;

export class PartBlocks {
  private readonly free: Buffer[] = [];
  /** Each part handed out and not given back, with its block. */
  private readonly out = new WeakMap<Buffer, Buffer>();

  constructor(
    private readonly blockBytes = BLOCK_BYTES,
    private readonly kept = KEPT_BLOCKS,
  ) {}

  /** Room for a part of `length` bytes (its contents undefined until written): a view of a block, or its own buffer when larger. */
  take(length: number): Buffer {
    if (length === 0 || length > this.blockBytes) return Buffer.allocUnsafeSlow(length);
    const block = this.free.pop() ?? Buffer.allocUnsafeSlow(this.blockBytes);
    const part = block.subarray(0, length);
    this.out.set(part, block);
    return part;
  }

  /** Nothing reads `parts` any more: their blocks may hold others. A buffer not handed out here, or given back already, is left alone. */
  give(parts: readonly Buffer[]): void {
    for (const part of parts) {
      const block = this.out.get(part);
      if (block === undefined) continue;
      this.out.delete(part);
      if (this.free.length < this.kept) this.free.push(block);
    }
  }

  /** Free blocks held for reuse. */
  get freeBlocks(): number {
    return this.free.length;
  }
}

/** The process's blocks: filled by the listener's peer streams, given back by the handlers that pass parts on. */
export const partBlocks = new PartBlocks();
