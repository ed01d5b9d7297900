/**
 * One handler per message type, by family: items.ts (GET, PUT, DELETE),
 * forwarded.ts (FORWARD_PUT, FORWARD_GET), membership.ts (INSERT, UPDATE,
 * STREAM, CHECK, PING, PING_REQ) and sync.ts (RING, DIGEST, LIST). Each
 * family declares the context it uses; a handler returns its reply (types.ts)
 * and never sees a socket: the inbox (node/inbox.ts) writes every reply.
 */
import type { MessageType } from '../protocol/messages.js';
import type { Handlers } from './types.js';
import { itemHandlers, type ItemsContext } from './items.js';
import { forwardedHandlers, type ForwardedContext } from './forwarded.js';
import { membershipHandlers, type MembershipContext } from './membership.js';
import { syncHandlers, type SyncContext } from './sync.js';

export type { Answer, Handler, RoundMessage } from './types.js';
export type { Waiting } from './waiting.js';

/** What the server gives the handlers: every family's context in one. */
export type HandlerContext = ItemsContext & ForwardedContext & MembershipContext & SyncContext;

type HandlerTable = Handlers<MessageType, HandlerContext>;

export const handlers: HandlerTable = { ...itemHandlers, ...forwardedHandlers, ...membershipHandlers, ...syncHandlers };
