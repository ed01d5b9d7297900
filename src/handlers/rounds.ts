/**
 * Client requests waiting for their round to come back around the ring.
 * Each waits under its round id, so every answer goes to the client that
 * asked, whatever order rounds return in. A round that comes back without our
 * id (an original server passed it on without our extra field) is matched to
 * the oldest waiting request of the same type and item.
 *
 * A round can be lost on the way: a relay that crashes or is paused holds it.
 * A round that has not come back a share of its timeout after it was sent is
 * "stalled" and may be sent again (`onStall`); so is every round sent before a
 * server was cut out of the ring (`stallAll`). A resend carries the round's id
 * with the attempt appended (`resendId`), so relays that passed the first copy
 * pass this one too, and the first copy home answers. What a round was last
 * handed to (`noteHop`) names where it is stuck when it times out.
 */
interface Waiting<T> {
  id: string;
  key: string;
  value: T;
  timeoutMs: number;
  /** When it was added, and when it times out, on the `now` clock. */
  addedAt: number;
  deadline: number;
  onTimeout: (value: T, trail: RoundTrail) => void;
  /** Sends the round again; false when it was not sent. Without it, the round is never resent. */
  onStall: ((value: T, attempt: number, why: StallReason) => boolean) | undefined;
  /** When it was last sent (first, or again). */
  sentAt: number;
  /** Sends so far: 1, then one more per resend. */
  attempts: number;
  /** The server it was last handed to. */
  to: string | undefined;
}

/** Where a round that timed out was last seen. */
export interface RoundTrail {
  /** The server the round was last handed to by its creator (undefined: never sent). */
  to: string | undefined;
  attempts: number;
}

/** Why a round is sent again: nothing came back in time, or a server was cut out of the ring. */
export type StallReason = 'silent' | 'ring';

/** A round is sent again when it has not come back within this share of its timeout: at a third and two thirds. */
const STALL_SHARE = 3;

export function stallAfterMs(timeoutMs: number): number {
  return timeoutMs / STALL_SHARE;
}

/** The id of attempt `attempt` (2, 3, ...) of round `id`. */
export function resendId(id: string, attempt: number): string {
  return `${id}/${attempt}`;
}

/**
 * The id of the second lap of an upload's last part (handlers/forwarded.ts),
 * after its first lap came home as `id`: one per copy of the first lap, so
 * relays pass each, and a round id all the same.
 */
export function confirmingId(id: string): string {
  const slash = id.indexOf('/');
  return slash < 0 ? `${id}/c` : `${id.slice(0, slash)}/c${id.slice(slash + 1)}`;
}

/**
 * Whether `id` is a second lap's. Told by the id, which every server of ours
 * passes on, not by the `lap` field, which one from before drops when it
 * writes a round anew (sending it home, or marking it).
 */
export function isConfirmingId(id: string | undefined): boolean {
  return id !== undefined && id.includes('/c');
}

/** The round id that a (re)sent copy's id belongs to. */
export function baseRoundId(id: string): string {
  const slash = id.indexOf('/');
  return slash < 0 ? id : id.slice(0, slash);
}

/**
 * One timer serves every waiting request, armed for the earliest deadline or
 * stall check: a timer of its own per request cost an allocation, a
 * timer-list insertion and a removal on every PUT, and kept the request
 * reachable through the timer list. Deadlines are kept exactly: the
 * timer fires at the earliest one, and whatever is due then times out.
 * Requests are queued by their timeout, so each queue is in the order they
 * came; a firing looks only at the requests older than a stall interval
 * (plus one), however many wait.
 */
export class PendingRounds<T> {
  private readonly byId = new Map<string, Waiting<T>>();
  /** The same requests by timeout; each queue is in the order they came (so of their deadlines). */
  private readonly queues = new Map<number, Map<string, Waiting<T>>>();
  private timer: NodeJS.Timeout | undefined;
  /** The time the timer is armed for. */
  private armedFor = Infinity;

  constructor(readonly now: () => number = () => performance.now()) {}

  get size(): number {
    return this.byId.size;
  }

  /**
   * Waits up to timeoutMs for the round, then calls onTimeout with the value
   * and where the round was last sent. With onStall, the round may be sent
   * again meanwhile (see the module comment).
   */
  add(
    id: string,
    key: string,
    value: T,
    timeoutMs: number,
    onTimeout: (value: T, trail: RoundTrail) => void,
    onStall?: (value: T, attempt: number, why: StallReason) => boolean,
  ): void {
    const old = this.byId.get(id);
    if (old) this.remove(old);
    const now = this.now();
    const waiting: Waiting<T> = {
      id,
      key,
      value,
      timeoutMs,
      addedAt: now,
      deadline: now + timeoutMs,
      onTimeout,
      onStall,
      sentAt: now,
      attempts: 1,
      to: undefined,
    };
    this.byId.set(id, waiting);
    let queue = this.queues.get(timeoutMs);
    if (!queue) this.queues.set(timeoutMs, (queue = new Map()));
    queue.set(id, waiting);
    const firstCheck = now + stallAfterMs(timeoutMs);
    if (firstCheck < this.armedFor) this.arm(firstCheck);
  }

