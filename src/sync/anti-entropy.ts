/**
 * State transfer and anti-entropy. Now and then (and right after joining) a
 * server asks a peer that speaks our extensions for its digest (256 bucket
 * values over names and versions), lists the buckets that differ, and pulls
 * every entry the peer holds in a newer version: tombstones directly, items
 * range by range into staging, so memory stays bounded whatever their size.
 * Pulling only, from peers chosen at random, every copy reaches every server.
 * A pass with a slow peer does not hold up passes with the others.
 */
import type { Address } from '../protocol/address.js';
import type { Log } from '../log/logger.js';
import { fetchParts, getDigest, listBuckets } from '../transport/peer-requests.js';
import { PART_BYTES } from '../protocol/content.js';
import type { ClientOptions } from '../transport/ask.js';
import type { ItemStore, Staged } from '../store/items.js';
import { differingBuckets, digestOf } from '../store/digest.js';
import { compareVersions, unversioned, type Version } from '../store/version.js';
import { localErrorCode } from '../transport/local-errors.js';
import { isCoopError, type CoopError } from '../errors.js';

export interface SyncOptions {
  store: ItemStore;
  log: Log;
  /** Peers that speak our extensions and are in the ring now. */
  peers(): Address[];
  now(): number;
  intervalMs: number;
  tombstoneTtlMs: number;
  client: ClientOptions;
  /** Called after every pass, for upload expiry and the like. */
  onTick?: () => Promise<void>;
  /** `--replicas`: whether this server owns `item` (only those are pulled). Absent: it holds every item. */
  owns?(item: string): boolean;
  /**
   * `--replicas`: this server's address, and whether an item is owned by both it and `peer`: only those
   * are compared (the peer adds what it holds for this server without owning it, which shows as a difference).
   */
  shared?: { self: Address; with(peer: Address): (item: string) => boolean };
  /** `--replicas`: lets go of copies this server no longer owns once their owners hold them (handoff.ts); how many. */
  release?(): Promise<number>;
  /** A pass failed for a reason of this server's own (out of descriptors...): reported there instead of warned here. */
  localError?(code: string, what: string): void;
  /** A pass stopped for want of space here (NO_SPACE): reported there, where such warnings are spaced out. */
  noSpace?(err: CoopError): void;
}

export interface SyncResult {
  peer: Address;
  pulled: number;
  deleted: number;
}

/**
 * Pulls one item from `peer` into the store. Resolves true when a newer copy
 * was stored. A copy without a version (from an original server) gets
 * `versionless()`, by default the oldest of versions.
 */
export async function pullItem(
  store: ItemStore,
  peer: Address,
  item: string,
  now: number,
  client: ClientOptions,
  versionless: () => Version = () => unversioned(peer),
): Promise<boolean> {
  let staged: Staged | undefined;
  let whole: Buffer | undefined;
  try {
    const info = await fetchParts(
      peer,
      item,
      async (bytes, part) => {
        if (staged === undefined && whole === undefined && bytes.length === part.size) {
          whole = bytes;
          return;
        }
        staged ??= await store.stage();
        await staged.append([bytes]);
      },
      { ...client, local: true, partBytes: PART_BYTES },
    );
    if (!info) return false;
    const version: Version = info.version ?? versionless();
    if (whole) {
      const content = whole.toString(info.encoding === 'base64' ? 'base64' : 'utf8');
      return await store.apply(item, { version, encoding: info.encoding, content }, now);
    }
    if (!staged) return false;
    const meta = { version, deleted: false, encoding: info.encoding, size: info.size, storedAt: now, hash: await staged.hash() };
    const applied = await store.applyStaged(item, meta, staged);
    staged = undefined;
    return applied;
  } finally {
    await staged?.discard();
  }
}

/**
 * At most this many passes at once, each with another peer: a pass with a peer behind a lossy link can
 * take tens of seconds (every request a new connection, every lost SYN a second or more), and repairs
 * with the other peers go on meanwhile.
 */
export const MAX_PASSES = 3;

export class AntiEntropy {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<Address, Promise<SyncResult | undefined>>();
  private releasing: Promise<unknown> | undefined;
  private stopped = false;
  /** How many passes ran and what they repaired, for logs and tests. */
  readonly totals = { passes: 0, pulled: 0, deleted: 0 };

