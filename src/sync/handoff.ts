/**
 * A ring that keeps R copies (`--replicas`): when the members change, items
 * change owners. A server that holds an item it no longer owns lets it go,
 * but only once every owner holds that version or a newer one (never before:
 * a join does not lose the copy the joiner has not pulled yet). The owners
 * pull what they lack by anti-entropy.
 */
import type { Address } from '../protocol/address.js';
import type { ClientOptions } from '../transport/ask.js';
import { listBuckets } from '../transport/peer-requests.js';
import type { ItemStore } from '../store/items.js';
import { bucketOf } from '../store/digest.js';
import { compareVersions, type Version } from '../store/version.js';
import { Placement } from '../ring/owners.js';

/** Whether `owner` holds `item` in `version` or a newer one (a LIST of its bucket); false when it cannot be asked. */
async function holds(owner: Address, item: string, version: Version, client: ClientOptions): Promise<boolean> {
  const entries = await listBuckets(owner, [bucketOf(item)], client).catch(() => []);
  const theirs = entries.find((entry) => entry.item === item);
  return theirs !== undefined && compareVersions(theirs.version, version) >= 0;
}

/**
 * Lets go of the copies this server holds and does not own, once their owners
 * hold them. Resolves with how many it let go, and whether it holds no such
 * copy any more (`settled`: false when owners lack some, or it was stopped).
 */
export async function releaseUnowned(
  store: ItemStore,
  self: Address,
  placement: Placement,
  client: ClientOptions,
  stopped: () => boolean,
): Promise<{ released: number; settled: boolean }> {
  let released = 0;
  let settled = true;
  for (const [item, meta] of [...store.entries()]) {
    if (stopped()) return { released, settled: false };
    const owners = placement.owners(item);
    if (owners.length === 0 || owners.includes(self)) continue;
    let everywhere = true;
    for (const owner of owners) {
      if (!(await holds(owner, item, meta.version, client))) {
        everywhere = false;
        break;
      }
    }
    if (everywhere && (await store.release(item, meta))) released++;
    else settled = false;
  }
  return { released, settled };
}

/** Sync passes under an unchanged placement, after one that left nothing unowned, before the next looks again. */
export const RECHECK_PASSES = 10;

/**
 * releaseUnowned for every sync pass, which reads every held item's owners
 * only when there may be something to let go: after the placement changed,
 * while copies are still held for other owners, and every RECHECK_PASSES
 * passes besides (a write sent along by a server whose view of the ring still
 * differed can leave a copy here). Resolves with how many it let go.
 */
export function releaser(
  store: ItemStore,
  self: Address,
  placement: () => Placement,
  client: () => ClientOptions,
  stopped: () => boolean,
): () => Promise<number> {
  let clean: Placement | undefined;
  let skipped = 0;
  return async () => {
    const now = placement();
    if (now === clean && ++skipped < RECHECK_PASSES) return 0;
    skipped = 0;
    const { released, settled } = await releaseUnowned(store, self, now, client(), stopped);
    clean = settled ? now : undefined;
    return released;
  };
}

export interface HandOverDeps {
  store: ItemStore;
  self: Address;
  /** The ring's members with this server, before it leaves. */
  members: readonly Address[];
  replicas: number;
  client: ClientOptions;
  /** Asks `to` to pull from this server now (a HANDOVER message). */
  ask(to: Address): Promise<void>;
  /** Gives up at this time (ms): a leave must end. */
  deadline: number;
  now(): number;
  wait(ms: number): Promise<void>;
}

/**
 * A graceful leave with `--replicas`: every member that owns, once this server
 * is gone, an item it holds is asked to pull (HANDOVER), again every half
 * second, until each holds its items in this version or a newer one, or the
 * deadline comes. Resolves with how many copies were still missing then.
 */
export async function handOver(deps: HandOverDeps): Promise<number> {
  const before = new Placement(deps.members, deps.replicas);
  const after = new Placement(
    deps.members.filter((member) => member !== deps.self),
    deps.replicas,
  );
  let pending = [...deps.store.entries()].flatMap(([item, meta]) => {
    const was = before.owners(item);
    return after
      .owners(item)
      .filter((owner) => !was.includes(owner))
      .map((owner) => ({ item, owner, version: meta.version }));
  });
  while (pending.length > 0 && deps.now() < deps.deadline) {
    await Promise.all([...new Set(pending.map((copy) => copy.owner))].map((owner) => deps.ask(owner).catch(() => undefined)));
    await deps.wait(500);
    const still: typeof pending = [];
    for (const copy of pending) if (!(await holds(copy.owner, copy.item, copy.version, deps.client))) still.push(copy);
    pending = still;
  }
  return pending.length;
}
