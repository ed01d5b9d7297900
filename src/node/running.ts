/**
 * What a started server runs, and how those parts are wired to one another:
 * built at once by start() (node.ts) once the server is bound and its store
 * open, so none of them is ever missing. The parts call each other only once
 * started, which is what lets each be built before the next.
 */
import type { EventEmitter } from 'node:events';
import type { Address } from '../protocol/address.js';
import { decodeFigures } from '../protocol/status.js';
import type { RingView } from '../ring/ring.js';
import { RingKeeper } from '../ring/keeper.js';
import { SeedGreeter } from '../ring/seed-greeter.js';
import type { ItemStore } from '../store/items.js';
import type { OpenStore } from '../store/open.js';
import { Uploads } from '../store/uploads.js';
import { AntiEntropy } from '../sync/anti-entropy.js';
import type { HandlerContext, RoundMessage } from '../handlers/handlers.js';
import { ask } from '../transport/ask.js';
import { Forwarder } from './forwarder.js';
import { handlerContext, type ContextParts } from './context.js';
import { FiguresGatherer } from './gather.js';
import type { LocalFailures } from './local-failures.js';
import type { NodeMetrics } from './metrics.js';
import type { NodeEvents, ResolvedOptions } from './options.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { placementOf, type Placement } from '../ring/owners.js';
import { handOver, releaser } from '../sync/handoff.js';
import { encodeMessage } from '../protocol/messages.js';

/** Seeds not in the ring are greeted at least this often, for the server's lifetime. */
const SEED_GREET_MAX_MS = 30_000;

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
  /** `--replicas`: called before a graceful leave; what it returns runs after, handing this server's items over. */
  handOver?: (() => () => Promise<void>) | undefined;
}

/** What the running parts share with the server that builds them, beyond what the handlers' context takes. */
export interface ServerParts extends ContextParts {
  transport: PeerTransport;
  metrics: NodeMetrics;
  failures: LocalFailures;
  /** The server: it tells of traffic. */
  events: EventEmitter<NodeEvents>;
  running(): boolean;
  /** A round of ours that completes without leaving this server: handled as if it had come back. */
  complete(message: RoundMessage): void;
  /** The members other than this server that speak our extensions. */
  extensionMembers(): Address[];
}

export function assemble(parts: ServerParts, view: RingView, data: OpenStore): Running {
  const store = data.store;
  const uploads = new Uploads(store);
  // With --replicas, where items live for the members now: one placement for the handlers and anti-entropy.
  const placement = parts.replicas === undefined ? undefined : placementOf(() => view.members, parts.replicas);
  const sync = createAntiEntropy(parts, view, store, uploads, placement);
  // The keeper and the forwarder call each other; neither does before start.
  const keeper: RingKeeper = createKeeper(parts, view, {
    forward: (message) => void forwarder.forward(message),
    syncNow: () => void sync.syncNow(),
    answered: (address) => forwarder.reachableAgain(address),
  });
  const forwarder: Forwarder = createForwarder(parts, view, keeper);
  const context = handlerContext(parts, { view, store, uploads, keeper, forwarder, sync, placement });
  const handOver = parts.replicas === undefined ? undefined : handOverFor(parts, view, store, parts.replicas);
  return { view, data, store, uploads, sync, context, keeper, forwarder, gatherer: createGatherer(parts), handOver };
}

/** Starts the timers of what runs: probes, sync passes, the data directory's watch, pass-by checks. */
export function startRunning(run: Running): void {
  run.keeper.start();
  run.sync.start();
  run.data.watch();
  run.forwarder.start();
}

/** Stops every timer startRunning started, and the seed greeter's. */
export function stopRunning(run: Running): void {
  run.seedGreeter?.stop();
  run.keeper.stop();
  run.sync.stop();
  run.data.unwatch();
  run.forwarder.stop();
}

