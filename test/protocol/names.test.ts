/** Item names: any text a file could be called, never empty, overlong or with control characters. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { checkItemName, MAX_NAME_BYTES } from '../../src/protocol/names.js';
import { CoopError, type ErrorCode } from '../../src/errors.js';

function assertCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CoopError, `expected a CoopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('checkItemName', () => {
  const good: ReadonlyArray<string> = [
    'index.html',
    'a',
    'dir/file.css',
    '../../etc/passwd', // only a name: the store must not treat it as a path
    '/absolute/looking',
    '.hidden',
    'with space.txt',
    'C:\\windows\\style',
    'café.txt',
    '日本語/ファイル',
    '😀.png',
    'name with "quotes" and {braces}',
    '\u2028line separator is not a control character',
    '\u00a0nbsp',
    'x'.repeat(MAX_NAME_BYTES),
    'é'.repeat(127) + 'a', // 255 bytes
    '😀'.repeat(63) + 'abc', // 252 + 3 = 255 bytes
  ];
  for (const name of good) {
    test(`accepts ${inspect(name, { maxStringLength: 40 })}`, () => {
      assert.equal(checkItemName(name), name);
    });
  }

  const bad: ReadonlyArray<{ why: string; name: unknown }> = [
    { why: 'empty', name: '' },
    { why: 'NUL', name: 'a\u0000b' },
    { why: 'only NUL', name: '\u0000' },
    { why: 'newline', name: 'a\nb' },
    { why: 'carriage return', name: 'a\rb' },
    { why: 'tab', name: 'a\tb' },
    { why: 'escape', name: '\u001b[2J' },
    { why: 'unit separator U+001F', name: 'a\u001f' },
    { why: 'DEL U+007F', name: 'a\u007f' },
    { why: 'C1 control U+0080', name: '\u0080a' },
    { why: 'C1 control U+009F', name: 'a\u009f' },
    { why: `${MAX_NAME_BYTES + 1} ASCII bytes`, name: 'x'.repeat(MAX_NAME_BYTES + 1) },
    { why: '256 bytes of two-byte characters', name: 'é'.repeat(128) },
    { why: '256 bytes of four-byte characters', name: '😀'.repeat(64) },
    { why: '128 UTF-16 units but 256 UTF-8 bytes', name: 'é'.repeat(127) + 'ab' },
    { why: 'lone high surrogate', name: 'a\ud800' },
    { why: 'lone low surrogate', name: '\udc00a' },
    { why: 'swapped surrogate pair', name: '\ude00\ud83d' },
  ];
  for (const { why, name } of bad) {
    test(`rejects ${why} with BAD_NAME`, () => {
      assertCode(() => checkItemName(name), 'BAD_NAME');
    });
  }

  // Not a string at all: a field of the wrong type, not a bad name.
  const notStrings: ReadonlyArray<{ why: string; name: unknown }> = [
    { why: 'a number', name: 42 },
    { why: 'null', name: null },
    { why: 'undefined', name: undefined },
    { why: 'an object', name: { item: 'a' } },
    { why: 'a list', name: ['a'] },
  ];
  for (const { why, name } of notStrings) {
    test(`rejects ${why} with BAD_FIELD`, () => {
      assertCode(() => checkItemName(name), 'BAD_FIELD');
    });
  }

  test('MAX_NAME_BYTES is 255', () => {
    assert.equal(MAX_NAME_BYTES, 255);
  });
});
