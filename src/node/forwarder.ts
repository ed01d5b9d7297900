/**
 * Sends round messages on to the successor, failing over the way the
 * original does: a successor that cannot be reached is cut out, the new ring
 * announced, and the next one tried. A member others reach but this server
 * cannot (a one-way or lossy link) is kept and passed by instead, until it
 * answers a PING from here. Rounds in flight when a member was cut out are
 * sent again past it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isCoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import { encodeForOriginal, encodeMessage, type ForwardPutMessage } from '../protocol/messages.js';
import type { Log } from '../log/logger.js';
import type { RingView } from '../ring/ring.js';
import type { RingKeeper } from '../ring/keeper.js';
import { nobodyReaches, type Reach } from '../ring/failure-detector.js';
import { PassedBy } from '../ring/passed-by.js';
import type { ExtensionPeers } from '../ring/extension-peers.js';
import { baseRoundId, type PendingRounds } from '../handlers/rounds.js';
import type { RoundMessage } from '../handlers/handlers.js';
import { pastAnOriginal } from '../handlers/mixed.js';
import type { Traffic } from '../protocol/status.js';
import { localErrorCode } from '../transport/local-errors.js';
import type { Attached, Payload } from '../transport/attached.js';
import { describe } from './describe.js';
import type { NodeMetrics } from './metrics.js';

/** A round that cannot be delivered to its creator, which others reach, is tried again this many times. */
const HOME_TRIES = 3;
/** A send that failed for want of descriptors is tried again this many times, waiting a little longer each time. */
const LOCAL_RETRIES = 5;
const LOCAL_RETRY_MS = 200;

export interface ForwarderDeps {
  view: RingView;
  transport: { send(to: Address, payload: Payload): Promise<void> };
  log: Log;
  metrics: Pick<NodeMetrics, 'forwards' | 'failuresDetected' | 'linksDown'>;
  /** Peers that have shown they speak our extensions: only they get our fields. */
  peers: Pick<ExtensionPeers, 'has'>;
  /** The rounds this server created and waits on: where each is, and which to send again. */
  rounds: Pick<PendingRounds<unknown>, 'size' | 'now' | 'noteHop' | 'stallAll'>;
  /** Asks others about a member, PINGs it, announces the ring (keeper.ts). */
  keeper: Pick<RingKeeper, 'othersReach' | 'ping' | 'announce' | 'suspect'>;
  /** Who watches this server's traffic: told of each message sent, when anyone listens. */
  events: { listenerCount(event: 'traffic'): number; emit(event: 'traffic', traffic: Traffic): boolean };
  running(): boolean;
  /** Leaving the ring: this server's view is itself alone, so no round of ours completes here. */
  leaving(): boolean;
  /** The view changed here (a member cut out or suspected): print it, tell listeners. */
  ringChanged(): void;
  /** A round of ours that completes without leaving this server: handled as if it had come back. */
  complete(message: RoundMessage): void;
  /** A send failed for this server's own reasons (out of descriptors...). */
  localError(code: string, what: string): void;
  timing: { heartbeatMs: number; connectTimeoutMs: number; probeTimeoutMs: number };
}

export class Forwarder {
  /** Members others reach and this server could not send to: rounds pass them by. */
  private readonly passedBy = new PassedBy();
  /** The members at the last change of the ring: one gone since may hold rounds of ours. */
  private lastMembers: ReadonlySet<Address> = new Set();
  /** Servers cut out since the last resend of the rounds in flight (one resend per burst of changes). */
  private cutOut: Address[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ForwarderDeps) {}

