/** The wire messages in one import: their types (types.ts), the encoder, the validating decoder and error replies. */
export * from './types.js';
export { encodeForOriginal, encodeMessage, requestToken } from './encode.js';
export { decodeMessage, decodeReply, replyWithAttached, withAttached } from './decode.js';
export { ERROR_HEADER, errorReply, httpStatusOf, statusOf } from './error-replies.js';
