/**
 * Files removed in the background. Removing a replaced blob of 200 MB takes
 * tens of milliseconds; awaited inside the commit, it held up the write's
 * answer, and in a ring the last part of a large item on every server in
 * turn. A removal cut short by a crash is done at the next start, which
 * removes every blob no record points at.
 */
import { rm } from 'node:fs/promises';

export class Removals {
  private readonly pending = new Set<Promise<void>>();

  remove(path: string): void {
    // One that fails (the directory gone, say) is left to the next start's sweep.
    const removal: Promise<void> = rm(path, { force: true })
      .catch(() => undefined)
      .finally(() => this.pending.delete(removal));
    this.pending.add(removal);
  }

  /** Waits for the removals under way; whether there were any (space may have been freed). */
  async settled(): Promise<boolean> {
    if (this.pending.size === 0) return false;
    await Promise.all(this.pending);
    return true;
  }
}
