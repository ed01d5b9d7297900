/**
 * One handler per message type. Each sees only the narrow context it needs;
 * sockets, timers and failover live in node.ts.
 *
 * How a round ends: a client's PUT, DELETE, or GET that misses locally starts
 * a FORWARD_PUT / FORWARD_GET with this server as creator and a fresh id;
 * every other server handles it and passes it to its successor; when it
 * arrives back at its creator, the creator answers the waiting client. An
 * UPDATE round ends the same way, at its creator.
 *
 * Every write carries a version; a server applies a copy only when it is newer
 * than what it holds (store/items.ts), so all copies end the same. What
 * crossed an original server lost its id and version: mixed.ts says what
 * becomes of it.
 */
import type { HandlerTable } from './types.js';
import { itemHandlers } from './items.js';
import { forwardedHandlers } from './forwarded.js';
import { membershipHandlers } from './membership.js';
import { syncHandlers } from './sync.js';

export type { HandlerContext, RoundMessage } from './types.js';
export type { Waiting } from './types.js';
export { CONCURRENT_MS } from './forwarded.js';
export { roundKey } from './waiting.js';

/** One handler per message type, by family. */
export const handlers: HandlerTable = { ...membershipHandlers, ...syncHandlers, ...itemHandlers, ...forwardedHandlers };
