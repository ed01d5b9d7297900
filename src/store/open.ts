/**
 * A server's store, opened and watched: in memory, or in its data directory
 * under that directory's lock (one server per directory). While it runs, the
 * directory is looked at every second besides at every write: removed or
 * replaced, the store can no longer keep what the server would acknowledge,
 * and the server is told once (it leaves the ring and stops). A directory
 * that is only unwritable (read-only) is not lost: reads go on, writes get
 * STORE_UNAVAILABLE and health says why.
 */
import { CoopError, isCoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import type { Log } from '../log/logger.js';
import { ItemStore } from './items.js';
import { MemoryPersistence } from './memory.js';
import { DiskPersistence } from './durable.js';
import { DataDirLock, describeHolder } from './lock.js';

/** How often the data directory is checked (removed, replaced, read-only) besides at every write. */
const STORE_CHECK_MS = 1000;

export interface StoreOptions {
  /** In memory when undefined; a function names the directory after the server's address. */
  dataDir: string | ((self: Address) => string) | undefined;
  self: Address;
  repair: boolean | undefined;
  /** Space left free on the disk: writes that would take it are refused. */
  reserveBytes: number;
  log: Log;
  /** Whether the server still runs: a store found lost after it stopped is nobody's concern. */
  running(): boolean;
  /** The store can no longer keep writes (STORE_UNAVAILABLE): called once. */
  lost(err: CoopError): Promise<void>;
}

export class OpenStore {
  private timer: NodeJS.Timeout | undefined;
  private lost = false;

  private constructor(
    readonly store: ItemStore,
    /** Held while the store is open; none in memory. */
    private readonly lock: DataDirLock | undefined,
    private readonly options: StoreOptions,
  ) {}

  static async open(options: StoreOptions): Promise<OpenStore> {
    const { dataDir, self, log } = options;
    if (dataDir === undefined) return new OpenStore(await ItemStore.open(new MemoryPersistence()), undefined, options);
    const dir = typeof dataDir === 'function' ? dataDir(self) : dataDir;
    // Taken before anything in the directory is touched: another server's staging files and index are its own.
    let lock: DataDirLock;
    try {
      lock = await DataDirLock.acquire(dir, self);
    } catch (err) {
      if (isCoopError(err)) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? 'an error';
      throw new CoopError('DATA_DIR_UNUSABLE', `data directory ${dir} cannot be written (${code}): ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (lock.tookOver) {
      const { holder, why } = lock.tookOver;
      log.warn(`took over the lock of data directory ${dir}${holder ? ` from ${describeHolder(holder)}` : ''}: ${why}`);
    }
    let store: ItemStore;
    try {
      const persistence = await DiskPersistence.open(dir, {
        repair: options.repair,
        reserveBytes: options.reserveBytes,
        guard: [lock.path],
        repaired: (aside, why) =>
          log.warn(`data directory ${dir}: its damaged index (${why}) was moved to ${aside}; this server is refilled from the ring`),
      });
      store = await ItemStore.open(persistence);
    } catch (err) {
      await lock.release();
      throw err;
    }
    store.onDamaged = (err) => log.warn(`${err.message}; dropped, to be fetched again from the ring`);
    log.info(`data directory ${dir}: ${store.size} items`);
    if (store.damaged.length > 0) {
      log.warn(
        `${store.damaged.length} damaged items dropped (${store.damaged.slice(0, 5).join(', ')}); they will be fetched again from the ring`,
      );
    }
    return new OpenStore(store, lock, options);
  }

  /** Starts the periodic look at the data directory (none for a store in memory). */
  watch(): void {
    if (this.lock !== undefined) this.timer = setInterval(() => void this.check(), STORE_CHECK_MS).unref();
  }

  unwatch(): void {
    clearInterval(this.timer);
  }

  /** Looks at the data directory now: a STORE_UNAVAILABLE is told once (StoreOptions.lost). */
  async check(): Promise<void> {
    if (!this.options.running() || this.lost) return;
    try {
      await this.store.check();
    } catch (err) {
      if (!isCoopError(err, 'STORE_UNAVAILABLE') || this.lost || !this.options.running()) return;
      this.lost = true;
      await this.options.lost(err);
    }
  }

  /** Closes the store, then gives up the directory's lock. */
  async close(): Promise<void> {
    await this.store.close();
    await this.lock?.release();
  }
}
