/**
 * One server: wires the codec, the ring view and the store to sockets and
 * timers. Incoming text is decoded and dispatched to handlers.ts; round
 * messages leave through forward(), which fails over past dead successors the
 * way the original does (cut the dead one out, announce the new ring, try the
 * next). A heartbeat CHECKs the successor.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { CoopError, isCoopError } from '../errors.js';
import { formatAddress, parseAddress, type Address } from '../protocol/address.js';
import { decodeMessage, encodeMessage, errorReply, REPLIED_TYPES, type Message, type Reply } from '../protocol/messages.js';
import { RingView } from '../ring/ring.js';
import { MemoryStore, type ItemStore } from '../store/store.js';
import { silentLog, type Log } from '../log/logger.js';
import { sendMessage, TcpListener, type Connection } from '../transport/tcp.js';
import { handlers, type HandlerContext, type RoundMessage } from './handlers.js';
import { PendingRounds, SeenRounds } from './rounds.js';
import { describe } from './describe.js';

/** How peer messages leave this server; tests swap in a faulty one. */
export interface PeerTransport {
  send(to: Address, payload: string): Promise<void>;
}

export interface NodeOptions {
  /** Address to bind; port 0 takes any free port. */
  host: string;
  port: number;
  /** When the port is taken, take the next free one upward (the original's 4043, 4044, ...). */
  probeUpward?: boolean;
  /** A running server to join; it becomes this server's predecessor. */
  join?: Address | undefined;
  heartbeatMs?: number;
  /** How long a client waits for its round to come back before an error reply. */
  roundTimeoutMs?: number;
  /** How long a peer may take to accept a connection before it counts as down. */
  connectTimeoutMs?: number;
  maxMessageBytes?: number;
  /** How long a connection may take to deliver its message. */
  idleTimeoutMs?: number;
  store?: ItemStore;
  log?: Log;
  transport?: PeerTransport;
}

export const DEFAULTS = {
  heartbeatMs: 5000,
  roundTimeoutMs: 30_000,
  connectTimeoutMs: 2000,
  maxMessageBytes: 64 * 1024 * 1024,
  idleTimeoutMs: 30_000,
} as const;

const CHECK_PAYLOAD = encodeMessage({ type: 'CHECK' });

export interface NodeEvents {
  ring: [members: Address[]];
}

export class RingNode extends EventEmitter<NodeEvents> {
  private readonly options: Required<Omit<NodeOptions, 'join' | 'store' | 'log' | 'transport'>>;
  private readonly listener: TcpListener;
  private readonly store: ItemStore;
  private readonly transport: PeerTransport;
  private log: Log;
  private view: RingView | undefined;
  private readonly waiting = new PendingRounds<Connection>();
  private readonly seen = new SeenRounds();
  private readonly idPrefix = randomBytes(6).toString('hex');
  private roundCounter = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private context: HandlerContext | undefined;

  constructor(private readonly nodeOptions: NodeOptions) {
    super();
    this.options = {
      host: nodeOptions.host,
      port: nodeOptions.port,
      probeUpward: nodeOptions.probeUpward ?? false,
      heartbeatMs: nodeOptions.heartbeatMs ?? DEFAULTS.heartbeatMs,
      roundTimeoutMs: nodeOptions.roundTimeoutMs ?? DEFAULTS.roundTimeoutMs,
      connectTimeoutMs: nodeOptions.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      maxMessageBytes: nodeOptions.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      idleTimeoutMs: nodeOptions.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    };
    this.store = nodeOptions.store ?? new MemoryStore();
    this.log = nodeOptions.log ?? silentLog;
    const connectTimeoutMs = this.options.connectTimeoutMs;
    this.transport = nodeOptions.transport ?? {
      send: (to, payload) => sendMessage(parseAddress(to), payload, connectTimeoutMs),
    };
    this.listener = new TcpListener(
      { maxMessageBytes: this.options.maxMessageBytes, idleTimeoutMs: this.options.idleTimeoutMs },
      {
        onMessage: (text, connection) => this.receive(text, connection),
        onFrameError: (error, connection) => this.refuse(error, connection),
      },
    );
  }

  /** This server's "IP:PORT"; known once started. */
  get address(): Address {
    if (!this.view) throw new Error('server not started');
    return this.view.self;
  }

