/** WriteBatch: messages to one peer written together, once a turn of the event loop adds nothing more. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { WriteBatch, type BatchOptions } from '../../src/transport/batch.js';
import { CoopError } from '../../src/errors.js';

/** A fake event loop (turns end when `endTurn` runs what was scheduled), clock and sink. */
function harness(options: Partial<BatchOptions> = {}) {
  let queue: Array<() => void> = [];
  let clock = 0;
  const writes: string[] = [];
  /** Each write's pieces: texts, and attached bytes shown as `[bytes]`. */
  const pieces: string[][] = [];
  let failWith: Error | undefined;
  const sink = {
    writable: true,
    write(written: ReadonlyArray<string | Buffer>, done: (err?: Error | null) => void) {
      const shown = written.map((piece) => (typeof piece === 'string' ? piece : `[${piece.toString()}]`));
      pieces.push(shown);
      writes.push(shown.join(''));
      const err = failWith;
      queueMicrotask(() => done(err));
    },
  };
  const batch = new WriteBatch(sink, (err) => new CoopError('CLOSED', `failed: ${(err as Error).message}`), {
    holdMs: 1,
    holdChars: 1000,
    schedule: (fn) => void queue.push(fn),
    now: () => clock,
    ...options,
  });
  return {
    batch,
    writes,
    pieces,
    sink,
    advance(ms: number) {
      clock += ms;
    },
    failNext(err: Error | undefined) {
      failWith = err;
    },
    /** Ends the current turn: runs what was scheduled for its end (which may schedule the next). */
    endTurn() {
      const due = queue;
      queue = [];
      for (const fn of due) fn();
    },
  };
}

describe('WriteBatch', () => {
  test('attached bytes go in the same write as the texts around them, in order, texts beside each other joined', async () => {
    const h = harness();
    const sent = [h.batch.add('a'), h.batch.add('#3\n{}', Buffer.from('xyz')), h.batch.add('b'), h.batch.add('c')];
    h.endTurn();
    h.endTurn();
    assert.deepEqual(h.pieces, [['a#3\n{}', '[xyz]', 'bc']]);
    await Promise.all(sent);
  });

  test('a lone message is written one turn after the turn that added it', async () => {
    const h = harness();
    const sent = h.batch.add('a');
    h.endTurn();
    assert.deepEqual(h.writes, [], 'the turn that added it may still be followed by more');
    h.endTurn();
    assert.deepEqual(h.writes, ['a']);
    await sent;
    h.endTurn();
    h.endTurn();
    assert.deepEqual(h.writes, ['a'], 'nothing is left waiting');
  });

  test('messages added in one turn go out in one write, in order, and share the outcome', async () => {
    const h = harness();
    const sent = ['a', 'b', 'c'].map((text) => h.batch.add(text));
    h.endTurn();
    h.endTurn();
    assert.deepEqual(h.writes, ['abc']);
    await Promise.all(sent);
  });

  test('a batch keeps gathering while every turn adds to it, and is written after the first turn that adds nothing', () => {
    const h = harness({ holdMs: 1000 });
    for (const text of ['a', 'b', 'c', 'd']) {
      void h.batch.add(text);
      h.endTurn();
    }
    assert.deepEqual(h.writes, []);
    h.endTurn();
    assert.deepEqual(h.writes, ['abcd']);
    void h.batch.add('e');
    h.endTurn();
    h.endTurn();
    assert.deepEqual(h.writes, ['abcd', 'e'], 'the next message starts a new batch');
  });

  test('a batch is held no longer than holdMs, however busy the turns', () => {
    const h = harness({ holdMs: 1 });
    void h.batch.add('a');
    h.endTurn();
    h.advance(0.6);
    void h.batch.add('b');
    h.endTurn();
    assert.deepEqual(h.writes, []);
    h.advance(0.6);
    void h.batch.add('c');
    h.endTurn();
    assert.deepEqual(h.writes, ['abc'], 'written once the hold ran out, though the turn added to it');
  });

  test('a batch of holdChars or more is written at the end of its turn', () => {
    const h = harness({ holdChars: 10 });
    void h.batch.add('x'.repeat(6));
    void h.batch.add('y'.repeat(6));
    h.endTurn();
    assert.deepEqual(h.writes, ['xxxxxxyyyyyy']);
  });

  test('a failed write rejects every message of its batch with the mapped error, and the next batch is tried anew', async () => {
    const h = harness();
    h.failNext(new Error('EPIPE'));
    const sent = [h.batch.add('a'), h.batch.add('b')];
    h.endTurn();
    h.endTurn();
    for (const outcome of sent) {
      await assert.rejects(outcome, (err: unknown) => err instanceof CoopError && err.code === 'CLOSED' && /EPIPE/.test(err.message));
    }
    h.failNext(undefined);
    const next = h.batch.add('c');
    h.endTurn();
    h.endTurn();
    await next;
    assert.deepEqual(h.writes, ['ab', 'c']);
  });

  test('a batch whose connection is gone by its write is refused without writing', async () => {
    const h = harness();
    const sent = h.batch.add('a');
    h.sink.writable = false;
    h.endTurn();
    h.endTurn();
    await assert.rejects(sent, (err: unknown) => err instanceof CoopError && err.code === 'CLOSED');
    assert.deepEqual(h.writes, []);
  });
});
