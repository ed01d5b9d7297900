/**
 * A large item's PUT over a server's HTTP face (the same port): the file
 * streams as the request body, which the server cuts into parts and sends
 * around the ring several at once, so neither side holds the whole item and
 * no byte is base64-encoded on the way. Errors come back as CoopErrors with
 * the code the server names (its `coop-error` header), as from the JSON protocol.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { CoopError, isCoopError, isErrorCode, type ErrorCode } from '../errors.js';
import { parseAddress, type Address } from '../protocol/address.js';
import type { ClientOptions } from '../transport/ask.js';
import { ERROR_HEADER } from '../protocol/messages.js';

/** Longer than the servers' round timeout, as for the JSON protocol: silence for this long is a timeout. */
const DEFAULT_TIMEOUT_MS = 35_000;
/** Enough of an error's body to say what went wrong. */
const MAX_ERROR_TEXT = 4096;

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'TOO_LARGE',
  503: 'SHUTTING_DOWN',
  504: 'TIMEOUT',
  507: 'NO_SPACE',
};

/** Told of the bytes moved so far, of `total`. */
export type OnBytes = (done: number, total: number) => void;

function open(server: Address, method: 'GET' | 'PUT', item: string, options: ClientOptions, headers: OutgoingHttpHeaders): ClientRequest {
  const { host, port } = parseAddress(server);
  const request = {
    host,
    port,
    method,
    path: `/${encodeURIComponent(item)}`,
    headers: options.token === undefined ? headers : { ...headers, authorization: `Bearer ${options.token}` },
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    // One request, then the connection closes: nothing keeps the program waiting.
    agent: false,
  };
  const req = options.tls ? httpsRequest({ ...request, ca: options.tls.ca }) : httpRequest(request);
  req.on('timeout', () => {
    // Decided after the event loop has read the socket, as for the JSON protocol (dial.ts): a process
    // stopped (SIGSTOP) and continued runs its due timers before it reads the answer waiting meanwhile.
    const before = req.socket?.bytesRead;
    setImmediate(() => {
      if (req.destroyed || req.socket?.bytesRead !== before) return;
      req.destroy(new CoopError('TIMEOUT', `${server} was silent for ${request.timeout} ms`));
    });
  });
  return req;
}

/** The response, or the request's failure as a CoopError. */
function response(req: ClientRequest, server: Address): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', (err: NodeJS.ErrnoException) => reject(networkError(err, server)));
  });
}

function networkError(err: NodeJS.ErrnoException, server: Address): CoopError {
  if (err instanceof CoopError) return err;
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND') {
    return new CoopError('CONNECT_FAILED', `cannot connect to ${server}: ${code}`, { cause: err });
  }
  // A server that does not speak HTTP (the original program) closes, or answers in JSON.
  return new CoopError('CLOSED', `${server} gave no HTTP answer (${code || err.message})`, { cause: err });
}

/** An error answer as the CoopError its code names. */
async function failure(res: IncomingMessage, server: Address): Promise<CoopError> {
  let text = '';
  for await (const chunk of res as AsyncIterable<Buffer>) if (text.length < MAX_ERROR_TEXT) text += chunk.toString('utf8');
  const named = res.headers[ERROR_HEADER];
  const status = res.statusCode ?? 0;
  const code: ErrorCode = isErrorCode(named) ? named : (CODE_BY_STATUS[status] ?? 'INTERNAL');
  return new CoopError(code, `${server} answered ${status} ${res.statusMessage ?? ''}: ${text.trim().slice(0, MAX_ERROR_TEXT)}`);
}

/** The whole body went and no answer came: the item may or may not be stored. */
function unanswered(server: Address, item: string, err: CoopError): CoopError {
  const text = `outcome unknown: ${server} took the whole PUT of ${item} but did not answer (${err.message}); it may or may not have landed (read it back, or write it again)`;
  return new CoopError('OUTCOME_UNKNOWN', text, { cause: err });
}

/** Counts the bytes that pass, for a progress bar. */
function counting(total: number, onBytes: OnBytes | undefined): Transform {
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      onBytes?.(done, total);
      callback(null, chunk);
    },
  });
}

/**
 * Stores `size` bytes read from `body` as item `item`, in one HTTP PUT. Resolves
 * with "200 OK" once the ring holds the item whole; rejects with the server's
 * error (its code) or the connection's.
 */
export async function httpPut(
  server: Address,
  item: string,
  size: number,
  body: Readable,
  options: ClientOptions = {},
  onBytes?: OnBytes,
): Promise<string> {
  const req = open(server, 'PUT', item, options, { 'content-length': size, 'content-type': 'application/octet-stream' });
  const answered = response(req, server);
  // The answer decides: a server that refuses early (a wrong token) answers while the body is still going.
  let sent = false;
  const sending = pipeline(body, counting(size, onBytes), req).then(
    () => void (sent = true),
    () => undefined,
  );
  const res = await answered.catch(async (err: unknown) => {
    await sending;
    throw sent && (isCoopError(err, 'CLOSED') || isCoopError(err, 'TIMEOUT')) ? unanswered(server, item, err as CoopError) : err;
  });
  if ((res.statusCode ?? 0) >= 300) throw await failure(res, server);
  res.resume();
  await sending;
  return '200 OK';
}
