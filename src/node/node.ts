/**
 * One server, as a composition root: the constructor resolves the options and
 * builds what needs no address (transport, listener, the HTTP face); start()
 * binds, opens the store and builds everything that runs as one object
 * (running.ts). Incoming text has its peer tag checked (security/), is decoded,
 * admitted (tag or token, client limits) and dispatched to handlers.ts; round
 * messages leave through forwarder.ts, membership is ring/keeper.ts, the
 * store's directory store/open.ts, the HTTP face http/.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { CoopError, isCoopError } from '../errors.js';
import { formatAddress, type Address } from '../protocol/address.js';
import { decodeMessage, encodeMessage, errorReply, REPLIED_TYPES, requestToken, type Message, type Reply } from '../protocol/messages.js';
import { RingView } from '../ring/ring.js';
import type { ItemStore } from '../store/items.js';
import { OpenStore } from '../store/open.js';
import { VersionClock } from '../store/version.js';
import { silentLog, type Log } from '../log/logger.js';
import { TcpListener, type Connection } from '../transport/tcp.js';
import { decodeReply } from '../protocol/decode.js';
import { assemble, type Running } from './running.js';
import { joinRing, nextRingChange, resolvedSeeds, seedList, servesTls } from '../ring/joiner.js';
import { checkAdvertisedPort, firstPortToProbe } from './listen-port.js';
import { SeedGreeter } from '../ring/seed-greeter.js';
import { advertisedAddress } from './advertise.js';
import { liveItems, nodeStatus, selfFigures } from './status.js';
import { CatchUp, decideHealth, storeErrorOf } from './health.js';
import type { Health, RingStatus } from '../protocol/status.js';
import { VERSION } from '../version.js';
import {
  ackTimeoutOf,
  resolveOptions,
  sealedTransport,
  tcpTransport,
  type NodeEvents,
  type NodeOptions,
  type PeerTransport,
  type ResolvedOptions,
} from './options.js';
import { createHttpFace } from '../http/server.js';
import { answerTo, PeerAuth } from '../security/peer-auth.js';
import { AccessPolicy, accessOf } from '../security/access.js';
import { checkClientRequest, type RequestLimits } from '../security/requests.js';
import { NodeMetrics } from './metrics.js';
import { createWebApp } from '../http/web.js';
import { fastGetFront, handToHttp } from '../http/fast-get.js';
import { LocalFailures } from './local-failures.js';
import { handlers, type HandlerContext, type Waiting } from '../handlers/handlers.js';
import { PendingRounds, SeenRounds } from '../handlers/rounds.js';
import type { Uploads } from '../store/uploads.js';
import { pullItem, type AntiEntropy } from '../sync/anti-entropy.js';
import { ask, type ClientOptions } from '../client/client.js';

export { DEFAULTS, sealedTransport, tcpTransport, type NodeEvents, type NodeOptions, type PeerTransport } from './options.js';
import { describe } from './describe.js';

/** Seeds not in the ring are greeted at least this often, for the server's lifetime. */
const SEED_GREET_MAX_MS = 30_000;

/** Before start, the view once bound (while the store opens); once started, what runs, kept when stopped. */
type Phase =
  { readonly state: 'new' | 'stopped'; readonly view?: RingView } | { readonly state: 'running' | 'stopped'; readonly run: Running };

