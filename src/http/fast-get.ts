/**
 * The fast path in front of node:http: for a keep-alive GET of a small item,
 * node:http's own work per request (parser callbacks, request and response
 * objects, header handling) costs more than the rest of ours. So an HTTP
 * connection first meets this front. While the bytes at hand start with a
 * complete simple request (simple-request.ts) that has a ready answer
 * (ready-route.ts), the front writes that answer itself, with the lines
 * node:http would add (Date, Connection, Keep-Alive), in order when requests
 * are pipelined. At the first request that is anything else it stops for
 * good: it puts every unconsumed byte back and hands the socket to node:http
 * as it would have been handed without the front, so node:http reads the rest
 * of the connection from a request boundary on, and stays the one HTTP
 * implementation for everything but these answers.
 *
 * node:http's limits keep holding, read from the same server object: its
 * timeout until the first answer and its keep-alive timeout (plus the second
 * node:http adds) after one, as node:http does between requests; a request
 * head still incomplete after headersTimeout gets node's 408 and the
 * connection is closed (checked as bytes arrive, like the JSON deadline in
 * transport/listener.ts; silence is the timeouts'), so a slow head can take this
 * time in the front and at most once more in node:http; at
 * maxRequestsPerSocket the last answer says `Connection: close` and the
 * connection is ended (node:http would keep it open and answer 503 to further
 * requests). When the socket's buffer is full (write returned false), reading
 * stops until 'drain'. TLS sockets go through the front the same way.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { recognize, type SimpleMethod } from './simple-request.js';

export interface FastAnswer {
  /** The status line and header lines (each ending in CRLF) that node:http writes before its Date. */
  readonly head: string;
  readonly body: string | Buffer;
}

/** The answer to a simple GET or HEAD of `target`, counted as answered; undefined when node:http must answer. */
export type AnswerFor = (target: string, method: SimpleMethod) => FastAnswer | undefined;

/** node:http's own answers when a head times out or ends cut short (_http_server.js), sent the same way. */
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
/** node:http keeps an idle keep-alive connection this much longer than it announces. */
const KEEP_ALIVE_SLACK_MS = 1000;

/** Gives node:http the connection, with `rest` (bytes read and not consumed) to read first. */
export function handToHttp(http: Server, socket: Socket, rest?: Buffer): void {
  socket.pause();
  if (rest !== undefined && rest.length > 0) socket.unshift(rest);
  http.emit('connection', socket);
  socket.resume();
}

let dateText = '';
let dateUntil = 0;

/** The Date header's value, made once a second as node:http does. */
function httpDate(): string {
  const now = Date.now();
  if (now >= dateUntil) {
    dateText = new Date(now).toUTCString();
    dateUntil = now - (now % 1000) + 1000;
  }
  return dateText;
}

interface Wire {
  /** The Date and the Connection lines these bytes carry. */
  date: string;
  connection: string;
  /** The whole answer to a GET, and to a HEAD (its head alone). */
  get: Buffer;
  head: Buffer;
}

/** Each answer's bytes, made once a second: a write is then one Buffer, with nothing to join or encode. */
const wires = new WeakMap<FastAnswer, Wire>();

function wireOf(answer: FastAnswer, connection: string): Wire {
  const date = httpDate();
  let wire = wires.get(answer);
  if (wire === undefined || wire.date !== date || wire.connection !== connection) {
    const head = Buffer.from(`${answer.head}Date: ${date}\r\n${connection}`, 'latin1');
    const body = typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
    wire = { date, connection, head, get: Buffer.concat([head, body]) };
    wires.set(answer, wire);
  }
  return wire;
}

/** Takes HTTP connections (their first bytes put back) in front of `http`. */
export function fastGetFront(http: Server, answerFor: AnswerFor): (socket: Socket) => void {
  return (socket) => serve(socket, http, answerFor);
}

function serve(socket: Socket, http: Server, answerFor: AnswerFor): void {
  const cap = http.maxRequestsPerSocket ?? 0;
  const keepAliveMs = http.keepAliveTimeout;
  const keepAlive =
    'Connection: keep-alive\r\n' +
    (keepAliveMs > 0 ? `Keep-Alive: timeout=${Math.floor(keepAliveMs / 1000)}${cap > 0 ? `, max=${cap}` : ''}\r\n` : '') +
    '\r\n';
  const betweenRequestsMs = keepAliveMs > 0 ? keepAliveMs + KEEP_ALIVE_SLACK_MS : http.timeout;
  /** Bytes read and not consumed: a partial head, or requests waiting for 'drain'. */
  let pending: Buffer | undefined;
  /** When the pending partial head began (performance.now()); 0 when there is none. */
  let headSince = 0;
  let served = 0;
  let draining = false;
  let active = true;

  const leave = (): void => {
    active = false;
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('drain', onDrain);
    socket.removeListener('timeout', onTimeout);
  };

  /** Answers the requests at the start of `bytes` while they are simple and ready; keeps or hands over the rest. */
  const take = (bytes: Buffer): void => {
    let offset = 0;
    while (offset < bytes.length) {
      const request = recognize(bytes, offset);
      if (request.kind === 'partial') break;
      const answer = request.kind === 'simple' ? answerFor(request.target, request.method) : undefined;
      if (request.kind !== 'simple' || answer === undefined) {
        leave();
        socket.setTimeout(0); // node:http sets its own
        handToHttp(http, socket, bytes.subarray(offset));
        return;
      }
      offset += request.length;
      headSince = 0;
      const last = ++served === cap;
      const wire = wireOf(answer, last ? 'Connection: close\r\n\r\n' : keepAlive);
      const flushed = socket.write(request.method === 'HEAD' ? wire.head : wire.get);
      if (last) {
        leave();
        socket.end(() => socket.destroy());
        return;
      }
      if (served === 1) socket.setTimeout(betweenRequestsMs);
      if (!flushed) {
        // Stop reading until the client takes what it was sent (it may be pipelining without reading).
        pending = offset < bytes.length ? bytes.subarray(offset) : undefined;
        draining = true;
        socket.setTimeout(http.timeout); // node:http's while an answer is being written
        socket.pause();
        socket.once('drain', onDrain);
        return;
      }
    }
    if (offset < bytes.length) {
      pending = Buffer.from(bytes.subarray(offset)); // a copy: the chunk it came in may be large
      if (headSince === 0) headSince = performance.now();
    } else {
      pending = undefined;
    }
  };

  const onData = (chunk: Buffer): void => {
    if (draining) {
      pending = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      return;
    }
    if (pending === undefined) return take(chunk);
    if (performance.now() - headSince > http.headersTimeout) {
      leave();
      socket.write(REQUEST_TIMEOUT);
      socket.destroy();
      return;
    }
    const bytes = Buffer.concat([pending, chunk]);
    pending = undefined;
    take(bytes);
  };

  const onDrain = (): void => {
    draining = false;
    socket.setTimeout(betweenRequestsMs);
    const bytes = pending;
    pending = undefined;
    if (bytes !== undefined) take(bytes);
    if (active && !draining) socket.resume();
  };

  // While paused for 'drain' no 'end' comes (the stream emits it only once read to the end): pending is a partial head here.
  const onEnd = (): void => {
    leave();
    if (pending === undefined || draining) {
      socket.end(); // as node:http: a half-close ends our side too, once the answers are written
    } else {
      socket.write(BAD_REQUEST); // node:http's parser, ended mid-head
      socket.destroy();
    }
  };

  const onTimeout = (): void => {
    socket.destroy();
  };

  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('timeout', onTimeout);
  socket.setTimeout(http.timeout);
  socket.resume();
}
