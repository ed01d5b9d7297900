/**
 * Persistent connections to our own servers: instead of a connection per
 * message, one connection per peer, opened with a STREAM message and then
 * carrying one object after another, in order, written in batches
 * (batch.ts). Original servers never get one (the caller decides who does).
 *
 * The receiver acknowledges what it took (acks.ts): a send resolves once its
 * message is acknowledged, or, to a peer that has never acknowledged anything
 * (a server of ours from before acknowledgements), once the kernel took it.
 * A stream that breaks, or whose oldest message waits longer than
 * `ackTimeoutMs` for its acknowledgement (a one-way fault: the kernel takes
 * every byte and nothing ever fails here), is dropped, and the messages it
 * had not delivered go once more on a fresh connection (shared by every
 * message that broke with it), so a peer that restarted is not taken for
 * dead. A message that fails on its second connection too fails its send.
 */
import type { Socket } from 'node:net';
import { CoopError } from '../errors.js';
import { parseAddress, type Address } from '../protocol/address.js';
import { dial, readyEvent, type TlsClientOptions } from './dial.js';
import { WriteBatch } from './batch.js';
import { AckReader, AckWindow } from './acks.js';
import { attachedHeader, type Payload } from './attached.js';
import { chunksLength } from '../protocol/content.js';

/** A stream that carries nothing for this long is closed (the receiver waits longer). */
const IDLE_MS = 60_000;

export interface AckOptions {
  /** A stream whose oldest message is not acknowledged within this long is taken for broken (ms). */
  timeoutMs: number;
  /** A stream to `peer` was given up for want of acknowledgements: `waitedMs`, and how many messages go again. */
  onUnacknowledged?(peer: Address, waitedMs: number, resent: number): void;
  /** Milliseconds (performance.now). */
  now?(): number;
}

export const DEFAULT_ACK_TIMEOUT_MS = 5000;
const ignore = (): void => undefined;
/** How long closing waits for peers to end their side of each stream. */
const CLOSE_GRACE_MS = 2000;

/** A message on its way: settled once acknowledged (or written, to a peer that does not acknowledge), or failed. */
interface Outgoing {
  payload: Payload;
  resolve(): void;
  reject(err: Error): void;
  /** Connections it has been written on. */
  tries: number;
}

interface Stream {
  to: Address;
  socket: Socket;
  /** Resolves once connected; rejects with CONNECT_FAILED. */
  ready: Promise<void>;
  /** The connection is open (`ready` has resolved): writes need not wait for it. */
  connected: boolean;
  /** Messages on their way out, written together (batch.ts). */
  batch: WriteBatch;
  /** Messages written and not acknowledged yet (to a peer that acknowledges). */
  window: AckWindow<Outgoing>;
  reader: AckReader;
  /** Why it was given up, when this side gave it up. */
  failure?: CoopError | undefined;
}

export class PeerStreams {
  private readonly streams = new Map<Address, Stream>();
  /** Peers that acknowledge what their streams carry. */
  private readonly acking = new Set<Address>();
  private closed = false;
  private checker: NodeJS.Timeout | undefined;
  private readonly acks: AckOptions;
  private readonly now: () => number;

  constructor(
    /** The STREAM message that opens a connection to a peer (sealed for it, where a cluster secret is set). */
    private readonly opening: (peer: Address) => string,
    private readonly connectTimeoutMs: number,
    private readonly tls?: TlsClientOptions,
    acks: AckOptions = { timeoutMs: DEFAULT_ACK_TIMEOUT_MS },
  ) {
    this.acks = acks;
    this.now = acks.now ?? (() => performance.now());
  }

  send(to: Address, payload: Payload): Promise<void> {
    if (this.closed) return Promise.reject(new CoopError('CLOSED', 'the streams are closed: the server is stopping'));
    return new Promise((resolve, reject) => {
      this.write(this.streams.get(to) ?? this.open(to), { payload, resolve, reject, tries: 0 });
    });
  }

