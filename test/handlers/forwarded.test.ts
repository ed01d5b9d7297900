/** Rounds of items (FORWARD_PUT, FORWARD_GET) in process: passing by, and coming home. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardedHandlers, type ForwardedContext } from '../../src/handlers/forwarded.js';
import { NOT_FOUND_CONTENT, type Lap } from '../../src/protocol/messages.js';
import { CoopError } from '../../src/errors.js';
import { fixture, LAST, NEXT, NOW, onlySent, SELF } from './fixture.js';

const v = (clock: number, server = LAST) => ({ clock, server });

test('a write passing by is stored here and passed on as the text it came in', async (t) => {
  const { ctx, store, sent, peers } = await fixture(t);
  peers.delete(LAST);
  const message = { type: 'FORWARD_PUT' as const, creator: LAST, data: { item: 'w.txt', content: 'written', version: v(3) }, id: 'r1' };
  const text = JSON.stringify(message);
  assert.equal(await forwardedHandlers.FORWARD_PUT(message, ctx, LAST, text), undefined, 'nothing to answer');
  assert.equal((await store.get('w.txt'))?.content, 'written');
  assert.equal(sent[0]?.received, text);
  assert.equal(onlySent(sent, 'FORWARD_PUT'), message);
  assert.equal(peers.has(LAST), true, 'a round with an id shows its creator speaks our extensions');
});

/**
 * Part at `offset` of a 10-byte upload by LAST passing by: its bytes
 * attached, or (a string) inline as base64; on the `lap` given, for a last part (its id told by the lap, unless given).
 */
function passingPart(
  ctx: ForwardedContext,
  offset: number,
  content: string | Buffer[],
  sha1?: string,
  lap?: Lap,
  id = lap === 'confirm' ? `r${offset}/c` : `r${offset}`,
): ReturnType<typeof forwardedHandlers.FORWARD_PUT> {
  const inline = typeof content === 'string';
  return forwardedHandlers.FORWARD_PUT(
    {
      type: 'FORWARD_PUT',
      creator: LAST,
      id,
      lap,
      data: {
        item: 'big.bin',
        content: inline ? Buffer.from(content).toString('base64') : '',
        bytes: inline ? undefined : content,
        encoding: 'base64',
        version: v(3),
        part: { upload: `${LAST}/u`, offset, size: 10, sha1 },
      },
    },
    ctx,
    LAST,
    undefined,
  );
}

test('a large item passing by is recorded with the hash its last part brings, not hashed here', async (t) => {
  const { ctx, store, sent } = await fixture(t);
  const writers = 'ab'.repeat(20); // not the bytes' own hash: taken on the writer's word
  await passingPart(ctx, 0, '01234');
  await passingPart(ctx, 5, '56789', writers);
  assert.equal(store.head('big.bin')?.hash, writers);
  assert.equal(sent.length, 2, 'both parts passed on');
});

test('a part passing by lets go of its bytes only once it is written here and its way on is over', async (t) => {
  const deliveries: Array<() => void> = [];
  const { ctx, store, letGo } = await fixture(t, { delivered: () => new Promise<void>((resolve) => deliveries.push(resolve)) });
  const parts = ['0123', '4567', '89'].map((text) => [Buffer.from(text)]);
  const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve)); // after every callback already due
  for (const [i, offset] of [0, 4].entries()) {
    await passingPart(ctx, offset, parts[i]!);
    await settled();
    assert.equal(letGo.length, i, `part ${i} written, still on its way on`);
    deliveries[i]!();
    await settled();
    assert.deepEqual(letGo, parts.slice(0, i + 1), `part ${i} delivered: let go`);
  }
  await passingPart(ctx, 8, parts[2]!, 'ab'.repeat(20));
  assert.equal(store.head('big.bin')?.size, 10, 'the last part made the item whole');
  await settled();
  assert.equal(letGo.length, 2, 'the last part, stored, still on its way on');
  deliveries[2]!();
  await settled();
  assert.deepEqual(letGo, parts);
});

test("an upload's last part on its early lap is passed on before it is committed here, and its second lap only after", async (t) => {
  const committedAsSent: boolean[] = [];
  const { ctx, store, sent } = await fixture(t, {
    delivered: async () => void committedAsSent.push(store.head('big.bin') !== undefined),
  });
  const writers = 'ab'.repeat(20);
  await passingPart(ctx, 0, '01234');
  const early = passingPart(ctx, 5, '56789', writers, 'early');
  const confirm = passingPart(ctx, 5, '', writers, 'confirm');
  await Promise.all([early, confirm]);
  assert.deepEqual(
    sent.map(({ message }) => message.type === 'FORWARD_PUT' && message.lap),
    [undefined, 'early', 'confirm'],
  );
  assert.deepEqual(committedAsSent, [false, false, true]);
  assert.equal(store.head('big.bin')?.hash, writers);
  assert.equal(sent[2]?.message.type === 'FORWARD_PUT' && sent[2].message.nospace, undefined);
});

test('a server with no room for the last part says so on its second lap', async (t) => {
  const { ctx, sent } = await fixture(t);
  const full: ForwardedContext = {
    ...ctx,
    uploads: { receive: () => Promise.reject(new CoopError('NO_SPACE', 'no room')), abandon: () => Promise.resolve() },
  };
  await passingPart(full, 5, '56789', 'ab'.repeat(20), 'early');
  await passingPart(full, 5, '', 'ab'.repeat(20), 'confirm');
  const [first, second] = sent.map(({ message }) => (message.type === 'FORWARD_PUT' ? message.nospace : 'not a write'));
  assert.equal(first, undefined, 'passed on before it was known');
  assert.deepEqual(second, [SELF]);
});

