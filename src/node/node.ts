/**
 * One server, as a composition root: the constructor resolves the options and
 * builds what needs no address (the peer link, the inbox, the port's faces);
 * start() binds, opens the store and builds everything that runs as one
 * object (running.ts). Messages come in through the inbox (inbox.ts), rounds
 * leave through the forwarder (forwarder.ts), membership is ring/keeper.ts,
 * the store's directory store/open.ts, the HTTP face http/.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import { errorReply } from '../protocol/messages.js';
import type { Health, RingStatus } from '../protocol/status.js';
import { RingView } from '../ring/ring.js';
import { ExtensionPeers } from '../ring/extension-peers.js';
import { Greetings } from '../ring/greetings.js';
import { joinRing, nextRingChange, seedList, servesTls } from '../ring/joiner.js';
import type { ItemStore } from '../store/items.js';
import { OpenStore } from '../store/open.js';
import { silentLog, type Log } from '../log/logger.js';
import type { TcpListener } from '../transport/listener.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { PeerAuth } from '../security/peer-auth.js';
import { AccessPolicy } from '../security/access.js';
import type { Waiting } from '../handlers/handlers.js';
import { PendingRounds, SeenRounds } from '../handlers/rounds.js';
import type { AntiEntropy } from '../sync/anti-entropy.js';
import { VERSION } from '../version.js';
import { assemble, greetSeeds, startRunning, stopRunning, type Running } from './running.js';
import { liveItems, nodeStatus } from './status.js';
import { CatchUp, decideHealth, storeErrorOf } from './health.js';
import { resolveOptions, type NodeEvents, type NodeOptions, type ResolvedOptions } from './options.js';
import { NodeMetrics } from './metrics.js';
import { LocalFailures } from './local-failures.js';
import { Inbox } from './inbox.js';
import { peerClient, peerTransport } from './peer-link.js';
import { bindPort, openFaces } from './faces.js';

export { DEFAULTS, type NodeEvents, type NodeOptions } from './options.js';
export { tcpTransport, type PeerTransport } from '../transport/peer-transport.js';
export { sealedTransport } from '../security/sealed.js';

/** Before start, the view once bound (while the store opens); once started, what runs, kept when stopped. */
type Phase =
  { readonly state: 'new' | 'stopped'; readonly view?: RingView } | { readonly state: 'running' | 'stopped'; readonly run: Running };

export class RingNode extends EventEmitter<NodeEvents> {
  private readonly options: ResolvedOptions;
  /** The cluster secret's tags; undefined in an open ring. */
  private readonly auth: PeerAuth | undefined;
  readonly access: AccessPolicy;
  private readonly http: HttpServer;
  readonly metrics: NodeMetrics;
  private readonly startedAt = Date.now();
  private readonly listener: TcpListener;
  private readonly transport: PeerTransport;
  private readonly now: () => number;
  private log: Log;
  /** Peers that have shown they speak our extensions: only they get our new message types. */
  private readonly extensionPeers = new ExtensionPeers((address) => this.greetings.again(address));
  private readonly greetings: Greetings;
  private readonly inbox: Inbox;
  /** When each peer was last heard from: it answered a probe or a status request, or probed us (ms). */
  private readonly lastHeard = new Map<Address, number>();
  private readonly waiting = new PendingRounds<Waiting>();
  private readonly seen = new SeenRounds();
  private readonly idPrefix = randomBytes(6).toString('hex');
  private roundCounter = 0;
  private lastRingSize = 1;
  /** Asked to join, and no ring has come back yet. */
  private joining = false;
  /** Leaving the ring gracefully: client requests that need the ring are refused. */
  private leaving = false;
  /** Started to join a ring: not caught up until a comparison of contents with a peer has completed. */
  private joinAsked = false;
  /** Caught up on the ring's data, latched (health.ts). */
  private readonly catchUp = new CatchUp();
  private phase: Phase = { state: 'new' };
  /** Aborted by stop(): wakes a join that waits for a ring or a seed. */
  private readonly stopping = new AbortController();
  /** Failures of this server's own (out of descriptors, a full disk): counted, and logged now and then. */
  private readonly failures: LocalFailures;

