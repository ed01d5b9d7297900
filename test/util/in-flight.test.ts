/** InFlight: a few tasks under way, results taken in the order they started, failures thrown in their turn. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InFlight } from '../../src/util/in-flight.js';

/** A promise settled from outside. */
function later<T>(): { promise: Promise<T>; resolve(value: T): void; reject(err: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((yes, no) => ((resolve = yes), (reject = no)));
  return { promise, resolve, reject };
}

test('results come in the order the tasks were added, whatever order they settle in; full at the limit', async () => {
  const flying = new InFlight<string>(2);
  const [a, b] = [later<string>(), later<string>()];
  flying.add(a.promise);
  assert.equal(flying.full, false);
  flying.add(b.promise);
  assert.equal(flying.full, true);
  b.resolve('b');
  a.resolve('a');
  assert.equal(await flying.next(), 'a');
  assert.equal(await flying.next(), 'b');
  assert.equal(flying.size, 0);
});

test('a task that fails while an earlier one is awaited is not an unhandled rejection, and is thrown in its turn', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => void unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    const flying = new InFlight<number>(3);
    const first = later<number>();
    flying.add(first.promise);
    flying.add(Promise.reject(new Error('second failed')));
    await new Promise((resolve) => setImmediate(resolve));
    first.resolve(1);
    assert.equal(await flying.next(), 1);
    await assert.rejects(flying.next(), /second failed/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
