/**
 * Client requests waiting for their round to come back around the ring.
 * Each waits under its round id, so every answer goes to the client that
 * asked, whatever order rounds return in. A round that comes back without our
 * id (an original server passed it on without our extra field) is matched to
 * the oldest waiting request of the same type and item.
 */
export interface Waiting<T> {
  id: string;
  key: string;
  value: T;
  timer: NodeJS.Timeout;
}

export class PendingRounds<T> {
  private readonly byId = new Map<string, Waiting<T>>();

  get size(): number {
    return this.byId.size;
  }

  /** Waits up to timeoutMs for the round, then calls onTimeout with the value. */
  add(id: string, key: string, value: T, timeoutMs: number, onTimeout: (value: T) => void): void {
    clearTimeout(this.byId.get(id)?.timer);
    const timer = setTimeout(() => {
      if (this.byId.get(id)?.timer !== timer) return;
      this.byId.delete(id);
      onTimeout(value);
    }, timeoutMs);
    this.byId.set(id, { id, key, value, timer });
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
    clearTimeout(waiting.timer);
    this.byId.delete(waiting.id);
    return waiting.value;
  }

  /** Ends every wait and returns the values, for shutdown. */
  drain(): T[] {
    const values = [...this.byId.values()].map((waiting) => {
      clearTimeout(waiting.timer);
      return waiting.value;
    });
    this.byId.clear();
    return values;
  }
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
