/** CoopError carries a stable code; isCoopError narrows on it. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CoopError, isCoopError } from '../../src/errors.js';

describe('CoopError', () => {
  test('keeps its code, message, name and cause', () => {
    const cause = new Error('root');
    const err = new CoopError('TIMEOUT', 'no answer', { cause });
    assert.ok(err instanceof Error);
    assert.equal(err.code, 'TIMEOUT');
    assert.equal(err.name, 'CoopError');
    assert.equal(err.message, 'no answer');
    assert.equal(err.cause, cause);
    assert.ok(err.stack);
  });

  test('has no cause when none is given', () => {
    assert.equal(new CoopError('CLOSED', 'x').cause, undefined);
  });
});

describe('isCoopError', () => {
  const err = new CoopError('BAD_JSON', 'x');
  const cases: ReadonlyArray<{ name: string; value: unknown; code?: 'BAD_JSON' | 'BAD_FIELD'; expected: boolean }> = [
    { name: 'a CoopError, any code', value: err, expected: true },
    { name: 'a CoopError with the asked code', value: err, code: 'BAD_JSON', expected: true },
    { name: 'a CoopError with another code', value: err, code: 'BAD_FIELD', expected: false },
    { name: 'a plain Error', value: new Error('x'), expected: false },
    {
      name: 'a plain Error with a code property',
      value: Object.assign(new Error('x'), { code: 'BAD_JSON' }),
      code: 'BAD_JSON',
      expected: false,
    },
    { name: 'an object that looks like one', value: { name: 'CoopError', code: 'BAD_JSON', message: 'x' }, expected: false },
    { name: 'null', value: null, expected: false },
    { name: 'a string', value: 'BAD_JSON', code: 'BAD_JSON', expected: false },
  ];
  for (const { name, value, code, expected } of cases) {
    test(`is ${expected} for ${name}`, () => {
      assert.equal(isCoopError(value, code), expected);
    });
  }
});
