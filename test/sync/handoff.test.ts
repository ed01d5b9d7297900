/**
 * Letting go of copies a server no longer owns (`--replicas`): only once every
 * owner holds them, and, pass after pass, reading every held item's owners
 * only when there may be something to let go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, type ListEntry } from '../../src/protocol/messages.js';
import { ItemStore } from '../../src/store/items.js';
import { MemoryPersistence } from '../../src/store/memory.js';
import { Placement } from '../../src/ring/owners.js';
import { RECHECK_PASSES, releaser, releaseUnowned } from '../../src/sync/handoff.js';
import type { ClientOptions } from '../../src/transport/ask.js';

const SELF = '127.0.0.1:4043';
const OTHERS = ['127.0.0.1:4044', '127.0.0.1:4045', '127.0.0.1:4046'];
const NOW = 1_700_000_000_000;
const version = { clock: 7, server: SELF };

/** Peers answering LIST from `held` (what every other server holds); counts the questions. */
function peers(held: Map<string, ListEntry>): { client: ClientOptions; asked: () => number } {
  let asked = 0;
  const client: ClientOptions = {
    exchange: async (_server, payload) => {
      asked++;
      const message = decodeMessage(payload);
      assert.equal(message.type, 'LIST');
      return encodeMessage({ type: 'LIST', data: [...held.values()] });
    },
  };
  return { client, asked: () => asked };
}

/** A store of `count` items, and the names of those SELF does not own among SELF and OTHERS, one copy each. */
async function storeOf(t: { after(fn: () => Promise<void>): void }, count: number): Promise<{ store: ItemStore; unowned: string[] }> {
  const store = await ItemStore.open(new MemoryPersistence());
  t.after(() => store.close());
  const placement = new Placement([SELF, ...OTHERS], 1);
  const unowned: string[] = [];
  for (let i = 0; i < count; i++) {
    const item = `item-${i}`;
    await store.apply(item, { version, content: `content ${i}` }, NOW);
    if (!placement.owns(SELF, item)) unowned.push(item);
  }
  return { store, unowned };
}

test("copies held for other owners go only once their owners hold them; this server's own stay", async (t) => {
  const { store, unowned } = await storeOf(t, 20);
  const placement = new Placement([SELF, ...OTHERS], 1);
  const held = new Map<string, ListEntry>();
  const { client } = peers(held);
  assert.deepEqual(await releaseUnowned(store, SELF, placement, client, () => false), { released: 0, settled: false });
  assert.equal(store.size, 20, 'no owner holds them yet');
  for (const item of unowned) held.set(item, { item, version, deleted: false, size: 1 });
  assert.deepEqual(await releaseUnowned(store, SELF, placement, client, () => false), { released: unowned.length, settled: true });
  assert.equal(store.size, 20 - unowned.length);
  for (const [item] of store.entries()) assert.ok(placement.owns(SELF, item), `${item} is this server's own`);
});

test('pass after pass, the owners are asked again only after the placement changed, or every RECHECK_PASSES passes', async (t) => {
  const { store, unowned } = await storeOf(t, 20);
  const held = new Map<string, ListEntry>(unowned.map((item) => [item, { item, version, deleted: false, size: 1 }]));
  const { client, asked } = peers(held);
  let placement = new Placement([SELF, ...OTHERS], 1);
  const release = releaser(
    store,
    SELF,
    () => placement,
    () => client,
    () => false,
  );
  assert.equal(await release(), unowned.length);
  const afterFirst = asked();
  assert.ok(afterFirst > 0);

  // A copy for another owner arrives without the placement changing: found at the next recheck, not before.
  const stray = Array.from({ length: 50 }, (_, i) => `stray-${i}`).find((name) => !placement.owns(SELF, name))!;
  await store.apply(stray, { version, content: 'stray' }, NOW);
  held.set(stray, { item: stray, version, deleted: false, size: 1 });
  for (let pass = 1; pass < RECHECK_PASSES; pass++) assert.equal(await release(), 0, `pass ${pass} skipped`);
  assert.equal(asked(), afterFirst, 'nobody asked while nothing could have changed');
  assert.equal(await release(), 1, 'the recheck looks at every item, and lets the stray copy go');

  // A new member takes some of this server's items: they are looked at again at once, without waiting for a recheck.
  placement = new Placement([SELF, ...OTHERS, '127.0.0.1:4047'], 1);
  const moved = [...store.entries()].filter(([item]) => !placement.owns(SELF, item)).length;
  assert.ok(moved > 0, 'the new member owns some of what this server held');
  const before = asked();
  await release();
  assert.ok(asked() > before, 'the owners were asked');
});
