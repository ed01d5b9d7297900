/**
 * Keeps a server's ring: announces changes with UPDATE rounds, merges the
 * membership peers send, probes (PING, PING_REQ) for the failure detector
 * (failure-detector.ts), and leaves gracefully. The node owns the view; the keeper is
 * the membership half of its wiring, the rounds of items being the other.
 */
import { CoopError } from '../errors.js';
import type { Address } from '../protocol/address.js';
import { decodeReply, encodeForOriginal, encodeMessage, type UpdateMessage } from '../protocol/messages.js';
import type { Member } from './membership.js';
import type { RingView } from './ring.js';
import type { ExtensionPeers } from './extension-peers.js';
import type { Log } from '../log/logger.js';
import { FailureDetector } from './failure-detector.js';
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

export class RingKeeper {
  private readonly detector: FailureDetector;
  private readonly checkPayload: string;

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

  /** Merges a peer's view: print and announce what changed; after a refutation, catch up on data too. */
  absorb(members: Member[]): void {
    const { view, log } = this.deps;
    if (!this.deps.running()) return;
    const { changed, refuted } = view.merge(members);
    if (refuted) log.warn(`the ring thought this server was gone: refuted (incarnation ${view.membership.incarnation})`);
    if (!changed) return;
    this.deps.ringChanged();
    this.announce();
    if (refuted) this.deps.syncNow();
  }

  /** Whether other members reach `address` (failure-detector.ts othersReach). */
  othersReach(address: Address): Promise<'yes' | 'no' | 'unknown'> {
    return this.detector.othersReach(address);
  }

  /** Probes `address`; resolves with the membership it answered with. */
  async ping(address: Address, timeoutMs: number): Promise<Member[]> {
    const { view, transport } = this.deps;
    const payload = encodeMessage({ type: 'PING', from: view.self, members: view.membership.all() });
    this.deps.log.send(`PING to ${address}`, undefined, true);
    const reply = decodeReply(await transport.request(address, payload, timeoutMs), 'ACK');
    if (reply.type !== 'ACK') throw new CoopError(reply.data.code, reply.data.message);
    this.deps.peers.add(address);
    this.deps.lastHeard.set(address, Date.now());
    this.deps.answered?.(address);
    this.deps.traffic({ type: 'PING', from: view.self, to: address });
    return reply.members ?? [];
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
    return { type: 'UPDATE', creator: view.self, data: [...view.members], id: this.deps.newRoundId(), members: view.membership.all() };
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
        ping: (address, timeoutMs) => this.ping(address, timeoutMs),
        pingVia: async (helper, target, timeoutMs) => {
          const payload = encodeMessage({ type: 'PING_REQ', data: target, from: view.self });
          const reply = decodeReply(await transport.request(helper, payload, timeoutMs), 'PING_REQ');
          return reply.type === 'PING_REQ' && reply.data.alive;
        },
        absorb: (members) => this.absorb(members),
        declaredDead: () => this.deps.declaredDead(),
        localError: (code, what) => this.deps.localError(code, what),
        forgotten: (addresses) => {
          for (const address of addresses) {
            this.deps.lastHeard.delete(address);
            peers.delete(address);
          }
          this.announce();
        },
        changed: () => {
          this.deps.ringChanged();
          this.announce();
        },
      },
      this.deps.timing,
    );
  }
}
