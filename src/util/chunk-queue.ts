/** Bytes as they arrived, in chunks, taken off the front by length without copying them. */
export class ChunkQueue {
  private chunks: Buffer[] = [];
  size = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The first `length` bytes (at most what is held), as chunks; a chunk that straddles the end is cut, not copied. */
  take(length: number): Buffer[] {
    const taken: Buffer[] = [];
    let wanted = Math.min(length, this.size);
    this.size -= wanted;
    let at = 0;
    while (wanted > 0) {
      const chunk = this.chunks[at]!;
      if (chunk.length <= wanted) {
        taken.push(chunk);
        wanted -= chunk.length;
        at++;
      } else {
        taken.push(chunk.subarray(0, wanted));
        this.chunks[at] = chunk.subarray(wanted);
        wanted = 0;
      }
    }
    this.chunks = this.chunks.slice(at);
    return taken;
  }
}