  constructor(private readonly nodeOptions: NodeOptions) {
    super();
    this.options = resolveOptions(nodeOptions);
    this.now = nodeOptions.now ?? Date.now;
    this.log = nodeOptions.log ?? silentLog;
    const secret = nodeOptions.secret;
    this.auth = secret === undefined ? undefined : new PeerAuth(secret);
    this.access = new AccessPolicy({
      secret: this.auth !== undefined,
      writeToken: nodeOptions.writeToken,
      readToken: nodeOptions.readToken,
    });
    this.metrics = new NodeMetrics({
      ringSize: () => this.view?.size ?? 0,
      items: () => this.liveItems().count,
      bytesStored: () => this.liveItems().bytes,
      sync: () => this.started?.sync.totals ?? { passes: 0, pulled: 0, deleted: 0 },
    });
    this.failures = new LocalFailures(this.metrics, () => this.log);
    this.transport = peerTransport({
      options: this.options,
      given: nodeOptions.transport,
      tls: nodeOptions.tls,
      auth: this.auth,
      peers: this.extensionPeers,
      metrics: this.metrics,
      log: () => this.log,
      self: () => this.address,
    });
    this.greetings = new Greetings({
      self: () => this.address,
      running: () => this.running,
      peers: this.extensionPeers,
      send: (address, payload) => this.transport.send(address, payload),
    });
    this.inbox = new Inbox({
      auth: this.auth,
      access: this.access,
      limits: { maxNameBytes: this.options.maxNameBytes, namePattern: nodeOptions.namePattern, maxItemBytes: this.options.maxItemBytes },
      peers: this.extensionPeers,
      metrics: this.metrics,
      log: () => this.log,
      maxMessageBytes: this.options.maxMessageBytes,
      running: () => this.running,
      watched: () => this.listenerCount('traffic') > 0,
      traffic: (traffic) => this.emit('traffic', traffic),
      noSpace: (err) => this.failures.noSpace(err),
      checkStore: () => void this.live.data.check(),
    });
    ({ listener: this.listener, http: this.http } = openFaces({
      options: this.options,
      tls: nodeOptions.tls,
      httpFastPath: nodeOptions.httpFastPath !== false,
      inbox: this.inbox,
      failures: this.failures,
      web: {
        self: () => this.address,
        store: () => this.store,
        status: () => this.status(),
        health: () => this.health(),
        metrics: this.metrics,
        traffic: this,
        log: () => this.log,
        access: this.access,
      },
    }));
  }

  /** This server's "IP:PORT"; known once started. */
  get address(): Address {
    const view = this.view;
    if (!view) throw new Error('server not started');
    return view.self;
  }

  /** The ring as this server sees it, starting with itself. */
  get members(): Address[] {
    return this.view?.fromSelf() ?? [];
  }

  get running(): boolean {
    return this.phase.state === 'running';
  }

  /** The items this server holds; known once started. */
  get store(): ItemStore {
    return this.live.store;
  }

  /** Anti-entropy: `sync.syncNow()` compares with a peer at once. */
  get sync(): AntiEntropy {
    return this.live.sync;
  }

  /** The view, from the moment the server is bound (its store may still be opening). */
  private get view(): RingView | undefined {
    const phase = this.phase;
    return 'run' in phase ? phase.run.view : phase.view;
  }

  /** What runs, once started (and after it stopped). */
  private get started(): Running | undefined {
    const phase = this.phase;
    return 'run' in phase ? phase.run : undefined;
  }

  /** What runs: for what is only ever called once started. */
  private get live(): Running {
    const phase = this.phase;
    if (!('run' in phase)) throw new Error('server not started');
    return phase.run;
  }

  /**
   * Listens, then (when asked to join) joins through the seeds: resolves once
   * a ring that holds a seed has come back (joiner.ts). Rejects with
   * JOIN_REFUSED when a seed refuses this server, JOIN_FAILED when no ring
   * came by the join timeout; the server is stopped then.
   */
  async start(): Promise<Address> {
    if (this.phase.state !== 'new') throw new Error('a server starts once');
    const seeds = seedList(this.nodeOptions.join);
    const { self, boundAs } = await bindPort(this.listener, this.options, this.nodeOptions.advertise, seeds);
    const view = new RingView(self, [self], this.now, this.options.forgetAfterMs);
    this.phase = { state: 'new', view };
    this.log = this.log.child({ node: self });
    let data: OpenStore;
    try {
      data = await OpenStore.open({
        dataDir: this.nodeOptions.dataDir,
        self,
        repair: this.nodeOptions.repair,
        reserveBytes: this.options.minFreeBytes,
        log: this.log,
        running: () => this.running,
        lost: (err) => this.storeLost(err),
      });
    } catch (err) {
      await this.listener.stop();
      throw err;
    }
    const run = assemble(
      {
        options: this.options,
        replicas: this.nodeOptions.replicas,
        transport: this.transport,
        log: this.log,
        metrics: this.metrics,
        failures: this.failures,
        peers: this.extensionPeers,
        lastHeard: this.lastHeard,
        rounds: this.waiting,
        seen: this.seen,
        events: this,
        now: this.now,
        running: () => this.running,
        joining: () => this.joining,
        leaving: () => this.leaving,
        newRoundId: () => `${this.idPrefix}-${(this.roundCounter++).toString(36)}`,
        ringChanged: () => this.ringChanged(),
        ringStatus: () => this.status(),
        complete: (message) => this.inbox.dispatch(message),
        extensionMembers: () => this.extensionMembers(),
        client: () => peerClient(this.transport, this.options, this.nodeOptions.writeToken ?? this.nodeOptions.readToken),
      },
      view,
      data,
    );
    this.phase = { state: 'running', run };
    this.inbox.open(run.context);
    this.log.info(`listening on ${self}${boundAs === self ? '' : ` (bound to ${boundAs})`}${this.nodeOptions.tls ? ' (TLS)' : ''}`);
    if (!this.auth) {
      this.log.warn('the ring is open: no cluster secret, so any program that reaches this port can join the ring and change its data');
    }
    startRunning(run);
    if (seeds.length > 0) await this.joinThrough(seeds, run);
    else this.ringChanged();
    return self;
  }

