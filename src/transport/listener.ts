/**
 * The listener of the JSON protocol: one message per connection (a peer's
 * STREAM connection, many, in order). It finds the end of each incoming
 * object by parsing (framing.ts), enforces the limits (message size, silence,
 * a deadline for the whole message, the number of connections), and hands the
 * text to the node with a way to reply. With TLS options, it speaks TLS
 * instead of plain TCP (dial.ts is the other side).
 */
import { isUtf8 } from 'node:buffer';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { CoopError, isCoopError } from '../errors.js';
import { JsonObjectFramer } from '../protocol/framing.js';
import { formatAddress, type HostPort } from '../protocol/address.js';
import { ackLine, ATTACHING } from './acks.js';
import { attachedHeader, StreamFrames } from './attached.js';
import { partBlocks } from './part-blocks.js';
import { reusedReads } from './reused-reads.js';
import { chunksLength } from '../protocol/content.js';

export interface Limits {
  /** Largest message accepted, in bytes. */
  maxMessageBytes: number;
  /** How long a connection may stay silent before its message is complete. */
  idleTimeoutMs: number;
  /** How long a connection may take to deliver its whole message (or to finish its TLS handshake), however it trickles. */
  requestTimeoutMs: number;
  /** Connections held at once; past it, the oldest one that has not delivered a message yet is closed. */
  maxConnections: number;
}

/** A certificate and key to serve TLS with (PEM). */
export interface TlsServerOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface Connection {
  /** "IP:PORT" of the remote end, for logs. */
  readonly remote: string;
  /**
   * "IP:PORT" the connection arrived at on this server (undefined in-process),
   * which may differ from the address it advertises: a peer that dialled it
   * sealed its message for that address. Asked for only when needed.
   */
  local?(): string | undefined;
  /** In-process requests (the HTTP face) take the reply object itself, never encoded. */
  deliver?(reply: unknown): void;
  /** Writes the reply and closes; does nothing once the connection is gone. */
  reply(payload: string, attached?: readonly Buffer[]): void;
  close(): void;
}

export interface ListenerHandlers {
  /**
   * One message. Returning 'stream' turns the connection into a stream of
   * peer messages (our servers' persistent connections): every further object
   * on it goes to onStreamMessage, and nothing is answered. 'attaching' does
   * too, and tells the sender that messages may come with bytes attached (attached.ts).
   */
  onMessage(text: string, connection: Connection): void | 'stream' | 'attaching' | 'refused';
  /**
   * One object of a stream (`stream`: the connection it came on), with the bytes attached to it;
   * false ends the stream (it was not a valid message).
   */
  onStreamMessage?(text: string, stream: Connection, bytes?: Buffer[]): boolean;
  /** Framing failed: too large, not JSON, too deep, timed out or cut short. */
  onFrameError(error: CoopError, connection: Connection): void;
  /**
   * A connection whose first byte does not open a JSON object: HTTP, on the
   * same port. The socket is handed over with its first bytes put back.
   */
  onOtherProtocol?(socket: Socket): void;
  /** A connection could not be accepted (out of descriptors: EMFILE): the listener keeps listening. */
  onAcceptError?(error: NodeJS.ErrnoException): void;
}

const OPEN_BRACE = 0x7b;
const ignore = (): void => undefined;

/** The first byte that is not blank, or undefined when the chunk is all blanks. */
function firstByte(chunk: Buffer): number | undefined {
  for (const byte of chunk) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return byte;
  return undefined;
}

const DRAIN_AFTER_ERROR_MS = 2000;
const MAX_PORT_PROBES = 1000;

export class TcpListener {
  private server: Server | undefined;
  /** Open connections, oldest first; true while one has not delivered a whole message (it may be closed to make room). */
  private readonly sockets = new Map<Socket, boolean>();
  private readonly raw = new Set<Socket>();

  constructor(
    private readonly limits: Limits,
    private readonly handlers: ListenerHandlers,
    private readonly tls?: TlsServerOptions,
  ) {}

