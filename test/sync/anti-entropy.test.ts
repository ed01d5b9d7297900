/**
 * Anti-entropy passes: a pass with a slow peer (behind a lossy link) does not
 * hold up passes with the others, and at most MAX_PASSES run at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../src/protocol/messages.js';
import { ItemStore } from '../../src/store/items.js';
import { MemoryPersistence } from '../../src/store/memory.js';
import { silentLog } from '../../src/log/logger.js';
import { AntiEntropy, MAX_PASSES } from '../../src/sync/anti-entropy.js';
import { waitFor } from '../../src/util/wait.js';
import type { Address } from '../../src/protocol/address.js';

const NOW = 1_700_000_000_000;
const FAST = '127.0.0.1:4044';

/**
 * Peers that answer DIGEST with this store's own digest (nothing to pull); those in `slow` answer only
 * once `answer()` is called.
 */
async function ring(
  t: { after(fn: () => Promise<void>): void },
  peers: Address[],
  slow: Address[],
  intervalMs = 3_600_000,
): Promise<{ sync: AntiEntropy; answer(): void }> {
  const store = await ItemStore.open(new MemoryPersistence());
  t.after(() => store.close());
  let answer: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  const sync = new AntiEntropy({
    store,
    log: silentLog,
    peers: () => peers,
    now: () => NOW,
    intervalMs,
    tombstoneTtlMs: 60_000,
    client: {
      exchange: async (server, payload) => {
        assert.equal(decodeMessage(payload).type, 'DIGEST');
        if (slow.includes(server)) await answered;
        return encodeMessage({ type: 'DIGEST', data: store.digest.toWire() });
      },
    },
  });
  t.after(async () => sync.stop());
  return { sync, answer };
}

test('a pass with a slow peer does not hold up a pass with another; a second ask for the slow one shares its pass', async (t) => {
  const slowPeer = '127.0.0.1:4043';
  const { sync, answer } = await ring(t, [slowPeer, FAST], [slowPeer]);
  const slow = sync.syncNow(slowPeer);
  assert.equal(sync.syncNow(slowPeer), slow, 'one pass per peer');
  assert.equal((await sync.syncNow())?.peer, FAST, 'the free peer is chosen');
  assert.equal(sync.totals.passes, 1);
  assert.equal(sync.passesRunning, 1);
  answer();
  assert.equal((await slow)?.peer, slowPeer);
  assert.equal(sync.totals.passes, 2);
  assert.equal(sync.passesRunning, 0);
});

test('at most MAX_PASSES run at once; past that, asking for a pass returns one that runs', async (t) => {
  const peers = Array.from({ length: MAX_PASSES + 2 }, (_, i) => `127.0.0.1:${5000 + i}`);
  const { sync, answer } = await ring(t, peers, peers);
  const started = new Set(Array.from({ length: MAX_PASSES }, () => sync.syncNow()));
  assert.equal(started.size, MAX_PASSES, 'each with another peer');
  assert.equal(sync.passesRunning, MAX_PASSES);
  assert.ok(started.has(sync.syncNow()), 'no pass beyond the limit');
  assert.equal(sync.passesRunning, MAX_PASSES);
  answer();
  const done = await Promise.all(started);
  assert.equal(new Set(done.map((result) => result?.peer)).size, MAX_PASSES);
  assert.equal(sync.passesRunning, 0);
});

test('the scheduled passes go on with the other peers while one pass waits on a slow peer', async (t) => {
  const slowPeer = '127.0.0.1:4043';
  const { sync, answer } = await ring(t, [slowPeer, FAST], [slowPeer], 5);
  t.after(answer);
  const slow = sync.syncNow(slowPeer);
  sync.start();
  await waitFor(() => sync.totals.passes >= 5, { what: 'five passes with the fast peer while the slow one waits' });
  assert.equal(sync.passesRunning, 1, 'the slow pass still waits');
  answer();
  assert.equal((await slow)?.peer, slowPeer);
});