  /** The ring as this server sees it, starting with itself. */
  get members(): Address[] {
    return this.view ? this.view.fromSelf() : [];
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Listens, then (when asked to join) sends INSERT to the server to join. */
  async start(): Promise<Address> {
    if (this.state !== 'new') throw new Error('a server starts once');
    const bound = await this.listener.start(this.options.host, this.options.port, this.options.probeUpward);
    const self = formatAddress(bound.host, bound.port);
    this.view = new RingView(self);
    this.log = this.log.child({ node: self });
    this.context = this.createContext(this.view);
    this.state = 'running';
    this.log.info(`listening on ${self}`);
    const join = this.nodeOptions.join;
    if (join !== undefined) {
      try {
        await this.transport.send(join, encodeMessage({ type: 'INSERT', data: self }));
        this.log.send(`INSERT ${self} to ${join}`);
      } catch (err) {
        await this.stop();
        throw new CoopError('JOIN_FAILED', `cannot join ${join}: ${(err as Error).message}`, { cause: err });
      }
    } else {
      this.ringChanged();
    }
    this.scheduleHeartbeat();
    return self;
  }

  /** Stops listening, answers waiting clients with an error, clears every timer. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.heartbeatTimer);
    for (const connection of this.waiting.drain()) {
      this.reply(connection, errorReply('SHUTTING_DOWN', 'the server is stopping'));
    }
    await this.listener.stop();
    await this.store.close();
  }

  private createContext(view: RingView): HandlerContext {
    return {
      self: view.self,
      ring: view,
      store: this.store,
      log: this.log,
      waiting: this.waiting,
      seen: this.seen,
      roundTimeoutMs: this.options.roundTimeoutMs,
      newRoundId: () => `${this.idPrefix}-${(this.roundCounter++).toString(36)}`,
      forward: (message) => void this.forward(message),
      announceRing: () => this.announceRing(),
      ringChanged: () => this.ringChanged(),
      reply: (connection, reply) => this.reply(connection, reply),
    };
  }

  private receive(text: string, connection: Connection): void {
    const ctx = this.context;
    if (!ctx || !this.running) {
      connection.reply(encodeMessage(errorReply('SHUTTING_DOWN', 'the server is stopping')));
      return;
    }
    let message: Message;
    try {
      message = decodeMessage(text);
    } catch (err) {
      this.refuse(isCoopError(err) ? err : new CoopError('BAD_JSON', String(err)), connection);
      return;
    }
    const heartbeat = message.type === 'CHECK';
    this.log.recv(
      REPLIED_TYPES.has(message.type) ? `${describe(message)} from client ${connection.remote}` : describe(message),
      undefined,
      heartbeat,
    );
    if (!REPLIED_TYPES.has(message.type)) connection.close();
    const handler = handlers[message.type] as (m: Message, c: Connection, x: HandlerContext) => void | Promise<void>;
    Promise.resolve()
      .then(() => handler(message, connection, ctx))
      .catch((err: unknown) => {
        this.log.error(`handling ${message.type} failed: ${(err as Error).stack ?? String(err)}`);
        this.reply(connection, errorReply('BAD_FIELD', `the server could not handle this ${message.type}`));
      });
  }

  private refuse(error: CoopError, connection: Connection): void {
    this.log.warn(`bad message from ${connection.remote}: ${error.message}`);
    connection.reply(encodeMessage(errorReply(error.code, error.message)));
  }

  private reply(connection: Connection, reply: Reply): void {
    connection.reply(encodeMessage(reply));
  }

  private ringChanged(): void {
    if (!this.view) return;
    this.log.info(this.view.format());
    this.emit('ring', this.view.fromSelf());
  }

  private announceRing(): void {
    const view = this.view;
    if (!view || view.size < 2) return;
    void this.forward({ type: 'UPDATE', creator: view.self, data: [...view.members], id: this.context!.newRoundId() });
  }

  /**
   * Sends a round message to the successor. A successor that cannot be reached
   * is cut out and the next one tried; the new ring is then announced. A
   * failed UPDATE is not passed further: the announcement replaces it.
   */
  private async forward(message: RoundMessage): Promise<void> {
    const view = this.view!;
    const payload = encodeMessage(message);
    let removed = false;
    for (;;) {
      const next = view.successor();
      if (next === undefined) {
        // Alone now: a round of ours is complete; anyone else's has no creator to return to.
        if (message.creator === view.self) this.receive(payload, detachedConnection);
        break;
      }
      try {
        await this.transport.send(next, payload);
        this.log.send(`${describe(message)} to ${next}`);
        break;
      } catch (err) {
        if (!this.running) return;
        this.log.warn(`${next} is unreachable (${(err as Error).message})`);
        if (view.remove(next)) {
          removed = true;
          this.ringChanged();
        }
        if (message.type === 'UPDATE') break;
      }
    }
    if (removed) this.announceRing();
  }

  private scheduleHeartbeat(): void {
    if (!this.running) return;
    this.heartbeatTimer = setTimeout(() => {
      void this.heartbeat().finally(() => this.scheduleHeartbeat());
    }, this.options.heartbeatMs);
  }

  private async heartbeat(): Promise<void> {
    const view = this.view!;
    const next = view.successor();
    if (next === undefined) return;
    try {
      await this.transport.send(next, CHECK_PAYLOAD);
      this.log.send(`CHECK to ${next}`, undefined, true);
    } catch (err) {
      if (!this.running) return;
      this.log.warn(`heartbeat to ${next} failed (${(err as Error).message}): removing it from the ring`);
      if (view.remove(next)) {
        this.ringChanged();
        this.announceRing();
      }
    }
  }
}

/** Where a round that completes without leaving this server "replies": nowhere. */
const detachedConnection: Connection = { remote: 'self', reply() {}, close() {} };
