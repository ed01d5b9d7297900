/**
 * Rules for a ring that mixes our servers with the original program. The
 * original reads a message with one 1024-byte read and rebuilds what it
 * passes on from `creator`, `type` and `data` only, so whatever crosses one
 * of its hops arrives without a round id, a version, an encoding or `found`.
 *
 * Versions: a FORWARD_PUT that arrives without one either crossed an
 * original (a write of ours: every one is stamped where it enters the ring)
 * or was started by one. Either way its creator holds the write whole, so
 * the server that receives it takes the creator's copy (a GET of its own
 * copy, as anti-entropy pulls): one of ours answers with the version and
 * encoding, so the copy orders like any other, a later write is not lost to
 * an older copy held here, and concurrent writes still end the same
 * everywhere (stamping a round of ours anew here could make an old round that
 * arrives late beat a newer write). An original answers without a version:
 * its write is stamped as new here, as the original itself overwrites on
 * every write, so it wins over what ours held; where two of ours stamp it,
 * the content is the same and anti-entropy carries the newer stamp everywhere.
 * Asking the creator also works before a server has learnt which of its
 * peers are ours.
 *
 * Pure: no sockets, no timers.
 */
import type { ForwardGetMessage, ForwardPutMessage, UpdateMessage } from '../protocol/messages.js';
import { isFound } from '../protocol/content.js';

/** The original reads one message with one read of this many bytes. */
export const ORIGINAL_READ_BYTES = 1024;

type Round = UpdateMessage | ForwardPutMessage | ForwardGetMessage;

/** A write that came without its version (parts of large uploads always carry theirs) is taken from its creator. */
export function settledByCreator(message: ForwardPutMessage): boolean {
  return message.data.version === undefined && message.data.part === undefined;
}

/**
 * How a round message passes the next server when that is an original (not
 * the round's creator): sent in the original's form ('send'); passed by when
 * even that does not fit the original's one read, which would lose it, or
 * when it is a part of a large upload, which the original would store as the
 * whole item ('skip'); or, for a lookup of ours already filled in, sent
 * straight back to its creator ('home'), since after the original it would
 * arrive without its version and encoding (and a large item's holder). The
 * servers it skips get the item from anti-entropy.
 */
export function pastAnOriginal(message: Round, originalBytes: number, creatorIsOurs: boolean): 'send' | 'skip' | 'home' {
  if (message.type === 'FORWARD_GET' && creatorIsOurs && isFound(message.data)) return 'home';
  if (message.type === 'FORWARD_PUT' && message.data.part !== undefined) return 'skip';
  return originalBytes > ORIGINAL_READ_BYTES ? 'skip' : 'send';
}