/** Greets the seeds that are not in the ring, for the server's lifetime: once joined through one of them. */
export function greetSeeds(run: Running, seeds: readonly string[], options: ResolvedOptions): SeedGreeter {
  const { view, keeper } = run;
  return new SeedGreeter({
    seeds: [...seeds],
    self: view.self,
    firstDelayMs: options.heartbeatMs,
    maxDelayMs: Math.max(SEED_GREET_MAX_MS, options.heartbeatMs),
    inRing: (address) => view.has(address),
    greet: (address) => keeper.greet(address, options.connectTimeoutMs + options.probeTimeoutMs),
  });
}

function createAntiEntropy(
  parts: ServerParts,
  view: RingView,
  store: ItemStore,
  uploads: Uploads,
  placement: (() => Placement) | undefined,
): AntiEntropy {
  const { failures, now, options } = parts;
  // With --replicas, a server pulls only what it owns, and lets go of what it no longer owns once its owners hold it.
  return new AntiEntropy({
    owns: placement && ((item) => placement().owns(view.self, item)),
    shared: placement && {
      self: view.self,
      with: (peer) => {
        const now = placement();
        return (item) => {
          const owners = now.owners(item);
          return owners.includes(view.self) && owners.includes(peer);
        };
      },
    },
    release: placement && releaser(store, view.self, placement, parts.client, () => !parts.running()),
    store,
    log: parts.log,
    peers: () => parts.extensionMembers(),
    now,
    intervalMs: options.syncIntervalMs,
    tombstoneTtlMs: options.tombstoneTtlMs,
    client: parts.client(),
    onTick: () => uploads.expire(now() - UPLOAD_IDLE_MS),
    localError: failures.connectError,
    noSpace: (err) => failures.noSpace(err),
  });
}

/** A graceful leave's hand-over (sync/handoff.ts), bounded by the round timeout: the members are taken before the leave. */
function handOverFor(parts: ServerParts, view: RingView, store: ItemStore, replicas: number): () => () => Promise<void> {
  return () => {
    const members = [...view.members];
    return async () => {
      const missing = await handOver({
        store,
        self: view.self,
        members,
        replicas,
        client: parts.client(),
        ask: (to) => parts.transport.send(to, encodeMessage({ type: 'HANDOVER', from: view.self })),
        deadline: Date.now() + parts.options.roundTimeoutMs,
        now: Date.now,
        wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      });
      if (missing > 0)
        parts.log.warn(`left with ${missing} copies not yet pulled by their new owners: anti-entropy brings them from the others`);
      else parts.log.info('handed every item over to its owners after this server');
    };
  };
}

/** Asks the live members for their figures (version, items, digest) over the peer protocol, for the status. */
function createGatherer(parts: ServerParts): FiguresGatherer {
  return new FiguresGatherer({
    peers: () => parts.extensionMembers(),
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
  late: { forward(message: RoundMessage): void; syncNow(): void; answered(address: Address): void },
): RingKeeper {
  const { options, failures, metrics } = parts;
  return new RingKeeper({
    view,
    transport: parts.transport,
    log: parts.log,
    now: parts.now,
    peers: parts.peers,
    lastHeard: parts.lastHeard,
    running: parts.running,
    newRoundId: parts.newRoundId,
    forward: late.forward,
    ringChanged: parts.ringChanged,
    syncNow: late.syncNow,
    traffic: (traffic) => parts.events.emit('traffic', traffic),
    declaredDead: () => metrics.failuresDetected.inc(),
    answered: late.answered,
    localError: failures.connectError,
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
    peers: parts.peers,
    rounds: parts.rounds,
    keeper,
    events: parts.events,
    running: parts.running,
    leaving: parts.leaving,
    ringChanged: parts.ringChanged,
    complete: parts.complete,
    localError: failures.connectError,
    timing: {
      heartbeatMs: options.heartbeatMs,
      connectTimeoutMs: options.connectTimeoutMs,
      probeTimeoutMs: options.probeTimeoutMs,
    },
  });
}
