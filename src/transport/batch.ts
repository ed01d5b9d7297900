/**
 * Gathers the messages written to one peer stream and writes them together.
 *
 * A batch is written once a turn of the event loop adds nothing to it: a
 * server that relays a batch it received writes it on at the end of the next
 * turn, and a lone message waits one turn. A server that keeps adding
 * messages turn after turn (the server where a burst of client PUTs comes
 * in, one or two per turn) keeps gathering, up to `holdMs` or `holdChars`.
 * Every message written costs a system call and wakes the peer, which then
 * reads, parses and passes on what it got; a batch costs that once, so the
 * servers after a busy entry server wake once per batch, not per message.
 *
 * All messages of a batch share its outcome: one promise, settled when the
 * batch has been handed to the kernel, or has failed.
 */

/** Where a batch goes: its pieces written together (text joined, attached bytes as they are), with a callback (a socket). */
export interface BatchSink {
  /** False when nothing can be written any more (the connection is gone). */
  readonly writable: boolean;
  write(pieces: ReadonlyArray<string | Buffer>, done: (err?: Error | null) => void): void;
}

export interface BatchOptions {
  /** The longest a batch is held while messages keep coming. */
  holdMs: number;
  /** A batch this large (in UTF-16 units of text, or bytes) is written at the end of its turn. */
  holdChars: number;
  /** Runs `fn` at the end of this turn of the event loop (setImmediate). */
  schedule?(fn: () => void): void;
  /** Milliseconds, for the hold (performance.now). */
  now?(): number;
}

export const DEFAULT_HOLD: Readonly<BatchOptions> = { holdMs: 1, holdChars: 64 * 1024 };

export class WriteBatch {
  private chunks: Array<string | Buffer> = [];
  private chars = 0;
  private started = 0;
  /** Messages were added since the last check. */
  private grew = false;
  private outcome: { promise: Promise<void>; resolve(): void; reject(err: Error): void } | undefined;
  private readonly schedule: (fn: () => void) => void;
  private readonly now: () => number;

  constructor(
    private readonly sink: BatchSink,
    private readonly onError: (err: unknown) => Error,
    private readonly options: BatchOptions = DEFAULT_HOLD,
  ) {
    this.schedule = options.schedule ?? setImmediate;
    this.now = options.now ?? (() => performance.now());
  }

  /** Adds one message (its text, or its pieces); resolves when its batch has been written. */
  add(...pieces: Array<string | Buffer>): Promise<void> {
    if (!this.outcome) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      this.outcome = { promise, resolve, reject };
      this.started = this.now();
      this.schedule(this.check);
    }
    for (const piece of pieces) {
      this.chunks.push(piece);
      this.chars += piece.length;
    }
    this.grew = true;
    return this.outcome.promise;
  }

  private readonly check = (): void => {
    if (this.grew && this.chars < this.options.holdChars && this.now() - this.started < this.options.holdMs) {
      this.grew = false;
      this.schedule(this.check);
      return;
    }
    const outcome = this.outcome!;
    const pieces = joinText(this.chunks);
    this.chunks = [];
    this.chars = 0;
    this.grew = false;
    this.outcome = undefined;
    if (!this.sink.writable) {
      outcome.reject(this.onError(new Error('the connection is closed')));
      return;
    }
    this.sink.write(pieces, (err) => (err ? outcome.reject(this.onError(err)) : outcome.resolve()));
  };
}

/** Adjacent texts joined into one, so that a batch without attached bytes is one write. */
function joinText(chunks: Array<string | Buffer>): Array<string | Buffer> {
  if (chunks.length === 1) return chunks;
  const joined: Array<string | Buffer> = [];
  let texts: string[] = [];
  for (const chunk of chunks) {
    if (typeof chunk === 'string') {
      texts.push(chunk);
      continue;
    }
    if (texts.length > 0) joined.push(texts.join(''));
    texts = [];
    joined.push(chunk);
  }
  if (texts.length > 0) joined.push(texts.join(''));
  return joined;
}
