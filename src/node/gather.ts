/**
 * Gathers the live members' figures (version, items, digest) for the ring's
 * status, on demand: at most one fan-out per interval, to every member in
 * parallel, each bounded by a timeout. Requests that come while a fan-out
 * runs wait for it; those within the interval after it take its results.
 * A member that does not answer has no figures until it answers again.
 */
import type { Address } from '../protocol/address.js';
import type { SelfFigures } from '../protocol/status.js';

export interface GatherDeps {
  /** The members to ask: live ones that speak our extensions, not this server. */
  peers(): Address[];
  /** Asks one member for its figures. */
  fetch(peer: Address, timeoutMs: number): Promise<SelfFigures>;
  /** A member answered (for "last heard"). */
  heard(peer: Address): void;
  now(): number;
}

export interface GatherOptions {
  /** No new fan-out sooner than this after the last one began. */
  intervalMs: number;
  /** How long one member may take to answer. */
  timeoutMs: number;
}

export class FiguresGatherer {
  private figures: ReadonlyMap<Address, SelfFigures> = new Map();
  private lastStart = -Infinity;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: GatherDeps,
    private readonly options: GatherOptions = { intervalMs: 1000, timeoutMs: 1000 },
  ) {}

  /** The figures of every member that answered, fresh within the interval. */
  async current(): Promise<ReadonlyMap<Address, SelfFigures>> {
    if (!this.running && this.deps.now() - this.lastStart >= this.options.intervalMs) {
      this.running = this.fanOut().finally(() => (this.running = undefined));
    }
    await this.running;
    return this.figures;
  }

  private async fanOut(): Promise<void> {
    this.lastStart = this.deps.now();
    const answers = await Promise.all(
      this.deps.peers().map((peer) =>
        this.deps.fetch(peer, this.options.timeoutMs).then(
          (figures) => (figures.address === peer ? figures : undefined),
          () => undefined,
        ),
      ),
    );
    const figures = new Map<Address, SelfFigures>();
    for (const answer of answers) {
      if (!answer) continue;
      figures.set(answer.address, answer);
      this.deps.heard(answer.address);
    }
    this.figures = figures;
  }
}
