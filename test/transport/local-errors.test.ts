/** Which failed connects are this server's own (local-errors.ts), and the gate that rate-limits their warnings. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CoopError } from '../../src/errors.js';
import { localErrorCode, WarningGate } from '../../src/transport/local-errors.js';

const errno = (code: string): Error => Object.assign(new Error(`connect ${code}`), { code });

describe('localErrorCode', () => {
  for (const code of ['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL']) {
    test(`${code} is this server's own`, () => {
      assert.equal(localErrorCode(errno(code)), code);
      assert.equal(localErrorCode(new CoopError('CONNECT_FAILED', code, { cause: errno(code) })), code);
    });
  }

  for (const code of ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED']) {
    test(`${code} may be the peer's: not local`, () => {
      assert.equal(localErrorCode(errno(code)), undefined);
      assert.equal(localErrorCode(new CoopError('CONNECT_FAILED', code, { cause: errno(code) })), undefined);
    });
  }

  test('a timeout or closed connection without an errno is not local', () => {
    assert.equal(localErrorCode(new CoopError('TIMEOUT', 'connecting timed out')), undefined);
    assert.equal(localErrorCode(new CoopError('CLOSED', 'closed without a reply')), undefined);
  });

  test('found deep in a chain of causes', () => {
    const inner = new CoopError('CLOSED', 'write failed', { cause: errno('ENOBUFS') });
    assert.equal(localErrorCode(new Error('outer', { cause: inner })), 'ENOBUFS');
  });

  test('anything that is not an error is not local', () => {
    for (const value of [undefined, null, 'EMFILE', 24, { code: 24 }]) assert.equal(localErrorCode(value), undefined);
  });

  test('a cause chain that loops ends', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    a.cause = a;
    assert.equal(localErrorCode(a), undefined);
  });
});

describe('WarningGate', () => {
  test('passes the first of a key, then stays quiet for the interval, then tells how many it kept back', () => {
    const clock = { now: 0 };
    const gate = new WarningGate(5000, () => clock.now);
    assert.equal(gate.pass('connect EMFILE'), 0);
    clock.now = 100;
    assert.equal(gate.pass('connect EMFILE'), undefined);
    clock.now = 4999;
    assert.equal(gate.pass('connect EMFILE'), undefined);
    assert.equal(gate.pass('accept EMFILE'), 0, 'another key has its own interval');
    clock.now = 5000;
    assert.equal(gate.pass('connect EMFILE'), 2);
    clock.now = 10_000;
    assert.equal(gate.pass('connect EMFILE'), 0);
  });
});
