/**
 * Persistent connections to our own servers: instead of a connection per
 * message, one connection per peer, opened with a STREAM message and then
 * carrying one object after another, in order, written in batches
 * (batch.ts). Original servers never get one (the caller decides who does).
 * A stream that breaks is dropped; the messages that found it broken are
 * tried once more on a fresh connection, so a peer that restarted is not
 * taken for dead.
 */
import type { Socket } from 'node:net';
import { CoopError } from '../errors.js';
import { parseAddress, type Address } from '../protocol/address.js';
import { dial, readyEvent, type TlsClientOptions } from './tcp.js';
import { WriteBatch } from './batch.js';

/** A stream that carries nothing for this long is closed (the receiver waits longer). */
const IDLE_MS = 60_000;

interface Stream {
  socket: Socket;
  /** Resolves once connected; rejects with CONNECT_FAILED. */
  ready: Promise<void>;
  /** The connection is open (`ready` has resolved): writes need not wait for it. */
  connected: boolean;
  /** Has carried a message: a failure now may be the peer restarting, worth one retry. */
  used: boolean;
  /** Messages on their way out, written together (batch.ts). */
  batch: WriteBatch;
}

export class PeerStreams {
  private readonly streams = new Map<Address, Stream>();
  private closed = false;

  constructor(
    /** The STREAM message that opens a connection to a peer (sealed for it, where a cluster secret is set). */
    private readonly opening: (peer: Address) => string,
    private readonly connectTimeoutMs: number,
    private readonly tls?: TlsClientOptions,
  ) {}

  async send(to: Address, payload: string): Promise<void> {
    if (this.closed) throw new CoopError('CLOSED', 'the streams are closed: the server is stopping');
    const stream = this.streams.get(to) ?? this.open(to);
    try {
      await this.write(stream, payload);
    } catch (err) {
      if (!stream.used || this.closed) throw err;
      // A stream that worked before broke: once more on a fresh one (shared by the
      // messages that broke with it); a dead peer refuses it.
      const fresh = this.streams.get(to);
      await this.write(fresh !== undefined && fresh !== stream ? fresh : this.open(to), payload);
    }
  }

  close(): void {
    this.closed = true;
    for (const stream of this.streams.values()) stream.socket.destroy();
    this.streams.clear();
  }

  private write(stream: Stream, payload: string): Promise<void> {
    if (!stream.connected) return stream.ready.then(() => this.write(stream, payload));
    if (stream.socket.destroyed || !stream.socket.writable) return Promise.reject(new CoopError('CLOSED', 'the stream is closed'));
    return stream.batch.add(payload);
  }

  private open(to: Address): Stream {
    this.streams.get(to)?.socket.destroy();
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
        write: (text, done) =>
          socket.write(text, (err) => {
            if (!err) stream.used = true;
            done(err);
          }),
      },
      (err) => new CoopError('CLOSED', `stream write failed: ${(err as Error).message}`, { cause: err }),
    );
    const stream: Stream = { socket, ready, connected: false, used: false, batch };
    const forget = (): void => {
      if (this.streams.get(to) === stream) this.streams.delete(to);
    };
    socket.on('error', forget);
    socket.on('close', forget);
    socket.on('end', () => socket.destroy());
    socket.on('data', () => undefined); // nothing is answered on a stream
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    if (this.closed) socket.destroy();
    else this.streams.set(to, stream);
    return stream;
  }
}
