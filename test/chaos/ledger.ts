/**
 * The ledger of a fault run: every write a client attempted, with its content
 * (unique to the write), when it started and how it ended, and the checks on
 * what servers answer. A write whose reply never came may still take effect at
 * any time, so only an acknowledged write, or one refused outright, has an end.
 *
 * An acknowledged write is lost when, after the ring has settled, a server
 * holds nothing for its item, or a write that had ended before it started. A
 * wrong answer is content never written for that item, a 404 for an item
 * acknowledged before the read started, or (after settling) a lost write's
 * older content or a write that was refused with CONFLICT.
 */
import { isCoopError } from '../../src/errors.js';
import type { Lookup } from '../../src/client/client.js';

export type Outcome = 'acknowledged' | 'refused' | 'unknown';

export interface WriteRecord {
  item: string;
  content: string;
  server: string;
  startAt: number;
  /** When the outcome became certain; Infinity while it is not (no reply, or a reply that says nothing). */
  endAt: number;
  outcome: Outcome | 'pending';
  code?: string;
}

/** Replies that say the write was not applied anywhere: a write that lost (CONFLICT), or one that never left the client. */
const REFUSED = new Set(['CONFLICT', 'CONNECT_FAILED']);

/** A short, stable label for how a request failed: the error code, else the system error's. */
export function errorLabel(err: unknown): string {
  if (isCoopError(err)) return err.code;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'ERROR';
}

export class Ledger {
  readonly writes = new Map<string, WriteRecord>();
  readonly errors: Record<string, number> = {};
  readonly wrongAnswers: string[] = [];
  reads = 0;
  /** Reads during the faults that returned an older write than one acknowledged before they started (allowed; reported). */
  staleReads = 0;
  private readonly byItem = new Map<string, WriteRecord[]>();
  private sequence = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Content that names its item and write, padded to a realistic size. */
  contentFor(item: string, writer: string): string {
    return `${item}|${writer}|${this.sequence++}|`.repeat(8);
  }

  /** Records a write, runs it, and records how it ended; true when it was acknowledged. */
  async write(server: string, item: string, content: string, put: () => Promise<unknown>): Promise<boolean> {
    const record: WriteRecord = { item, content, server, startAt: this.now(), endAt: Infinity, outcome: 'pending' };
    this.writes.set(content, record);
    if (!this.byItem.has(item)) this.byItem.set(item, []);
    this.byItem.get(item)!.push(record);
    try {
      await put();
      record.outcome = 'acknowledged';
      record.endAt = this.now();
      return true;
    } catch (err) {
      const code = errorLabel(err);
      this.countError(code);
      record.code = code;
      record.outcome = REFUSED.has(code) ? 'refused' : 'unknown';
      if (record.outcome === 'refused') record.endAt = this.now();
      return false;
    }
  }

  countError(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  get attempted(): number {
    return this.writes.size;
  }

  get acknowledged(): number {
    return [...this.writes.values()].filter((write) => write.outcome === 'acknowledged').length;
  }

  /** Items with at least one acknowledged write. */
  /**
   * The longest time in ms between `from` and `to` with no write acknowledged (the ring stalled, for clients),
   * not counting `held` intervals, when clients were held back on purpose.
   */
  longestStall(from: number, to: number, held: Array<[number, number]> = []): number {
    const acks = [...this.writes.values()].filter((w) => w.outcome === 'acknowledged').map((w) => w.endAt);
    const times = [from, ...acks.sort((a, b) => a - b), to];
    const gap = (start: number, end: number) =>
      held.reduce((left, [a, b]) => left - Math.max(0, Math.min(end, b) - Math.max(start, a)), end - start);
    return Math.max(0, ...times.slice(1).map((t, i) => gap(times[i]!, t)));
  }

  acknowledgedItems(): string[] {
    return [...this.byItem.entries()].filter(([, writes]) => writes.some((w) => w.outcome === 'acknowledged')).map(([item]) => item);
  }

  /** Checks an answer given while faults go on; `startAt` is when the read was sent. */
  checkRead(server: string, item: string, answer: Lookup, startAt: number): void {
    this.reads++;
    const ackedBefore = (this.byItem.get(item) ?? []).filter((w) => w.outcome === 'acknowledged' && w.endAt < startAt);
    if (!answer.found) {
      if (ackedBefore.length > 0) this.wrongAnswers.push(`${server} answered 404 for ${item}, acknowledged before the read`);
      return;
    }
    const held = this.writes.get(answer.content);
    if (!held || held.item !== item) {
      this.wrongAnswers.push(`${server} answered content never written for ${item}: ${JSON.stringify(answer.content.slice(0, 40))}`);
      return;
    }
    if (ackedBefore.some((acked) => acked !== held && held.endAt < acked.startAt)) this.staleReads++;
  }

  /**
   * Checks what every server answers for every item once the ring has settled. Returns the acknowledged
   * writes lost (each once, whichever server shows it); wrong answers are added to `wrongAnswers`.
   */
  async checkSettled(servers: string[], get: (server: string, item: string) => Promise<Lookup>): Promise<string[]> {
    const lost = new Set<string>();
    for (const [item, writes] of this.byItem) {
      const acked = writes.filter((w) => w.outcome === 'acknowledged');
      for (const server of servers) {
        let answer: Lookup;
        try {
          answer = await get(server, item);
        } catch (err) {
          this.countError(`final ${errorLabel(err)}`);
          if (acked.length > 0) this.wrongAnswers.push(`${server} gave no answer for ${item} after settling (${errorLabel(err)})`);
          continue;
        }
        if (!answer.found) {
          if (acked.length > 0) {
            this.wrongAnswers.push(`${server} answered 404 for ${item} after settling`);
            acked.forEach((w) => lost.add(w.content));
          }
          continue;
        }
        const held = this.writes.get(answer.content);
        if (!held || held.item !== item) {
          this.wrongAnswers.push(`${server} holds content never written for ${item}`);
          acked.forEach((w) => lost.add(w.content));
          continue;
        }
        if (held.outcome === 'refused' && held.code === 'CONFLICT') {
          this.wrongAnswers.push(`${server} holds, for ${item}, a write that was refused with CONFLICT`);
        }
        const overwritten = acked.filter((w) => w !== held && held.endAt < w.startAt);
        if (overwritten.length > 0) {
          this.wrongAnswers.push(`${server} holds, for ${item}, a write older than ${overwritten.length} acknowledged later`);
          overwritten.forEach((w) => lost.add(w.content));
        }
      }
    }
    return [...lost].map((content) => {
      const write = this.writes.get(content)!;
      return `${write.item} written at ${write.server}`;
    });
  }
}
