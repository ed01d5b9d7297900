/** The wire messages in one import: their types (types.ts), the encoder, the validating decoder and error replies. */
export * from './types.js';
export { encodeForOriginal, encodeMessage, requestToken } from './encode.js';
export { decodeMessage, decodeReply } from './decode.js';
export { replyWithAttached, withAttached } from './attached-bytes.js';
export { ERROR_HEADER, errorReply, httpStatusOf, statusOf } from './error-replies.js';
