/**
 * Client requests waiting for their round to come back around the ring.
 * Each waits under its round id, so every answer goes to the client that
 * asked, whatever order rounds return in. A round that comes back without our
 * id (an original server passed it on without our extra field) is matched to
 * the oldest waiting request of the same type and item.
 */
interface Waiting<T> {
  id: string;
  key: string;
  value: T;
  timeoutMs: number;
  /** When it times out, on the `now` clock. */
  deadline: number;
  onTimeout: (value: T) => void;
}

/**
 * One timer serves every waiting request, armed for the earliest deadline:
 * a timer of its own per request cost an allocation, a timer-list insertion
 * and a removal on every PUT, and kept the request reachable through the
 * timer list (issue 6). Deadlines are kept exactly: the timer fires at the
 * earliest one, and whatever is due then times out. Requests are queued by
 * their timeout, so each queue is in deadline order and a firing looks only
 * at what is due (plus one), however many wait.
 */
export class PendingRounds<T> {
  private readonly byId = new Map<string, Waiting<T>>();
  /** The same requests by timeout; each queue is in the order of its deadlines (the order they came). */
  private readonly queues = new Map<number, Map<string, Waiting<T>>>();
  private timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for. */
  private armedFor = Infinity;

  constructor(private readonly now: () => number = () => performance.now()) {}

  get size(): number {
    return this.byId.size;
  }

  /** Waits up to timeoutMs for the round, then calls onTimeout with the value. */
  add(id: string, key: string, value: T, timeoutMs: number, onTimeout: (value: T) => void): void {
    const old = this.byId.get(id);
    if (old) this.remove(old);
    const waiting = { id, key, value, timeoutMs, deadline: this.now() + timeoutMs, onTimeout };
    this.byId.set(id, waiting);
    let queue = this.queues.get(timeoutMs);
    if (!queue) this.queues.set(timeoutMs, (queue = new Map()));
    queue.set(id, waiting);
    if (waiting.deadline < this.armedFor) this.arm(waiting.deadline);
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

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = setTimeout(this.expire, Math.max(0, deadline - this.now()));
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
    let next = Infinity;
    for (const queue of this.queues.values()) {
      for (const waiting of queue.values()) {
        if (waiting.deadline > now) {
          next = Math.min(next, waiting.deadline);
          break;
        }
        due.push(waiting);
      }
    }
    for (const waiting of due) this.remove(waiting);
    // A late firing finds several due, perhaps in several queues: they time out in deadline order.
    if (due.length > 1) due.sort((a, b) => a.deadline - b.deadline);
    if (next !== Infinity) this.arm(next);
    for (const waiting of due) waiting.onTimeout(waiting.value);
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
