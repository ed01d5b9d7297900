/** The sealing wrapper: a peer transport whose messages and replies carry the cluster secret's tag. */
import { CoopError } from '../errors.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { Answer } from '../transport/dial.js';
import type { Address } from '../protocol/address.js';
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
  /** The reply's tag covers the bytes attached to it too. */
  const exchange = async (to: Address, payload: string, timeoutMs: number): Promise<Answer> => {
    const sealed = auth.seal(payload, to);
    const answer = inner.exchange
      ? await inner.exchange(to, sealed.text, timeoutMs)
      : { text: await inner.request(to, sealed.text, timeoutMs) };
    const opened = auth.open(answer.text, answerTo(sealed.nonce), undefined, answer.bytes);
    if (!opened.authentic && !isErrorReply(opened.text)) {
      throw new CoopError('UNAUTHENTICATED', `${to} answered without the cluster secret's tag: it has no secret, or another`);
    }
    return { text: opened.text, bytes: answer.bytes };
  };
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
      return (await exchange(to, payload, timeoutMs)).text;
    },
    // Only where the transport inside carries attached bytes back: otherwise they would be lost, and the tag with them.
    exchange: inner.exchange && exchange,
    close: () => inner.close?.(),
  };
}
