/** "IP:PORT" and "[IPv6]:PORT" addresses. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { formatAddress, isAddress, isWildcard, parseAddress, parseHostPort, parsePort } from '../../src/protocol/address.js';
import { CoopError, type ErrorCode } from '../../src/errors.js';

function assertCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CoopError, `expected a CoopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('parsePort', () => {
  const good: ReadonlyArray<[string, number]> = [
    ['1', 1],
    ['80', 80],
    ['4043', 4043],
    ['65535', 65535],
    ['080', 80],
  ];
  for (const [text, port] of good) {
    test(`reads ${JSON.stringify(text)} as ${port}`, () => {
      assert.equal(parsePort(text), port);
    });
  }

  const bad: ReadonlyArray<string> = [
    '0',
    '00000',
    '65536',
    '99999',
    '123456',
    '',
    ' ',
    '-1',
    '+80',
    ' 80',
    '80 ',
    '80a',
    'abc',
    '1e3',
    '0x50',
    '8.0',
    '\u0663',
  ];
  for (const text of bad) {
    test(`rejects ${JSON.stringify(text)} with BAD_ADDRESS`, () => {
      assertCode(() => parsePort(text), 'BAD_ADDRESS');
    });
  }

  test('accepts 0 only with allowZero', () => {
    assert.equal(parsePort('0', { allowZero: true }), 0);
    assertCode(() => parsePort('0', { allowZero: false }), 'BAD_ADDRESS');
    assertCode(() => parsePort('65536', { allowZero: true }), 'BAD_ADDRESS');
  });
});

describe('parseAddress', () => {
  const good: ReadonlyArray<{ text: string; host: string; port: number }> = [
    { text: '127.0.0.1:4043', host: '127.0.0.1', port: 4043 },
    { text: '10.0.0.7:1', host: '10.0.0.7', port: 1 },
    { text: '192.168.1.254:65535', host: '192.168.1.254', port: 65535 },
    { text: '[::1]:4043', host: '::1', port: 4043 },
    { text: '[2001:db8::42]:80', host: '2001:db8::42', port: 80 },
    { text: '[::ffff:127.0.0.1]:8080', host: '::ffff:127.0.0.1', port: 8080 },
  ];
  for (const { text, host, port } of good) {
    test(`reads ${text}`, () => {
      assert.deepEqual(parseAddress(text), { host, port });
    });
  }

  const bad: ReadonlyArray<string> = [
    '',
    '127.0.0.1',
    '127.0.0.1:',
    ':4043',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '127.0.0.1:abc',
    '127.0.0.1:40a3',
    '127.0.0.1:-5',
    '127.0.0.1:4043:5',
    '::1:4043',
    '::1',
    '[::1]',
    '[::1]:',
    '[::1]:0',
    '[::1]:65536',
    '[::1]4043',
    '[127.0.0.1]:4043',
    '[localhost]:4043',
    '[]:4043',
    '[[::1]]:4043',
    '[::1]:4043]',
  ];
  for (const text of bad) {
    test(`rejects ${JSON.stringify(text)} with BAD_ADDRESS`, () => {
      assertCode(() => parseAddress(text), 'BAD_ADDRESS');
    });
  }

  test('accepts port 0 only with allowZero', () => {
    assert.deepEqual(parseAddress('127.0.0.1:0', { allowZero: true }), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseAddress('[::1]:0', { allowZero: true }), { host: '::1', port: 0 });
  });

  // The module promises "IP:PORT"; every address this program makes is an IP literal
  // (formatAddress of a resolved host). These come only from a peer or client.
  const hostileHosts: ReadonlyArray<string> = [
    'a\nb:4043', // a line break, printed as is in the ring picture and logs
    '\u001b[31mred:4043',
    'a b:4043',
    ' 127.0.0.1:4043',
    '\u0000:4043',
  ];
  for (const text of hostileHosts) {
    test(`rejects a host with control characters or blanks: ${JSON.stringify(text)}`, () => {
      assertCode(() => parseAddress(text), 'BAD_ADDRESS');
    });
  }

  const notIp: ReadonlyArray<string> = ['localhost:4043', 'example.com:80', '999.1.1.1:80', '1.2.3:80'];
  for (const text of notIp) {
    test(`rejects a host that is not an IP literal: ${JSON.stringify(text)}`, () => {
      assertCode(() => parseAddress(text), 'BAD_ADDRESS');
    });
  }
});

describe('formatAddress', () => {
  const cases: ReadonlyArray<{ host: string; port: number; text: string }> = [
    { host: '127.0.0.1', port: 4043, text: '127.0.0.1:4043' },
    { host: '10.1.2.3', port: 0, text: '10.1.2.3:0' },
    { host: '::1', port: 4043, text: '[::1]:4043' },
    { host: '2001:db8::42', port: 80, text: '[2001:db8::42]:80' },
    { host: '::ffff:127.0.0.1', port: 1, text: '[::ffff:127.0.0.1]:1' },
  ];
  for (const { host, port, text } of cases) {
    test(`writes ${host} port ${port} as ${text}`, () => {
      assert.equal(formatAddress(host, port), text);
    });
  }

  test('parseAddress reads back what formatAddress writes', () => {
    for (const { host, port } of cases) {
      assert.deepEqual(parseAddress(formatAddress(host, port), { allowZero: true }), { host, port });
    }
  });
});

describe('isAddress', () => {
  const cases: ReadonlyArray<{ value: unknown; expected: boolean }> = [
    { value: '127.0.0.1:4043', expected: true },
    { value: '[::1]:4043', expected: true },
    { value: '127.0.0.1:0', expected: false },
    { value: '127.0.0.1', expected: false },
    { value: '[::1]', expected: false },
    { value: '', expected: false },
    { value: '1'.repeat(301) + ':80', expected: false },
    { value: 4043, expected: false },
    { value: null, expected: false },
    { value: undefined, expected: false },
    { value: ['127.0.0.1:4043'], expected: false },
    { value: { host: '127.0.0.1', port: 4043 }, expected: false },
    { value: { toString: () => '127.0.0.1:4043' }, expected: false },
  ];
  for (const { value, expected } of cases) {
    test(`is ${expected} for ${inspect(value, { maxStringLength: 40 })}`, () => {
      assert.equal(isAddress(value), expected);
    });
  }
});

describe('parseHostPort', () => {
  const good: ReadonlyArray<[string, number | undefined, { host: string; port: number }]> = [
    ['127.0.0.1:4043', undefined, { host: '127.0.0.1', port: 4043 }],
    ['seed-1:4043', undefined, { host: 'seed-1', port: 4043 }],
    ['seed-1', 4043, { host: 'seed-1', port: 4043 }],
    ['web_1.coop.internal.:80', undefined, { host: 'web_1.coop.internal.', port: 80 }],
    ['[::1]:5000', undefined, { host: '::1', port: 5000 }],
    ['[::1]', 7, { host: '::1', port: 7 }],
  ];
  for (const [text, defaultPort, expected] of good) {
    test(`reads ${JSON.stringify(text)}`, () => assert.deepEqual(parseHostPort(text, defaultPort), expected));
  }
  const bad: ReadonlyArray<[string, number | undefined]> = [
    ['seed-1', undefined],
    ['seed-1:', 4043],
    ['seed-1:0', undefined],
    ['::1', 4043],
    ['[seed]:80', undefined],
    ['1.2.3:80', undefined],
    ['-seed:80', undefined],
    ['seed one:80', undefined],
    ['', 4043],
  ];
  for (const [text, defaultPort] of bad) {
    test(`rejects ${JSON.stringify(text)} with BAD_ADDRESS`, () => assertCode(() => parseHostPort(text, defaultPort), 'BAD_ADDRESS'));
  }
});

describe('isWildcard', () => {
  // Every spelling of the unspecified address binds every interface just the same.
  for (const host of ['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '::0', '0::0']) test(`${host} is`, () => assert.equal(isWildcard(host), true));
  for (const host of ['127.0.0.1', '::1', '10.0.0.0', 'localhost']) test(`${host} is not`, () => assert.equal(isWildcard(host), false));
});
