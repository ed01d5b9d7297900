/**
 * Where every message comes in: its peer tag is checked (security/), it is
 * decoded, admitted (tag or token, client limits) and dispatched to its
 * handler (handlers/); the reply goes out from here, counted and timed. The
 * HTTP face asks through the same handlers (`ask`).
 */
import { CoopError, isCoopError } from '../errors.js';
import {
  decodeMessage,
  withAttached,
  encodeMessage,
  errorReply,
  REPLIED_TYPES,
  requestToken,
  type ItemData,
  type Message,
  type MessageType,
  type Reply,
} from '../protocol/messages.js';
import type { Log } from '../log/logger.js';
import { chunksLength } from '../protocol/content.js';
import type { Connection } from '../transport/listener.js';
import type { Traffic } from '../protocol/status.js';
import { answerTo, type PeerAuth } from '../security/peer-auth.js';
import { accessOf, type AccessPolicy } from '../security/access.js';
import { checkClientRequest, type RequestLimits } from '../security/requests.js';
import type { ExtensionPeers } from '../ring/extension-peers.js';
import { handlers, type Answer, type Handler, type HandlerContext } from '../handlers/handlers.js';
import type { NodeMetrics } from './metrics.js';
import { describe } from './describe.js';

export interface InboxDeps {
  /** The cluster secret's tags; undefined in an open ring. */
  auth: PeerAuth | undefined;
  access: AccessPolicy;
  limits: RequestLimits;
  /** A peer that opens a stream speaks our extensions. */
  peers: ExtensionPeers;
  metrics: Pick<NodeMetrics, 'requests' | 'latency' | 'refused' | 'partBytes'>;
  /** The server's log (named once bound) until it has started; then the handlers' own. */
  log(): Log;
  /** Larger replies are refused as TOO_LARGE. */
  maxMessageBytes: number;
  running(): boolean;
  /** Whether anybody follows the traffic: the event is not built otherwise. */
  watched(): boolean;
  traffic(traffic: Traffic): void;
  /** A write refused for want of space: counted and logged. */
  noSpace(err: CoopError): void;
  /** A handler found the store unusable: look at the data directory now. */
  checkStore(): void;
}

export class Inbox {
  /** The handlers' context, once the server has started; until then every message is refused. */
  private context: HandlerContext | undefined;

  constructor(private readonly deps: InboxDeps) {}

  /** The server has started: messages are handled from now on. */
  open(context: HandlerContext): void {
    this.context = context;
  }

  private get log(): Log {
    return this.context?.log ?? this.deps.log();
  }

  /** `arrivedOn`: the connection the text came on, when it is not the one to answer on (a stream). */
  receive(
    text: string,
    connection: Connection,
    arrivedOn: Connection = connection,
    attached?: readonly Buffer[],
  ): void | 'stream' | 'attaching' | 'refused' {
    const ctx = this.context;
    if (!ctx || !this.deps.running()) {
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
      if (this.deps.auth) ({ text, authentic, nonce } = this.deps.auth.open(text, ctx.self, arrivedOn.local, attached));
      message = decodeMessage(text);
      if (attached) message = withAttached(message, attached);
      if (message.type === 'FORWARD_PUT' && message.data.part) this.countPart(message.data);
      this.admit(message, authentic);
    } catch (err) {
      this.refuse(isCoopError(err) ? err : new CoopError('BAD_JSON', String(err)), connection);
      return 'refused';
    }
    if (message.type === 'STREAM') {
      this.deps.peers.add(message.from);
      return message.attach ? 'attaching' : 'stream';
    }
    // A round message from our servers travels with its text: a handler that passes it on
    // unchanged sends that text again instead of encoding it anew (the tag is made afresh
    // for the next hop either way); a changed message is encoded as usual.
    const relayed =
      text.length <= KEPT_TEXT_LIMIT &&
      RELAYED_AS_RECEIVED.has(message.type) &&
      'id' in message &&
      message.id !== undefined &&
      message.creator !== ctx.self; // a round of ours, back home, goes no further
    // A peer's request is answered with this server's tag, sealed for that request alone.
    const auth = this.deps.auth;
    const replyTo =
      auth && nonce !== undefined && REPLIED_TYPES.has(message.type)
        ? {
            ...connection,
            reply: (payload: string, attached?: readonly Buffer[]) =>
              connection.reply(auth.seal(payload, answerTo(nonce), attached).text, attached),
          }
        : connection;
    this.dispatch(message, replyTo, relayed ? text : undefined);
  }

