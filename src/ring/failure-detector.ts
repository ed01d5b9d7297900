/**
 * Failure detection, SWIM-style. Every heartbeat a server probes its
 * successor: a PING that the process itself must answer (a paused process's
 * kernel still accepts connections, so a bare CHECK cannot tell), or, for an
 * original server, the original's CHECK. A refused connection means the
 * process is gone: dead at once. No answer in time: a few other members are
 * asked to probe it for us (PING_REQ); only if none reaches it is it
 * suspected, and only a suspicion nobody refutes within the suspicion timeout
 * (longer in a larger ring, by log10 of its size, as Lifeguard's) makes it
 * dead. A suspicion that no member asked confirmed (none of them answered at
 * all: Lifeguard's missing nacks, which point at this server's own link)
 * lasts LONE_SUSPICION times longer here: a lossy link of this server's own
 * then gives the healthy neighbour time to refute through it, while a member
 * that is really gone, with everybody else, is still declared dead. PING and
 * its answer carry recent changes (keeper.ts), so views converge and a
 * suspected or cut-out server learns of it and refutes.
 * Only the server that suspected a member announces its death: every other
 * one times the same suspicion out too, quietly.
 * Now and then a dead member is probed again, which is how a healed
 * partition, or a server wrongly cut out, merges back. A probe that fails
 * for this server's own reasons (out of descriptors: local-errors.ts) tells
 * nothing about the target: no death, no suspicion from it.
 *
 * Local health (after Lifeguard): a server whose probes, direct and
 * indirect, go unanswered may be the one with the bad link; each new
 * suspicion, and each time no member asked answers at all, makes it wait one
 * probe timeout longer for answers next time (up to a heartbeat), and each
 * direct answer takes one back. On a lossy link a probe then outlasts TCP's
 * retransmissions, instead of suspecting a healthy neighbour every few
 * heartbeats.
 */
import type { Address } from '../protocol/address.js';
import type { Log } from '../log/logger.js';
import type { RingView } from './ring.js';
import { isCoopError } from '../errors.js';
import { localErrorCode } from '../transport/local-errors.js';

/**
 * What the members asked about a silent one told: one reached it ('yes'),
 * none did and at least one answered so ('no'), none answered at all
 * ('unheard'), or some could not be asked for this server's own reasons ('unknown').
 */
export type Reach = 'yes' | 'no' | 'unheard' | 'unknown';

/** Whether what the members asked told makes the silent one a suspect: none reached it, and none failed for this server's own reasons. */
export function nobodyReaches(reach: Reach): boolean {
  return reach === 'no' || reach === 'unheard';
}

export interface ProbeOptions {
  heartbeatMs: number;
  /** How long a PING may take to be answered. */
  probeTimeoutMs: number;
  suspicionTimeoutMs: number;
  /** How many members are asked to probe a silent one for us. */
  indirectProbes?: number;
  /** Every this many heartbeats, a dead member is probed again. */
  reprobeEvery?: number;
}

export interface ProbeDeps {
  view: RingView;
  log: Log;
  now(): number;
  speaksExtensions(address: Address): boolean;
  /** The original's CHECK: resolves when the connect succeeded. */
  check(address: Address): Promise<void>;
  /** PING: resolves once the member answered, its answer merged. `whole`: send the whole membership. */
  ping(address: Address, timeoutMs: number, whole?: boolean): Promise<void>;
  /** PING_REQ through `helper`: whether it reached `target`. */
  pingVia(helper: Address, target: Address, timeoutMs: number): Promise<boolean>;
  /** The view changed here (a suspicion, a death): print it, and announce it when `announce`. */
  changed(announce: boolean): void;
  /** These members were forgotten (the ring is the same; the entries that travel are fewer). */
  forgotten?(addresses: Address[]): void;
  /** This server declared `address` dead (for metrics). */
  declaredDead?(address: Address): void;
  /** A probe could not be sent for a reason of this server's own (`code`: EMFILE...): logged and counted, nothing concluded. */
  localError?(code: string, what: string): void;
}

