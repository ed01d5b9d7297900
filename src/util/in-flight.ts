/**
 * A few tasks under way at once, their results taken in the order they were
 * started: parts of an upload going around the ring, ranges of a download.
 * A task that fails while an earlier one is awaited is kept until its turn
 * (never an unhandled rejection), and thrown then.
 */
export class InFlight<T> {
  private readonly queue: Array<Promise<{ value: T } | { error: unknown }>> = [];

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.queue.length;
  }

  /** Whether `limit` tasks are under way: take the oldest one's result before adding another. */
  get full(): boolean {
    return this.queue.length >= this.limit;
  }

  add(task: Promise<T>): void {
    this.queue.push(
      task.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    );
  }

  /** The oldest task's result, once it settles; its error, thrown. */
  async next(): Promise<T> {
    const settled = await this.queue.shift()!;
    if ('error' in settled) throw settled.error;
    return settled.value;
  }
}