  /** A part passing around the ring: counted by the way its bytes came. */
  private countPart(data: ItemData): void {
    if (data.bytes) this.deps.metrics.partBytes.inc({ way: 'raw' }, chunksLength(data.bytes));
    else this.deps.metrics.partBytes.inc({ way: 'base64' }, Buffer.byteLength(data.content, 'base64'));
  }

  /** One object of a peer's stream: false ends the stream (it was not a valid message). */
  receiveStreamed(text: string, stream: Connection, attached?: readonly Buffer[]): boolean {
    // Nothing on a stream is answered; its connection tells only where it arrived.
    return this.receive(text, detachedConnection, stream, attached) !== 'refused';
  }

  /**
   * Refuses what the sender may not do (access.ts), and a client's request
   * outside this server's limits (requests.ts). A peer with the secret is trusted.
   */
  private admit(message: Message, authentic: boolean): void {
    this.deps.access.check(accessOf(message.type), requestToken(message), authentic);
    if (!authentic) checkClientRequest(message, this.deps.limits);
  }

  /**
   * Throws BAD_NAME or TOO_LARGE when a client's request is outside this
   * server's limits: for what the HTTP face answers itself, which `ask` checks too.
   */
  checkClient(message: Message): void {
    checkClientRequest(message, this.deps.limits);
  }

  /**
   * A request from the HTTP face, through the same handlers; resolves with the
   * reply object. The HTTP face has checked the token already.
   */
  ask(message: Message): Promise<Reply> {
    if (!this.context || !this.deps.running()) return Promise.resolve(errorReply('SHUTTING_DOWN', 'the server is stopping'));
    try {
      checkClientRequest(message, this.deps.limits);
    } catch (err) {
      const { code, message: text } = err as CoopError;
      return Promise.resolve(errorReply(code, text));
    }
    return new Promise((resolve) => {
      this.dispatch(message, { remote: 'http', deliver: (reply) => resolve(reply as Reply), reply: ignore, close: ignore });
    });
  }

  /**
   * Hands a message to its handler and writes the reply it returns to
   * `connection` (by default nowhere: a round of ours come home without
   * leaving this server). `received`: its text, when it may be passed on unchanged.
   */
  dispatch(message: Message, connection: Connection = detachedConnection, received?: string): void {
    const ctx = this.context;
    if (!ctx) return;
    const heartbeat = message.type === 'CHECK' || message.type === 'PING' || message.type === 'PING_REQ';
    const replied = REPLIED_TYPES.has(message.type);
    const round = 'id' in message && message.id !== undefined ? { round: message.id } : undefined;
    const text = replied
      ? `${describe(message)} from client ${connection.remote}`
      : round
        ? `${describe(message)} (round ${round.round})`
        : describe(message);
    ctx.log.recv(text, round, heartbeat);
    if (replied && !heartbeat && this.deps.watched()) this.deps.traffic({ type: message.type, from: 'client', to: ctx.self });
    if (!replied) {
      connection.close();
      this.deps.metrics.requests.inc({ type: message.type, outcome: 'ok' });
    }
    const started = performance.now();
    const handler = handlers[message.type] as Handler<Message, HandlerContext>;
    let answer: Answer;
    // Called at once, not from a promise: a reply at hand is written in this same turn, with no promise.
    try {
      answer = handler(message, ctx, connection.remote, received);
      if (answer === undefined) return;
      if (!(answer instanceof Promise)) {
        this.answer(connection, message.type, started, answer);
        return;
      }
    } catch (err) {
      this.failed(ctx, connection, message.type, started, err);
      return;
    }
    // A reply that cannot be written (it does not encode) is a failure too, answered as one.
    answer.then(
      (reply) => {
        try {
          if (reply) this.answer(connection, message.type, started, reply);
        } catch (err) {
          this.failed(ctx, connection, message.type, started, err);
        }
      },
      (err: unknown) => this.failed(ctx, connection, message.type, started, err),
    );
  }

