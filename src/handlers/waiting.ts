/** A client waiting for its round to come home, and the answers it can get. */
import type { Address } from '../protocol/address.js';
import {
  NOT_FOUND_CONTENT,
  PUT_OK_STATUS,
  errorReply,
  type ForwardPutMessage,
  type LookupData,
  type RangeRequest,
  type Reply,
} from '../protocol/messages.js';
import type { Version } from '../store/version.js';
import type { Log } from '../log/logger.js';

/** A client waiting for its round: what it asked, so the answer fits the question, and how to answer it. */
export interface Waiting {
  /** Settles the client's request (the promise its handler returned): the inbox then writes the reply. */
  answer: (reply: Reply) => void;
  /** Who asked, for the log. */
  client: string;
  request: 'PUT' | 'DELETE' | 'GET';
  item: string;
  part?: RangeRequest | undefined;
  /** A GET in the original's form, answered in the original's form. */
  plain?: boolean | undefined;
  /** The upload a part belongs to (its key here): dropped when the ring had no room for it. */
  upload?: string | undefined;
  /** The second lap of an upload's last part, sent when its first lap is home (forwarded.ts). */
  confirm?: ForwardPutMessage | undefined;
}

/** A waiting client's `answer` until its round is started (startRound sets the real one). */
export function notYetAnswerable(): void {}

export function roundKey(type: 'FORWARD_PUT' | 'FORWARD_GET', item: string): string {
  return `${type}\u0000${item}`;
}

/** The original's reply carries item and content only; `encoding` stays for bytes, which it cannot carry otherwise. */
export function lookupReply(data: LookupData, plain: boolean | undefined): Reply {
  return { type: 'GET', data: plain ? { item: data.item, content: data.content, encoding: data.encoding } : data };
}

export function missReply(item: string, plain: boolean | undefined): Reply {
  return lookupReply({ item, content: NOT_FOUND_CONTENT, found: false }, plain);
}

/** The answer to a write whose round is complete: `200 OK`, in the type the client asked with. */
export function writeDone(waiting: Waiting): Reply {
  return { type: waiting.request === 'DELETE' ? 'DELETE' : 'PUT', data: { item: waiting.item, status: PUT_OK_STATUS } };
}

/** The answer to a client whose write could not be stored at `servers` for want of space. */
export function noSpaceReply(item: string, servers: readonly Address[], elsewhere: boolean): Reply {
  const where = servers.length === 1 ? `server ${servers[0]} has` : `servers ${servers.join(', ')} have`;
  // A part of an upload is given up with it: the write is then complete nowhere.
  const rest = elsewhere
    ? '; the other servers stored it, and the full ones will take it from them once space is freed'
    : '; the write was not stored';
  return errorReply('NO_SPACE', `${where} no space left on disk for ${item}${rest}`);
}

/**
 * The answer to a client's write that lost to a newer version of its item,
 * here before it was stored or at a server on the round: never acknowledged as done.
 */
export function overtaken(log: Log, item: string, newer?: Version): Reply {
  const where = newer ? `version ${newer.clock} by ${newer.server} is held in the ring` : 'one arrived here before it was stored';
  log.warn(`a write of ${JSON.stringify(item)} lost to a newer version (${where}); not acknowledged`);
  return errorReply('CONFLICT', `a newer version of ${item} exists (${where}); this write did not win`);
}