  constructor(private readonly options: SyncOptions) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** How many passes are running now. */
  get passesRunning(): number {
    return this.running.size;
  }

  /**
   * Runs a pass now with `peer`, or with one chosen at random among those not in a pass. A pass already
   * running with that peer is the one returned. MAX_PASSES bounds the passes chosen at random (then, or
   * with no peer free, one running is returned); a pass asked for with a given peer always runs.
   */
  syncNow(peer?: Address): Promise<SyncResult | undefined> {
    const chosen = peer ?? this.choose();
    if (chosen === undefined) return this.running.values().next().value ?? Promise.resolve(undefined);
    let pass = this.running.get(chosen);
    if (!pass) {
      pass = this.pass(chosen).finally(() => this.running.delete(chosen));
      this.running.set(chosen, pass);
    }
    return pass;
  }

  private choose(): Address | undefined {
    if (this.running.size >= MAX_PASSES) return undefined;
    const free = this.options.peers().filter((peer) => !this.running.has(peer));
    return free[Math.floor(Math.random() * free.length)];
  }

  /**
   * Every interval: tombstone collection and the `onTick` chores, then a pass with a free peer. The next
   * interval starts once the chores are over, so they never overlap; a slow pass does not hold it up.
   */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.chores().finally(() => {
        if (!this.stopped) void this.syncNow();
        this.schedule();
      });
    }, this.options.intervalMs);
  }

  private chores(): Promise<unknown> {
    return this.guarded(async () => {
      await this.options.store.collectTombstones(this.options.now() - this.options.tombstoneTtlMs);
      await this.options.onTick?.();
    });
  }

  private async pass(peer: Address): Promise<SyncResult | undefined> {
    const { log } = this.options;
    return this.guarded(async () => {
      if (this.stopped) return undefined;
      const result = await this.syncWith(peer);
      await this.release();
      this.totals.passes++;
      this.totals.pulled += result.pulled;
      this.totals.deleted += result.deleted;
      if (result.pulled + result.deleted > 0) {
        log.info(`sync with ${peer}: pulled ${result.pulled} items, ${result.deleted} deletions`);
      }
      return result;
    });
  }

  /** `--replicas`: lets go of what others own now, one release at a time whatever the passes. */
  private release(): Promise<unknown> {
    const release = this.options.release;
    if (!release) return Promise.resolve();
    this.releasing ??= this.guarded(async () => {
      const released = await release();
      if (released) this.options.log.info(`let go of ${released} items other servers own now`);
    }).finally(() => (this.releasing = undefined));
    return this.releasing;
  }

  /** Runs `work`; its failure is reported (where this server's own failures go, or warned) and comes out as undefined. */
  private async guarded<T>(work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (err) {
      if (this.stopped) return undefined;
      const local = localErrorCode(err);
      if (isCoopError(err, 'NO_SPACE') && this.options.noSpace) this.options.noSpace(err);
      else if (local !== undefined && this.options.localError) this.options.localError(local, 'sync');
      else this.options.log.warn(`sync failed: ${(err as Error).message}`);
      return undefined;
    }
  }

  private async syncWith(peer: Address): Promise<SyncResult> {
    const { store, now, client } = this.options;
    const result: SyncResult = { peer, pulled: 0, deleted: 0 };
    const shared = this.options.shared;
    const both = shared?.with(peer);
    const theirs = await getDigest(peer, client, shared?.self);
    const buckets = both ? differingBuckets(digestOf(store.entries(), both), theirs) : store.digest.differing(theirs);
    if (buckets.length === 0) return result;
    for (const entry of await listBuckets(peer, buckets, client, shared?.self)) {
      if (this.stopped) break;
      if (this.options.owns && !this.options.owns(entry.item)) continue;
      const held = store.head(entry.item);
      if (held && compareVersions(entry.version, held.version) <= 0) continue;
      if (entry.deleted) {
        // A tombstone older than the TTL deletes nothing here: taking it would only
        // restart its age, and servers would hand it back and forth for ever.
        if (!held && entry.version.clock < now() - this.options.tombstoneTtlMs) continue;
        if (await store.apply(entry.item, { version: entry.version, deleted: true, content: '' }, now())) result.deleted++;
      } else if (await pullItem(store, peer, entry.item, now(), client)) {
        result.pulled++;
      }
    }
    return result;
  }
}
