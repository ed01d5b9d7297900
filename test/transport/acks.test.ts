/** Acknowledgements on a peer stream, without sockets: what is kept for a resend, when a stream counts as broken, reading counts. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AckReader, AckWindow, ackLine } from '../../src/transport/acks.js';

describe('AckWindow', () => {
  test('a count covers the messages written up to it, oldest first; the rest stay for a resend', () => {
    const window = new AckWindow<string>();
    for (const [i, message] of ['a', 'b', 'c', 'd'].entries()) window.write(message, i * 10);
    assert.deepEqual(window.ack(2), ['a', 'b']);
    assert.equal(window.pending, 2);
    assert.deepEqual(window.drain(), ['c', 'd']);
    assert.equal(window.pending, 0);
  });

  test('an old or repeated count covers nothing new', () => {
    const window = new AckWindow<string>();
    window.write('a', 0);
    window.write('b', 0);
    assert.deepEqual(window.ack(2), ['a', 'b']);
    assert.deepEqual(window.ack(1), []);
    assert.deepEqual(window.ack(2), []);
  });

  test('messages not tracked (a peer not known to acknowledge) still count, so later counts line up', () => {
    const window = new AckWindow<string>();
    window.write('before-1', 0, false);
    window.write('before-2', 0, false);
    assert.equal(window.write('tracked', 5), 3);
    assert.equal(window.pending, 1);
    assert.deepEqual(window.ack(2), []);
    assert.deepEqual(window.ack(3), ['tracked']);
  });

  test('the age of the oldest message not acknowledged is what times a stream out', () => {
    const window = new AckWindow<string>();
    assert.equal(window.oldestAge(1000), 0, 'nothing waits');
    window.write('a', 100);
    window.write('b', 400);
    assert.equal(window.oldestAge(1100), 1000);
    window.ack(1);
    assert.equal(window.oldestAge(1100), 700, 'now b is the oldest');
    window.ack(2);
    assert.equal(window.oldestAge(5000), 0);
  });

  test('a count past what was written is a broken peer', () => {
    const window = new AckWindow<string>();
    window.write('a', 0);
    assert.throws(() => window.ack(2), RangeError);
  });

  test('many messages acknowledged one by one keep the window small and in order', () => {
    const window = new AckWindow<number>();
    const done: number[] = [];
    for (let i = 1; i <= 5000; i++) {
      window.write(i, i);
      if (i % 3 === 0) done.push(...window.ack(i - 1));
    }
    done.push(...window.ack(5000));
    assert.deepEqual(
      done,
      Array.from({ length: 5000 }, (_, i) => i + 1),
    );
    assert.equal(window.pending, 0);
  });
});

describe('AckReader', () => {
  test('reads the latest count of a chunk, and counts split across chunks', () => {
    const reader = new AckReader();
    assert.equal(reader.push(ackLine(0)), 0);
    assert.equal(reader.push('3\n7\n1'), 7);
    assert.equal(reader.push('2'), undefined);
    assert.equal(reader.push('\n'), 12);
  });

  test('anything but counts is refused', () => {
    assert.throws(() => new AckReader().push('{"type": "ACK"}\n'), RangeError);
    assert.throws(() => new AckReader().push('\n'), RangeError, 'an empty line');
    assert.throws(() => new AckReader().push('12a'), RangeError);
    assert.throws(() => new AckReader().push('9'.repeat(40)), RangeError, 'a line that never ends');
    assert.throws(() => new AckReader().push('99999999999999999999\n'), RangeError, 'past a safe integer');
  });
});
