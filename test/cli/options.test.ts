/** Command-line value parsers: each throws commander's InvalidArgumentError on bad input. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { advertise, bytes, DEFAULT_PORT, listen, longSeconds, port, seconds, seeds, type ListenSpec } from '../../src/cli/options.js';

function assertInvalid(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `expected an InvalidArgumentError, got ${String(err)}`);
    return true;
  });
}

describe('listen', () => {
  const good: ReadonlyArray<{ text: string; spec: ListenSpec }> = [
    { text: '127.0.0.1', spec: { host: '127.0.0.1', port: DEFAULT_PORT, probeUpward: true } },
    { text: 'localhost', spec: { host: 'localhost', port: DEFAULT_PORT, probeUpward: true } },
    { text: '127.0.0.1:5000', spec: { host: '127.0.0.1', port: 5000, probeUpward: false } },
    { text: '127.0.0.1:5000+', spec: { host: '127.0.0.1', port: 5000, probeUpward: true } },
    { text: '127.0.0.1:0', spec: { host: '127.0.0.1', port: 0, probeUpward: false } },
    { text: '127.0.0.1:65535', spec: { host: '127.0.0.1', port: 65535, probeUpward: false } },
    { text: 'my-host.example:80', spec: { host: 'my-host.example', port: 80, probeUpward: false } },
    { text: '[::1]:0', spec: { host: '::1', port: 0, probeUpward: false } },
    { text: '[::1]:4043+', spec: { host: '::1', port: 4043, probeUpward: true } },
    { text: '[::1]', spec: { host: '::1', port: DEFAULT_PORT, probeUpward: true } },
    { text: '[2001:db8::1]:80', spec: { host: '2001:db8::1', port: 80, probeUpward: false } },
    { text: ':5000', spec: { host: undefined, port: 5000, probeUpward: false } },
    { text: ':5000+', spec: { host: undefined, port: 5000, probeUpward: true } },
    { text: '', spec: { host: undefined, port: DEFAULT_PORT, probeUpward: true } },
    { text: '  127.0.0.1:5000  ', spec: { host: '127.0.0.1', port: 5000, probeUpward: false } },
    // Wildcards parse; the server refuses them unless it is given an address to advertise (advertise.ts).
    { text: '0.0.0.0:4043', spec: { host: '0.0.0.0', port: 4043, probeUpward: false } },
    { text: '[::]:4043', spec: { host: '::', port: 4043, probeUpward: false } },
  ];
  for (const { text, spec } of good) {
    test(`reads ${JSON.stringify(text)}`, () => {
      assert.deepEqual(listen(text), spec);
    });
  }

  const bad: ReadonlyArray<{ why: string; text: string }> = [
    { why: 'a bare IPv6 address', text: '::1' },
    { why: 'a bare IPv6 wildcard', text: '::' },
    { why: 'a port over 65535', text: '127.0.0.1:65536' },
    { why: 'a six-digit port', text: '127.0.0.1:100000' },
    { why: 'a port with letters', text: '127.0.0.1:80a' },
    { why: 'a negative port', text: '127.0.0.1:-1' },
    { why: 'an empty port', text: '127.0.0.1:' },
    { why: 'two pluses', text: '127.0.0.1:80++' },
    { why: 'two ports', text: '127.0.0.1:80:81' },
    { why: 'a space in the host', text: 'my host:80' },
    { why: 'an unclosed bracket', text: '[::1:80' },
    { why: 'empty brackets', text: '[]:80' },
    { why: 'text after the brackets', text: '[::1]x:80' },
    { why: 'a URL', text: 'http://127.0.0.1:80' },
  ];
  for (const { why, text } of bad) {
    test(`rejects ${why}: ${JSON.stringify(text)}`, () => {
      assertInvalid(() => listen(text));
    });
  }
});

describe('bytes', () => {
  const good: ReadonlyArray<[string, number]> = [
    ['1024', 1024],
    ['1048576', 1048576],
    ['1k', 1024],
    ['1K', 1024],
    ['1KiB', 1024],
    ['1kib', 1024],
    ['1.5k', 1536],
    ['512KiB', 512 * 1024],
    ['1m', 1024 ** 2],
    ['64MiB', 64 * 1024 ** 2],
    ['64 MiB', 64 * 1024 ** 2],
    [' 2 m ', 2 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['4GiB', 4 * 1024 ** 3],
    ['1.0009765625k', 1025],
    ['1500.9', 1500],
  ];
  for (const [text, value] of good) {
    test(`reads ${JSON.stringify(text)} as ${value}`, () => {
      assert.equal(bytes(text), value);
    });
  }

  const bad: ReadonlyArray<string> = [
    '1023', // under 1KiB
    '0',
    '0k',
    '4.1g', // over 4GiB
    '5GiB',
    '4294967297',
    '',
    'k',
    'abc',
    '-1k',
    '1e6',
    '0x400',
    '1kb',
    '1KB',
    '1t',
    '1 k i b',
    '1024B',
    '1,024',
    '1constructor',
    '1__proto__',
    '2048toString',
    'Infinity',
  ];
  for (const text of bad) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assertInvalid(() => bytes(text));
    });
  }
});

describe('seconds', () => {
  const good: ReadonlyArray<[string, number]> = [
    ['5', 5],
    ['0.5', 0.5],
    ['0.001', 0.001],
    ['86400', 86400],
    [' 2 ', 2],
  ];
  for (const [text, value] of good) {
    test(`reads ${JSON.stringify(text)} as ${value}`, () => {
      assert.equal(seconds(text), value);
    });
  }

  const bad: ReadonlyArray<string> = ['0', '-1', '-0.5', '86400.5', '86401', '1e9', '', '   ', 'abc', '5s', 'NaN', 'Infinity', '-Infinity'];
  for (const text of bad) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assertInvalid(() => seconds(text));
    });
  }
});

describe('longSeconds (--forget-after)', () => {
  for (const [text, value] of [
    ['1', 1],
    ['86400', 86400],
    ['604800', 604800],
    ['31536000', 31536000],
  ] as const) {
    test(`reads ${JSON.stringify(text)} as ${value}`, () => assert.equal(longSeconds(text), value));
  }
  for (const text of ['0', '0.5', '-1', '31536001', '', 'abc', 'Infinity']) {
    test(`rejects ${JSON.stringify(text)}`, () => assertInvalid(() => longSeconds(text)));
  }
});

describe('port', () => {
  const good: ReadonlyArray<[string, number]> = [
    ['1', 1],
    ['4043', 4043],
    ['65535', 65535],
  ];
  for (const [text, value] of good) {
    test(`reads ${JSON.stringify(text)} as ${value}`, () => {
      assert.equal(port(text), value);
    });
  }

  const bad: ReadonlyArray<string> = ['0', '65536', '', 'http', '80a', '-80', '4043+', ' 80', '8.0'];
  for (const text of bad) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assertInvalid(() => port(text));
    });
  }
});

test("DEFAULT_PORT is the original's 4043", () => {
  assert.equal(DEFAULT_PORT, 4043);
});

describe('seeds (--join)', () => {
  const good: ReadonlyArray<{ text: string; list: string[] }> = [
    { text: '127.0.0.1:4050', list: ['127.0.0.1:4050'] },
    { text: 'db1', list: [`db1:${DEFAULT_PORT}`] },
    { text: 'db1:4043, db2:4044,10.0.0.3', list: ['db1:4043', 'db2:4044', `10.0.0.3:${DEFAULT_PORT}`] },
    { text: '[::1]:5000,[2001:db8::2]', list: ['[::1]:5000', `[2001:db8::2]:${DEFAULT_PORT}`] },
    { text: 'web_1.coop.internal:80', list: ['web_1.coop.internal:80'] },
  ];
  for (const { text, list } of good) {
    test(`reads ${JSON.stringify(text)}`, () => assert.deepEqual(seeds(text), list));
  }
  for (const text of ['', ',', 'db1:0', 'db1:65536', 'db 1:80', '::1', 'http://db1:80', '1.2.3:80', 'db1:80:81']) {
    test(`rejects ${JSON.stringify(text)}`, () => assertInvalid(() => seeds(text)));
  }
});

describe('advertise', () => {
  for (const text of ['10.0.0.5:4043', '10.0.0.5', 'node-1.example:4043', '[2001:db8::5]:4043']) {
    test(`takes ${JSON.stringify(text)}`, () => assert.equal(advertise(text), text));
  }
  for (const text of ['', '10.0.0.5:', '10.0.0.5:0', 'a b:80', '::1']) {
    test(`rejects ${JSON.stringify(text)}`, () => assertInvalid(() => advertise(text)));
  }
});