  private failed(ctx: HandlerContext, connection: Connection, type: MessageType, started: number, err: unknown): void {
    this.answer(connection, type, started, this.failure(ctx, type, err));
    if (isCoopError(err, 'STORE_UNAVAILABLE')) this.deps.checkStore();
  }

  /** The answer to a message whose handler failed; the cause goes to the log, not to the client. */
  private failure(ctx: HandlerContext, type: MessageType, err: unknown): Reply {
    if (isCoopError(err, 'STORE_UNAVAILABLE')) {
      // The log names the directory; the reply does not (it goes to clients).
      ctx.log.error(`handling ${type} failed: ${err.message}`);
      const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
      const why = code === undefined ? 'its data directory is gone' : `${code} on its data directory`;
      return errorReply('STORE_UNAVAILABLE', `this server cannot keep writes (${why}); its operator is told`);
    }
    if (isCoopError(err, 'NO_SPACE')) {
      this.deps.noSpace(err);
      return errorReply('NO_SPACE', `server ${ctx.self} has no space left on disk for this ${type}`);
    }
    ctx.log.error(`handling ${type} failed: ${(err as Error).stack ?? String(err)}`);
    // The cause stays in the log: it may name files of this server.
    return errorReply('INTERNAL', `the server could not handle this ${type}`);
  }

  /** A message that could not be read (framing, seal, decoding, admission): refused with its code. */
  refuse(error: CoopError, connection: Connection): void {
    this.log.warn(`refused a message from ${connection.remote}: ${error.message}`);
    this.deps.metrics.refused.inc({ code: error.code });
    connection.reply(encodeMessage(errorReply(error.code, error.message)));
  }

  /**
   * Writes a reply to a request of type `type` handled since `started`; one
   * that would not fit in a message goes as TOO_LARGE. A request that is
   * answered (REPLIED_TYPES) is counted and timed.
   */
  private answer(connection: Connection, type: MessageType, started: number, reply: Reply): void {
    if (connection.deliver) {
      this.observe(type, started, reply.type !== 'ERROR');
      connection.deliver(reply);
      return;
    }
    // A range's bytes go attached beside the reply (the reader asked so: GET with `attach`).
    const attached = reply.type === 'GET' ? reply.data.bytes : undefined;
    if (attached && reply.type === 'GET') reply = { type: 'GET', data: { ...reply.data, bytes: undefined } };
    let payload = encodeMessage(reply);
    const limit = this.deps.maxMessageBytes;
    if (payload.length > limit && reply.type !== 'ERROR') {
      const message = `the reply would be ${payload.length} bytes, more than the limit of ${limit}: fetch it in parts (webclient does)`;
      reply = errorReply('TOO_LARGE', message);
      payload = encodeMessage(reply);
    }
    this.observe(type, started, reply.type !== 'ERROR');
    connection.reply(payload, reply.type === 'GET' ? attached : undefined);
  }

  private observe(type: MessageType, started: number, ok: boolean): void {
    if (!REPLIED_TYPES.has(type)) return;
    this.deps.metrics.requests.inc({ type, outcome: ok ? 'ok' : 'error' });
    this.deps.metrics.latency.observe({ type }, (performance.now() - started) / 1000);
  }

  /**
   * Resolves once every reply settled so far is written (the server stopping
   * waits for this before it closes the connections). A handler's promise
   * passes its reply on in promise jobs only, and a tick queued from a
   * promise job runs once those are all done: no turn of the event loop passes.
   */
  written(): Promise<void> {
    return new Promise((resolve) => queueMicrotask(() => process.nextTick(resolve)));
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

function ignore(): void {}

/** Where a message that is answered nowhere "replies": a stream's, or a round of ours that completes without leaving this server. */
const detachedConnection: Connection = { remote: 'self', reply: ignore, close: ignore };
