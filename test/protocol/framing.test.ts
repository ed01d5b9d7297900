/** JsonObjectFramer: finds the end of one JSON object in a byte stream without waiting for end-of-stream. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { JsonObjectFramer, MAX_DEPTH, type FrameResult } from '../../src/protocol/framing.js';
import { CoopError, type ErrorCode } from '../../src/errors.js';

function assertCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CoopError, `expected a CoopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** Feeds chunks in order; every chunk but the last must leave the object incomplete. */
function feed(framer: JsonObjectFramer, chunks: readonly Buffer[]): FrameResult {
  chunks.forEach((chunk, i) => {
    if (i < chunks.length - 1) assert.equal(framer.push(chunk), undefined, `chunk ${i} completed the object too early`);
  });
  const last = chunks[chunks.length - 1];
  assert.ok(last !== undefined, 'no chunks');
  const result = framer.push(last);
  assert.ok(result !== undefined, 'the last chunk did not complete the object');
  return result;
}

function bytesOf(text: string): Buffer[] {
  const buf = Buffer.from(text, 'utf8');
  return [...buf].map((byte) => Buffer.from([byte]));
}

// Whole objects whose end a naive scanner would get wrong.
const OBJECTS: ReadonlyArray<{ name: string; text: string }> = [
  { name: 'a flat message', text: '{"type": "GET", "data": "index.html"}' },
  { name: 'an empty object', text: '{}' },
  { name: 'nested objects and lists', text: '{"a": {"b": [1, {"c": [[]]}]}, "d": 3}' },
  { name: 'braces and brackets inside strings', text: '{"a": "}{][}}", "b": "{"}' },
  { name: 'an escaped quote inside a string', text: '{"a": "say \\"}\\" here", "b": 1}' },
  { name: 'an escaped backslash before the closing quote', text: '{"a": "dir\\\\", "b": "}"}' },
  { name: 'many escaped backslashes', text: '{"a": "\\\\\\\\\\\\\\"}\\\\"}' },
  { name: 'unicode escapes', text: '{"a": "\\u007d\\u0022"}' },
  { name: 'multi-byte UTF-8 text', text: '{"a": "é日本😀", "b": "}"}' },
  { name: 'a key containing a brace', text: '{"}": "{"}' },
];