  /**
   * Binds host:port; with `probeUpward` a taken port is skipped for the next
   * one up. Binding is the test, so a port that another server holds is never chosen.
   */
  async start(host: string, port: number, probeUpward = false): Promise<HostPort> {
    if (this.server) throw new Error('listener already started');
    for (let attempt = 0; ; attempt++) {
      const candidate = port + attempt;
      // Half-open: a client that half-closes after its message still gets the reply, however long its round takes.
      const server = this.tls
        ? createTlsServer({ ...this.tls, allowHalfOpen: true, handshakeTimeout: this.limits.requestTimeoutMs }, (socket) =>
            this.accept(socket),
          )
        : createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
      // With TLS, a connection still in its handshake is not accepted yet: closed on stop all the same.
      if (this.tls) {
        server.on('connection', (socket: Socket) => {
          this.raw.add(socket);
          socket.once('close', () => this.raw.delete(socket));
        });
      }
      try {
        await listen(server, host, candidate);
        // Node reports a failed accept as an 'error' of the server; unheard, it would end the process.
        server.on('error', (err: NodeJS.ErrnoException) => this.handlers.onAcceptError?.(err));
        this.server = server;
        const bound = server.address();
        if (bound === null || typeof bound === 'string') throw new Error('listener has no TCP address');
        return { host, port: bound.port };
      } catch (err) {
        server.close();
        const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!probeUpward || !inUse || candidate >= 65535 || attempt >= MAX_PORT_PROBES) throw err;
      }
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets.keys()) socket.destroy();
    for (const socket of this.raw) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Reads one object after another from a peer's persistent connection; a bad one ends the stream.
   * What was taken is acknowledged (acks.ts): "0" at once, then the count now and then.
   */
  private stream(socket: Socket, first: Buffer, connection: Connection, attaching: boolean): void {
    // Read into one buffer used again, the parts copied into blocks used again (part-blocks.ts), where Node lets it be.
    const reuse = reusedReads(socket);
    const frames = new StreamFrames(this.limits.maxMessageBytes, reuse && partBlocks);
    let taken = 0;
    let ackTimer: NodeJS.Timeout | undefined;
    const acknowledge = (): void => {
      ackTimer = undefined;
      if (!socket.destroyed && socket.writable) socket.write(ackLine(taken));
    };
    const take = (chunk: Buffer): void => {
      try {
        for (const { frame, bytes } of frames.push(chunk)) {
          taken++;
          if (this.handlers.onStreamMessage?.(utf8Text(frame), connection, bytes) === false) {
            socket.destroy();
            return;
          }
        }
      } catch {
        socket.destroy();
      } finally {
        // One acknowledgement for whatever arrives within a short while: a write less per batch under load.
        if (taken > 0 && ackTimer === undefined && !socket.destroyed) ackTimer = setTimeout(acknowledge, STREAM_ACK_DELAY_MS);
      }
    };
    socket.once('close', () => clearTimeout(ackTimer));
    socket.write(attaching ? `${ATTACHING}\n${ackLine(0)}` : ackLine(0));
    socket.on('end', () => socket.end());
    socket.setTimeout(STREAM_IDLE_MS, () => socket.destroy());
    take(first);
    if (reuse) {
      reuse(take);
      // What was read before the switch, still buffered in the socket, comes first.
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) take(chunk);
    } else {
      socket.on('data', take);
    }
    socket.resume();
  }

  /** Makes room for one more connection: closes the oldest that has not delivered a whole message yet. */
  private makeRoom(): void {
    if (this.sockets.size < this.limits.maxConnections) return;
    for (const [socket, evictable] of this.sockets) {
      if (!evictable) continue;
      this.sockets.delete(socket);
      socket.destroy();
      return;
    }
  }

  /** HTTP connections stay evictable: a keep-alive client can always reconnect. */
  private settled(socket: Socket): void {
    if (this.sockets.has(socket)) this.sockets.set(socket, false);
  }

  private accept(socket: Socket): void {
    this.makeRoom();
    if (this.sockets.size >= this.limits.maxConnections) {
      socket.destroy(); // every connection is busy delivering or awaiting an answer
      return;
    }
    this.sockets.set(socket, true);
    socket.on('close', () => {
      this.sockets.delete(socket);
      // A closed socket stays reachable for a while from Node's own bookkeeping (its
      // finished write and shutdown requests), so every young-generation collection
      // until then copies it, and everything its listeners hold (framer, connection,
      // closures). Dropped now, they die young and are not copied again under load.
      // Nothing is emitted after 'close'; should an error come
      // all the same, a listener that holds nothing is there for it.
      socket.removeAllListeners();
      socket.on('error', ignore);
    });
    socket.on('error', ignore); // resets from peers are normal; 'close' follows
    // However slowly the bytes trickle in, the whole message has this long: checked as bytes come
    // (silence is the idle timeout's), so that a connection costs no timer of its own.
    const deadline = performance.now() + this.limits.requestTimeoutMs;

    const connection = connectionFor(socket);
    const framer = new JsonObjectFramer(this.limits.maxMessageBytes);
    let done = false;
    const fail = (error: CoopError): void => {
      if (done) return;
      done = true;
      socket.removeListener('data', onData);
      socket.setTimeout(0);
      this.handlers.onFrameError(error, connection);
      // Read and drop what the peer is still sending, so that it can read the error reply.
      socket.resume();
      setTimeout(() => socket.destroy(), DRAIN_AFTER_ERROR_MS).unref();
    };
    let sniffed = false;
    const onData = (chunk: Buffer): void => {
      if (!sniffed) {
        const first = firstByte(chunk);
        if (first !== undefined) sniffed = true;
        if (first !== undefined && first !== OPEN_BRACE && this.handlers.onOtherProtocol) {
          done = true;
          socket.removeListener('data', onData);
          socket.removeAllListeners('end');
          socket.removeAllListeners('timeout');
          socket.setTimeout(0);
          socket.pause();
          socket.unshift(chunk);
          // HTTP answers in several writes on a kept-alive connection: none may wait for an
          // acknowledgement. A JSON reply is one write and the end, which the kernel sends at
          // once, so JSON connections are spared the system call.
          socket.setNoDelay(true);
          this.handlers.onOtherProtocol(socket);
          return;
        }
      }
      let result;
      let text;
      try {
        result = framer.push(chunk);
        if (result) text = utf8Text(result.frame);
      } catch (err) {
        fail(isCoopError(err) ? err : new CoopError('BAD_JSON', String(err)));
        return;
      }
      if (!result || text === undefined) {
        if (performance.now() > deadline) fail(new CoopError('TIMEOUT', `no complete message within ${this.limits.requestTimeoutMs} ms`));
        return;
      }
      done = true;
      this.settled(socket);
      socket.removeListener('data', onData);
      socket.pause();
      socket.setTimeout(0);
      const outcome = this.handlers.onMessage(text, connection);
      if (outcome === 'stream' || outcome === 'attaching') this.stream(socket, result.rest, connection, outcome === 'attaching');
    };
    socket.on('data', onData);
    socket.on('end', () => {
      if (done) return;
      if (framer.bufferedBytes === 0 && !framer.hasStarted) {
        done = true; // connected and closed without a word: a bare TCP probe
        socket.end();
      } else {
        fail(new CoopError('CLOSED', 'the connection closed before the message was complete'));
      }
    });
    socket.setTimeout(this.limits.idleTimeoutMs, () =>
      fail(new CoopError('TIMEOUT', `no complete message within ${this.limits.idleTimeoutMs} ms`)),
    );
  }
}

