/** The shapes every family of handlers shares: what a handler is given, and what it gives back. */
import type { Message, MessageType, Reply } from '../protocol/messages.js';

export type { RoundMessage } from '../protocol/messages.js';

/**
 * What a handler gives back: the reply when it can answer now (no promise),
 * a promise of it when it must wait (a round coming home, a disk read, a
 * pull), undefined for a message that is not answered. The inbox writes it.
 */
export type Answer = Reply | undefined | Promise<Reply | undefined>;

/**
 * One message type's handler. `from`: who sent it, for the log; `received`:
 * its text as it came, when it may be passed on unchanged (a round of our
 * servers'), so that it is not encoded anew.
 */
export type Handler<T extends Message, C> = (message: T, ctx: C, from: string, received: string | undefined) => Answer;

/** The handlers of the message types `K`, all seeing the context `C`. */
export type Handlers<K extends MessageType, C> = { [T in K]: Handler<Extract<Message, { type: T }>, C> };
