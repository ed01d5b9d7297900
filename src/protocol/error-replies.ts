import type { ErrorCode } from '../errors.js';
import { NOT_FOUND_CONTENT, type ErrorReply } from './types.js';

/** The one mapping from error codes to statuses: the JSON reply's text, and the HTTP face's number. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, string>> = {
  TOO_LARGE: '413 PAYLOAD TOO LARGE',
  TIMEOUT: '504 GATEWAY TIMEOUT',
  OUTCOME_UNKNOWN: '504 GATEWAY TIMEOUT',
  SHUTTING_DOWN: '503 SERVICE UNAVAILABLE',
  NOT_READY: '503 SERVICE UNAVAILABLE',
  NOT_FOUND: NOT_FOUND_CONTENT,
  CONNECT_FAILED: '502 BAD GATEWAY',
  CLOSED: '502 BAD GATEWAY',
  JOIN_FAILED: '502 BAD GATEWAY',
  JOIN_REFUSED: '502 BAD GATEWAY',
  UNAUTHENTICATED: '401 UNAUTHORIZED',
  UNAUTHORIZED: '401 UNAUTHORIZED',
  FORBIDDEN: '403 FORBIDDEN',
  CONFLICT: '409 CONFLICT',
  STORE_UNAVAILABLE: '503 SERVICE UNAVAILABLE',
  NO_SPACE: '507 INSUFFICIENT STORAGE',
  INTERNAL: '500 INTERNAL SERVER ERROR',
};

/** The HTTP header that names an error answer's code, as the JSON protocol's ERROR reply does. */
export const ERROR_HEADER = 'coop-error';

export function statusOf(code: ErrorCode): string {
  return STATUS_BY_CODE[code] ?? '400 BAD REQUEST';
}

/** The HTTP status number for an error code. */
export function httpStatusOf(code: ErrorCode): number {
  return Number(statusOf(code).slice(0, 3));
}

export function errorReply(code: ErrorCode, message: string): ErrorReply {
  return { type: 'ERROR', data: { code, status: statusOf(code), message } };
}