export class RingNode extends EventEmitter<NodeEvents> {
  private readonly options: ResolvedOptions;
  /** The cluster secret's tags; undefined in an open ring. */
  private readonly auth: PeerAuth | undefined;
  readonly access: AccessPolicy;
  private readonly requestLimits: RequestLimits;
  private readonly http: HttpServer;
  readonly metrics: NodeMetrics;
  private readonly startedAt = Date.now();
  private readonly listener: TcpListener;
  private readonly transport: PeerTransport;
  private readonly now: () => number;
  private log: Log;
  /** Peers that have shown they speak our extensions: only they get our new message types. */
  private readonly modernPeers = new Set<Address>();
  /** Peers told that this server speaks our extensions. */
  private readonly greeted = new Set<Address>();
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
    this.requestLimits = {
      maxNameBytes: this.options.maxNameBytes,
      namePattern: nodeOptions.namePattern,
      maxItemBytes: this.options.maxItemBytes,
    };
    const tls = nodeOptions.tls;
    // Our own servers (those that have shown they speak our extensions) get persistent connections.
    const transport =
      nodeOptions.transport ??
      tcpTransport({
        connectTimeoutMs: this.options.connectTimeoutMs,
        maxReplyBytes: this.options.maxMessageBytes,
        streams: {
          opening: (peer) => {
            const payload = encodeMessage({ type: 'STREAM', from: this.address });
            return this.auth ? this.auth.seal(payload, peer).text : payload;
          },
          to: (peer) => this.modernPeers.has(peer),
          acks: {
            timeoutMs: ackTimeoutOf(this.options),
            onUnacknowledged: (peer, waitedMs, resent) => {
              this.metrics.streamsUnacknowledged.inc();
              const seconds = (waitedMs / 1000).toFixed(1);
              this.log.warn(
                `messages to ${peer} not acknowledged for ${seconds} s: stream closed, ${resent} messages go again on a new one`,
              );
            },
          },
        },
        tls: tls && { ca: tls.ca },
      });
    this.transport = this.auth ? sealedTransport(transport, this.auth) : transport;
    this.metrics = new NodeMetrics({
      ringSize: () => this.view?.size ?? 0,
      items: () => this.liveItems().count,
      bytesStored: () => this.liveItems().bytes,
      sync: () => this.started?.sync.totals ?? { passes: 0, pulled: 0, deleted: 0 },
    });
    this.failures = new LocalFailures(this.metrics, () => this.log);
    const web = createWebApp({
      self: () => this.address,
      ask: (message) => this.ask(message),
      store: () => this.store,
      status: () => this.status(),
      health: () => this.health(),
      metrics: this.metrics,
      traffic: this,
      log: () => this.log,
      maxBodyBytes: Math.floor(this.options.maxMessageBytes / 2),
      access: this.access,
    });
    this.http = createHttpFace(web.listener, this.options);
    // Simple GETs of small items are answered in front of node:http (which can only ever hand them over to node:http when reads need a token).
    const http = this.http;
    const takeHttp =
      nodeOptions.httpFastPath !== false && this.access.readsOpen
        ? fastGetFront(http, web.ready)
        : (socket: Socket) => handToHttp(http, socket);
    this.listener = new TcpListener(
      {
        maxMessageBytes: this.options.maxMessageBytes,
        idleTimeoutMs: this.options.idleTimeoutMs,
        requestTimeoutMs: this.options.requestTimeoutMs,
        maxConnections: this.options.maxConnections,
      },
      {
        onMessage: (text, connection) => this.receive(text, connection),
        // Nothing on a stream is answered; its connection tells only where it arrived.
        onStreamMessage: (text, stream) => this.receive(text, detachedConnection, stream) !== 'refused',
        onFrameError: (error, connection) => this.refuse(error, connection),
        onOtherProtocol: takeHttp,
        onAcceptError: (err) => this.failures.localError(err.code ?? 'UNKNOWN', 'accept', 'accepting a connection'),
      },
      tls && { cert: tls.cert, key: tls.key },
    );
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
    const advertised = await advertisedAddress(this.nodeOptions.advertise, this.options.host);
    const { host, port, probeUpward } = this.options;
    const ownHosts = [host, ...(advertised ? [advertised.host] : [])];
    const firstPort = probeUpward ? firstPortToProbe(port, ownHosts, await resolvedSeeds(seeds)) : port;
    const bound = await this.listener.start(host, firstPort, probeUpward);
    if (probeUpward) {
      try {
        checkAdvertisedPort(advertised, port, bound);
      } catch (err) {
        await this.listener.stop();
        throw err;
      }
    }
    const self = formatAddress(advertised?.host ?? bound.host, advertised?.port ?? bound.port);
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
        transport: this.transport,
        log: this.log,
        metrics: this.metrics,
        failures: this.failures,
        modernPeers: this.modernPeers,
        lastHeard: this.lastHeard,
        rounds: this.waiting,
        events: this,
        now: this.now,
        running: () => this.running,
        leaving: () => this.leaving,
        ringChanged: () => this.ringChanged(),
        complete: (message) => this.dispatch(message, detachedConnection),
        modernMembers: () => this.modernMembers(),
        client: () => this.peerClientOptions(),
        context: (view, store, uploads) => this.createContext(view, store, uploads),
      },
      view,
      data,
    );
    this.phase = { state: 'running', run };
    const boundAs = formatAddress(bound.host, bound.port);
    this.log.info(`listening on ${self}${boundAs === self ? '' : ` (bound to ${boundAs})`}${this.nodeOptions.tls ? ' (TLS)' : ''}`);
    if (!this.auth) {
      this.log.warn('the ring is open: no cluster secret, so any program that reaches this port can join the ring and change its data');
    }
    run.keeper.start();
    run.sync.start();
    run.data.watch();
    run.forwarder.start();
    if (seeds.length > 0) await this.joinThrough(seeds, run);
    else this.ringChanged();
    return self;
  }

  /** Joins through the seeds (joiner.ts); on failure the server stops and the error goes to start()'s caller. */
  private async joinThrough(seeds: string[], run: Running): Promise<void> {
    const { view, keeper } = run;
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
        run.seedGreeter = new SeedGreeter({
          seeds,
          self: view.self,
          firstDelayMs: this.options.heartbeatMs,
          maxDelayMs: Math.max(SEED_GREET_MAX_MS, this.options.heartbeatMs),
          inRing: (address) => view.has(address),
          ping: (address) => keeper.ping(address, this.options.connectTimeoutMs + this.options.probeTimeoutMs),
          absorb: (members) => keeper.absorb(members),
        });
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
  private modernMembers(): Address[] {
    return this.members.filter((member) => member !== this.address && this.modernPeers.has(member));
  }

  /** How this server asks its peers for digests, lists and items: through its transport, so with its tag (and its token). */
  private peerClientOptions(): ClientOptions {
    return {
      timeoutMs: this.options.roundTimeoutMs,
      maxReplyBytes: this.options.maxMessageBytes,
      token: this.nodeOptions.writeToken ?? this.nodeOptions.readToken,
      exchange: (server, payload, timeoutMs) => this.transport.request(server, payload, timeoutMs),
    };
  }

  /** Stops listening, answers waiting clients with an error, clears every timer. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.phase.state === 'stopped') return;
    const run = this.started;
    this.phase = run ? { state: 'stopped', run } : { state: 'stopped', view: this.view };
    this.stopping.abort();
    run?.seedGreeter?.stop();
    run?.keeper.stop();
    run?.sync.stop();
    run?.data.unwatch();
    run?.forwarder.stop();
    for (const waiting of this.waiting.drain()) {
      this.reply(waiting.connection, errorReply('SHUTTING_DOWN', 'the server is stopping'));
    }
    const closing = this.transport.close?.();
    this.http.close(() => undefined); // stops its deadline checks
    await this.listener.stop();
    await run?.uploads.clear();
    await run?.data.close();
    await closing;
  }

  private createContext(view: RingView, store: ItemStore, uploads: Uploads): HandlerContext {
    // Past every version held (a restart does not start from the wall clock) and every one stored later (rounds, pulls, sync).
    const clock = new VersionClock(view.self);
    store.watchVersions((version) => clock.observe(version));
    return {
      self: view.self,
      ring: view,
      store,
      log: this.log,
      waiting: this.waiting,
      seen: this.seen,
      clock,
      uploads,
      roundTimeoutMs: this.options.roundTimeoutMs,
      wholeLimit: this.options.maxMessageBytes,
      joining: () => this.joining,
      leaving: () => this.leaving,
      now: this.now,
      newRoundId: () => `${this.idPrefix}-${(this.roundCounter++).toString(36)}`,
      forward: (message, received) => void this.live.forwarder.forward(message, received),
      announceRing: () => this.live.keeper.announce(),
      ringChanged: () => this.ringChanged(),
      resendable: () => view.members.every((member) => member === view.self || this.modernPeers.has(member)),
      resent: (why) => this.metrics.roundsResent.inc({ reason: why }),
      peerSpeaksExtensions: (address) => this.learnModern(address),
      speaksExtensions: (address) => this.modernPeers.has(address),
      absorb: (members) => this.live.keeper.absorb(members),
      probeFor: (target) =>
        this.live.keeper.ping(target, this.options.probeTimeoutMs).then(
          () => true,
          () => false,
        ),
      pull: (holder, item, versionless) => pullItem(store, holder, item, this.now(), this.peerClientOptions(), versionless),
      readFrom: async (holder, item, part) =>
        (await ask(holder, { type: 'GET', data: item, part, local: true }, 'GET', this.peerClientOptions())).data,
      noSpace: (err) => this.failures.noSpace(err),
      heard: (address) => {
        if (view.has(address)) this.lastHeard.set(address, Date.now());
      },
      figures: () => selfFigures(view, store, VERSION),
      ringStatus: () => this.status(),
      reply: (connection, reply) => this.reply(connection, reply),
    };
  }

  /** `arrivedOn`: the connection the text came on, when it is not the one to answer on (a stream). */
  private receive(text: string, connection: Connection, arrivedOn: Connection = connection): void | 'stream' | 'refused' {
    if (!this.running) {
      connection.reply(encodeMessage(errorReply('SHUTTING_DOWN', 'the server is stopping')));
      return;
    }
    let message: Message;
    let authentic = false;
    let nonce: string | undefined;
    try {
      // A peer seals for the address it dialled: the advertised one, or another that reaches this server
      // (a seed named by 127.0.0.1 that advertises 127.0.0.2, a wildcard listener's other addresses). The
      // audience still names this server, since the connection arrived here, so a message sealed for
      // another server is still refused. (Only an address that two servers share, such as the same private
      // address in two networks, could let a message sealed for one pass at the other.)
      if (this.auth) ({ text, authentic, nonce } = this.auth.open(text, this.address, arrivedOn.local));
      message = decodeMessage(text);
      this.admit(message, authentic);
    } catch (err) {
      this.refuse(isCoopError(err) ? err : new CoopError('BAD_JSON', String(err)), connection);
      return 'refused';
    }
    if (message.type === 'STREAM') {
      this.modernPeers.add(message.from);
      return 'stream';
    }
    // A round message from our servers travels with its text: a handler that passes it on
    // unchanged sends that text again instead of encoding it anew (the tag is made afresh
    // for the next hop either way); a changed message is encoded as usual.
    const relayed =
      text.length <= KEPT_TEXT_LIMIT &&
      RELAYED_AS_RECEIVED.has(message.type) &&
      'id' in message &&
      message.id !== undefined &&
      message.creator !== this.live.view.self; // a round of ours, back home, goes no further
    // A peer's request is answered with this server's tag, sealed for that request alone.
    const auth = this.auth;
    const replyTo = relayed
      ? { remote: connection.remote, reply: connection.reply, close: connection.close, received: text }
      : auth && nonce !== undefined && REPLIED_TYPES.has(message.type)
        ? { ...connection, reply: (payload: string) => connection.reply(auth.seal(payload, answerTo(nonce)).text) }
        : connection;
    this.dispatch(message, replyTo);
  }

  /**
   * Refuses what the sender may not do (access.ts), and a client's request
   * outside this server's limits (requests.ts). A peer with the secret is trusted.
   */
  private admit(message: Message, authentic: boolean): void {
    this.access.check(accessOf(message.type), requestToken(message), authentic);
    if (!authentic) checkClientRequest(message, this.requestLimits);
  }

  /**
   * A request from the HTTP face, through the same handlers; resolves with the
   * reply object. The HTTP face has checked the token already.
   */
  ask(message: Message): Promise<Reply> {
    return new Promise((resolve) => {
      if (!this.running) {
        resolve(errorReply('SHUTTING_DOWN', 'the server is stopping'));
        return;
      }
      try {
        checkClientRequest(message, this.requestLimits);
      } catch (err) {
        const { code, message: text } = err as CoopError;
        resolve(errorReply(code, text));
        return;
      }
      const connection: Connection = {
        remote: 'http',
        deliver: (reply) => resolve(reply as Reply),
        reply: (payload) => resolve(decodeReply(payload, message.type as 'GET')),
        close: () => undefined,
      };
      this.dispatch(message, connection);
    });
  }

  private dispatch(message: Message, connection: Connection): void {
    const ctx = this.live.context;
    const heartbeat = message.type === 'CHECK' || message.type === 'PING' || message.type === 'PING_REQ';
    const replied = REPLIED_TYPES.has(message.type);
    const round = 'id' in message && message.id !== undefined ? { round: message.id } : undefined;
    const text = replied
      ? `${describe(message)} from client ${connection.remote}`
      : round
        ? `${describe(message)} (round ${round.round})`
        : describe(message);
    this.log.recv(text, round, heartbeat);
    if (replied && !heartbeat && this.listenerCount('traffic') > 0)
      this.emit('traffic', { type: message.type, from: 'client', to: ctx.self });
    if (!replied) {
      connection.close();
      this.metrics.requests.inc({ type: message.type, outcome: 'ok' });
    }
    const started = performance.now();
    // Written out rather than spread: one shape for every request, where a spread copied property by property.
    const measured: Connection = replied
      ? {
          remote: connection.remote,
          deliver: connection.deliver,
          answered: (ok) => this.observe(message.type, started, ok),
          reply: connection.reply,
          close: connection.close,
        }
      : connection;
    const handler = handlers[message.type] as (m: Message, c: Connection, x: HandlerContext) => void | Promise<void>;
    // Called at once, not from a promise: two promises and a turn of the microtask queue fewer per message.
    try {
      handler(message, measured, ctx)?.catch((err: unknown) => this.failed(message, measured, err));
    } catch (err) {
      this.failed(message, measured, err);
    }
  }

  private failed(message: Message, connection: Connection, err: unknown): void {
    if (isCoopError(err, 'STORE_UNAVAILABLE')) {
      // The log names the directory; the reply does not (it goes to clients).
      this.log.error(`handling ${message.type} failed: ${err.message}`);
      const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
      const why = code === undefined ? 'its data directory is gone' : `${code} on its data directory`;
      this.reply(connection, errorReply('STORE_UNAVAILABLE', `this server cannot keep writes (${why}); its operator is told`));
      void this.live.data.check();
      return;
    }
    if (isCoopError(err, 'NO_SPACE')) {
      this.failures.noSpace(err);
      this.reply(connection, errorReply('NO_SPACE', `server ${this.address} has no space left on disk for this ${message.type}`));
      return;
    }
    this.log.error(`handling ${message.type} failed: ${(err as Error).stack ?? String(err)}`);
    // The cause stays in the log: it may name files of this server.
    this.reply(connection, errorReply('INTERNAL', `the server could not handle this ${message.type}`));
  }

  private observe(type: string, started: number, ok: boolean): void {
    this.metrics.requests.inc({ type, outcome: ok ? 'ok' : 'error' });
    this.metrics.latency.observe({ type }, (performance.now() - started) / 1000);
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
    return nodeStatus(run.view, run.store, extras);
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
    return this.catchUp.catchingUp({ joinAsked: this.joinAsked, joining, passes, peers: this.modernMembers().length });
  }

  private refuse(error: CoopError, connection: Connection): void {
    this.log.warn(`refused a message from ${connection.remote}: ${error.message}`);
    this.metrics.refused.inc({ code: error.code });
    connection.reply(encodeMessage(errorReply(error.code, error.message)));
  }

  private reply(connection: Connection, reply: Reply): void {
    if (connection.deliver) {
      connection.answered?.(reply.type !== 'ERROR');
      connection.deliver(reply);
      return;
    }
    let payload = encodeMessage(reply);
    if (payload.length > this.options.maxMessageBytes && reply.type !== 'ERROR') {
      const message = `the reply would be ${payload.length} bytes, more than the limit of ${this.options.maxMessageBytes}: fetch it in parts (webclient does)`;
      reply = errorReply('TOO_LARGE', message);
      payload = encodeMessage(reply);
    }
    connection.answered?.(reply.type !== 'ERROR');
    connection.reply(payload);
  }

  /**
   * A peer showed that it speaks our extensions: the first time, it hears
   * the same of this server, so that each of two servers of ours knows the
   * other even when only one sends to the other. Until then a peer is taken
   * for an original server and gets the original's form of every message.
   */
  private learnModern(address: Address): void {
    if (this.modernPeers.has(address)) return;
    this.modernPeers.add(address);
    // Even if greeted before (it may have been an original then, or restarted since). This ends:
    // a peer answers only a greeting from a server it did not know yet.
    this.greeted.delete(address);
    this.greet(address);
  }

  /**
   * Tells members not yet known to speak our extensions that this server
   * does: a CHECK with `from`, which an original server ignores and ours
   * answer in kind (learnModern). Once per member.
   */
  private greetMembers(members: readonly Address[]): void {
    for (const member of members) {
      if (!this.modernPeers.has(member) && !this.greeted.has(member)) this.greet(member);
    }
  }

  private greet(address: Address): void {
    if (!this.running || address === this.address || this.greeted.has(address)) return;
    this.greeted.add(address);
    // Not reached: greeted again at the next change of the ring.
    this.transport.send(address, encodeMessage({ type: 'CHECK', from: this.address })).catch(() => this.greeted.delete(address));
  }

  private ringChanged(): void {
    const run = this.started;
    if (!run) return;
    const view = run.view;
    const wasAlone = this.lastRingSize === 1;
    this.lastRingSize = view.size;
    run.forwarder.ringChanged();
    this.log.info(view.format());
    this.greetMembers(view.members);
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
    if (run && this.running) await run.keeper.leave();
    await this.stop();
  }
}

/**
 * Round messages a relay may pass on as received (to our own servers only).
 * Only those with a round id (from our servers) are kept as text. Not UPDATE:
 * ours always carry members, and a relay passes on its merged view instead.
 */
const RELAYED_AS_RECEIVED: ReadonlySet<string> = new Set(['FORWARD_PUT', 'FORWARD_GET']);
/**
 * Larger texts are not kept: a part of a large item would stay in memory
 * twice (text and decoded) while it is written, and encoding it is a small
 * share of its cost.
 */
const KEPT_TEXT_LIMIT = 64 * 1024;

/** Where a round that completes without leaving this server "replies": nowhere. */
const detachedConnection: Connection = { remote: 'self', reply() {}, close() {} };