  /** Starts PINGing, every heartbeat, the members rounds pass by. */
  start(): void {
    this.timer = setInterval(() => this.askPassedBy(), this.deps.timing.heartbeatMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The ring changed: rounds held by a member gone since are sent again; members gone are forgotten. */
  ringChanged(): void {
    this.resendPastGone();
    const view = this.deps.view;
    this.passedBy.keepOnly((address) => view.knows(address));
  }

  /** `address` answered a PING from this server: rounds go to it again. */
  reachableAgain(address: Address): void {
    const passedMs = this.passedBy.answered(address, Date.now());
    if (passedMs === undefined) return;
    this.deps.log.info(`${address} answers this server again after ${(passedMs / 1000).toFixed(1)} s: rounds go to it again`);
  }

  /**
   * Sends a round message to the successor. A successor that cannot be reached
   * is cut out and the next one tried; the new ring is then announced. A
   * failed UPDATE is not passed further: the announcement replaces it. A send
   * that fails for this server's own reasons (out of descriptors) cuts nobody
   * out: it is tried again a few times, then the round is given up (its
   * client, not answered yet, gets the round's timeout).
   * An original server gets the original's fields only (mixed.ts: it may be
   * passed by, or a lookup may go straight home instead).
   * `received`: the text the round came as, which our own servers may get again.
   */
  async forward(message: RoundMessage, received?: string): Promise<void> {
    if (message.type === 'FORWARD_PUT' && message.chain !== undefined) return this.along(message, message.chain);
    const { view, peers, log } = this.deps;
    let encoded: string | undefined;
    let home: string | undefined;
    let plain: string | undefined;
    let attached: Payload | undefined;
    let removed = false;
    let localTries = 0;
    let homeTries = 0;
    /** A server was passed by for want of a way to it: the round has not been everywhere. */
    let passedBy = false;
    /** The server whose successor is next: this one, or an original passed by. */
    let after = view.self;
    for (;;) {
      let next = view.has(after) ? view.successor(after) : view.successor();
      if (next === undefined || (next === view.self && after !== view.self)) {
        // Alone now (or every other server passed by): a round of ours is complete; anyone else's has no creator to return to.
        // Not when a server was passed by for want of a way to it, nor while leaving (this server's view is itself alone):
        // the round has not been everywhere, and it is resent or its client told the outcome is unknown.
        if (message.creator === view.self && !passedBy && !this.deps.leaving()) this.deps.complete(message);
        break;
      }
      // The round's creator is tried all the same: only it can end the round.
      if (this.passedBy.has(next) && next !== message.creator) {
        passedBy = true;
        after = next;
        continue;
      }
      let straightHome = false;
      if (!peers.has(next) && next !== message.creator) {
        plain ??= encodeForOriginal(message);
        const way = pastAnOriginal(message, Buffer.byteLength(plain), peers.has(message.creator));
        if (way === 'skip') {
          log.info(`${describe(message)} does not fit the one read of ${next} (an original server): passed by`);
          after = next;
          continue;
        }
        if (way === 'home') {
          next = message.creator;
          straightHome = true;
        }
      }
      try {
        const modern = peers.has(next);
        const back = next === message.creator && modern ? homeward(message) : undefined;
        const payload = back
          ? (home ??= encodeMessage(back))
          : !modern
            ? (plain ??= encodeForOriginal(message))
            : message.type === 'FORWARD_PUT'
              ? (attached ??= partPayload(message, received))
              : (encoded ??= received ?? encodeMessage(message));
        // Where a round of ours is: named if it never comes back (a send may wait long for a silent peer).
        if (message.creator === view.self && message.type !== 'UPDATE' && message.id !== undefined)
          this.deps.rounds.noteHop(baseRoundId(message.id), next);
        await this.deps.transport.send(next, payload);
        this.sent(message, next);
        break;
      } catch (err) {
        if (!this.deps.running()) return;
        const local = localErrorCode(err);
        if (local !== undefined) {
          this.deps.localError(local, `sending ${describe(message)} to ${next}`);
          if (++localTries > LOCAL_RETRIES) {
            log.warn(`${describe(message)} not sent: ${local} on this server, again and again; the round is given up`);
            break;
          }
          await delay(LOCAL_RETRY_MS * localTries);
          if (!this.deps.running()) return;
          continue;
        }
        // Not refused: silent, or its messages not acknowledged. A server that others reach is kept (the way from
        // here is broken: a one-way or lossy link); one they do not reach is suspected, and the failure detector
        // decides (a paused process may resume within the suspicion timeout). Either way rounds pass it by
        // until it answers a PING from here.
        // An original server is not asked after (it would get PING_REQ's PINGs, which it does not speak): cut out at once.
        if (!isCoopError(err, 'CONNECT_FAILED') && view.has(next) && peers.has(next)) {
          // Unknown (this server could not ask, out of descriptors) is not taken for "nobody reaches it".
          const others = await this.deps.keeper.othersReach(next);
          const othersReach = !nobodyReaches(others);
          if (!this.deps.running()) return;
          this.unreachableFrom(next, err as Error, others);
          if (next === message.creator) {
            // A lossy way home may work on the next try; a cut one costs a few tries, and the client gets no answer.
            if (othersReach && ++homeTries <= HOME_TRIES) continue;
            log.warn(`${describe(message)} could not go home: ${next} does not take messages from this server`);
            break;
          }
          if (straightHome) break;
          continue; // passed by at the top of the loop
        }
        if (!this.deps.running()) return;
        log.warn(`${next} is unreachable (${(err as Error).message})`);
        if (view.remove(next)) {
          removed = true;
          this.deps.metrics.failuresDetected.inc();
          this.deps.ringChanged();
        }
        // A lookup on its way home has nowhere else to go once its creator is gone.
        if (message.type === 'UPDATE' || straightHome) break;
      }
    }
    if (removed) this.deps.keeper.announce();
  }

  /**
   * A write of a ring that keeps R copies goes to the item's next owner in
   * `chain`, then home to its creator; an owner that cannot be reached is
   * passed by (anti-entropy brings it the item later, or its successor owner
   * takes its place once it is declared dead).
   */
  private async along(message: ForwardPutMessage, chain: readonly Address[]): Promise<void> {
    const { view, log } = this.deps;
    for (let rest = chain; ; rest = rest.slice(1)) {
      const next = rest[0] ?? message.creator;
      if (next === view.self) {
        if (rest.length > 0) continue;
        this.deps.complete(message);
        return;
      }
      const onward: ForwardPutMessage = rest.length === 0 ? (homeward(message) ?? message) : { ...message, chain: rest.slice(1) };
      const payload = partPayload(onward);
      try {
        if (message.creator === view.self && message.id !== undefined) this.deps.rounds.noteHop(baseRoundId(message.id), next);
        await this.deps.transport.send(next, payload);
        this.sent(message, next);
        return;
      } catch (err) {
        if (!this.deps.running()) return;
        if (rest.length === 0) {
          log.warn(`${describe(message)} could not go home to ${next}: ${(err as Error).message}`);
          return;
        }
        log.warn(`${describe(message)} passed by owner ${next}, which did not take it (${(err as Error).message})`);
      }
    }
  }

  /** A round message went to `next`: logged, counted, and told to the ring page. */
  private sent(message: RoundMessage, next: Address): void {
    this.deps.log.send(`${describe(message)} to ${next}`, message.id === undefined ? undefined : { round: message.id });
    this.deps.metrics.forwards.inc({ type: message.type });
    const events = this.deps.events;
    if (events.listenerCount('traffic') > 0) events.emit('traffic', { type: message.type, from: this.deps.view.self, to: next });
  }

  /**
   * Rounds pass `address` by until it answers a PING from here (said once).
   * One that others do not reach either is suspected too.
   */
  private unreachableFrom(address: Address, err: Error, others: Reach): void {
    const suspected = nobodyReaches(others);
    if (suspected) this.deps.keeper.suspect(address, others === 'no');
    if (!this.passedBy.note(address, Date.now())) return;
    if (!suspected) this.deps.metrics.linksDown.inc();
    const passed = `rounds pass it by${suspected ? '' : ', and it catches up by sync,'} until it answers a PING from here`;
    const said = {
      yes: `answers others but not this server (${err.message}): ${passed}`,
      unknown: `does not take messages from this server (${err.message}), and whether others reach it is not known: ${passed}`,
      no: `does not take messages (${err.message}), nor answer others: suspected; ${passed}`,
      unheard: `does not take messages (${err.message}), and none of the members asked about it answered: suspected, though this server's own link may be what fails; ${passed}`,
    }[others];
    this.deps.log.warn(`${address} ${said}`);
  }

  /**
   * Every heartbeat, each member rounds pass by is PINGed from here (the
   * failure detector PINGs only the successor): an answer ends the passing by.
   */
  private askPassedBy(): void {
    if (!this.deps.running()) return;
    const { connectTimeoutMs, probeTimeoutMs } = this.deps.timing;
    for (const address of this.passedBy.addresses()) {
      void this.deps.keeper.ping(address, connectTimeoutMs + probeTimeoutMs).catch(() => undefined);
    }
  }

  /**
   * A server cut out of the ring (crashed, or paused too long) takes with it
   * the rounds it held: every round of ours sent before is sent again, past
   * it, once the changes of this turn are in (rounds.ts).
   */
  private resendPastGone(): void {
    const { view, rounds } = this.deps;
    const gone = [...this.lastMembers].filter((member) => !view.has(member));
    this.lastMembers = new Set(view.members);
    if (gone.length === 0 || rounds.size === 0) return;
    const first = this.cutOut.length === 0;
    this.cutOut.push(...gone);
    if (!first) return;
    const sentBefore = rounds.now();
    setImmediate(() => {
      const servers = this.cutOut.join(', ');
      this.cutOut = [];
      if (!this.deps.running()) return;
      const resent = rounds.stallAll(sentBefore);
      if (resent > 0) this.deps.log.warn(`${resent} rounds in flight sent again past ${servers} (cut out of the ring)`);
    });
  }
}

/**
 * A write as it goes on: a part held as bytes with them beside its text
 * (`received`, when it came so), inline only where a peer cannot take them;
 * anything else as its text.
 */
function partPayload(message: ForwardPutMessage, received?: string): Payload {
  const bytes = message.data.bytes;
  if (!bytes) return received ?? encodeMessage(message);
  let inline: string | undefined;
  return {
    text: received ?? encodeMessage({ ...message, data: { ...message.data, content: '', bytes: undefined } }),
    bytes,
    inline: () => (inline ??= encodeMessage(message)),
  } satisfies Attached;
}

/**
 * A whole PUT's round as it goes back to its creator, one of our servers: the
 * creator only takes its client's answer from it (by round id), so the
 * content stays behind (less to send, read and parse on the busiest server,
 * per PUT and per part of a large upload); a newer version found on the way
 * goes with it.
 * Undefined for rounds that must travel whole: lookups (their content is the
 * answer), rounds without an id (an original server's).
 */
export function homeward(message: RoundMessage): ForwardPutMessage | undefined {
  if (message.type !== 'FORWARD_PUT' || message.id === undefined) return undefined;
  const back: ForwardPutMessage = {
    type: 'FORWARD_PUT',
    creator: message.creator,
    data: { item: message.data.item, content: '' },
    id: message.id,
  };
  if (message.newer) back.newer = message.newer; // the write lost on the way: the creator must not acknowledge it
  if (message.nospace) back.nospace = message.nospace; // nor when it could not be stored everywhere
  if (message.lap) back.lap = message.lap; // an upload's last part, home from its first lap: its second one follows
  return back;
}
