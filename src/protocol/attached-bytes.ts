/** Bytes attached beside a message or a reply (transport/attached.ts): which ones may carry them, and where they go. */
import { CoopError } from '../errors.js';
import type { Message, Reply } from './types.js';

function bad(message: string): never {
  throw new CoopError('BAD_FIELD', message);
}

/**
 * A message read off a stream with bytes attached (transport/attached.ts):
 * only a part of a write passing around the ring carries them, in place of
 * its content. Throws BAD_FIELD for any other.
 */
export function withAttached(message: Message, bytes: readonly Buffer[]): Message {
  if (message.type !== 'FORWARD_PUT' || message.data.part === undefined || message.data.content !== '') {
    bad('only a part of a FORWARD_PUT, with empty "content", may come with bytes attached');
  }
  if (message.data.encoding !== 'base64') bad('a part with bytes attached must say "encoding": "base64"');
  message.data.bytes = bytes;
  return message;
}

/** A reply that came with bytes attached: only the answer to a GET of a range carries them, in place of its content. */
export function replyWithAttached(reply: Reply, bytes: readonly Buffer[]): Reply {
  if (reply.type !== 'GET' || reply.data.offset === undefined || reply.data.content !== '') {
    bad('only the answer to a GET of a range, with empty "content", may come with bytes attached');
  }
  reply.data.bytes = bytes;
  return reply;
}