  /** Joins through the seeds (joiner.ts); on failure the server stops and the error goes to start()'s caller. */
  private async joinThrough(seeds: string[], run: Running): Promise<void> {
    const { view } = run;
    this.joining = true;
    this.joinAsked = true;
    const plainDefault = !this.nodeOptions.tls && !this.nodeOptions.transport;
    try {
      const joined = await joinRing({
        self: view.self,
        portExplicit: !this.options.probeUpward && this.options.port !== 0,
        seeds,
        timeoutMs: this.options.joinTimeoutMs,
        transport: this.transport,
        secret: this.auth !== undefined,
        replicas: this.nodeOptions.replicas,
        log: this.log,
        now: Date.now,
        probeTimeoutMs: this.options.connectTimeoutMs + this.options.probeTimeoutMs,
        servesTls: plainDefault ? (address) => servesTls(address, this.options.connectTimeoutMs) : undefined,
        running: () => this.running,
        ringHolds: (address) => view.size > 1 && view.has(address),
        waitForChange: (ms) => nextRingChange(this, this.stopping.signal, ms),
        signal: this.stopping.signal,
      });
      // Nobody of ours to catch up from when the join completes: caught up for good.
      this.catchingUp(false);
      if (joined.through === undefined) this.ringChanged();
      else {
        run.seedGreeter = greetSeeds(run, seeds, this.options);
        if (this.running) run.seedGreeter.start();
      }
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      this.joining = false;
    }
  }

  /** The members in the ring, other than this server, that speak our extensions. */
  private extensionMembers(): Address[] {
    return this.extensionPeers.among(this.members, this.address);
  }

  /** Stops listening, answers waiting clients with an error, clears every timer. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.phase.state === 'stopped') return;
    const run = this.started;
    this.phase = run ? { state: 'stopped', run } : { state: 'stopped', view: this.view };
    this.stopping.abort();
    if (run) stopRunning(run);
    for (const waiting of this.waiting.drain()) {
      waiting.answer(errorReply('SHUTTING_DOWN', 'the server is stopping'));
    }
    const closing = this.transport.close?.();
    this.http.close(() => undefined); // stops its deadline checks
    await this.inbox.written(); // the waiting clients' answers, before their connections close
    await this.listener.stop();
    await run?.uploads.clear();
    await run?.data.close();
    await closing;
  }

  private liveItems(): { count: number; bytes: number } {
    const run = this.started;
    return run ? liveItems(run.store) : { count: 0, bytes: 0 };
  }

  /**
   * What `GET /_ring` and `webclient --status` tell: this server's view, its
   * holdings and health, and every live member's figures as gathered from it.
   */
  async status(): Promise<RingStatus> {
    const run = this.started;
    if (!run) throw new CoopError('NOT_READY', 'the server has not started');
    const [figures, health] = await Promise.all([run.gatherer.current(), this.health()]);
    const extras = { version: VERSION, health, figures, lastHeard: this.lastHeard, startedAt: this.startedAt };
    return nodeStatus(run.view, run.store, { ...extras, replicas: this.nodeOptions.replicas });
  }

  /** Ready for traffic (`GET /_health`): joined, caught up, and the store usable. */
  async health(): Promise<Health> {
    const run = this.started;
    if (!this.running || !run) return { ok: false, reason: 'not running' };
    let storeError: string | undefined;
    try {
      await run.store.check();
    } catch (err) {
      storeError = storeErrorOf(err);
    }
    return decideHealth({ joining: this.joining, catchingUp: this.catchingUp(this.joining), storeError });
  }

  /** The data directory can no longer keep writes (store/open.ts): leave the ring and stop. */
  private async storeLost(err: CoopError): Promise<void> {
    this.log.error(`${err.message}; leaving the ring and stopping`);
    await this.leave();
    this.emit('failed', err);
  }

  /** Nobody to catch up from (alone, or only original servers around) counts as caught up. */
  private catchingUp(joining: boolean): boolean {
    const passes = this.started?.sync.totals.passes ?? 0;
    return this.catchUp.catchingUp({ joinAsked: this.joinAsked, joining, passes, peers: this.extensionMembers().length });
  }

  private ringChanged(): void {
    const run = this.started;
    if (!run) return;
    const view = run.view;
    const wasAlone = this.lastRingSize === 1;
    this.lastRingSize = view.size;
    run.forwarder.ringChanged();
    this.log.info(view.format());
    this.greetings.members(view.members);
    run.seedGreeter?.ringChanged();
    this.emit('ring', view.fromSelf());
    // Just joined (or rejoined): take what the ring holds, without waiting for the next pass.
    if (wasAlone && view.size > 1) void run.sync.syncNow();
  }

  /**
   * Leaves the ring gracefully (keeper.ts), then stops. Safe before start and
   * after stop.
   */
  async leave(): Promise<void> {
    this.leaving = true;
    const run = this.started;
    const handingOver = run && this.running ? run.handOver?.() : undefined;
    if (run && this.running) await run.keeper.leave();
    await handingOver?.();
    await this.stop();
  }
}
