/** RING, DIGEST and LIST in process: answered at once from this server's view and store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syncHandlers } from '../../src/handlers/sync.js';
import { bucketOf } from '../../src/store/digest.js';
import { fixture, LAST, NEXT, NOW, SELF } from './fixture.js';

const v = (clock: number) => ({ clock, server: SELF });

test("DIGEST answers at once with the store's digest", async (t) => {
  const { ctx, store } = await fixture(t);
  await store.apply('a.txt', { version: v(1), content: 'a' }, NOW);
  const reply = syncHandlers.DIGEST({ type: 'DIGEST' }, ctx, NEXT, undefined);
  assert.deepEqual(reply, { type: 'DIGEST', data: store.digest.toWire() });
});

test('LIST answers at once with the items of the buckets asked for, tombstones included', async (t) => {
  const { ctx, store } = await fixture(t);
  await store.apply('a.txt', { version: v(1), content: 'a' }, NOW);
  await store.apply('b.txt', { version: v(2), content: '', deleted: true }, NOW);
  const reply = syncHandlers.LIST({ type: 'LIST', data: [bucketOf('b.txt')] }, ctx, NEXT, undefined);
  assert.ok(reply && !(reply instanceof Promise) && reply.type === 'LIST');
  const b = reply.data.find((entry) => entry.item === 'b.txt');
  assert.deepEqual(b, { item: 'b.txt', version: v(2), deleted: true, size: 0 });
  const onlyAsked = reply.data.every((entry) => bucketOf(entry.item) === bucketOf('b.txt'));
  assert.ok(onlyAsked, 'only the buckets asked for');
});

test('RING answers at once with the ring from this server, and with its own figures when asked', async (t) => {
  const { ctx } = await fixture(t);
  assert.deepEqual(syncHandlers.RING({ type: 'RING' }, ctx, 'client', undefined), {
    type: 'RING',
    data: [SELF, NEXT, LAST],
    status: undefined,
  });
  const withFigures = syncHandlers.RING({ type: 'RING', status: 'self' }, ctx, NEXT, undefined);
  assert.ok(withFigures && !(withFigures instanceof Promise) && withFigures.type === 'RING');
  assert.equal(withFigures.status?.['address'], SELF);
});
