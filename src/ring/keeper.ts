/**
 * Keeps a server's ring: announces changes with UPDATE rounds, merges the
 * membership peers send, probes (PING, PING_REQ) for the failure detector
 * (failure-detector.ts), and leaves gracefully. The node owns the view; the keeper is
 * the membership half of its wiring, the rounds of items being the other.
 *
 * A change costs one round: only the server where it happened (the one a
 * newcomer joined, the one that suspects or cut out its successor, the one
 * that refutes, the one leaving) announces it. A server that learns it from
 * a round passes the round on with its merged view, and one that learns it
 * from a probe only tells it on its own probes (rumours.ts): neither starts
 * a round, so a change is N messages, not N rounds.
 *
 * Probes carry a few recent changes and the membership checksum; the whole
 * membership goes only to a member whose checksum differed last time (and
 * back from one whose view differs from the PING's), as memberlist's push-pull.
 */
import { CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import {
  decodeReply,
  encodeForOriginal,
  encodeMessage,
  type AckReply,
  type PingMessage,
  type UpdateMessage,
} from '../protocol/messages.js';
import type { Member } from './membership.js';
import { RUMOURS_PER_PROBE, tellsFor } from './rumours.js';
import type { RingView } from './ring.js';
import type { ExtensionPeers } from './extension-peers.js';
import type { Log } from '../log/logger.js';
import { FailureDetector, type Reach } from './failure-detector.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { RoundMessage } from '../protocol/messages.js';
import type { Traffic } from '../protocol/status.js';

export interface KeeperDeps {
  view: RingView;
  transport: PeerTransport;
  log: Log;
  now(): number;
  /** Peers that have shown they speak our extensions (PING, streams, ...). */
  peers: ExtensionPeers;
  /** When each peer last answered a probe (ms). */
  lastHeard: Map<Address, number>;
  running(): boolean;
  newRoundId(): string;
  forward(message: RoundMessage): void;
  /** The view changed: print it, tell listeners. */
  ringChanged(): void;
  /** Catch up on data at once (after a refutation). */
  syncNow(): void;
  traffic(traffic: Traffic): void;
  declaredDead(): void;
  /** `address` answered a PING from this server: the way from here to it works. */
  answered?(address: Address): void;
  /** Something could not be sent for a reason of this server's own (out of descriptors...). */
  localError(code: string, what: string): void;
  timing: { heartbeatMs: number; probeTimeoutMs: number; suspicionTimeoutMs: number };
}

/** A few entries changed lately, to tell on a probe (each counted as told). */
function rumoursOf(view: RingView): Member[] {
  const { membership, size } = view;
  return membership.entriesOf(membership.rumours.take(RUMOURS_PER_PROBE, tellsFor(size)));
}

/**
 * The ACK to a PING whose changes are merged already: no entries when the
 * PING's checksum matches this view's (the two views are the same), the
 * whole membership when it differs (or is missing, as from an older server of ours).
 */
export function ackFor(view: RingView, ping: PingMessage): AckReply {
  const checksum = view.membership.checksum();
  return { type: 'ACK', from: view.self, members: ping.checksum === checksum ? [] : view.membership.all(), checksum };
}

export class RingKeeper {
  private readonly detector: FailureDetector;
  private readonly checkPayload: string;
  /** The members whose last answer showed a view like ours: the others get the whole membership on the next PING. */
  private readonly inStep = new Set<Address>();

  constructor(private readonly deps: KeeperDeps) {
    this.checkPayload = encodeMessage({ type: 'CHECK', from: deps.view.self });
    this.detector = this.createDetector();
  }

  start(): void {
    this.detector.start();
  }

  stop(): void {
    this.detector.stop();
  }

  /** Sends this server's view around the ring, as an UPDATE round. */
  announce(): void {
    const view = this.deps.view;
    if (view.size < 2) return;
    this.deps.forward(this.update());
  }

  /**
   * Merges a peer's view and prints what changed. What others changed is not
   * announced again (it is theirs, and on its way); only a refutation, this
   * server's own change, is, and then the data is caught up too. `news`:
   * what came by no round of ours (another ring's members), announced too.
   */
  absorb(members: Member[], news = false): void {
    const { view, log } = this.deps;
    if (!this.deps.running()) return;
    const { changed, refuted } = view.merge(members);
    if (!changed) return;
    this.deps.ringChanged();
    if (refuted) log.warn(`the ring thought this server was gone: refuted (incarnation ${view.membership.incarnation})`);
    if (refuted || news || this.mixed()) this.announce();
    if (refuted) this.deps.syncNow();
  }

  /**
   * With an original server in the ring, every change is announced, as
   * before: an original learns only from UPDATE, and a round that crossed
   * one has lost its members. Such rings are small (an UPDATE must fit the
   * original's one read), so N rounds per change cost little there.
   */
  private mixed(): boolean {
    const { view, peers } = this.deps;
    return !peers.everyone(view.members, view.self);
  }

  /**
   * The answer to a PING: its changes merged first (ackFor). A PING from
   * outside this server's ring (a seed greeting from another ring) brings
   * news no round of ours carries: announced here.
   */
  answer(ping: PingMessage): AckReply {
    this.absorb(ping.members ?? [], !this.deps.view.has(ping.from));
    return ackFor(this.deps.view, ping);
  }

  /**
   * Suspects `address` on this server's own evidence (a round it could not
   * deliver): announced now, and its death later. `confirmed`: a member asked
   * could not reach it either (failure-detector.ts suspectHere).
   */
  suspect(address: Address, confirmed: boolean): void {
    if (!this.detector.suspectHere(address, confirmed)) return;
    this.deps.ringChanged();
    this.announce();
  }

  /**
   * PINGs a seed that is not in this server's ring with the whole membership:
   * what it brings (another ring, started at the same moment) came by no
   * round of ours, so it is announced here.
   */
  async greet(address: Address, timeoutMs: number): Promise<void> {
    await this.ping(address, timeoutMs, true, true);
  }

  /** Whether other members reach `address` (failure-detector.ts othersReach). */
  othersReach(address: Address): Promise<Reach> {
    return this.detector.othersReach(address);
  }

  /**
   * Probes `address` and merges its answer. `whole`: send the whole
   * membership, even to a member in step; `news`: what the answer changes is
   * announced (absorb).
   */
  async ping(address: Address, timeoutMs: number, whole = false, news = false): Promise<void> {
    const { view, transport } = this.deps;
    const { membership } = view;
    const checksum = membership.checksum();
    const members = whole || !this.inStep.has(address) ? membership.all() : rumoursOf(view);
    const payload = encodeMessage({ type: 'PING', from: view.self, members, checksum });
    this.deps.log.send(`PING to ${address}`, undefined, true);
    const reply = decodeReply(await transport.request(address, payload, timeoutMs), 'ACK');
    if (reply.type !== 'ACK') throw new CoopError(reply.data.code, reply.data.message);
    this.absorb(reply.members ?? [], news);
    // Compared after merging its answer: still different, the next PING to it carries the whole membership.
    if (reply.checksum === membership.checksum()) this.inStep.add(address);
    else this.inStep.delete(address);
    this.deps.peers.add(address);
    this.deps.lastHeard.set(address, Date.now());
    this.deps.answered?.(address);
    this.deps.traffic({ type: 'PING', from: view.self, to: address });
  }

  /**
   * Leaves the ring gracefully: tells the first member it can reach (which
   * passes it on) that this server has left, so everybody drops it at once.
   * With every item on every server, nothing is lost.
   */
  async leave(): Promise<void> {
    const { view, transport, log } = this.deps;
    const targets = view.fromSelf().slice(1);
    view.leave();
    const update = this.update();
    for (const target of targets) {
      try {
        await transport.send(target, this.deps.peers.has(target) ? encodeMessage(update) : encodeForOriginal(update));
        log.info(`left the ring (told ${target})`);
        return;
      } catch {
        // Try the next one.
      }
    }
  }

  private update(): UpdateMessage {
    const view = this.deps.view;
    const { self, members } = view;
    const ours = [self, ...this.deps.peers.among(members, self)];
    return { type: 'UPDATE', creator: self, data: [...members], id: this.deps.newRoundId(), members: view.membership.all(), ours };
  }

  private createDetector(): FailureDetector {
    const { view, transport, peers } = this.deps;
    return new FailureDetector(
      {
        view,
        log: this.deps.log,
        now: this.deps.now,
        speaksExtensions: (address) => peers.has(address),
        check: (address) => transport.send(address, this.checkPayload),
        ping: (address, timeoutMs, whole) => this.ping(address, timeoutMs, whole),
        pingVia: async (helper, target, timeoutMs) => {
          const payload = encodeMessage({ type: 'PING_REQ', data: target, from: view.self });
          const reply = decodeReply(await transport.request(helper, payload, timeoutMs), 'PING_REQ');
          return reply.type === 'PING_REQ' && reply.data.alive;
        },
        declaredDead: () => this.deps.declaredDead(),
        localError: (code, what) => this.deps.localError(code, what),
        forgotten: (addresses) => {
          // Every server forgets at the same time (`since` travels): nothing to announce.
          for (const address of addresses) {
            this.deps.lastHeard.delete(address);
            this.inStep.delete(address);
            peers.delete(address);
          }
        },
        changed: (announce) => {
          this.deps.ringChanged();
          if (announce || this.mixed()) this.announce();
        },
      },
      this.deps.timing,
    );
  }
}
