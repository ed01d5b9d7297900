/**
 * Errors with a stable `code`. Modules throw these; only the edges (the wire
 * reply, the CLI exit status) turn a code into text or a number.
 */
export const ERROR_CODES = [
  'BAD_JSON', // not parseable as one JSON object
  'TOO_DEEP', // nesting beyond what any message needs
  'TOO_LARGE', // message over the configured size limit
  'UNKNOWN_TYPE', // a "type" this server does not speak
  'BAD_FIELD', // a field missing or of the wrong type
  'BAD_NAME', // an item name that is empty, too long or has control characters
  'BAD_ADDRESS', // not "IP:PORT"
  'TIMEOUT', // a peer or a round did not answer in time
  'OUTCOME_UNKNOWN', // a write was taken but its answer never came: it may or may not have landed
  'CONNECT_FAILED', // the TCP connect failed (refused, unreachable)
  'CLOSED', // the peer closed before a whole message arrived
  'SHUTTING_DOWN', // the server is stopping
  'NOT_FOUND', // the ring has no such item
  'JOIN_FAILED', // no seed could be reached, or no ring came back, before the join timeout
  'JOIN_REFUSED', // a seed refused this server (cluster secret, TLS, not a ring server)
  'NOT_READY', // the server is still joining the ring and cannot tell yet
  'UNAUTHENTICATED', // a peer message without a valid tag where a cluster secret is set
  'UNAUTHORIZED', // a request that needs a token and carries none
  'FORBIDDEN', // a request with a wrong token
  'DATA_DIR_LOCKED', // another running server holds the data directory
  'DATA_DIR_UNUSABLE', // the data directory cannot be written (read-only, no permission) at start
  'DATA_DIR_DAMAGED', // the data directory's index is damaged (start with --repair)
  'STORE_UNAVAILABLE', // this server cannot keep writes (its data directory is read-only, full or was removed)
  'CONFLICT', // a write that a newer version of its item overtook before it was stored
  'NO_SPACE', // a server of the ring has no room left on its disk for a write (it keeps serving reads)
  'INTERNAL', // the server failed to handle a valid request (a store that cannot be read, say)
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(value);
}

export class CoopError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CoopError';
  }
}

export function isCoopError(err: unknown, code?: ErrorCode): err is CoopError {
  return err instanceof CoopError && (code === undefined || err.code === code);
}
