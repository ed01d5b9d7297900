/** pyDumps/pyString must write byte for byte what Python's json.dumps writes with default settings. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pyDumps, pyString, type PyJson } from '../../src/protocol/pyjson.js';

// Every expected string below was produced by Python 3.11's json.dumps(...) with default settings.
const STRING_CASES: ReadonlyArray<{ name: string; input: string; expected: string }> = [
  { name: 'plain ASCII', input: 'plain', expected: '"plain"' },
  { name: 'empty string', input: '', expected: '""' },
  { name: 'quote, backslash, slash', input: 'a"b\\c/d', expected: '"a\\"b\\\\c/d"' },
  { name: 'Latin-1 letter', input: 'é', expected: '"\\u00e9"' },
  { name: 'DEL U+007F', input: '\u007f', expected: '"\\u007f"' },
  { name: 'C1 control U+0080', input: '\u0080', expected: '"\\u0080"' },
  { name: 'U+00FF', input: '\u00ff', expected: '"\\u00ff"' },
  { name: 'line separator U+2028', input: '\u2028', expected: '"\\u2028"' },
  { name: 'U+FFFF', input: '\uffff', expected: '"\\uffff"' },
  { name: 'CJK (lowercase hex)', input: '日本', expected: '"\\u65e5\\u672c"' },
  { name: 'astral char as surrogate pair', input: '😀', expected: '"\\ud83d\\ude00"' },
  { name: 'lone high surrogate', input: '\ud800', expected: '"\\ud800"' },
  { name: 'lone low surrogate', input: '\udfff', expected: '"\\udfff"' },
  {
    name: 'C0 controls (short escapes where Python has them)',
    input: '\x00\x01\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f',
    expected: '"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001b\\u001f"',
  },
  { name: 'mixed ASCII and non-ASCII', input: 'naïve café', expected: '"na\\u00efve caf\\u00e9"' },
  { name: 'printable ASCII edge ~ kept', input: ' ~', expected: '" ~"' },
];

describe('pyString', () => {
  for (const { name, input, expected } of STRING_CASES) {
    test(`escapes ${name} like Python`, () => {
      assert.equal(pyString(input), expected);
    });
  }

  test('every BMP code unit alone, and amid plain text, is written as JSON.stringify with non-ASCII escaped', () => {
    const reference = (value: string): string =>
      JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
    for (let code = 0; code <= 0xffff; code += 1) {
      const ch = String.fromCharCode(code);
      assert.equal(pyString(ch), reference(ch), `U+${code.toString(16)}`);
      const amid = `plain ${ch} text`;
      assert.equal(pyString(amid), reference(amid), `U+${code.toString(16)} amid text`);
    }
  });

  test('output is pure printable ASCII for every BMP code unit', () => {
    let all = '';
    for (let code = 0; code <= 0xffff; code += 1) all += String.fromCharCode(code);
    const out = pyString(all);
    assert.match(out, /^[\x20-\x7e]*$/);
    assert.equal(JSON.parse(out), all);
  });
});

describe('pyDumps', () => {
  const cases: ReadonlyArray<{ name: string; input: PyJson; expected: string }> = [
    { name: 'null', input: null, expected: 'null' },
    { name: 'true', input: true, expected: 'true' },
    { name: 'false', input: false, expected: 'false' },
    { name: 'integer', input: 123456789012, expected: '123456789012' },
    { name: 'negative fraction', input: -0.5, expected: '-0.5' },
    { name: 'large number in exponent form', input: 1e21, expected: '1e+21' },
    { name: 'empty list', input: [], expected: '[]' },
    { name: 'empty object', input: {}, expected: '{}' },
    {
      name: 'list with ", " separators',
      input: [1, -2, 0, 1.5, true, false, null, [], {}, [[]], { a: {} }],
      expected: '[1, -2, 0, 1.5, true, false, null, [], {}, [[]], {"a": {}}]',
    },
    { name: 'object keeps insertion order', input: { z: 1, a: 2, m: [1, 'x'] }, expected: '{"z": 1, "a": 2, "m": [1, "x"]}' },
    { name: 'non-ASCII keys and values escaped', input: { naïve: 'ü' }, expected: '{"na\\u00efve": "\\u00fc"}' },
    {
      name: 'UPDATE-like object',
      input: { creator: '127.0.0.1:4043', type: 'UPDATE', data: ['127.0.0.1:4043', '127.0.0.1:4044'] },
      expected: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043", "127.0.0.1:4044"]}',
    },
    { name: 'undefined values dropped', input: { a: 1, b: undefined, c: 'x', d: undefined }, expected: '{"a": 1, "c": "x"}' },
    { name: 'object with only undefined values', input: { a: undefined }, expected: '{}' },
    { name: 'null values kept', input: { a: null }, expected: '{"a": null}' },
    { name: 'nested objects', input: { a: { b: { c: [{ d: 'é' }] } } }, expected: '{"a": {"b": {"c": [{"d": "\\u00e9"}]}}}' },
  ];
  for (const { name, input, expected } of cases) {
    test(`writes ${name} like Python`, () => {
      assert.equal(pyDumps(input), expected);
    });
  }

  test('refuses non-finite numbers', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      assert.throws(() => pyDumps({ a: value }), TypeError);
    }
  });

  test('output parses back to the same data (undefined removed)', () => {
    const value: PyJson = { s: 'x\u0000y😀\u2028', n: [1, 2, { k: null }], u: undefined };
    assert.deepEqual(JSON.parse(pyDumps(value)), { s: 'x\u0000y😀\u2028', n: [1, 2, { k: null }] });
  });
});
