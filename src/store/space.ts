/**
 * Room on the data directory's file system. LMDB must never meet a full
 * disk: lmdb-js overruns a heap buffer while reporting a failed page write
 * (its write error path formats more than the 100 bytes it allocates), so a
 * write that fails for want of space can bring the process down later. The
 * store therefore refuses, with NO_SPACE, any write that would leave less
 * than a reserve free, before it reaches LMDB or a blob file.
 *
 * Free space is asked of the file system (statfs) at most every
 * `refreshMs`, and what was claimed since is subtracted, so the busy path
 * takes no system call. Within `nearBytes` of the reserve it is asked before
 * every write, so that another program filling the disk is seen at once; once
 * writes no longer fit, at most every `retryMs`, which is also how writes
 * resume once space is freed.
 */
import { CoopError } from '../errors.js';

/** LMDB writes whole 4 KiB pages, copies the path from the root to a changed leaf, and keeps a free list. */
const PAGE = 4096;
const TREE_PAGES = 4;

/** The bytes a write of `bytes` of content may take on disk, LMDB's pages included. */
export function diskCost(bytes: number): number {
  return Math.ceil(bytes / PAGE) * PAGE + TREE_PAGES * PAGE;
}

/**
 * Whether `cost` more bytes fit: what the file system last said was free,
 * less what was claimed since, less the cost, must stay at or above `floor`.
 */
export function fits(free: number, claimedSince: number, cost: number, floor: number): boolean {
  return free - claimedSince - cost >= floor;
}

export interface SpaceOptions {
  /** Free bytes on the file system (statfs). */
  probe(): Promise<number>;
  /** Waits for space being freed in the background; whether any was (then free space is asked again before a refusal). */
  freeing?: () => Promise<boolean>;
  /** Bytes kept free: writes that would leave less are refused. */
  reserveBytes: number;
  /** Where the space is (for messages). */
  where: string;
  now?: () => number;
  /** Free space is asked afresh at least this often (ms). */
  refreshMs?: number;
  /** When writes do not fit, free space is asked again at most this often (ms). */
  retryMs?: number;
  /** Within this much of the reserve, free space is asked before every write (default 64 MiB). */
  nearBytes?: number;
}

export class SpaceGuard {
  private free = 0;
  private claimed = 0;
  private probedAt = -Infinity;
  private probing: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly refreshMs: number;
  private readonly retryMs: number;
  private readonly nearBytes: number;

  constructor(private readonly options: SpaceOptions) {
    this.now = options.now ?? (() => performance.now());
    this.refreshMs = options.refreshMs ?? 1000;
    this.retryMs = options.retryMs ?? 100;
    this.nearBytes = options.nearBytes ?? 64 * 1024 * 1024;
  }

  get reserveBytes(): number {
    return this.options.reserveBytes;
  }

  /**
   * Claims room for `bytes` of content (their disk cost), or throws NO_SPACE.
   * Tombstones and removals, which free space, pass `floor` lower than the
   * reserve, so a full server can still take deletes.
   */
  async claim(bytes: number, what: string, floor = this.options.reserveBytes): Promise<void> {
    const cost = diskCost(bytes);
    await this.ensure(cost, what, floor);
    this.claimed += cost;
  }

  /** Throws NO_SPACE when `bytes` would not fit now; claims nothing (the writes that follow claim their own). */
  check(bytes: number, what: string): Promise<void> {
    return this.ensure(diskCost(bytes), what, this.options.reserveBytes);
  }

  private async ensure(cost: number, what: string, floor: number): Promise<void> {
    const age = this.now() - this.probedAt;
    const fitsNow = fits(this.free, this.claimed, cost, floor);
    // Near the floor, another program filling the disk would not be seen for a whole refresh: asked at every write.
    const near = fitsNow && !fits(this.free, this.claimed, cost, floor + this.nearBytes);
    if (age >= this.refreshMs || near || (!fitsNow && age >= this.retryMs)) await this.refresh();
    // A file removed in the background (a replaced blob) may be what makes room: a write is not refused before it is gone.
    if (!fits(this.free, this.claimed, cost, floor) && (await this.options.freeing?.())) await this.refresh();
    if (!fits(this.free, this.claimed, cost, floor)) {
      throw new CoopError(
        'NO_SPACE',
        `no space for ${what} in ${this.options.where}: ${this.available} bytes free, ${floor} kept in reserve, ${cost} needed`,
      );
    }
  }

  /** Free bytes as last known, less what was claimed since (for the refusal's message). */
  get available(): number {
    return Math.max(0, this.free - this.claimed);
  }

  private refresh(): Promise<void> {
    this.probing ??= (async () => {
      const started = this.now();
      const claimedBefore = this.claimed;
      try {
        this.free = await this.options.probe();
      } catch {
        // Cannot tell (the directory is gone?): the write itself will say what is wrong.
        this.free = Infinity;
      }
      // What was claimed while asking is not in the answer yet; what was claimed before is, or soon will be.
      this.claimed -= claimedBefore;
      this.probedAt = started;
    })().finally(() => (this.probing = undefined));
    return this.probing;
  }
}
