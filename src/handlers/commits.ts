/**
 * The commits of upload's last parts that this server started while passing
 * the part on (its `early` lap, forwarded.ts), for the second lap to wait
 * for. Kept after it asked (a copy of it may come again): only the newest
 * ones are kept, far more than are ever in flight.
 */
import type { ItemData } from '../protocol/messages.js';

export class EarlyCommits {
  /** By commitKey: resolves true when there was no room for the item here (NO_SPACE). */
  private readonly commits = new Map<string, Promise<boolean>>();

  constructor(private readonly capacity = 1024) {}

  add(key: string, committing: Promise<boolean>): void {
    // A first lap sent again came by while the first copy's commit runs: the second lap waits for both.
    const before = this.commits.get(key);
    this.commits.delete(key);
    this.commits.set(key, before ? Promise.all([before, committing]).then(([a, b]) => a || b) : committing);
    if (this.commits.size > this.capacity) this.commits.delete(this.commits.keys().next().value!);
  }

  /** The commit under `key`; undefined when this server started none (it did not see the first lap). */
  of(key: string): Promise<boolean> | undefined {
    return this.commits.get(key);
  }
}

/** What names one upload's commit: its key and version; undefined for a write that is not a versioned part. */
export function commitKey(data: ItemData): string | undefined {
  const { part, version } = data;
  return part && version && `${part.upload} ${version.clock} ${version.server}`;
}
