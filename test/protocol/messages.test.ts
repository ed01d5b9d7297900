/** The wire codec: exact bytes out, strict validation in, and only CoopError on bad input. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMessage,
  decodeReply,
  encodeForOriginal,
  encodeMessage,
  errorReply,
  NOT_FOUND_CONTENT,
  PUT_OK_STATUS,
  REPLIED_TYPES,
  replyWithAttached,
  withAttached,
  type ForwardPutMessage,
  type Message,
  type Reply,
} from '../../src/protocol/messages.js';
import { CoopError, type ErrorCode } from '../../src/errors.js';
import { pyDumps } from '../../src/protocol/pyjson.js';

function assertCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CoopError, `expected a CoopError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** Drops properties whose value is undefined, as the wire does. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';
const C = '10.0.0.7:5000';
const V6 = '[::1]:4045';

describe('encodeMessage: the rows of SPEC.md section 2, byte for byte', () => {
  const rows: ReadonlyArray<{ name: string; message: Message | Reply; wire: string }> = [
    { name: 'INSERT', message: { type: 'INSERT', data: A }, wire: '{"type": "INSERT", "data": "127.0.0.1:4043"}' },
    {
      name: 'UPDATE',
      message: { type: 'UPDATE', creator: A, data: [A, B, C] },
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043", "127.0.0.1:4044", "10.0.0.7:5000"]}',
    },
    { name: 'CHECK', message: { type: 'CHECK' }, wire: '{"type": "CHECK"}' },
    { name: 'GET', message: { type: 'GET', data: 'index.html' }, wire: '{"type": "GET", "data": "index.html"}' },
    {
      name: 'GET reply',
      message: { type: 'GET', data: { item: 'index.html', content: '<h1>hi</h1>' } },
      wire: '{"type": "GET", "data": {"item": "index.html", "content": "<h1>hi</h1>"}}',
    },
    {
      name: 'PUT',
      message: { type: 'PUT', data: { item: 'index.html', content: '<h1>hi</h1>' } },
      wire: '{"type": "PUT", "data": {"item": "index.html", "content": "<h1>hi</h1>"}}',
    },
    {
      name: 'PUT reply',
      message: { type: 'PUT', data: { item: 'index.html', status: PUT_OK_STATUS } },
      wire: '{"type": "PUT", "data": {"item": "index.html", "status": "200 OK"}}',
    },
    {
      name: 'FORWARD_PUT',
      message: { type: 'FORWARD_PUT', creator: A, data: { item: 'a.txt', content: 'hello' } },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a.txt", "content": "hello"}}',
    },
    {
      name: 'FORWARD_GET',
      message: { type: 'FORWARD_GET', creator: A, data: { item: 'a.txt', content: NOT_FOUND_CONTENT } },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_GET", "data": {"item": "a.txt", "content": "404 NOT FOUND"}}',
    },
  ];
  for (const { name, message, wire } of rows) {
    test(`writes ${name} exactly like the original`, () => {
      assert.equal(encodeMessage(message), wire);
    });
  }

  test('escapes non-ASCII content and names like Python (ensure_ascii)', () => {
    assert.equal(
      encodeMessage({ type: 'PUT', data: { item: 'café/ü.txt', content: 'é😀\u007f\n' } }),
      '{"type": "PUT", "data": {"item": "caf\\u00e9/\\u00fc.txt", "content": "\\u00e9\\ud83d\\ude00\\u007f\\n"}}',
    );
  });
});

describe('encodeMessage: our extensions come after the original fields', () => {
  const rows: ReadonlyArray<{ name: string; message: Message | Reply; wire: string }> = [
    {
      name: 'UPDATE with id',
      message: { type: 'UPDATE', creator: A, data: [A, B], id: 'r1' },
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043", "127.0.0.1:4044"], "id": "r1"}',
    },
    {
      name: 'FORWARD_PUT with encoding and id',
      message: { type: 'FORWARD_PUT', creator: A, data: { item: 'a.bin', content: 'AAE=', encoding: 'base64' }, id: 'r2' },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a.bin", "content": "AAE=", "encoding": "base64"}, "id": "r2"}',
    },
    {
      name: 'FORWARD_PUT with a newer version found on the way (after the id)',
      message: {
        type: 'FORWARD_PUT',
        creator: A,
        data: { item: 'a.txt', content: '', version: { clock: 7, server: A } },
        id: 'r2',
        newer: { clock: 9, server: B },
      },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a.txt", "content": "", "version": {"clock": 7, "server": "127.0.0.1:4043"}}, "id": "r2", "newer": {"clock": 9, "server": "127.0.0.1:4044"}}',
    },
    {
      name: 'FORWARD_PUT with servers that had no space for it (last)',
      message: { type: 'FORWARD_PUT', creator: A, data: { item: 'a.txt', content: 'x' }, id: 'r2', nospace: [B] },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a.txt", "content": "x"}, "id": "r2", "nospace": ["127.0.0.1:4044"]}',
    },
    {
      name: 'FORWARD_GET with found and id',
      message: { type: 'FORWARD_GET', creator: A, data: { item: 'a.txt', content: NOT_FOUND_CONTENT, found: false }, id: 'r3' },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_GET", "data": {"item": "a.txt", "content": "404 NOT FOUND", "found": false}, "id": "r3"}',
    },
    {
      name: 'FORWARD_GET with encoding and found',
      message: { type: 'FORWARD_GET', creator: A, data: { item: 'a.bin', content: 'AAE=', encoding: 'base64', found: true } },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_GET", "data": {"item": "a.bin", "content": "AAE=", "encoding": "base64", "found": true}}',
    },
    {
      name: 'PUT with encoding',
      message: { type: 'PUT', data: { item: 'a.bin', content: 'AAE=', encoding: 'base64' } },
      wire: '{"type": "PUT", "data": {"item": "a.bin", "content": "AAE=", "encoding": "base64"}}',
    },
    {
      name: 'GET reply with found',
      message: { type: 'GET', data: { item: 'a.txt', content: NOT_FOUND_CONTENT, found: false } },
      wire: '{"type": "GET", "data": {"item": "a.txt", "content": "404 NOT FOUND", "found": false}}',
    },
    { name: 'RING request', message: { type: 'RING' }, wire: '{"type": "RING"}' },
    {
      name: 'RING reply',
      message: { type: 'RING', data: [A, V6] },
      wire: '{"type": "RING", "data": ["127.0.0.1:4043", "[::1]:4045"]}',
    },
    {
      name: 'ERROR reply',
      message: { type: 'ERROR', data: { code: 'BAD_NAME', status: '400 BAD REQUEST', message: 'the item name is empty' } },
      wire: '{"type": "ERROR", "data": {"code": "BAD_NAME", "status": "400 BAD REQUEST", "message": "the item name is empty"}}',
    },
    {
      name: 'GET asking for our fields in the reply',
      message: { type: 'GET', data: 'a.txt', extended: true },
      wire: '{"type": "GET", "data": "a.txt", "extended": true}',
    },
    {
      name: 'UPDATE with id undefined (field left out)',
      message: { type: 'UPDATE', creator: A, data: [A], id: undefined },
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043"]}',
    },
  ];
  for (const { name, message, wire } of rows) {
    test(`writes ${name}`, () => {
      assert.equal(encodeMessage(message), wire);
    });
  }
});

describe('decodeMessage(encodeMessage(m)) round-trips', () => {
  const messages: ReadonlyArray<Message> = [
    { type: 'INSERT', data: A },
    { type: 'INSERT', data: V6 },
    { type: 'UPDATE', creator: A, data: [A, B, C, V6] },
    { type: 'UPDATE', creator: B, data: [A, B], id: 'round-1' },
    {
      type: 'UPDATE',
      creator: B,
      data: [A, B],
      id: 'round-2',
      members: [
        { address: A, incarnation: 0, status: 'alive', placed: 0 },
        {
          address: B,
          incarnation: 1,
          status: 'alive',
          after: A,
          placed: 9,
          via: [{ address: C, placed: 3 }],
          slot: { address: V6, placed: 5 },
        },
      ],
    },
    { type: 'CHECK' },
    { type: 'RING' },
    { type: 'GET', data: 'index.html' },
    { type: 'GET', data: 'index.html', extended: true },
    { type: 'GET', data: 'dir/日本語 file.css' },
    { type: 'PUT', data: { item: 'index.html', content: '<h1>hi</h1>\n\u0000é😀' } },
    { type: 'PUT', data: { item: 'a.bin', content: 'AAE=', encoding: 'base64' } },
    { type: 'FORWARD_PUT', creator: A, data: { item: 'a.txt', content: '' } },
    { type: 'FORWARD_PUT', creator: A, data: { item: 'a.bin', content: 'AAE=', encoding: 'base64' }, id: 'x' },
    {
      type: 'FORWARD_PUT',
      creator: A,
      data: { item: 'a.bin', content: 'AAE=', encoding: 'base64', part: { upload: 'u', offset: 0, size: 2, sha1: '0a'.repeat(20) } },
      id: 'x',
      newer: { clock: 3, server: B },
      nospace: [A, B],
      lap: 'confirm',
    },
    {
      type: 'FORWARD_PUT',
      creator: A,
      data: { item: 'a.bin', content: 'AAE=', encoding: 'base64', part: { upload: 'u', offset: 0, size: 2 } },
      id: 'x',
      lap: 'early',
    },
    { type: 'FORWARD_GET', creator: A, data: { item: 'a.txt', content: NOT_FOUND_CONTENT } },
    { type: 'FORWARD_GET', creator: V6, data: { item: 'a.txt', content: NOT_FOUND_CONTENT, found: false }, id: 'y'.repeat(64) },
    { type: 'FORWARD_GET', creator: A, data: { item: 'a.txt', content: 'text', found: true } },
  ];
  for (const message of messages) {
    const wire = encodeMessage(message);
    test(`round-trips ${wire}`, () => {
      const decoded = decodeMessage(wire);
      assert.deepEqual(plain(decoded), plain(message));
      assert.equal(encodeMessage(decoded), wire);
    });
  }
});

describe('decodeMessage accepts', () => {
  const cases: ReadonlyArray<{ name: string; wire: string; expected: unknown }> = [
    { name: 'unknown extra fields (ignored)', wire: '{"type": "CHECK", "future": {"x": 1}}', expected: { type: 'CHECK' } },
    { name: 'compact JSON', wire: '{"type":"GET","data":"a"}', expected: { type: 'GET', data: 'a' } },
    { name: 'fields in any order', wire: '{"data": "a", "type": "GET"}', expected: { type: 'GET', data: 'a' } },
    {
      name: 'encoding null as no encoding',
      wire: '{"type": "PUT", "data": {"item": "a", "content": "b", "encoding": null}}',
      expected: { type: 'PUT', data: { item: 'a', content: 'b' } },
    },
    {
      name: 'an UPDATE with a single member',
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043"]}',
      expected: { type: 'UPDATE', creator: A, data: [A] },
    },
    {
      name: 'a name that looks like a path escape (it is only a name)',
      wire: '{"type": "GET", "data": "../../etc/passwd"}',
      expected: { type: 'GET', data: '../../etc/passwd' },
    },
    {
      name: 'escaped non-ASCII text',
      wire: '{"type": "GET", "data": "caf\\u00e9\\ud83d\\ude00"}',
      expected: { type: 'GET', data: 'café😀' },
    },
  ];
  for (const { name, wire, expected } of cases) {
    test(name, () => {
      assert.deepEqual(plain(decodeMessage(wire)), expected);
    });
  }
});

describe('decodeMessage rejects', () => {
  const cases: ReadonlyArray<{ name: string; wire: string; code: ErrorCode }> = [
    // not one JSON object
    { name: 'empty input', wire: '', code: 'BAD_JSON' },
    { name: 'an unfinished object', wire: '{"type": "CHECK"', code: 'BAD_JSON' },
    { name: 'single quotes', wire: "{'type': 'CHECK'}", code: 'BAD_JSON' },
    { name: 'trailing garbage', wire: '{"type": "CHECK"} x', code: 'BAD_JSON' },
    { name: 'two objects', wire: '{"type": "CHECK"}{"type": "CHECK"}', code: 'BAD_JSON' },
    { name: 'a trailing comma', wire: '{"type": "CHECK",}', code: 'BAD_JSON' },
    { name: 'NaN', wire: 'NaN', code: 'BAD_JSON' },
    { name: 'a top-level array', wire: '[{"type": "CHECK"}]', code: 'BAD_JSON' },
    { name: 'an empty array', wire: '[]', code: 'BAD_JSON' },
    { name: 'a top-level number', wire: '42', code: 'BAD_JSON' },
    { name: 'a top-level string', wire: '"CHECK"', code: 'BAD_JSON' },
    { name: 'top-level null', wire: 'null', code: 'BAD_JSON' },
    { name: 'top-level true', wire: 'true', code: 'BAD_JSON' },
    // type
    { name: 'a missing type', wire: '{}', code: 'BAD_FIELD' },
    { name: 'a numeric type', wire: '{"type": 1}', code: 'BAD_FIELD' },
    { name: 'a null type', wire: '{"type": null}', code: 'BAD_FIELD' },
    { name: 'a list type', wire: '{"type": ["CHECK"]}', code: 'BAD_FIELD' },
    { name: 'an unknown type', wire: '{"type": "DESTROY"}', code: 'UNKNOWN_TYPE' },
    { name: 'a lower-case type', wire: '{"type": "check"}', code: 'UNKNOWN_TYPE' },
    { name: 'an empty type', wire: '{"type": ""}', code: 'UNKNOWN_TYPE' },
    { name: 'the reply-only type ERROR as a request', wire: '{"type": "ERROR", "data": {}}', code: 'UNKNOWN_TYPE' },
    { name: 'RESPONSE_GET', wire: '{"type": "RESPONSE_GET"}', code: 'UNKNOWN_TYPE' },
    { name: 'type "__proto__"', wire: '{"type": "__proto__"}', code: 'UNKNOWN_TYPE' },
    { name: 'type "constructor"', wire: '{"type": "constructor"}', code: 'UNKNOWN_TYPE' },
    { name: 'type "toString"', wire: '{"type": "toString"}', code: 'UNKNOWN_TYPE' },
    // INSERT
    { name: 'INSERT without data', wire: '{"type": "INSERT"}', code: 'BAD_FIELD' },
    { name: 'INSERT with numeric data', wire: '{"type": "INSERT", "data": 4043}', code: 'BAD_FIELD' },
    { name: 'INSERT with a list', wire: '{"type": "INSERT", "data": ["127.0.0.1:4043"]}', code: 'BAD_FIELD' },
    // UPDATE
    { name: 'UPDATE without creator', wire: '{"type": "UPDATE", "data": ["127.0.0.1:4043"]}', code: 'BAD_FIELD' },
    { name: 'UPDATE without data', wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE"}', code: 'BAD_FIELD' },
    {
      name: 'UPDATE with string data',
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": "127.0.0.1:4043"}',
      code: 'BAD_FIELD',
    },
    { name: 'UPDATE with an empty list', wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": []}', code: 'BAD_FIELD' },
    {
      name: 'UPDATE with a number in the list',
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043", 5]}',
      code: 'BAD_FIELD',
    },
    {
      name: 'UPDATE listing an address twice',
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043", "127.0.0.1:4044", "127.0.0.1:4043"]}',
      code: 'BAD_FIELD',
    },
    {
      name: 'UPDATE with an empty id',
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043"], "id": ""}',
      code: 'BAD_FIELD',
    },
    {
      name: 'UPDATE with a numeric id',
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043"], "id": 7}',
      code: 'BAD_FIELD',
    },
    {
      name: 'UPDATE with a null id',
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043"], "id": null}',
      code: 'BAD_FIELD',
    },
    {
      name: 'UPDATE with a 65-character id',
      wire: `{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043"], "id": "${'i'.repeat(65)}"}`,
      code: 'BAD_FIELD',
    },
    // PUT / FORWARD_PUT / FORWARD_GET
    { name: 'PUT without data', wire: '{"type": "PUT"}', code: 'BAD_FIELD' },
    { name: 'PUT with string data', wire: '{"type": "PUT", "data": "a.txt"}', code: 'BAD_FIELD' },
    { name: 'PUT with list data', wire: '{"type": "PUT", "data": ["a.txt", "x"]}', code: 'BAD_FIELD' },
    { name: 'PUT without content', wire: '{"type": "PUT", "data": {"item": "a.txt"}}', code: 'BAD_FIELD' },
    { name: 'PUT with numeric content', wire: '{"type": "PUT", "data": {"item": "a.txt", "content": 5}}', code: 'BAD_FIELD' },
    { name: 'PUT with null content', wire: '{"type": "PUT", "data": {"item": "a.txt", "content": null}}', code: 'BAD_FIELD' },
    {
      name: 'PUT with an unknown encoding',
      wire: '{"type": "PUT", "data": {"item": "a", "content": "b", "encoding": "hex"}}',
      code: 'BAD_FIELD',
    },
    {
      name: 'PUT with a non-string encoding',
      wire: '{"type": "PUT", "data": {"item": "a", "content": "b", "encoding": 64}}',
      code: 'BAD_FIELD',
    },
    { name: 'FORWARD_PUT without creator', wire: '{"type": "FORWARD_PUT", "data": {"item": "a", "content": "b"}}', code: 'BAD_FIELD' },
    {
      name: 'FORWARD_PUT with a bad id',
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a", "content": "b"}, "id": []}',
      code: 'BAD_FIELD',
    },
    {
      name: 'FORWARD_PUT with a nospace that is not a list of addresses',
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a", "content": "b"}, "nospace": ["x"]}',
      code: 'BAD_FIELD',
    },
    {
      name: 'FORWARD_PUT with a lap other than early or confirm',
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a", "content": "b"}, "lap": 3}',
      code: 'BAD_FIELD',
    },
    {
      name: 'FORWARD_PUT with an empty nospace',
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a", "content": "b"}, "nospace": []}',
      code: 'BAD_FIELD',
    },
    {
      name: 'a part whose sha1 is not 40 lowercase hex digits',
      wire: '{"type": "PUT", "data": {"item": "a", "content": "AA==", "part": {"upload": "u", "offset": 0, "size": 1, "sha1": "ABC"}}}',
      code: 'BAD_FIELD',
    },
    { name: 'FORWARD_GET without data', wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_GET"}', code: 'BAD_FIELD' },
    {
      name: 'FORWARD_GET with a non-boolean found',
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_GET", "data": {"item": "a", "content": "b", "found": "yes"}}',
      code: 'BAD_FIELD',
    },
    {
      name: 'FORWARD_GET with found null',
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_GET", "data": {"item": "a", "content": "b", "found": null}}',
      code: 'BAD_FIELD',
    },
  ];
  for (const { name, wire, code } of cases) {
    test(`${name} with ${code}`, () => {
      assertCode(() => decodeMessage(wire), code);
    });
  }
});

describe('decodeMessage rejects bad item names with BAD_NAME', () => {
  const names: ReadonlyArray<{ name: string; json: string }> = [
    { name: 'empty', json: '""' },
    { name: 'NUL', json: '"a\\u0000b"' },
    { name: 'newline', json: '"a\\nb"' },
    { name: 'tab', json: '"a\\tb"' },
    { name: 'escape (log injection)', json: '"\\u001b[31mred"' },
    { name: 'DEL', json: '"a\\u007f"' },
    { name: 'C1 control', json: '"a\\u0085"' },
    { name: '256 ASCII bytes', json: `"${'a'.repeat(256)}"` },
    { name: '128 two-byte characters (256 bytes)', json: `"${'\\u00e9'.repeat(128)}"` },
    { name: 'lone high surrogate', json: '"a\\ud800"' },
    { name: 'lone low surrogate', json: '"\\udc00b"' },
    { name: 'swapped surrogate pair', json: '"\\ude00\\ud83d"' },
  ];
  for (const { name, json } of names) {
    test(`GET with a ${name} name`, () => {
      assertCode(() => decodeMessage(`{"type": "GET", "data": ${json}}`), 'BAD_NAME');
    });
    test(`PUT with a ${name} name`, () => {
      assertCode(() => decodeMessage(`{"type": "PUT", "data": {"item": ${json}, "content": "x"}}`), 'BAD_NAME');
    });
    test(`FORWARD_GET with a ${name} name`, () => {
      assertCode(
        () => decodeMessage(`{"creator": "127.0.0.1:4043", "type": "FORWARD_GET", "data": {"item": ${json}, "content": "x"}}`),
        'BAD_NAME',
      );
    });
  }

  test('accepts a name of exactly 255 UTF-8 bytes', () => {
    const item = 'a' + 'é'.repeat(127); // 1 + 254 bytes
    assert.equal(Buffer.byteLength(item), 255);
    const decoded = decodeMessage(encodeMessage({ type: 'GET', data: item }));
    assert.equal(decoded.type, 'GET');
    assert.equal(decoded.type === 'GET' && decoded.data, item);
  });
});

describe('decodeMessage rejects bad addresses with BAD_FIELD', () => {
  const addresses: ReadonlyArray<string> = [
    '"127.0.0.1"',
    '"127.0.0.1:"',
    '":4043"',
    '"127.0.0.1:0"',
    '"127.0.0.1:65536"',
    '"127.0.0.1:99999"',
    '"127.0.0.1:-1"',
    '"127.0.0.1:abc"',
    '"127.0.0.1:40 43"',
    '"127.0.0.1:4043:1"',
    '"::1:4043"',
    '"[::1]"',
    '"[127.0.0.1]:4043"',
    '"[not-ip]:4043"',
    '""',
    `"${'1'.repeat(300)}:4043"`,
    '4043',
    'null',
    '{"host": "127.0.0.1", "port": 4043}',
  ];
  for (const address of addresses) {
    test(`INSERT with ${address}`, () => {
      assertCode(() => decodeMessage(`{"type": "INSERT", "data": ${address}}`), 'BAD_FIELD');
    });
    test(`UPDATE creator ${address}`, () => {
      assertCode(() => decodeMessage(`{"creator": ${address}, "type": "UPDATE", "data": ["127.0.0.1:4043"]}`), 'BAD_FIELD');
    });
    test(`UPDATE member ${address}`, () => {
      assertCode(
        () => decodeMessage(`{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043", ${address}]}`),
        'BAD_FIELD',
      );
    });
    test(`FORWARD_PUT creator ${address}`, () => {
      assertCode(() => decodeMessage(`{"creator": ${address}, "type": "FORWARD_PUT", "data": {"item": "a", "content": "b"}}`), 'BAD_FIELD');
    });
  }
});

// Inputs a hostile peer or client could send. Whatever happens, only a CoopError may come out.
const HOSTILE: ReadonlyArray<{ name: string; wire: string }> = [
  { name: 'deeply nested arrays', wire: '['.repeat(200_000) + ']'.repeat(200_000) },
  { name: 'deeply nested arrays as the type', wire: '{"type": ' + '['.repeat(200_000) + ']'.repeat(200_000) + '}' },
  { name: 'deeply nested objects as data', wire: '{"type": "PUT", "data": ' + '{"a": '.repeat(100_000) + '1' + '}'.repeat(100_000) + '}' },
  {
    name: 'deeply nested arrays as ERROR data',
    wire: '{"type": "ERROR", "data": {"code": ' + '['.repeat(100_000) + ']'.repeat(100_000) + '}}',
  },
  { name: 'unclosed nesting', wire: '{"a": ' + '['.repeat(100_000) },
  { name: 'a huge number as the type', wire: '{"type": 1e999}' },
  { name: 'a huge number as the creator', wire: '{"creator": 1e999, "type": "UPDATE", "data": ["127.0.0.1:4043"]}' },
  { name: 'a huge integer literal', wire: '{"type": "INSERT", "data": ' + '9'.repeat(10_000) + '}' },
  { name: 'a huge number as the content', wire: '{"type": "PUT", "data": {"item": "a", "content": -1e999}}' },
  { name: '__proto__ holding the type', wire: '{"__proto__": {"type": "CHECK"}}' },
  { name: '__proto__ holding item data', wire: '{"type": "PUT", "data": {"__proto__": {"item": "a", "content": "b"}}}' },
  { name: '__proto__ as the data', wire: '{"type": "GET", "data": {"__proto__": null}}' },
  { name: '__proto__ as the ERROR data', wire: '{"type": "ERROR", "data": {"__proto__": {"code": "X"}}}' },
  {
    name: 'constructor and prototype keys',
    wire: '{"type": "PUT", "constructor": {"prototype": {"x": 1}}, "data": {"item": "a", "content": "b", "constructor": 1}}',
  },
  { name: 'toString overridden in a name', wire: '{"type": "GET", "data": {"toString": 1, "valueOf": 1}}' },
  { name: 'toString overridden in an address', wire: '{"type": "INSERT", "data": {"toString": null}}' },
  { name: 'toString overridden in the ERROR code', wire: '{"type": "ERROR", "data": {"code": {"toString": 1}}}' },
  { name: 'toString overridden in the ERROR status', wire: '{"type": "ERROR", "data": {"code": "X", "status": {"toString": 1}}}' },
  {
    name: 'toString overridden in the ERROR message',
    wire: '{"type": "ERROR", "data": {"code": "X", "message": {"valueOf": 1, "toString": 1}}}',
  },
  { name: 'toString overridden in the type', wire: '{"type": {"toString": 1}}' },
  { name: 'a very long type', wire: '{"type": "' + 'A'.repeat(1_000_000) + '"}' },
  { name: 'a lone surrogate as the type', wire: '{"type": "\\ud800"}' },
  { name: 'a duplicated type key', wire: '{"type": "CHECK", "type": 5}' },
  {
    name: 'many members',
    wire: '{"creator": "1.1.1.1:1", "type": "UPDATE", "data": [' + Array(100_000).fill('"1.1.1.1:1"').join(', ') + ']}',
  },
  { name: 'a huge address string', wire: '{"type": "INSERT", "data": "' + '1'.repeat(1_000_000) + ':80"}' },
  { name: 'invalid UTF-16 escapes', wire: '{"type": "GET", "data": "\\uZZZZ"}' },
  { name: 'a NUL byte outside a string', wire: '{"type": "CHECK"\u0000}' },
  { name: 'a BOM', wire: '\ufeff{"type": "CHECK"}' },
];

function assertOnlyCoopError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CoopError, `threw ${err instanceof Error ? err.name : typeof err} instead of a CoopError`);
  }
}

describe('decoding hostile input throws nothing but CoopError', () => {
  for (const { name, wire } of HOSTILE) {
    test(`decodeMessage: ${name}`, () => {
      assertOnlyCoopError(() => decodeMessage(wire));
    });
    test(`decodeReply: ${name}`, () => {
      for (const expected of ['GET', 'PUT', 'RING'] as const) assertOnlyCoopError(() => decodeReply(wire, expected));
    });
  }

  test('__proto__ in a message does not change any prototype', () => {
    assertOnlyCoopError(() => decodeMessage('{"type": "PUT", "data": {"item": "a", "content": "b"}, "__proto__": {"polluted": 1}}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('decodeReply', () => {
  const accepted: ReadonlyArray<{ name: string; wire: string; expected: 'GET' | 'PUT' | 'RING'; reply: unknown }> = [
    {
      name: "the original's GET reply",
      wire: '{"type": "GET", "data": {"item": "index.html", "content": "<h1>hi</h1>"}}',
      expected: 'GET',
      reply: { type: 'GET', data: { item: 'index.html', content: '<h1>hi</h1>' } },
    },
    {
      name: "the original's GET miss",
      wire: '{"type": "GET", "data": {"item": "a", "content": "404 NOT FOUND"}}',
      expected: 'GET',
      reply: { type: 'GET', data: { item: 'a', content: NOT_FOUND_CONTENT } },
    },
    {
      name: 'a GET reply with our fields',
      wire: '{"type": "GET", "data": {"item": "a.bin", "content": "AAE=", "encoding": "base64", "found": true}}',
      expected: 'GET',
      reply: { type: 'GET', data: { item: 'a.bin', content: 'AAE=', encoding: 'base64', found: true } },
    },
    {
      name: "the original's PUT reply",
      wire: '{"type": "PUT", "data": {"item": "index.html", "status": "200 OK"}}',
      expected: 'PUT',
      reply: { type: 'PUT', data: { item: 'index.html', status: PUT_OK_STATUS } },
    },
    {
      name: 'a PUT reply with extra fields (dropped)',
      wire: '{"type": "PUT", "data": {"item": "a", "status": "200 OK", "version": 3}, "id": "z"}',
      expected: 'PUT',
      reply: { type: 'PUT', data: { item: 'a', status: '200 OK' } },
    },
    {
      name: 'a RING reply',
      wire: '{"type": "RING", "data": ["127.0.0.1:4043", "[::1]:4045"]}',
      expected: 'RING',
      reply: { type: 'RING', data: [A, V6] },
    },
    { name: 'an empty RING reply', wire: '{"type": "RING", "data": []}', expected: 'RING', reply: { type: 'RING', data: [] } },
    {
      name: 'an ERROR reply to a GET',
      wire: '{"type": "ERROR", "data": {"code": "BAD_NAME", "status": "400 BAD REQUEST", "message": "empty"}}',
      expected: 'GET',
      reply: { type: 'ERROR', data: { code: 'BAD_NAME', status: '400 BAD REQUEST', message: 'empty' } },
    },
    {
      name: 'an ERROR reply to a PUT without status and message',
      wire: '{"type": "ERROR", "data": {"code": "TIMEOUT"}}',
      expected: 'PUT',
      reply: { type: 'ERROR', data: { code: 'TIMEOUT', status: '', message: '' } },
    },
    {
      name: 'an ERROR reply to a RING',
      wire: '{"type": "ERROR", "data": {"code": "SHUTTING_DOWN", "status": "503 SERVICE UNAVAILABLE", "message": "bye"}}',
      expected: 'RING',
      reply: { type: 'ERROR', data: { code: 'SHUTTING_DOWN', status: '503 SERVICE UNAVAILABLE', message: 'bye' } },
    },
  ];
  for (const { name, wire, expected, reply } of accepted) {
    test(`reads ${name}`, () => {
      assert.deepEqual(plain(decodeReply(wire, expected)), reply);
    });
  }

  test('round-trips every reply that encodeMessage writes', () => {
    const replies: ReadonlyArray<{ reply: Reply; expected: 'GET' | 'PUT' | 'RING' }> = [
      { reply: { type: 'GET', data: { item: 'a', content: 'é😀', found: true } }, expected: 'GET' },
      { reply: { type: 'PUT', data: { item: 'a', status: PUT_OK_STATUS } }, expected: 'PUT' },
      { reply: { type: 'RING', data: [A, B, V6] }, expected: 'RING' },
      { reply: errorReply('TOO_LARGE', 'too big'), expected: 'PUT' },
    ];
    for (const { reply, expected } of replies) {
      assert.deepEqual(plain(decodeReply(encodeMessage(reply), expected)), plain(reply));
    }
  });

  const rejected: ReadonlyArray<{ name: string; wire: string; expected: 'GET' | 'PUT' | 'RING'; code: ErrorCode }> = [
    { name: 'malformed JSON', wire: '{"type": "GET"', expected: 'GET', code: 'BAD_JSON' },
    { name: 'a top-level list', wire: '[]', expected: 'RING', code: 'BAD_JSON' },
    {
      name: 'a PUT reply to a GET',
      wire: '{"type": "PUT", "data": {"item": "a", "status": "200 OK"}}',
      expected: 'GET',
      code: 'BAD_FIELD',
    },
    { name: 'a GET reply to a PUT', wire: '{"type": "GET", "data": {"item": "a", "content": "x"}}', expected: 'PUT', code: 'BAD_FIELD' },
    { name: 'a reply without type', wire: '{"data": []}', expected: 'RING', code: 'BAD_FIELD' },
    {
      name: 'an unknown reply type',
      wire: '{"type": "RESPONSE_GET", "data": {"item": "a", "content": "x"}}',
      expected: 'GET',
      code: 'BAD_FIELD',
    },
    { name: 'an ERROR reply without data object', wire: '{"type": "ERROR", "data": "oops"}', expected: 'GET', code: 'BAD_FIELD' },
    { name: 'a GET reply with string data', wire: '{"type": "GET", "data": "a"}', expected: 'GET', code: 'BAD_FIELD' },
    { name: 'a GET reply without content', wire: '{"type": "GET", "data": {"item": "a"}}', expected: 'GET', code: 'BAD_FIELD' },
    {
      name: 'a GET reply with a bad found',
      wire: '{"type": "GET", "data": {"item": "a", "content": "x", "found": 1}}',
      expected: 'GET',
      code: 'BAD_FIELD',
    },
    {
      name: 'a GET reply with an empty item name',
      wire: '{"type": "GET", "data": {"item": "", "content": "x"}}',
      expected: 'GET',
      code: 'BAD_NAME',
    },
    { name: 'a PUT reply without status', wire: '{"type": "PUT", "data": {"item": "a"}}', expected: 'PUT', code: 'BAD_FIELD' },
    {
      name: 'a PUT reply with a numeric status',
      wire: '{"type": "PUT", "data": {"item": "a", "status": 200}}',
      expected: 'PUT',
      code: 'BAD_FIELD',
    },
    { name: 'a PUT reply without item', wire: '{"type": "PUT", "data": {"status": "200 OK"}}', expected: 'PUT', code: 'BAD_FIELD' },
    { name: 'a PUT reply without data', wire: '{"type": "PUT"}', expected: 'PUT', code: 'BAD_FIELD' },
    { name: 'a RING reply without a list', wire: '{"type": "RING", "data": "127.0.0.1:4043"}', expected: 'RING', code: 'BAD_FIELD' },
    {
      name: 'a RING reply with a bad address',
      wire: '{"type": "RING", "data": ["127.0.0.1:4043", "nowhere"]}',
      expected: 'RING',
      code: 'BAD_FIELD',
    },
  ];
  for (const { name, wire, expected, code } of rejected) {
    test(`rejects ${name} with ${code}`, () => {
      assertCode(() => decodeReply(wire, expected), code);
    });
  }
});

describe('errorReply', () => {
  const cases: ReadonlyArray<{ code: ErrorCode; status: string }> = [
    { code: 'TOO_LARGE', status: '413 PAYLOAD TOO LARGE' },
    { code: 'TIMEOUT', status: '504 GATEWAY TIMEOUT' },
    { code: 'SHUTTING_DOWN', status: '503 SERVICE UNAVAILABLE' },
    { code: 'NOT_FOUND', status: '404 NOT FOUND' },
    { code: 'BAD_JSON', status: '400 BAD REQUEST' },
    { code: 'BAD_NAME', status: '400 BAD REQUEST' },
    { code: 'UNKNOWN_TYPE', status: '400 BAD REQUEST' },
  ];
  for (const { code, status } of cases) {
    test(`gives ${code} the status ${status}`, () => {
      assert.deepEqual(errorReply(code, 'why'), { type: 'ERROR', data: { code, status, message: 'why' } });
    });
  }

  test('is written with code, status, message in that order', () => {
    assert.equal(
      encodeMessage(errorReply('TIMEOUT', 'late')),
      '{"type": "ERROR", "data": {"code": "TIMEOUT", "status": "504 GATEWAY TIMEOUT", "message": "late"}}',
    );
  });
});

test('REPLIED_TYPES holds exactly the requests answered on the same connection', () => {
  assert.deepEqual([...REPLIED_TYPES].sort(), ['DELETE', 'DIGEST', 'GET', 'LIST', 'PING', 'PING_REQ', 'PUT', 'RING']);
});

test('a whole FORWARD_PUT is encoded as pyDumps encodes the same fields in the same order', () => {
  const versions = [undefined, { clock: 1_700_000_000_123, server: '10.0.0.2:4044' }];
  for (const version of versions) {
    for (const deleted of [undefined, false, true]) {
      for (const encoding of [undefined, 'base64'] as const) {
        for (const id of [undefined, 'ab12-3']) {
          for (const content of ['', 'plain', 'Ünïcødé "quoted" \\ \u007f \u2028 😀']) {
            const data = { item: 'dïr/a "b".txt', content, encoding, version, deleted };
            const message: Message = { type: 'FORWARD_PUT', creator: '127.0.0.1:4043', data, id };
            const fields = { item: data.item, content, encoding, version: version && { ...version }, deleted };
            const expected = pyDumps({ creator: message.creator, type: 'FORWARD_PUT', data: fields, id });
            assert.equal(encodeMessage(message), expected);
            assert.deepEqual(decodeMessage(expected), decodeMessage(encodeMessage(message)));
          }
        }
      }
    }
  }
});

test('the answer to a PUT is encoded as pyDumps encodes the same fields in the same order', () => {
  for (const item of ['a.txt', 'dïr/a "b".txt', 'back\\slash \u2028 😀']) {
    for (const status of [PUT_OK_STATUS, 'anything "else"']) {
      const reply: Reply = { type: 'PUT', data: { item, status } };
      assert.equal(encodeMessage(reply), pyDumps({ type: 'PUT', data: { item, status } }));
    }
  }
});

describe('encodeForOriginal: round messages as the original writes them, our fields left out', () => {
  const version = { clock: 1_700_000_000_123, server: B };
  const rows: ReadonlyArray<{ name: string; message: Parameters<typeof encodeForOriginal>[0]; wire: string }> = [
    {
      name: 'UPDATE with id and members',
      message: {
        type: 'UPDATE',
        creator: A,
        data: [A, B],
        id: 'r1',
        members: [{ address: C, incarnation: 2, status: 'dead', after: A, placed: 5 }],
      },
      wire: '{"creator": "127.0.0.1:4043", "type": "UPDATE", "data": ["127.0.0.1:4043", "127.0.0.1:4044"]}',
    },
    {
      name: 'FORWARD_PUT with version, encoding and id',
      message: { type: 'FORWARD_PUT', creator: A, data: { item: 'a.bin', content: 'AAE=', encoding: 'base64', version }, id: 'r2' },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_PUT", "data": {"item": "a.bin", "content": "AAE="}}',
    },
    {
      name: 'FORWARD_GET found, with version and holder',
      message: {
        type: 'FORWARD_GET',
        creator: A,
        data: { item: 'a.txt', content: 'hi', found: true, version, size: 2, holder: B },
        id: 'r3',
      },
      wire: '{"creator": "127.0.0.1:4043", "type": "FORWARD_GET", "data": {"item": "a.txt", "content": "hi"}}',
    },
  ];
  for (const { name, message, wire } of rows) {
    test(`writes ${name}`, () => {
      assert.equal(encodeForOriginal(message), wire);
    });
  }
});

describe('attached bytes', () => {
  const part = { upload: 'u', offset: 10, size: 100 };
  test('only a FORWARD_PUT part with empty base64 content takes bytes attached', () => {
    const bytes = [Buffer.from('xy')];
    const forward = decodeMessage(
      encodeMessage({ type: 'FORWARD_PUT', creator: '1.2.3.4:5', data: { item: 'a', content: '', encoding: 'base64', part }, id: 'r' }),
    );
    assert.deepEqual((withAttached(forward, bytes) as ForwardPutMessage).data.bytes, bytes);
    const whole = decodeMessage(encodeMessage({ type: 'FORWARD_PUT', creator: '1.2.3.4:5', data: { item: 'a', content: '' }, id: 'r' }));
    assertCode(() => withAttached(whole, bytes), 'BAD_FIELD');
    assertCode(() => withAttached(decodeMessage('{"type": "GET", "data": "a"}'), bytes), 'BAD_FIELD');
  });

  test("a part held as bytes goes to an original with its content as base64, never empty (so it is passed by: it does not fit the original's one read)", () => {
    const bytes = [Buffer.from('raw'), Buffer.from(' part')];
    const text = encodeForOriginal({
      type: 'FORWARD_PUT',
      creator: '1.2.3.4:5',
      data: { item: 'a', content: '', encoding: 'base64', part, bytes },
    });
    assert.equal(JSON.parse(text).data.content, Buffer.from('raw part').toString('base64'));
  });

  test('only the answer to a GET of a range takes bytes attached; encoded, the bytes go as base64 content', () => {
    const bytes = [Buffer.from('x'), Buffer.from('y')];
    const range = decodeReply('{"type": "GET", "data": {"item": "a", "content": "", "found": true, "size": 9, "offset": 2}}', 'GET');
    const attached = replyWithAttached(range, bytes);
    assert.equal(JSON.parse(encodeMessage(attached)).data.content, Buffer.from('xy').toString('base64'));
    assertCode(() => replyWithAttached(decodeReply('{"type": "GET", "data": {"item": "a", "content": ""}}', 'GET'), bytes), 'BAD_FIELD');
    assertCode(
      () => replyWithAttached(decodeReply('{"type": "PUT", "data": {"item": "a", "status": "200 OK"}}', 'PUT'), bytes),
      'BAD_FIELD',
    );
  });
});
