/**
 * Authentication of server-to-server messages with a shared cluster secret.
 *
 * A sealed message is the message as encoded, with one more field at its end:
 * `"auth": "1.TS.BOOT.COUNTER.MAC"`, where MAC is HMAC-SHA256 under the
 * secret over the audience, `1.TS.BOOT.COUNTER.` and the message's bytes
 * without that field (then the bytes attached to it, if any: attached.ts). TS is the sender's clock (ms), BOOT a random id of the
 * sending process and COUNTER its message count. The audience is the address
 * of the server the message is for (or, for an answer, the request's
 * BOOT.COUNTER), so a message taken off one link is refused on any other. A
 * receiver rejects a tag that does not verify (another secret, another
 * audience, or altered bytes), a timestamp outside the allowed skew, and a
 * BOOT/COUNTER pair it has seen before (a replay). Within the skew it
 * remembers, per sender process, a window of recent counters, so memory stays
 * bounded however fast messages come.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CoopError } from '../errors.js';

/** How far a message's timestamp may be from the receiver's clock. */
export const MAX_SKEW_MS = 30_000;
/** How many counters behind the newest one a message from the same sender may still arrive. */
const WINDOW = 1 << 16;

const FIELD = ', "auth": "';
const TAG = /^1\.(\d{1,15})\.([0-9a-f]{16})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{43})"\}\s*$/;

export interface Opened {
  /** The message without its tag. */
  text: string;
  /** It carried a tag that verified: it comes from a server holding the secret. */
  authentic: boolean;
  /** BOOT.COUNTER of an authentic message: what its answer is sealed for (`answerTo`). */
  nonce?: string;
}

export interface Sealed {
  text: string;
  /** BOOT.COUNTER: the answer to this message is sealed for `answerTo(nonce)`. */
  nonce: string;
}

/** The audience of an answer to the message with this nonce. */
export function answerTo(nonce: string): string {
  return `answer to ${nonce}`;
}

export class PeerAuth {
  private readonly key: Buffer;
  private readonly boot = randomBytes(8).toString('hex');
  private counter = 0;
  private readonly senders = new Map<string, ReplayWindow>();

  constructor(
    secret: string | Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(secret);
    if (this.key.length === 0) throw new Error('the cluster secret is empty');
  }

  /** The message with its tag appended as the last field, for `audience` only; the tag covers `attached` too. */
  seal(payload: string, audience: string, attached?: readonly Buffer[]): Sealed {
    const body = payload.trimEnd();
    if (!body.endsWith('}')) throw new Error('only a JSON object can be sealed');
    const nonce = `${this.boot}.${(this.counter++).toString(36)}`;
    const header = `1.${Math.floor(this.now())}.${nonce}.`;
    const mac = this.digest(audience, header, body, attached).toString('base64url');
    return { text: `${body.slice(0, -1)}${FIELD}${header}${mac}"}`, nonce };
  }

  /**
   * Splits a received message from its tag and checks the tag. A message
   * without one comes back as not authentic; a tag that fails throws
   * UNAUTHENTICATED with the reason. `alsoFor` names a second audience the
   * tag may be made for (another name of the same receiver). `attached`: the
   * bytes that came with the message, which the tag must cover.
   */
  open(text: string, audience: string, alsoFor?: () => string | undefined, attached?: readonly Buffer[]): Opened {
    const at = text.lastIndexOf(FIELD);
    const match = at < 0 ? null : TAG.exec(text.slice(at + FIELD.length));
    if (!match) return { text, authentic: false };
    const body = `${text.slice(0, at)}}`;
    const [, ts, boot, counter, mac] = match as unknown as [string, string, string, string, string];
    const header = `1.${ts}.${boot}.${counter}.`;
    const given = Buffer.from(mac, 'base64url');
    if (!timingSafeEqual(given, this.digest(audience, header, body, attached))) {
      // Asked for only when the first audience fails: the common case computes nothing more.
      const other = alsoFor?.();
      if (other === undefined || other === audience || !timingSafeEqual(given, this.digest(other, header, body, attached))) {
        throw new CoopError(
          'UNAUTHENTICATED',
          'the authentication tag does not match: another cluster secret, a message meant for another server, or altered bytes',
        );
      }
    }
    const age = this.now() - Number(ts);
    if (Math.abs(age) > MAX_SKEW_MS) {
      throw new CoopError(
        'UNAUTHENTICATED',
        `the message is stamped ${Math.round(age / 1000)} s away from this server's clock: a replay, or clocks that differ`,
      );
    }
    let window = this.senders.get(boot);
    if (!window) {
      this.forgetQuietSenders();
      window = new ReplayWindow();
      this.senders.set(boot, window);
    }
    if (!window.accept(parseInt(counter, 36), this.now())) throw new CoopError('UNAUTHENTICATED', 'this message was seen before: a replay');
    return { text: body, authentic: true, nonce: `${boot}.${counter}` };
  }

  private digest(audience: string, header: string, body: string, attached: readonly Buffer[] | undefined): Buffer {
    const hmac = createHmac('sha256', this.key).update(`${audience}\n${header}`).update(body);
    for (const chunk of attached ?? []) hmac.update(chunk);
    return hmac.digest();
  }

  /**
   * Before a new sender is remembered: a sender silent for longer than the
   * skew cannot be replayed any more (its timestamps are too old).
   */
  private forgetQuietSenders(): void {
    if (this.senders.size < 64) return;
    const cutoff = this.now() - 2 * MAX_SKEW_MS;
    for (const [boot, window] of this.senders) if (window.lastSeen < cutoff) this.senders.delete(boot);
  }
}

/** The counters seen from one sender: the newest, and a bitmap of the WINDOW before it. */
class ReplayWindow {
  private newest = -1;
  private readonly bits = new Uint32Array(WINDOW / 32);
  lastSeen = 0;

  accept(counter: number, now: number): boolean {
    if (counter > this.newest) {
      const from = Math.max(this.newest + 1, counter - WINDOW + 1);
      if (counter - this.newest >= WINDOW) this.bits.fill(0);
      else for (let c = from; c <= counter; c++) this.clear(c);
      this.newest = counter;
    } else if (counter <= this.newest - WINDOW || this.has(counter)) {
      return false;
    }
    this.set(counter);
    this.lastSeen = now;
    return true;
  }

  private has(counter: number): boolean {
    const slot = counter % WINDOW;
    return (this.bits[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  private set(counter: number): void {
    const slot = counter % WINDOW;
    this.bits[slot >>> 5]! |= 1 << (slot & 31);
  }

  private clear(counter: number): void {
    const slot = counter % WINDOW;
    this.bits[slot >>> 5]! &= ~(1 << (slot & 31));
  }
}
