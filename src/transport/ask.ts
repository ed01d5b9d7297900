/**
 * One request, one reply: how the client asks a server, and how a server asks
 * its peers (with its own exchange, which adds the cluster secret's tag).
 */
import { CoopError, isCoopError } from '../errors.js';
import { parseAddress, type Address } from '../protocol/address.js';
import { decodeReply, encodeMessage, replyWithAttached, type Message, type Reply, type ReplyType } from '../protocol/messages.js';
import { exchange, type Answer, type TlsClientOptions } from './dial.js';

export interface ClientOptions {
  timeoutMs?: number;
  maxReplyBytes?: number;
  /** Sent with every request: the server's write token (for PUT and DELETE) or read token. */
  token?: string | undefined;
  /** Speak TLS, trusting these certificates (`{}`: the system's). */
  tls?: TlsClientOptions | undefined;
  /** How a request travels and its reply comes back; servers pass their own (which adds the cluster secret's tag). */
  exchange?: ((server: Address, payload: string, timeoutMs: number) => Promise<string>) | undefined;
  /**
   * The same, for a reply that may come with bytes attached (a GET of a range with `attach`). Without it, where
   * `exchange` is given, a range is asked for without `attach`, so that its bytes come inside the reply.
   */
  exchangeBytes?: ((server: Address, payload: string, timeoutMs: number) => Promise<Answer>) | undefined;
}

/** Longer than the servers' round timeout (30 s), so that a server's own answer about a lost round comes first. */
const DEFAULT_TIMEOUT_MS = 35_000;
const DEFAULT_MAX_REPLY = 1024 * 1024 * 1024;

export async function ask<T extends ReplyType>(
  server: Address,
  message: Message,
  expected: T,
  options: ClientOptions = {},
): Promise<Extract<Reply, { type: T }>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Attached bytes only where the way back carries them.
  const attachable = options.exchange === undefined || options.exchangeBytes !== undefined;
  const asked = message.type === 'GET' && message.attach && !attachable ? { ...message, attach: undefined } : message;
  const payload = encodeMessage(options.token === undefined ? asked : ({ ...asked, token: options.token } as Message));
  const answer = options.exchangeBytes
    ? await options.exchangeBytes(server, payload, timeoutMs)
    : options.exchange
      ? await options.exchange(server, payload, timeoutMs)
      : await exchange(parseAddress(server), payload, {
          timeoutMs,
          maxReplyBytes: options.maxReplyBytes ?? DEFAULT_MAX_REPLY,
          tls: options.tls,
        }).catch((err: unknown) => {
          throw writeUnanswered(server, message, err);
        });
  const text = typeof answer === 'string' ? answer : answer.text;
  const bytes = typeof answer === 'string' ? undefined : answer.bytes;
  const reply = bytes ? replyWithAttached(decodeReply(text, expected), bytes) : decodeReply(text, expected);
  if (reply.type === 'ERROR') throw new CoopError(reply.data.code, `${server} answered ${reply.data.status}: ${reply.data.message}`);
  return reply as Extract<Reply, { type: T }>;
}

/**
 * A write whose request reached the server but whose answer never came (the
 * server went silent or the connection broke) may have landed: its outcome is
 * unknown, which is not a failure to retry blindly nor a success.
 */
function writeUnanswered(server: Address, message: Message, err: unknown): unknown {
  if (message.type !== 'PUT' && message.type !== 'DELETE') return err;
  const taken = isCoopError(err, 'CLOSED') || (isCoopError(err, 'TIMEOUT') && (err as { connected?: boolean }).connected === true);
  if (!taken) return err;
  const item = typeof message.data === 'string' ? message.data : message.data.item;
  const text = `outcome unknown: ${server} took the ${message.type} of ${item} but did not answer (${(err as Error).message}); it may or may not have landed (read it back, or write it again)`;
  return new CoopError('OUTCOME_UNKNOWN', text, { cause: err });
}

export function checkItem(asked: string, answered: string): void {
  if (answered !== asked) throw new CoopError('BAD_FIELD', `asked about ${asked}, the reply is about ${answered}`);
}
