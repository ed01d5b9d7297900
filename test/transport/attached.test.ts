/** StreamFrames: messages off a peer stream, some with bytes attached, however the bytes are cut into chunks. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { attachedHeader, inlineText, StreamFrames, type StreamFrame } from '../../src/transport/attached.js';
import { AckReader, ATTACHING } from '../../src/transport/acks.js';
import { CoopError, type ErrorCode } from '../../src/errors.js';
import { PartBlocks } from '../../src/transport/part-blocks.js';

/** What a stream carried, as [text, attached bytes as text or undefined]. */
function shown(frames: StreamFrame[]): Array<[string, string | undefined]> {
  return frames.map(({ frame, bytes }) => [frame.toString('utf8'), bytes && Buffer.concat(bytes).toString('latin1')]);
}

/** Feeds `wire` cut every `every` bytes. */
function readAll(wire: Buffer, every: number, maxBytes = 1 << 20): StreamFrame[] {
  const frames = new StreamFrames(maxBytes);
  const out: StreamFrame[] = [];
  for (let at = 0; at < wire.length; at += every) out.push(...frames.push(wire.subarray(at, at + every)));
  return out;
}

function assertCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof CoopError && err.code === code);
}

// Attached bytes may hold anything: braces, quotes, a header's look, bytes that are not UTF-8.
const BYTES = Buffer.concat([Buffer.from('}{"#3\n'), Buffer.from([0, 0xff, 0xc3, 0x28])]);
const WIRE = Buffer.concat([
  Buffer.from('{"a": 1}\n'),
  Buffer.from(attachedHeader(BYTES.length) + '{"b": "}"}'),
  BYTES,
  Buffer.from(attachedHeader(0) + '{"c": 3}'),
  Buffer.from(' {"d": 4}'),
]);
const EXPECTED: Array<[string, string | undefined]> = [
  ['{"a": 1}', undefined],
  ['{"b": "}"}', BYTES.toString('latin1')],
  ['{"c": 3}', ''],
  ['{"d": 4}', undefined],
];

describe('StreamFrames', () => {
  test('plain and attached messages come out whole and in order, whatever the chunks (all sizes from 1 byte)', () => {
    for (let every = 1; every <= WIRE.length; every++) assert.deepEqual(shown(readAll(WIRE, every)), EXPECTED, `cut every ${every}`);
  });

  test('attached bytes are handed over in the chunks they came in, not copied into one', () => {
    const frames = readAll(WIRE, 7);
    assert.ok(frames[1]!.bytes!.length > 1);
  });

  test('with blocks, chunks are borrowed: everything comes out whole though each chunk is overwritten once pushed', () => {
    for (let every = 1; every <= WIRE.length; every++) {
      const frames = new StreamFrames(1 << 20, new PartBlocks(64));
      const reused = Buffer.alloc(every);
      const out: Array<[string, string | undefined]> = [];
      for (let at = 0; at < WIRE.length; at += every) {
        const length = WIRE.copy(reused, 0, at, at + every);
        // A frame's object is read before the next push (as the listener does); its bytes are the blocks'.
        out.push(...shown(frames.push(reused.subarray(0, length))));
        reused.fill(0x7b); // the next read's bytes: braces everywhere
      }
      assert.deepEqual(out, EXPECTED, `cut every ${every}`);
    }
  });

  test("with blocks, a message's attached bytes are one buffer taken from them, given back for the next message", () => {
    const blocks = new PartBlocks(64);
    const frames = new StreamFrames(1 << 20, blocks);
    const [plain, attached] = frames.push(WIRE);
    assert.equal(plain!.bytes, undefined);
    assert.equal(attached!.bytes!.length, 1);
    assert.equal(blocks.freeBlocks, 0);
    blocks.give(attached!.bytes!);
    assert.equal(blocks.freeBlocks, 1);
    const again = frames.push(Buffer.concat([Buffer.from(attachedHeader(3)), Buffer.from('{}abc')]));
    assert.equal(again[0]!.bytes![0]!.buffer, attached!.bytes![0]!.buffer, 'the same block holds the next part');
    assert.equal(blocks.freeBlocks, 0);
  });

  test('a header that is not a length, or too long, is BAD_JSON; a length over the limit is TOO_LARGE', () => {
    assertCode(() => new StreamFrames(100).push(Buffer.from('#12a\n{}')), 'BAD_JSON');
    assertCode(() => new StreamFrames(100).push(Buffer.from('#\n{}')), 'BAD_JSON');
    assertCode(() => new StreamFrames(100).push(Buffer.from('#12345678901')), 'BAD_JSON');
    assertCode(() => new StreamFrames(100).push(Buffer.from('#101\n')), 'TOO_LARGE');
    assertCode(() => new StreamFrames(100).push(Buffer.from('[1]')), 'BAD_JSON');
  });
});

describe('attached payloads', () => {
  test('a payload goes inline to a peer that takes no attachments', () => {
    assert.equal(inlineText('{"a": 1}'), '{"a": 1}');
    assert.equal(inlineText({ text: '{"a": ""}', bytes: [Buffer.from('x')], inline: () => '{"a": "eA=="}' }), '{"a": "eA=="}');
  });

  test('a receiver that reads attachments says so before its first count; the counts read as before', () => {
    const reader = new AckReader();
    assert.equal(reader.attaching, false);
    assert.equal(reader.push(`${ATTACHING.slice(0, 2)}`), undefined);
    assert.equal(reader.push(`${ATTACHING.slice(2)}\n0\n`), 0);
    assert.equal(reader.attaching, true);
    assert.equal(reader.push('3\n'), 3);
    assert.throws(() => new AckReader().push('other\n'), RangeError);
  });
});