test('every copy of a second lap waits for the commit, its lap told by its id when a server from before dropped the field', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const { ctx, sent } = await fixture(t);
  const slow: ForwardedContext = { ...ctx, uploads: { receive: () => gate.then(() => true), abandon: () => Promise.resolve() } };
  const first = passingPart(slow, 5, '56789', 'ab'.repeat(20), 'early');
  const laps = [passingPart(slow, 5, '', 'ab'.repeat(20), 'confirm'), passingPart(slow, 5, '', 'ab'.repeat(20), undefined, 'r5/c2')];
  await new Promise(setImmediate);
  assert.equal(sent.length, 1, 'only the first lap passed on while the commit runs');
  open();
  await Promise.all([first, ...laps]);
  assert.equal(sent.length, 3);
});

test('a second lap at a server that saw no first lap goes on at once, as it came', async (t) => {
  const { ctx, sent } = await fixture(t);
  const message = {
    type: 'FORWARD_PUT' as const,
    creator: LAST,
    id: 'r5/c',
    lap: 'confirm' as const,
    data: { item: 'big.bin', content: '', encoding: 'base64' as const, version: v(3), part: { upload: `${LAST}/u`, offset: 5, size: 10 } },
  };
  const text = JSON.stringify(message);
  await forwardedHandlers.FORWARD_PUT(message, ctx, LAST, text);
  assert.equal(onlySent(sent, 'FORWARD_PUT'), message);
  assert.equal(sent[0]?.received, text);
});

test('a write passing by that is older than the copy here goes on carrying the newer version, for its creator', async (t) => {
  const { ctx, store, sent } = await fixture(t);
  await store.apply('w.txt', { version: v(9, NEXT), content: 'newer' }, NOW);
  const message = { type: 'FORWARD_PUT' as const, creator: LAST, data: { item: 'w.txt', content: 'older', version: v(3) }, id: 'r2' };
  await forwardedHandlers.FORWARD_PUT(message, ctx, LAST, JSON.stringify(message));
  assert.equal((await store.get('w.txt'))?.content, 'newer');
  assert.deepEqual(onlySent(sent, 'FORWARD_PUT').newer, v(9, NEXT));
  assert.equal(sent[0]?.received, undefined, 'changed: encoded anew');
});

test('a round seen before (its creator gone) is dropped, not passed on again', async (t) => {
  const { ctx, sent } = await fixture(t);
  const message = { type: 'FORWARD_GET' as const, creator: LAST, data: { item: 'x', content: NOT_FOUND_CONTENT }, id: 'r3' };
  await forwardedHandlers.FORWARD_GET(message, ctx, LAST, undefined);
  await forwardedHandlers.FORWARD_GET(message, ctx, LAST, undefined);
  assert.equal(sent.length, 1);
});

test('a lookup passing by a server that holds the item goes on carrying it', async (t) => {
  const { ctx, store, sent } = await fixture(t);
  await store.apply('held.txt', { version: v(4), content: 'here' }, NOW);
  const message = { type: 'FORWARD_GET' as const, creator: LAST, data: { item: 'held.txt', content: NOT_FOUND_CONTENT }, id: 'r4' };
  await forwardedHandlers.FORWARD_GET(message, ctx, LAST, JSON.stringify(message));
  const passed = onlySent(sent, 'FORWARD_GET');
  assert.deepEqual(passed.data, { item: 'held.txt', content: 'here', encoding: undefined, found: true, version: v(4) });
});

test('a write of ours that lost on the way to a version stamped far ahead is not acknowledged: CONFLICT', async (t) => {
  const { ctx } = await fixture(t);
  let answered: unknown;
  ctx.waiting.add(
    'r5',
    'FORWARD_PUT\u0000w.txt',
    waiting('w.txt', (reply) => (answered = reply)),
    30_000,
    () => undefined,
  );
  const home = {
    type: 'FORWARD_PUT' as const,
    creator: SELF,
    data: { item: 'w.txt', content: '' },
    id: 'r5',
    newer: { clock: NOW + 60_000, server: NEXT },
  };
  assert.equal(forwardedHandlers.FORWARD_PUT(home, ctx, NEXT, undefined), undefined);
  assert.equal((answered as { data: { code: string } }).data.code, 'CONFLICT');
});

test('a lookup of ours that comes home empty answers its client that the item is not found', async (t) => {
  const { ctx } = await fixture(t);
  let answered: unknown;
  ctx.waiting.add(
    'r6',
    'FORWARD_GET\u0000none',
    { ...waiting('none', (reply) => (answered = reply)), request: 'GET', plain: true },
    30_000,
    () => undefined,
  );
  const home = { type: 'FORWARD_GET' as const, creator: SELF, data: { item: 'none', content: NOT_FOUND_CONTENT }, id: 'r6' };
  await forwardedHandlers.FORWARD_GET(home, ctx, NEXT, undefined);
  assert.deepEqual(answered, { type: 'GET', data: { item: 'none', content: NOT_FOUND_CONTENT, encoding: undefined } });
});

function waiting(item: string, answer: (reply: unknown) => void) {
  return { answer, client: 'client', request: 'PUT' as const, item };
}
