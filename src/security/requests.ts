/**
 * The limits a server puts on what clients ask of it, beyond what every
 * message must satisfy (protocol/decode.ts): a shorter item-name limit, the
 * characters names may use, and the largest item. Peers are not held to
 * them: a copy that another server accepted is kept, and a peer's GET of its
 * copy (`local`, anti-entropy) is answered, with a secret or without.
 */
import { CoopError } from '../errors.js';
import type { Message } from '../protocol/messages.js';

export interface RequestLimits {
  maxNameBytes: number;
  namePattern?: RegExp | undefined;
  maxItemBytes: number;
}

/** Bytes of an item's content as it travels (text, or base64). */
function contentBytes(content: string, encoding: string | undefined): number {
  if (encoding !== 'base64') return Buffer.byteLength(content, 'utf8');
  const padding = content.endsWith('==') ? 2 : content.endsWith('=') ? 1 : 0;
  return Math.floor((content.length * 3) / 4) - padding;
}

function checkName(name: string, limits: RequestLimits): void {
  if (Buffer.byteLength(name, 'utf8') > limits.maxNameBytes) {
    throw new CoopError('BAD_NAME', `the item name is longer than this server's limit of ${limits.maxNameBytes} bytes`);
  }
  if (limits.namePattern && !limits.namePattern.test(name)) {
    throw new CoopError('BAD_NAME', `the item name does not match this server's pattern ${limits.namePattern.source}`);
  }
}

/** Throws BAD_NAME or TOO_LARGE when a client's GET, PUT or DELETE is outside this server's limits. */
export function checkClientRequest(message: Message, limits: RequestLimits): void {
  switch (message.type) {
    case 'GET':
      if (!message.local) checkName(message.data, limits);
      return;
    case 'DELETE':
      checkName(message.data, limits);
      return;
    case 'PUT': {
      const { item, content, encoding, part } = message.data;
      checkName(item, limits);
      const size = part ? part.size : contentBytes(content, encoding);
      if (size > limits.maxItemBytes) {
        throw new CoopError('TOO_LARGE', `the item is ${size} bytes, more than this server's limit of ${limits.maxItemBytes}`);
      }
      return;
    }
    default:
      return;
  }
}