  /**
   * Ends every stream and waits (at most `graceMs`) for the peers to end
   * theirs. Destroying at once, with their acknowledgements unread, would
   * make the kernel reset the connection, and a reset throws away what the
   * peer has not read yet: the last messages, such as a leave.
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    this.closed = true;
    clearInterval(this.checker);
    const streams = [...this.streams.values()];
    this.streams.clear();
    await Promise.all(
      streams.map(
        ({ socket }) =>
          new Promise<void>((resolve) => {
            if (socket.destroyed) return resolve();
            const timer = setTimeout(() => socket.destroy(), graceMs);
            socket.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            socket.end();
          }),
      ),
    );
  }

  private write(stream: Stream, message: Outgoing): void {
    if (!stream.connected) {
      stream.ready.then(
        () => this.write(stream, message),
        (err: Error) => message.reject(err),
      );
      return;
    }
    if (stream.socket.destroyed || !stream.socket.writable) {
      this.again(stream, message, stream.failure ?? new CoopError('CLOSED', 'the stream is closed'));
      return;
    }
    message.tries++;
    const tracked = this.acking.has(stream.to);
    stream.window.write(message, this.now(), tracked);
    const written = stream.batch.add(...piecesFor(stream, message.payload));
    // A tracked message is settled by its acknowledgement, or by the stream's end (lost()).
    if (tracked) written.catch(ignore);
    else
      written.then(
        () => message.resolve(),
        (err: Error) => this.again(stream, message, err),
      );
  }

  /** Once more on a fresh stream, unless it failed there already or the streams are closing. */
  private again(from: Stream, message: Outgoing, err: Error): void {
    if (this.closed || message.tries >= 2) {
      message.reject(err);
      return;
    }
    const current = this.streams.get(from.to);
    this.write(current !== undefined && current !== from && !current.socket.destroyed ? current : this.open(from.to), message);
  }

  /** The stream is gone: what it had not delivered goes again. */
  private lost(stream: Stream): void {
    if (this.streams.get(stream.to) === stream) this.streams.delete(stream.to);
    const err = stream.failure ?? new CoopError('CLOSED', `the stream to ${stream.to} closed`);
    for (const message of stream.window.drain()) this.again(stream, message, err);
  }

  /** Gives up streams whose oldest message waits too long for its acknowledgement. */
  private readonly check = (): void => {
    const now = this.now();
    for (const stream of this.streams.values()) {
      const waited = stream.window.oldestAge(now);
      if (waited <= this.acks.timeoutMs) continue;
      const seconds = (waited / 1000).toFixed(1);
      stream.failure = new CoopError('TIMEOUT', `messages to ${stream.to} not acknowledged for ${seconds} s`);
      this.acks.onUnacknowledged?.(stream.to, waited, stream.window.pending);
      this.streams.delete(stream.to);
      stream.socket.destroy(); // 'close' resends what it held
    }
  };

  private acknowledged(stream: Stream, chunk: Buffer): void {
    let count: number | undefined;
    try {
      count = stream.reader.push(chunk.toString('latin1'));
      if (count === undefined) return;
      this.acking.add(stream.to);
      for (const message of stream.window.ack(count)) message.resolve();
    } catch {
      stream.failure = new CoopError('CLOSED', `${stream.to} answered its stream with something other than acknowledgements`);
      stream.socket.destroy();
    }
  }

  private open(to: Address): Stream {
    this.streams.get(to)?.socket.destroy();
    this.checker ??= setInterval(this.check, Math.max(50, this.acks.timeoutMs / 4)).unref();
    const { host, port } = parseAddress(to);
    const socket = dial(host, port, this.tls);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new CoopError('TIMEOUT', `connecting to ${to} timed out after ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      socket.once(readyEvent(this.tls), () => {
        clearTimeout(timer);
        socket.write(this.opening(to));
        stream.connected = true;
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(
          new CoopError('CONNECT_FAILED', `cannot connect to ${to}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }),
        );
      });
    });
    ready.catch(() => undefined);
    const batch = new WriteBatch(
      {
        get writable() {
          return !socket.destroyed && socket.writable;
        },
        write: (pieces, done) => {
          if (pieces.length === 1) {
            socket.write(pieces[0]!, done);
            return;
          }
          socket.cork();
          pieces.forEach((piece, at) => socket.write(piece, at === pieces.length - 1 ? done : undefined));
          socket.uncork();
        },
      },
      (err) => new CoopError('CLOSED', `stream write failed: ${(err as Error).message}`, { cause: err }),
    );
    const stream: Stream = { to, socket, ready, connected: false, batch, window: new AckWindow(), reader: new AckReader() };
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => this.lost(stream));
    socket.on('end', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.acknowledged(stream, chunk));
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    if (this.closed) socket.destroy();
    else this.streams.set(to, stream);
    return stream;
  }
}

/** A message as it goes on this stream: with its bytes attached when the receiver said it reads them, else inline. */
function piecesFor(stream: Stream, payload: Payload): Array<string | Buffer> {
  if (typeof payload === 'string') return [payload];
  if (!stream.reader.attaching) return [payload.inline()];
  return [attachedHeader(chunksLength(payload.bytes)) + payload.text, ...payload.bytes];
}