/**
 * The message as text. Bytes that are not UTF-8 (overlong forms, lone
 * surrogates, stray continuation bytes) are refused rather than silently
 * replaced, so a name never changes on its way in.
 */
function utf8Text(frame: Buffer): string {
  if (!isUtf8(frame)) throw new CoopError('BAD_JSON', 'the message is not valid UTF-8');
  return frame.toString('utf8');
}

/** Streams from peers that say nothing for this long are closed. */
const STREAM_IDLE_MS = 5 * 60 * 1000;
/** How long what a stream brought may wait to be acknowledged, so that one acknowledgement covers many messages. */
const STREAM_ACK_DELAY_MS = 20;

function connectionFor(socket: Socket): Connection {
  const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  return {
    remote,
    local: () => localAddressOf(socket),
    reply(payload, attached) {
      if (socket.destroyed || !socket.writable) return;
      if (!attached) {
        socket.end(payload);
        return;
      }
      socket.cork();
      socket.write(attachedHeader(chunksLength(attached)) + payload);
      for (const chunk of attached) socket.write(chunk);
      socket.end();
    },
    close() {
      if (!socket.destroyed) socket.end();
    },
  };
}

/** The socket's local "IP:PORT" as ring addresses are written: an IPv4 address on a [::] listener without its ::ffff: prefix. */
function localAddressOf(socket: Socket): string | undefined {
  const host = socket.localAddress;
  const port = socket.localPort;
  if (host === undefined || port === undefined) return undefined;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : undefined;
  return formatAddress(v4 !== undefined && isIP(v4) === 4 ? v4 : host, port);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
}