describe('JsonObjectFramer', () => {
  for (const { name, text } of OBJECTS) {
    test(`finds the end of ${name} in one chunk, without end-of-stream`, () => {
      const framer = new JsonObjectFramer(1 << 20);
      const result = framer.push(Buffer.from(text, 'utf8'));
      assert.ok(result);
      assert.equal(result.frame.toString('utf8'), text);
      assert.equal(result.rest.length, 0);
      assert.doesNotThrow(() => JSON.parse(result.frame.toString('utf8')));
    });

    test(`finds the end of ${name} fed one byte at a time`, () => {
      const framer = new JsonObjectFramer(1 << 20);
      const result = feed(framer, bytesOf(text));
      assert.equal(result.frame.toString('utf8'), text);
      assert.equal(result.rest.length, 0);
    });
  }

  test('finds the end at every two-chunk split point', () => {
    for (const { text } of OBJECTS) {
      const buf = Buffer.from(text, 'utf8');
      for (let cut = 1; cut < buf.length; cut += 1) {
        const framer = new JsonObjectFramer(1 << 20);
        const result = feed(framer, [buf.subarray(0, cut), buf.subarray(cut)]);
        assert.deepEqual(result.frame, buf, `${text} cut at ${cut}`);
      }
    }
  });

  test('keeps a multi-byte UTF-8 character split across chunks intact', () => {
    const text = '{"a": "😀é"}';
    const buf = Buffer.from(text, 'utf8');
    const start = buf.indexOf(0xf0); // first byte of the 4-byte emoji
    for (const cut of [start + 1, start + 2, start + 3, start + 5]) {
      const framer = new JsonObjectFramer(1024);
      const result = feed(framer, [buf.subarray(0, cut), buf.subarray(cut)]);
      assert.equal(result.frame.toString('utf8'), text);
    }
  });

  test('an escape that ends one chunk still escapes the first byte of the next', () => {
    const framer = new JsonObjectFramer(1024);
    // The quote right after the backslash must not close the string, so the brace after it is text.
    const result = feed(framer, [Buffer.from('{"a": "x\\'), Buffer.from('"}'), Buffer.from('"}')]);
    assert.equal(result.frame.toString(), '{"a": "x\\"}"}');
  });

  test('skips leading whitespace before the object', () => {
    const framer = new JsonObjectFramer(1024);
    assert.equal(framer.push(Buffer.from(' \r\n\t ')), undefined);
    assert.equal(framer.hasStarted, false);
    const result = framer.push(Buffer.from('  {"a": 1}'));
    assert.ok(result);
    assert.equal(framer.hasStarted, true);
    assert.deepEqual(JSON.parse(result.frame.toString()), { a: 1 });
  });

  test('hasStarted and bufferedBytes follow the input', () => {
    const framer = new JsonObjectFramer(1024);
    assert.equal(framer.hasStarted, false);
    assert.equal(framer.bufferedBytes, 0);
    assert.equal(framer.push(Buffer.from('{"a": ')), undefined);
    assert.equal(framer.hasStarted, true);
    assert.equal(framer.bufferedBytes, 6);
    assert.ok(framer.push(Buffer.from('1}xyz')));
    assert.equal(framer.bufferedBytes, 8);
  });

  test('after reset, the same framer finds the next object of a stream, split anywhere, with a fresh size limit', () => {
    const framer = new JsonObjectFramer(40);
    const stream = Buffer.from('{"a": "}{"}{"b": [1, {"c": "\\\\"}]}\n{"d": "' + 'x'.repeat(28) + '"}');
    for (let split = 1; split < stream.length; split++) {
      const found: string[] = [];
      for (const chunk of [stream.subarray(0, split), stream.subarray(split)]) {
        let rest: Buffer = chunk;
        while (rest.length > 0) {
          const result = framer.push(rest);
          if (!result) break;
          found.push(result.frame.toString());
          framer.reset();
          rest = result.rest;
        }
      }
      assert.deepEqual(
        found.map((text) => JSON.parse(text)),
        [{ a: '}{' }, { b: [1, { c: '\\' }] }, { d: 'x'.repeat(28) }],
        `split at ${split}`,
      );
      assert.equal(framer.hasStarted, false);
      assert.equal(framer.bufferedBytes, 0);
    }
  });

  test('reset in the middle of an object forgets it: strings, nesting and all', () => {
    const framer = new JsonObjectFramer(1024);
    assert.equal(framer.push(Buffer.from('{"a": ["unclosed \\')), undefined);
    framer.reset();
    const result = framer.push(Buffer.from('{"b": 2}'));
    assert.ok(result);
    assert.deepEqual(JSON.parse(result.frame.toString()), { b: 2 });
  });

  const garbage: ReadonlyArray<string> = ['x', '[]', '"str"', '1', 'null', '}', ']', '\u0000{}', '  x{}', '\ufeff{}'];
  for (const text of garbage) {
    test(`rejects a message that does not start with an object: ${JSON.stringify(text)}`, () => {
      const framer = new JsonObjectFramer(1024);
      assertCode(() => framer.push(Buffer.from(text, 'utf8')), 'BAD_JSON');
    });
  }

  test('rejects a garbage first byte that comes after whitespace in an earlier chunk', () => {
    const framer = new JsonObjectFramer(1024);
    assert.equal(framer.push(Buffer.from('   ')), undefined);
    assertCode(() => framer.push(Buffer.from('<html>')), 'BAD_JSON');
  });

  describe('depth limit', () => {
    // `levels` counts the outer object; the innermost value is 1, so the text is valid JSON.
    const nested = (levels: number, open: string, close: string): string =>
      '{"a": ' + open.repeat(levels - 1) + '1' + close.repeat(levels - 1) + '}';
    const shapes: ReadonlyArray<{ name: string; open: string; close: string }> = [
      { name: 'lists', open: '[', close: ']' },
      { name: 'objects', open: '{"b": ', close: '}' },
    ];
    for (const { name, open, close } of shapes) {
      test(`accepts exactly MAX_DEPTH levels of ${name}`, () => {
        const text = nested(MAX_DEPTH, open, close);
        const result = new JsonObjectFramer(1 << 20).push(Buffer.from(text));
        assert.ok(result);
        assert.equal(result.frame.toString(), text);
        assert.doesNotThrow(() => JSON.parse(text));
      });

      test(`rejects MAX_DEPTH + 1 levels of ${name} with TOO_DEEP`, () => {
        assertCode(() => new JsonObjectFramer(1 << 20).push(Buffer.from(nested(MAX_DEPTH + 1, open, close))), 'TOO_DEEP');
      });
    }

    test('rejects deep nesting before the object is complete', () => {
      const framer = new JsonObjectFramer(1 << 20);
      assertCode(() => framer.push(Buffer.from('{"a": ' + '['.repeat(10_000))), 'TOO_DEEP');
    });

    test('rejects deep nesting fed one byte at a time', () => {
      const framer = new JsonObjectFramer(1 << 20);
      const bytes = bytesOf('{' + '['.repeat(MAX_DEPTH));
      bytes.slice(0, -1).forEach((b) => assert.equal(framer.push(b), undefined));
      assertCode(() => framer.push(bytes[bytes.length - 1]!), 'TOO_DEEP');
    });

    test('brackets inside strings do not count as nesting', () => {
      const text = '{"a": "' + '[{'.repeat(MAX_DEPTH * 4) + '"}';
      const result = new JsonObjectFramer(1 << 20).push(Buffer.from(text));
      assert.ok(result);
      assert.equal(result.frame.toString(), text);
    });
  });

  describe('size limit', () => {
    const text = '{"type": "GET", "data": "a"}';
    const size = Buffer.byteLength(text);

    test('accepts an object of exactly the limit', () => {
      const result = new JsonObjectFramer(size).push(Buffer.from(text));
      assert.ok(result);
      assert.equal(result.frame.length, size);
    });

    test('accepts an object of exactly the limit fed in pieces', () => {
      const result = feed(new JsonObjectFramer(size), bytesOf(text));
      assert.equal(result.frame.length, size);
    });

    test('rejects an object one byte over the limit with TOO_LARGE', () => {
      assertCode(() => new JsonObjectFramer(size - 1).push(Buffer.from(text)), 'TOO_LARGE');
    });

    test('rejects an object over the limit arriving across chunks', () => {
      const framer = new JsonObjectFramer(size - 1);
      const buf = Buffer.from(text);
      assert.equal(framer.push(buf.subarray(0, 10)), undefined);
      assertCode(() => framer.push(buf.subarray(10)), 'TOO_LARGE');
    });

    test('rejects an unfinished object as soon as it passes the limit', () => {
      const framer = new JsonObjectFramer(100);
      assert.equal(framer.push(Buffer.from('{"a": "' + 'x'.repeat(90))), undefined);
      assertCode(() => framer.push(Buffer.from('x'.repeat(10))), 'TOO_LARGE');
    });

    test('leading whitespace counts toward the limit', () => {
      assertCode(() => new JsonObjectFramer(size).push(Buffer.from(' ' + text)), 'TOO_LARGE');
    });

    test('bytes after the object do not count toward the limit', () => {
      const result = new JsonObjectFramer(size).push(Buffer.from(text + 'x'.repeat(1000)));
      assert.ok(result);
      assert.equal(result.frame.length, size);
      assert.equal(result.rest.length, 1000);
    });
  });

  describe('rest', () => {
    const cases: ReadonlyArray<{ name: string; chunks: string[]; frame: string; rest: string }> = [
      { name: 'a second object in the same chunk', chunks: ['{"a": 1}{"b": 2}'], frame: '{"a": 1}', rest: '{"b": 2}' },
      { name: 'a trailing newline', chunks: ['{"a": 1}\n'], frame: '{"a": 1}', rest: '\n' },
      { name: 'bytes after the end in a later chunk', chunks: ['{"a": ', '"}"}tail'], frame: '{"a": "}"}', rest: 'tail' },
      { name: 'nothing after the end', chunks: ['{"a"', ': 1}'], frame: '{"a": 1}', rest: '' },
      { name: 'multi-byte text after the end', chunks: ['{}é😀'], frame: '{}', rest: 'é😀' },
    ];
    for (const { name, chunks, frame, rest } of cases) {
      test(`holds ${name}`, () => {
        const result = feed(
          new JsonObjectFramer(1024),
          chunks.map((c) => Buffer.from(c, 'utf8')),
        );
        assert.equal(result.frame.toString('utf8'), frame);
        assert.equal(result.rest.toString('utf8'), rest);
      });
    }
  });
});
