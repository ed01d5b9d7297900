/**
 * Dialing, for the JSON protocol: connect, write one object, and either close
 * (peer messages) or wait for one object back (client requests). With TLS
 * options, TLS instead of plain TCP.
 */
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { CoopError } from '../errors.js';
import { StreamFrames } from './attached.js';
import type { HostPort } from '../protocol/address.js';

const ignore = (): void => undefined;

/** How to dial TLS: the certificates to trust (PEM; default: the system's). */
export interface TlsClientOptions {
  ca?: string | Buffer | undefined;
}

/** Opens a connection, TLS or plain; it is usable once `readyEvent(tls)` fires. */
export function dial(host: string, port: number, tls?: TlsClientOptions): Socket {
  const socket = tls ? tlsConnect({ host, port, ca: tls.ca, ALPNProtocols: ['coop'] }) : createConnection({ host, port });
  socket.setNoDelay(true);
  return socket;
}

export function readyEvent(tls: TlsClientOptions | undefined): 'secureConnect' | 'connect' {
  return tls ? 'secureConnect' : 'connect';
}

function connect(target: HostPort, timeoutMs: number, tls?: TlsClientOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dial(target.host, target.port, tls);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new CoopError('TIMEOUT', `connecting to ${target.host}:${target.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(readyEvent(tls), () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new CoopError(
          'CONNECT_FAILED',
          `cannot connect to ${target.host}:${target.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
          { cause: err },
        ),
      );
    });
  });
}

/** Peer style: connect, write one message, close. Resolves once the bytes are handed to the kernel. */
export async function sendMessage(target: HostPort, payload: string, timeoutMs: number, tls?: TlsClientOptions): Promise<void> {
  const socket = await connect(target, timeoutMs, tls);
  await new Promise<void>((resolve, reject) => {
    socket.on('error', (err) =>
      reject(new CoopError('CLOSED', `sending to ${target.host}:${target.port} failed: ${err.message}`, { cause: err })),
    );
    socket.end(payload, () => resolve());
  });
  socket.on('error', ignore);
  // A peer that never closes its side (a mute listener at a seed's address) must not hold the
  // connection, nor keep a stopping process alive.
  socket.setTimeout(timeoutMs, () => socket.destroy());
  socket.unref();
}

/** A reply: its text, and the bytes attached to it when its request asked for them (attached.ts). */
export interface Answer {
  text: string;
  bytes?: Buffer[] | undefined;
}

export interface RequestOptions {
  timeoutMs: number;
  maxReplyBytes: number;
  tls?: TlsClientOptions | undefined;
}

/**
 * Client style: connect, write one message without half-closing (as the
 * original client does), and read one object back.
 */
export async function request(target: HostPort, payload: string, options: RequestOptions): Promise<string> {
  return (await exchange(target, payload, options)).text;
}

/** As `request`, with the bytes attached to the reply, if any. */
export async function exchange(target: HostPort, payload: string, options: RequestOptions): Promise<Answer> {
  const socket = await connect(target, options.timeoutMs, options.tls);
  return new Promise<Answer>((resolve, reject) => {
    const frames = new StreamFrames(options.maxReplyBytes);
    const finish = (err: Error | undefined, answer?: Answer): void => {
      socket.removeAllListeners('data');
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    let received = 0;
    // `connected`: the peer took the message and kept silent (an original may), unlike a connect that timed out.
    socket.setTimeout(options.timeoutMs, () => {
      // Decided after the event loop has read the socket: when this process was stopped (SIGSTOP, a
      // suspended laptop), timers fire before the reply waiting in the socket is read. Only the
      // peer's silence times out; bytes read meanwhile re-arm the timeout.
      const before = received;
      setImmediate(() => {
        if (received !== before || socket.destroyed) return;
        finish(
          Object.assign(new CoopError('TIMEOUT', `no reply from ${target.host}:${target.port} within ${options.timeoutMs} ms`), {
            connected: true,
          }),
        );
      });
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      try {
        const [first] = frames.push(chunk);
        if (first) finish(undefined, { text: first.frame.toString('utf8'), bytes: first.bytes });
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.on('end', () => finish(new CoopError('CLOSED', `${target.host}:${target.port} closed the connection without a reply`)));
    socket.on('error', (err) =>
      finish(new CoopError('CLOSED', `connection to ${target.host}:${target.port} failed: ${err.message}`, { cause: err })),
    );
    socket.write(payload);
  });
}