export class FailureDetector {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticks = 0;
  /** Probe timeouts are this many times longer than configured, less one (local health). */
  private slowdown = 0;
  private readonly asking = new Map<Address, Promise<Reach>>();
  /** The members this server suspected itself: their deaths are its own to announce. */
  private readonly suspectedHere = new Set<Address>();
  /** Of those, the ones no member asked confirmed (none answered): they last LONE_SUSPICION times longer here. */
  private readonly unconfirmed = new Set<Address>();

  constructor(
    private readonly deps: ProbeDeps,
    private readonly options: ProbeOptions,
  ) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick()
        .catch((err: unknown) => this.deps.log.error(`failure detection: ${(err as Error).stack ?? String(err)}`))
        .finally(() => this.schedule());
    }, this.options.heartbeatMs);
  }

  /** One heartbeat: probe the successor, expire suspicions, sometimes re-probe the dead. */
  async tick(): Promise<void> {
    const { view } = this.deps;
    this.ticks++;
    const target = view.successor();
    if (target !== undefined) await this.probe(target);
    if (this.stopped) return;
    const timeoutMs = suspicionTimeout(this.options.suspicionTimeoutMs, view.size);
    const expired = view.membership.expireSuspicions(this.deps.now(), (address) =>
      this.unconfirmed.has(address) ? timeoutMs * LONE_SUSPICION : timeoutMs,
    );
    let ours = false;
    for (const address of expired) {
      this.deps.log.warn(`${address} did not refute its suspicion in time: declared dead`);
      this.deps.declaredDead?.(address);
      ours = this.suspectedHere.has(address) || ours;
    }
    for (const address of this.suspectedHere) {
      if (view.membership.get(address)?.status === 'suspect') continue;
      this.suspectedHere.delete(address);
      this.unconfirmed.delete(address);
    }
    if (expired.length > 0) this.deps.changed(ours);
    const forgotten = view.forget();
    if (forgotten.length > 0) {
      this.deps.log.info(`forgot ${forgotten.join(', ')}: dead or gone for longer than --forget-after`);
      this.deps.forgotten?.(forgotten);
    }
    if (this.ticks % (this.options.reprobeEvery ?? 5) === 0) await this.reprobe();
  }

  private async probe(target: Address): Promise<void> {
    const { deps } = this;
    if (!deps.speaksExtensions(target)) {
      try {
        await deps.check(target);
        deps.log.send(`CHECK to ${target}`, undefined, true);
      } catch (err) {
        if (!this.local(err, `CHECK to ${target}`)) this.dead(target, err);
      }
      return;
    }
    try {
      await deps.ping(target, this.probeTimeoutMs);
      this.slowdown = Math.max(0, this.slowdown - 1);
      return;
    } catch (err) {
      if (this.stopped || this.local(err, `PING to ${target}`)) return;
      if (isCoopError(err, 'CONNECT_FAILED')) {
        this.dead(target, err);
        return;
      }
    }
    const reach = await this.othersReach(target);
    if (!nobodyReaches(reach) || this.stopped) return;
    // Only a new suspicion counts against this server's own health: a suspect that stays silent is the suspect's.
    if (deps.view.membership.get(target)?.status === 'alive') this.slower();
    if (this.suspectHere(target, reach === 'no')) {
      deps.log.warn(
        reach === 'no'
          ? `${target} does not answer, nor to the others asked: suspected`
          : `${target} does not answer, and none of the members asked about it answered: suspected, but this server's own link may be what fails: it waits ${LONE_SUSPICION} times the suspicion timeout for a refutation`,
      );
      deps.changed(true);
    }
  }

  /**
   * This server suspects `address` on its own evidence (a probe, or a round
   * it could not deliver): its death is this server's to announce, news or
   * not (another path may have suspected it first). `confirmed`: a member
   * asked answered that it could not reach it either. Whether it is news.
   */
  suspectHere(address: Address, confirmed: boolean): boolean {
    this.suspectedHere.add(address);
    if (confirmed) this.unconfirmed.delete(address);
    const news = this.deps.view.suspect(address);
    if (news && !confirmed) this.unconfirmed.add(address);
    return news;
  }

  /** Evidence that this server's own probes are what fails: wait one probe timeout longer for answers, up to a limit. */
  private slower(): void {
    if (this.slowdown < MAX_SLOWDOWN && ++this.slowdown === 1) {
      this.deps.log.info('probes from this server go unanswered: waiting longer for answers until they come again');
    }
  }

  /** How long a probe waits for its answer now (local health): longer, but not past a heartbeat. */
  get probeTimeoutMs(): number {
    const { probeTimeoutMs, heartbeatMs } = this.options;
    return Math.min(probeTimeoutMs * (1 + this.slowdown), Math.max(probeTimeoutMs, heartbeatMs));
  }

  /** Whether `err` is this server's own (then reported, and nothing is to be concluded from it). */
  private local(err: unknown, what: string): boolean {
    const code = localErrorCode(err);
    if (code === undefined) return false;
    this.deps.localError?.(code, what);
    return true;
  }

  /**
   * Whether other members reach `target` (PING_REQ through a few of them):
   * what tells a member that is down from a link from here that is. Callers
   * asking about one target at once share one set of probes.
   */
  othersReach(target: Address): Promise<Reach> {
    let asked = this.asking.get(target);
    if (asked === undefined) {
      asked = this.reachedIndirectly(target).finally(() => this.asking.delete(target));
      this.asking.set(target, asked);
    }
    return asked;
  }

  /**
   * 'unheard' when no helper answered at all (the likelier fault is then this
   * server's own link, and it waits longer for answers next time); 'unknown'
   * when some helper could not even be asked, for a reason of this server's own.
   */
  private async reachedIndirectly(target: Address): Promise<Reach> {
    const { deps } = this;
    const helpers = shuffle(deps.view.members.filter((m) => m !== deps.view.self && m !== target && deps.speaksExtensions(m))).slice(
      0,
      this.options.indirectProbes ?? 3,
    );
    const answers = await Promise.all(
      helpers.map((helper) =>
        deps
          .pingVia(helper, target, this.probeTimeoutMs * 2)
          .catch((err: unknown) => (this.local(err, `PING_REQ to ${helper}`) ? 'unknown' : 'silent')),
      ),
    );
    if (answers.includes(true)) return 'yes';
    if (answers.includes('unknown')) return 'unknown';
    if (answers.length > 0 && answers.every((answer) => answer === 'silent')) {
      this.slower();
      return 'unheard';
    }
    return 'no';
  }

  private dead(target: Address, err: unknown): void {
    if (this.stopped) return;
    this.deps.log.warn(`heartbeat to ${target} failed (${(err as Error).message}): removing it from the ring`);
    if (this.deps.view.remove(target)) {
      this.deps.declaredDead?.(target);
      this.deps.changed(true);
    }
  }

  /** Probes one dead member with the whole membership: if it answers, the views merge and it (or we) refute. */
  private async reprobe(): Promise<void> {
    const { deps } = this;
    const dead = deps.view.membership.all().filter((m) => m.status === 'dead' && deps.speaksExtensions(m.address));
    const target = shuffle(dead)[0];
    if (!target) return;
    try {
      await deps.ping(target.address, this.probeTimeoutMs, true);
    } catch {
      // Still gone.
    }
  }
}

/**
 * How long a suspicion lasts in a ring of `size`: the configured time up to
 * 10 members, times log10 of the size above (Lifeguard; memberlist's
 * suspicion multiplier), so a larger ring, slower to spread a refutation,
 * waits for it longer.
 */
export function suspicionTimeout(configuredMs: number, size: number): number {
  return configuredMs * Math.max(1, Math.log10(size));
}

/** A suspicion no member asked confirmed lasts this many times longer here (memberlist's suspicion maximum multiplier). */
export const LONE_SUSPICION = 6;

/** Probe timeouts grow to at most this many times longer than configured, plus one (and never past a heartbeat). */
const MAX_SLOWDOWN = 4;

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