  /** The creator handed round `id` to `to` (the round's copy in flight is there now, or past it). */
  noteHop(id: string, to: string): void {
    const waiting = this.byId.get(id);
    if (waiting) waiting.to = to;
  }

  /**
   * Sends again every round that may resend and was last sent at or before
   * `sentBefore` (a server was cut out then: a round it held is lost).
   * Returns how many were sent again.
   */
  stallAll(sentBefore: number): number {
    const stalled = [...this.byId.values()].filter((waiting) => waiting.onStall && waiting.sentAt <= sentBefore);
    return this.resend(stalled, 'ring');
  }

  /** The request that round `id` answers, left waiting. */
  peek(id: string): T | undefined {
    return this.byId.get(id)?.value;
  }

  /** Takes the request that round `id` answers, or, with no id, the oldest one under `key`. */
  take(id: string | undefined, key: string): T | undefined {
    let waiting = id === undefined ? undefined : this.byId.get(id);
    if (id === undefined) {
      for (const candidate of this.byId.values()) {
        if (candidate.key === key) {
          waiting = candidate;
          break;
        }
      }
    }
    if (!waiting) return undefined;
    this.remove(waiting);
    // The timer stays armed: when it fires it finds nothing due and re-arms for what is left.
    if (this.byId.size === 0) this.disarm();
    return waiting.value;
  }

  /** Ends every wait and returns the values, for shutdown. */
  drain(): T[] {
    const values = [...this.byId.values()].map((waiting) => waiting.value);
    this.byId.clear();
    this.queues.clear();
    this.disarm();
    return values;
  }

  private remove(waiting: Waiting<T>): void {
    this.byId.delete(waiting.id);
    const queue = this.queues.get(waiting.timeoutMs)!;
    queue.delete(waiting.id);
    if (queue.size === 0) this.queues.delete(waiting.timeoutMs);
  }

  /** Counted as sent now whether or not onStall could send it: checked again a stall interval later. */
  private resend(stalled: Waiting<T>[], why: StallReason): number {
    const now = this.now();
    let sent = 0;
    for (const waiting of stalled) {
      waiting.sentAt = now;
      // Taken meanwhile (by an earlier callback's round coming home at once, alone in the ring): not sent again.
      if (!this.byId.has(waiting.id)) continue;
      if (waiting.onStall!(waiting.value, waiting.attempts + 1, why)) {
        waiting.attempts++;
        sent++;
      }
    }
    return sent;
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(this.expire, Math.max(0, at - this.now()));
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    const due: Waiting<T>[] = [];
    const stalled: Waiting<T>[] = [];
    let next = Infinity;
    for (const [timeoutMs, queue] of this.queues) {
      const stallMs = stallAfterMs(timeoutMs);
      for (const waiting of queue.values()) {
        // Younger than a stall interval: so is every one after it in this queue.
        if (waiting.addedAt + stallMs > now) {
          next = Math.min(next, waiting.addedAt + stallMs);
          break;
        }
        if (waiting.deadline <= now) {
          due.push(waiting);
          continue;
        }
        next = Math.min(next, waiting.deadline);
        if (!waiting.onStall) continue;
        if (waiting.sentAt + stallMs <= now) {
          stalled.push(waiting);
          next = Math.min(next, now + stallMs);
        } else {
          next = Math.min(next, waiting.sentAt + stallMs);
        }
      }
    }
    for (const waiting of due) this.remove(waiting);
    // A late firing finds several due, perhaps in several queues: they time out in deadline order.
    if (due.length > 1) due.sort((a, b) => a.deadline - b.deadline);
    if (next !== Infinity && this.byId.size > 0) this.arm(next);
    for (const waiting of due) waiting.onTimeout(waiting.value, { to: waiting.to, attempts: waiting.attempts });
    this.resend(stalled, 'silent');
  };
}

/**
 * Round ids this server has already passed on. A round passes each server
 * once; seeing one again means it went all the way around without its
 * creator taking it back (the creator is gone), so it must stop here.
 */
export class SeenRounds {
  private readonly ids = new Set<string>();
  /**
   * The same ids in the order they came, as a ring: the oldest is the one
   * about to be overwritten. Taking the oldest from the Set itself (its first
   * in iteration order) cost a walk past every entry deleted before it, which
   * grew to tens of microseconds per round once the capacity was reached.
   */
  private readonly order: string[] = [];
  private oldest = 0;

  constructor(private readonly capacity = 50_000) {}

  /** Records id; false when it was already there. */
  firstSighting(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.order.length < this.capacity) {
      this.order.push(id);
    } else {
      this.ids.delete(this.order[this.oldest]!);
      this.order[this.oldest] = id;
      this.oldest = (this.oldest + 1) % this.capacity;
    }
    return true;
  }
}
