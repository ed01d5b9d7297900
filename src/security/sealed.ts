/** The sealing wrapper: a peer transport whose messages and replies carry the cluster secret's tag. */
import { CoopError } from '../errors.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { answerTo, type PeerAuth } from './peer-auth.js';

function isErrorReply(text: string): boolean {
  try {
    return (JSON.parse(text) as { type?: unknown } | null)?.type === 'ERROR';
  } catch {
    return false;
  }
}

/**
 * Every message leaves with the cluster secret's tag, and every reply must
 * carry one too: an answer that does not is refused, except an error, which
 * is passed on (it can only make the request fail, and says why).
 */
export function sealedTransport(inner: PeerTransport, auth: PeerAuth): PeerTransport {
  return {
    // Attached bytes are covered by the tag of the text they go with; inline, they are in the text.
    send: (to, payload) =>
      inner.send(
        to,
        typeof payload === 'string'
          ? auth.seal(payload, to).text
          : {
              text: auth.seal(payload.text, to, payload.bytes).text,
              bytes: payload.bytes,
              inline: () => auth.seal(payload.inline(), to).text,
            },
      ),
    async request(to, payload, timeoutMs) {
      const sealed = auth.seal(payload, to);
      const opened = auth.open(await inner.request(to, sealed.text, timeoutMs), answerTo(sealed.nonce));
      if (!opened.authentic && !isErrorReply(opened.text)) {
        throw new CoopError('UNAUTHENTICATED', `${to} answered without the cluster secret's tag: it has no secret, or another`);
      }
      return opened.text;
    },
    close: () => inner.close?.(),
  };
}
