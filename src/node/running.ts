/**
 * What a started server runs, and how those parts are wired to one another:
 * built at once by start() (node.ts) once the server is bound and its store
 * open, so none of them is ever missing. The parts call each other only once
 * started, which is what lets each be built before the next.
 */
import type { EventEmitter } from 'node:events';
import type { Address } from '../protocol/address.js';
import { decodeFigures } from '../protocol/status.js';
import type { Log } from '../log/logger.js';
import type { RingView } from '../ring/ring.js';
import { RingKeeper } from '../ring/keeper.js';
import type { SeedGreeter } from '../ring/seed-greeter.js';
import type { ItemStore } from '../store/items.js';
import type { OpenStore } from '../store/open.js';
import { Uploads } from '../store/uploads.js';
import { AntiEntropy } from '../sync/anti-entropy.js';
import type { HandlerContext, RoundMessage, Waiting } from '../handlers/handlers.js';
import type { PendingRounds } from '../handlers/rounds.js';
import { ask, type ClientOptions } from '../client/client.js';
import { Forwarder } from './forwarder.js';
import { FiguresGatherer } from './gather.js';
import type { LocalFailures } from './local-failures.js';
import type { NodeMetrics } from './metrics.js';
import type { NodeEvents, PeerTransport, ResolvedOptions } from './options.js';

/** Uploads that have not moved for this long are given up. */
const UPLOAD_IDLE_MS = 10 * 60 * 1000;

export interface Running {
  view: RingView;
  /** The store with its data directory's lock and watch. */
  data: OpenStore;
  store: ItemStore;
  uploads: Uploads;
  sync: AntiEntropy;
  /** What the handlers use. */
  context: HandlerContext;
  keeper: RingKeeper;
  forwarder: Forwarder;
  gatherer: FiguresGatherer;
  /** Greets the seeds not in the ring: once joined through one. */
  seedGreeter?: SeedGreeter;
}

/** What the running parts share with the server that builds them. */
export interface ServerParts {
  options: ResolvedOptions;
  transport: PeerTransport;
  log: Log;
  metrics: NodeMetrics;
  failures: LocalFailures;
  /** Peers that have shown they speak our extensions. */
  modernPeers: Set<Address>;
  /** When each peer was last heard from (ms). */
  lastHeard: Map<Address, number>;
  /** The rounds this server created and waits on. */
  rounds: PendingRounds<Waiting>;
  /** The server: it tells of traffic. */
  events: EventEmitter<NodeEvents>;
  now(): number;
  running(): boolean;
  leaving(): boolean;
  /** The view changed: print it, tell listeners, greet, resend. */
  ringChanged(): void;
  /** A round of ours that completes without leaving this server: handled as if it had come back. */
  complete(message: RoundMessage): void;
  /** The members other than this server that speak our extensions. */
  modernMembers(): Address[];
  /** How this server asks its peers (through its transport, with its tag and token). */
  client(): ClientOptions;
  /** The handlers' context over this view, store and uploads. */
  context(view: RingView, store: ItemStore, uploads: Uploads): HandlerContext;
}

export function assemble(parts: ServerParts, view: RingView, data: OpenStore): Running {
  const store = data.store;
  const uploads = new Uploads(store);
  const sync = createAntiEntropy(parts, store, uploads);
  const context = parts.context(view, store, uploads);
  // The keeper and the forwarder call each other; neither does before start.
  const keeper: RingKeeper = createKeeper(parts, view, context, {
    forward: (message) => void forwarder.forward(message),
    syncNow: () => void sync.syncNow(),
    answered: (address) => forwarder.reachableAgain(address),
  });
  const forwarder: Forwarder = createForwarder(parts, view, keeper);
  return { view, data, store, uploads, sync, context, keeper, forwarder, gatherer: createGatherer(parts) };
}

function createAntiEntropy(parts: ServerParts, store: ItemStore, uploads: Uploads): AntiEntropy {
  const { failures, now, options } = parts;
  return new AntiEntropy({
    store,
    log: parts.log,
    peers: () => parts.modernMembers(),
    now,
    intervalMs: options.syncIntervalMs,
    tombstoneTtlMs: options.tombstoneTtlMs,
    client: parts.client(),
    onTick: () => uploads.expire(now() - UPLOAD_IDLE_MS),
    localError: (code, what) => failures.localError(code, 'connect', what),
    noSpace: (err) => failures.noSpace(err),
  });
}

/** Asks the live members for their figures (version, items, digest) over the peer protocol, for the status. */
function createGatherer(parts: ServerParts): FiguresGatherer {
  return new FiguresGatherer({
    peers: () => parts.modernMembers(),
    fetch: async (peer, timeoutMs) => {
      const reply = await ask(peer, { type: 'RING', status: 'self' }, 'RING', { ...parts.client(), timeoutMs });
      return decodeFigures(reply.status);
    },
    heard: (peer) => parts.lastHeard.set(peer, Date.now()),
    now: () => Date.now(),
  });
}

function createKeeper(
  parts: ServerParts,
  view: RingView,
  context: HandlerContext,
  late: { forward(message: RoundMessage): void; syncNow(): void; answered(address: Address): void },
): RingKeeper {
  const { options, failures, metrics } = parts;
  return new RingKeeper({
    view,
    transport: parts.transport,
    log: parts.log,
    now: parts.now,
    modernPeers: parts.modernPeers,
    lastHeard: parts.lastHeard,
    running: parts.running,
    newRoundId: context.newRoundId,
    forward: late.forward,
    ringChanged: parts.ringChanged,
    syncNow: late.syncNow,
    traffic: (traffic) => parts.events.emit('traffic', traffic),
    declaredDead: () => metrics.failuresDetected.inc(),
    answered: late.answered,
    localError: (code, what) => failures.localError(code, 'connect', what),
    timing: {
      heartbeatMs: options.heartbeatMs,
      probeTimeoutMs: options.probeTimeoutMs,
      suspicionTimeoutMs: options.suspicionTimeoutMs,
    },
  });
}

function createForwarder(parts: ServerParts, view: RingView, keeper: RingKeeper): Forwarder {
  const { options, failures } = parts;
  return new Forwarder({
    view,
    transport: parts.transport,
    log: parts.log,
    metrics: parts.metrics,
    modernPeers: parts.modernPeers,
    rounds: parts.rounds,
    keeper,
    events: parts.events,
    running: parts.running,
    leaving: parts.leaving,
    ringChanged: parts.ringChanged,
    complete: parts.complete,
    localError: (code, what) => failures.localError(code, 'connect', what),
    timing: {
      heartbeatMs: options.heartbeatMs,
      connectTimeoutMs: options.connectTimeoutMs,
      probeTimeoutMs: options.probeTimeoutMs,
    },
  });
}
