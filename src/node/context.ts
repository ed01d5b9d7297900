/**
 * The handlers' context (handlers/types.ts) over a started server's parts:
 * what each family of handlers may see and do, and nothing of sockets.
 */
import type { Address } from '../protocol/address.js';
import type { RingStatus } from '../protocol/status.js';
import type { GetMessage, RangeRequest } from '../protocol/messages.js';
import type { RingView } from '../ring/ring.js';
import type { RingKeeper } from '../ring/keeper.js';
import type { ExtensionPeers } from '../ring/extension-peers.js';
import type { ItemStore } from '../store/items.js';
import type { Uploads } from '../store/uploads.js';
import { VersionClock } from '../store/version.js';
import { pullItem } from '../sync/anti-entropy.js';
import { ask, type ClientOptions } from '../transport/ask.js';
import type { HandlerContext, RoundMessage, Waiting } from '../handlers/handlers.js';
import type { PendingRounds, SeenRounds } from '../handlers/rounds.js';
import { EarlyCommits } from '../handlers/commits.js';
import type { Log } from '../log/logger.js';
import { VERSION } from '../version.js';
import type { Forwarder } from './forwarder.js';
import type { LocalFailures } from './local-failures.js';
import type { NodeMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import { selfFigures } from './status.js';
import type { Placement } from '../ring/owners.js';
import type { AntiEntropy } from '../sync/anti-entropy.js';
import { partBlocks } from '../transport/part-blocks.js';

export interface ContextParts {
  options: ResolvedOptions;
  /** Copies of each item (`--replicas`); undefined: every server holds every item. */
  replicas: number | undefined;
  log: Log;
  metrics: Pick<NodeMetrics, 'roundsResent'>;
  failures: Pick<LocalFailures, 'noSpace'>;
  peers: ExtensionPeers;
  lastHeard: Map<Address, number>;
  rounds: PendingRounds<Waiting>;
  seen: SeenRounds;
  now(): number;
  joining(): boolean;
  leaving(): boolean;
  newRoundId(): string;
  ringChanged(): void;
  ringStatus(): Promise<RingStatus>;
  client(): ClientOptions;
}

export function handlerContext(
  parts: ContextParts,
  running: {
    view: RingView;
    store: ItemStore;
    uploads: Uploads;
    keeper: RingKeeper;
    forwarder: Forwarder;
    sync: AntiEntropy;
    /** Where items live (`--replicas`); undefined when every server holds every item. */
    placement: (() => Placement) | undefined;
  },
): HandlerContext {
  const { view, store, uploads, keeper, forwarder, sync, placement: ownersNow } = running;
  const { options, now } = parts;
  // Past every version held (a restart does not start from the wall clock) and every one stored later (rounds, pulls, sync).
  const clock = new VersionClock(view.self);
  store.watchVersions((version) => clock.observe(version));
  /** What `server` holds of `item` (GET local): whole, or the range `part`. */
  const readHeld = async (server: Address, item: string, part: RangeRequest | undefined, extra: Partial<GetMessage> = {}) =>
    (await ask(server, { type: 'GET', data: item, part, local: true, ...extra }, 'GET', parts.client())).data;
  return {
    self: view.self,
    ring: view,
    store,
    log: parts.log,
    waiting: parts.rounds,
    seen: parts.seen,
    clock,
    uploads,
    roundTimeoutMs: options.roundTimeoutMs,
    replicas: parts.replicas,
    wholeLimit: options.maxMessageBytes,
    joining: parts.joining,
    leaving: parts.leaving,
    now,
    newRoundId: parts.newRoundId,
    forward: (message: RoundMessage, received?: string) => forwarder.forward(message, received),
    letGo: (bytes) => partBlocks.give(bytes),
    announceRing: () => keeper.announce(),
    ringChanged: parts.ringChanged,
    resent: (why) => parts.metrics.roundsResent.inc({ reason: why }),
    peers: parts.peers,
    commits: new EarlyCommits(),
    absorb: (members) => keeper.absorb(members),
    answerPing: (ping) => keeper.answer(ping),
    probeFor: (target) =>
      keeper.ping(target, options.probeTimeoutMs).then(
        () => true,
        () => false,
      ),
    syncWith: (peer) => void sync.syncNow(peer),
    ownedBy: (peer) => {
      const placement = ownersNow?.();
      return placement && ((item) => placement.owns(peer, item));
    },
    placement: () => ownersNow?.(),
    readOwner: (owner, item, part) => readHeld(owner, item, part, { attach: part ? true : undefined, extended: true }),
    pull: (holder, item, versionless) => pullItem(store, holder, item, now(), parts.client(), versionless),
    readFrom: (holder, item, part) => readHeld(holder, item, part),
    noSpace: (err) => parts.failures.noSpace(err),
    heard: (address) => {
      if (view.has(address)) parts.lastHeard.set(address, Date.now());
    },
    figures: () => selfFigures(view, store, VERSION),
    ringStatus: parts.ringStatus,
  };
}
