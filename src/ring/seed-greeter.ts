/**
 * After joining, for the server's lifetime: greets (PING with our membership,
 * joiner.ts greetOtherSeeds) the seeds that are not in our ring, first soon,
 * then less and less often up to a cap, and soon again after each change of
 * the ring. Servers that started in any order, or a seed that came up alone
 * after the others had joined each other, so end as one ring (as Consul's
 * retry_join and memberlist's push-pull with seeds do).
 */
import type { Address } from '../protocol/address.js';
import { greetOtherSeeds } from './joiner.js';

export interface SeedGreeterOptions {
  seeds: readonly string[];
  self: Address;
  /** The first pause, doubled after each round up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
  inRing(address: Address): boolean;
  /** PINGs `address` with the whole membership and merges its answer. */
  greet(address: Address): Promise<unknown>;
  resolve?(host: string): Promise<string>;
}

/** The pause after `rounds` rounds since the last change of the ring: doubling, capped. */
export function greetDelay(rounds: number, firstDelayMs: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, firstDelayMs * 2 ** Math.min(rounds, 30));
}

export class SeedGreeter {
  private timer: NodeJS.Timeout | undefined;
  private rounds = 0;
  private stopped = false;
  private greeting = false;
  /** The ring changed during a round: the next pause is the first one again. */
  private changed = false;

  constructor(private readonly options: SeedGreeterOptions) {}

  /** Greets now, then on the schedule. */
  start(): void {
    void this.greet();
  }

  /** The ring changed: back to greeting soon. */
  ringChanged(): void {
    this.rounds = 0;
    if (this.greeting) this.changed = true;
    else this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.greet(), greetDelay(this.rounds, this.options.firstDelayMs, this.options.maxDelayMs));
    this.timer.unref();
  }

  private async greet(): Promise<void> {
    if (this.stopped) return;
    this.greeting = true;
    try {
      await greetOtherSeeds(this.options);
    } finally {
      this.greeting = false;
      this.rounds = this.changed ? 0 : this.rounds + 1;
      this.changed = false;
      this.schedule();
    }
  }
}
