/** An error of the HTTP face with the status it is answered with, and the replies of the handlers it comes from. */
import type { ErrorCode } from '../errors.js';
import { httpStatusOf, type Reply } from '../protocol/messages.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The error code of the reply it came from, if any. */
    readonly code?: ErrorCode,
  ) {
    super(message);
  }
}

/** The reply of `type`; an ERROR reply (or any other) is thrown as the HttpError it stands for. */
export function expect<T extends Reply['type']>(reply: Reply, type: T): Extract<Reply, { type: T }> {
  if (reply.type === 'ERROR') throw new HttpError(httpStatusOf(reply.data.code), reply.data.message, reply.data.code);
  if (reply.type !== type) throw new HttpError(500, `unexpected ${reply.type} reply`);
  return reply as Extract<Reply, { type: T }>;
}
