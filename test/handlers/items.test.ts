/** Items (GET, PUT, DELETE) in process: what each answers, at once or when its round comes home. */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { itemHandlers } from '../../src/handlers/items.js';
import { forwardedHandlers } from '../../src/handlers/forwarded.js';
import type { ForwardPutMessage, Reply } from '../../src/protocol/messages.js';
import { homeward } from '../../src/node/forwarder.js';
import { confirmingId } from '../../src/handlers/rounds.js';
import { waitFor } from '../../src/util/wait.js';
import { fixture, LAST, NEXT, NOW, onlySent, SELF, type Sent } from './fixture.js';
import type { HandlerContext } from '../../src/handlers/handlers.js';
import type { UploadPart } from '../../src/protocol/messages.js';
import { Placement } from '../../src/ring/owners.js';
import { MemoryPersistence } from '../../src/store/memory.js';
import type { ItemMeta } from '../../src/store/items.js';
import type { Body } from '../../src/store/persistence.js';
import { CoopError } from '../../src/errors.js';

const CLIENT = '127.0.0.1:50000';
const v = (clock: number) => ({ clock, server: SELF });

test('GET of an item held here is answered at once, not by a promise, in the form it was asked in', async (t) => {
  const { ctx, store, sent } = await fixture(t);
  await store.apply('a.txt', { version: v(5), content: 'hello' }, NOW);
  const plain = itemHandlers.GET({ type: 'GET', data: 'a.txt' }, ctx, CLIENT, undefined);
  assert.deepEqual(plain, { type: 'GET', data: { item: 'a.txt', content: 'hello', encoding: undefined } });
  const extended = itemHandlers.GET({ type: 'GET', data: 'a.txt', extended: true }, ctx, CLIENT, undefined);
  assert.deepEqual(extended, { type: 'GET', data: { item: 'a.txt', content: 'hello', encoding: undefined, found: true, version: v(5) } });
  assert.equal(sent.length, 0, 'no round');
});

test('GET of an item deleted here answers that it is not found, without a round', async (t) => {
  const { ctx, store, sent } = await fixture(t);
  await store.apply('gone.txt', { version: v(5), content: 'hello' }, NOW);
  await store.apply('gone.txt', { version: v(6), content: '', deleted: true }, NOW);
  const reply = await itemHandlers.GET({ type: 'GET', data: 'gone.txt', extended: true }, ctx, CLIENT, undefined);
  assert.equal(reply?.type, 'GET');
  assert.equal(reply.type === 'GET' && reply.data.found, false);
  assert.equal(sent.length, 0, 'no round');
});

test('GET of an item not held here starts a lookup, answered with what it found when it comes home', async (t) => {
  const { ctx, sent, store } = await fixture(t);
  const answer = itemHandlers.GET({ type: 'GET', data: 'far.txt', extended: true }, ctx, CLIENT, undefined);
  assert.ok(answer instanceof Promise);
  await waitForSent(sent, 1);
  const round = onlySent(sent, 'FORWARD_GET');
  assert.equal(round.creator, SELF);
  assert.equal(round.data.found, undefined);
  // The round comes home filled in by the server that holds the item.
  const home = { ...round, data: { item: 'far.txt', content: 'from afar', found: true, version: { clock: 9, server: 'x' } } };
  assert.equal(await forwardedHandlers.FORWARD_GET(home, ctx, 'peer', undefined), undefined);
  const reply = await answer;
  assert.equal(reply?.type === 'GET' && reply.data.content, 'from afar');
  assert.equal((await store.get('far.txt'))?.content, 'from afar', 'a copy is kept here');
});

test('PUT of a new item is stored here, goes around the ring, and is acknowledged when its round comes home', async (t) => {
  const { ctx, sent, store } = await fixture(t);
  let settled: Reply | undefined;
  const answer = Promise.resolve(itemHandlers.PUT({ type: 'PUT', data: { item: 'new.txt', content: 'fresh' } }, ctx, CLIENT, undefined));
  void answer.then((reply) => (settled = reply));
  await waitForSent(sent, 1);
  const round = onlySent(sent, 'FORWARD_PUT');
  assert.equal(round.creator, SELF);
  assert.equal(round.data.content, 'fresh');
  assert.ok(round.id !== undefined && round.data.version !== undefined, 'a round of ours, with its id and version');
  assert.equal((await store.get('new.txt'))?.content, 'fresh');
  assert.equal(settled, undefined, 'not acknowledged before the round is home');
  const home = { type: 'FORWARD_PUT' as const, creator: SELF, data: { item: 'new.txt', content: '' }, id: round.id };
  assert.equal(forwardedHandlers.FORWARD_PUT(home, ctx, 'peer', undefined), undefined, 'nothing to answer the last server');
  assert.deepEqual(await answer, { type: 'PUT', data: { item: 'new.txt', status: '200 OK' } });
});

test('DELETE leaves a tombstone here and is acknowledged as a DELETE when its round comes home', async (t) => {
  const { ctx, sent, store } = await fixture(t);
  await store.apply('old.txt', { version: v(1), content: 'old' }, NOW);
  const answer = itemHandlers.DELETE({ type: 'DELETE', data: 'old.txt' }, ctx, CLIENT, undefined);
  await waitForSent(sent, 1);
  const round = onlySent(sent, 'FORWARD_PUT');
  assert.equal(round.data.deleted, true);
  assert.equal(store.head('old.txt')?.deleted, true);
  forwardedHandlers.FORWARD_PUT(
    { type: 'FORWARD_PUT', creator: SELF, data: { item: 'old.txt', content: '' }, id: round.id },
    ctx,
    'peer',
    undefined,
  );
  assert.deepEqual(await answer, { type: 'DELETE', data: { item: 'old.txt', status: '200 OK' } });
});

test('PUT alone in the ring is acknowledged once stored, without a round', async (t) => {
  const { ctx, sent, store } = await fixture(t, { members: [SELF] });
  const reply = await itemHandlers.PUT({ type: 'PUT', data: { item: 'solo.txt', content: 'one' } }, ctx, CLIENT, undefined);
  assert.deepEqual(reply, { type: 'PUT', data: { item: 'solo.txt', status: '200 OK' } });
  assert.equal((await store.get('solo.txt'))?.content, 'one');
  assert.equal(sent.length, 0);
});

test('PUT while joining gets NOT_READY and stores nothing', async (t) => {
  const { ctx, sent, store } = await fixture(t, { joining: true });
  const reply = await itemHandlers.PUT({ type: 'PUT', data: { item: 'early.txt', content: 'x' } }, ctx, CLIENT, undefined);
  assert.equal(reply?.type === 'ERROR' && reply.data.code, 'NOT_READY');
  assert.equal(store.head('early.txt'), undefined);
  assert.equal(sent.length, 0);
});

test('a write whose round does not come home in time: OUTCOME_UNKNOWN, naming where it was last handed', async (t) => {
  const { ctx, sent } = await fixture(t, { roundTimeoutMs: 50 });
  const reply = await itemHandlers.PUT({ type: 'PUT', data: { item: 'lost.txt', content: 'x' } }, ctx, CLIENT, undefined);
  assert.equal(sent[0]?.message.type, 'FORWARD_PUT');
  assert.equal(reply?.type === 'ERROR' && reply.data.code, 'OUTCOME_UNKNOWN');
});

/** A 10-byte item PUT in two parts, each part's round brought home (the last part's two laps); the parts each round carried. */
async function putInTwo(
  ctx: HandlerContext,
  sent: Sent[],
  item: string,
  bytes: Buffer,
  clientsHash: string,
): Promise<Array<UploadPart | undefined>> {
  for (const [offset, length] of [
    [0, 4],
    [4, 6],
  ] as const) {
    const content = bytes.subarray(offset, offset + length).toString('base64');
    const data = { item, content, encoding: 'base64' as const, part: { upload: 'u1', offset, size: bytes.length, sha1: clientsHash } };
    const answer = Promise.resolve(itemHandlers.PUT({ type: 'PUT', data }, ctx, CLIENT, undefined));
    await waitForSent(sent, offset === 0 ? 1 : 2);
    const round = sent.at(-1)!.message;
    assert.ok(round.type === 'FORWARD_PUT');
    forwardedHandlers.FORWARD_PUT(homeward(round)!, ctx, 'peer', undefined);
    // The last part's first lap brings its second.
    const second = sent.at(-1)!.message;
    if (second !== round) forwardedHandlers.FORWARD_PUT(homeward(second)!, ctx, 'peer', undefined);
    assert.equal((await answer)?.type, 'PUT');
  }
  return sent.map(({ message }) => (message.type === 'FORWARD_PUT' ? message.data.part : undefined));
}

const TEN = Buffer.from('0123456789');
const CLIENTS_HASH = 'ff'.repeat(20);

test("an upload's last part goes around with the SHA-1 of the item stored here, never a client's", async (t) => {
  const { ctx, sent, store } = await fixture(t);
  const [first, last] = await putInTwo(ctx, sent, 'big.bin', TEN, CLIENTS_HASH);
  assert.equal(first?.sha1, undefined, 'the first part carries no hash');
  const stored = store.head('big.bin')?.hash;
  assert.equal(stored, createHash('sha1').update(TEN).digest('hex'));
  assert.equal(last?.sha1, stored);
});

test('with --replicas, a server that only passes an upload on hashes it, and its last part carries that hash', async (t) => {
  const { ctx, sent, store } = await fixture(t, { replicas: 1 });
  const item = Array.from({ length: 100 }, (_, i) => `big-${i}.bin`).find(
    (name) => !new Placement([SELF, NEXT, LAST], 1).owns(SELF, name),
  )!;
  const [first, last] = await putInTwo(ctx, sent, item, TEN, CLIENTS_HASH);
  assert.equal(store.head(item), undefined, 'not kept here');
  assert.equal(first?.sha1, undefined);
  assert.equal(last?.sha1, createHash('sha1').update(TEN).digest('hex'));
});

/** The first of two parts of a 10-byte upload PUT here and its round brought home; the last part's PUT, started. */
async function lastPartPut(ctx: HandlerContext, sent: Sent[]): Promise<{ answer: Promise<Reply | undefined>; round: ForwardPutMessage }> {
  const put = (offset: number, length: number) => {
    const content = TEN.subarray(offset, offset + length).toString('base64');
    const data = { item: 'big.bin', content, encoding: 'base64' as const, part: { upload: 'u1', offset, size: TEN.length } };
    return Promise.resolve(itemHandlers.PUT({ type: 'PUT', data }, ctx, CLIENT, undefined));
  };
  const first = put(0, 4);
  await waitForSent(sent, 1);
  forwardedHandlers.FORWARD_PUT(homeward(sent[0]!.message)!, ctx, 'peer', undefined);
  assert.equal((await first)?.type, 'PUT');
  const answer = put(4, 6);
  await waitForSent(sent, 2);
  const round = sent[1]!.message;
  assert.ok(round.type === 'FORWARD_PUT');
  return { answer, round };
}

test("an upload's last part goes around twice, and its client is answered when the second lap is home", async (t) => {
  const { ctx, sent, store } = await fixture(t);
  const { answer, round } = await lastPartPut(ctx, sent);
  let settled: Reply | undefined;
  void answer.then((reply) => (settled = reply));
  assert.equal(round.lap, 'early');
  assert.equal(round.data.content, TEN.subarray(4).toString('base64'), 'the first lap carries the bytes');
  forwardedHandlers.FORWARD_PUT(homeward(round)!, ctx, 'peer', undefined);
  assert.equal(sent.length, 3);
  const second = onlySent(sent.slice(2), 'FORWARD_PUT');
  assert.equal(second.lap, 'confirm');
  assert.equal(second.id, confirmingId(round.id!));
  assert.deepEqual(second.data, { ...round.data, content: '', bytes: undefined }, 'the same part and hash, without its bytes');
  await new Promise(setImmediate);
  assert.equal(settled, undefined, 'not answered when the first lap is home');
  forwardedHandlers.FORWARD_PUT(homeward(second)!, ctx, 'peer', undefined);
  assert.deepEqual(await answer, { type: 'PUT', data: { item: 'big.bin', status: '200 OK' } });
  assert.equal(store.head('big.bin')?.size, 10);
});

test('what the first lap of a last part found on the way goes with its second lap, and answers its client', async (t) => {
  const { ctx, sent } = await fixture(t);
  const { answer, round } = await lastPartPut(ctx, sent);
  forwardedHandlers.FORWARD_PUT({ ...homeward(round)!, nospace: [NEXT] }, ctx, 'peer', undefined);
  const second = sent[2]!.message;
  assert.ok(second.type === 'FORWARD_PUT');
  assert.deepEqual(second.nospace, [NEXT]);
  forwardedHandlers.FORWARD_PUT(homeward({ ...second, nospace: [NEXT, LAST] })!, ctx, 'peer', undefined);
  const reply = await answer;
  assert.equal(reply?.type === 'ERROR' && reply.data.code, 'NO_SPACE');
  assert.match(reply?.type === 'ERROR' ? reply.data.message : '', /servers 127\.0\.0\.1:4044, 127\.0\.0\.1:4045 have no space/);
});

/** A store whose commits of large items wait for `commit` to settle, failing as it fails. */
class GatedCommits extends MemoryPersistence {
  constructor(private readonly commit: Promise<void>) {
    super();
  }

  override async write(name: string, meta: ItemMeta, body: Body): Promise<void> {
    if ('blob' in body) await this.commit;
    return super.write(name, meta, body);
  }
}

/** Two parts' rounds brought home: the first lap and the second. */
function bothLapsHome(ctx: HandlerContext, sent: Sent[], round: ForwardPutMessage): void {
  forwardedHandlers.FORWARD_PUT(homeward(round)!, ctx, 'peer', undefined);
  forwardedHandlers.FORWARD_PUT(homeward(sent.at(-1)!.message)!, ctx, 'peer', undefined);
}

test("an upload's last part goes around once its hash is known here, while it is committed here; its client waits for both", async (t) => {
  let open!: () => void;
  const { ctx, sent, store } = await fixture(t, { persistence: new GatedCommits(new Promise((resolve) => (open = resolve))) });
  const { answer, round } = await lastPartPut(ctx, sent);
  let settled: Reply | undefined;
  void answer.then((reply) => (settled = reply));
  assert.equal(store.head('big.bin'), undefined, 'sent around before it is committed here');
  assert.equal(round.data.part?.sha1, createHash('sha1').update(TEN).digest('hex'));
  bothLapsHome(ctx, sent, round);
  await new Promise(setImmediate);
  assert.equal(settled, undefined, 'the round is home, the commit here is not over');
  open();
  assert.deepEqual(await answer, { type: 'PUT', data: { item: 'big.bin', status: '200 OK' } });
  assert.equal(store.head('big.bin')?.size, 10);
});

test('no room here for the last part once it went around: NO_SPACE, saying the other servers stored it', async (t) => {
  const full = Promise.reject(new CoopError('NO_SPACE', 'no room for the commit'));
  full.catch(() => undefined);
  const { ctx, sent, store } = await fixture(t, { persistence: new GatedCommits(full) });
  const { answer, round } = await lastPartPut(ctx, sent);
  bothLapsHome(ctx, sent, round);
  const reply = await answer;
  assert.equal(reply?.type === 'ERROR' && reply.data.code, 'NO_SPACE');
  assert.match(reply?.type === 'ERROR' ? reply.data.message : '', /server 127\.0\.0\.1:4043 has no space .*the other servers stored it/);
  assert.equal(store.head('big.bin'), undefined);
});

test('a first lap sent home by a server of ours from before, without its lap, still brings the second lap; that one, without its lap too, answers', async (t) => {
  const { ctx, sent } = await fixture(t);
  const { answer, round } = await lastPartPut(ctx, sent);
  const { lap: _dropped, ...stripped } = homeward(round)!;
  forwardedHandlers.FORWARD_PUT(stripped, ctx, 'peer', undefined);
  const second = sent[2]?.message;
  assert.ok(second?.type === 'FORWARD_PUT' && second.id === confirmingId(round.id!), 'the second lap went out');
  let settled: Reply | undefined;
  void answer.then((reply) => (settled = reply));
  await new Promise(setImmediate);
  assert.equal(settled, undefined);
  const { lap: _alsoDropped, ...secondHome } = homeward(second)!;
  forwardedHandlers.FORWARD_PUT(secondHome, ctx, 'peer', undefined);
  assert.equal((await answer)?.type, 'PUT');
  assert.equal(sent.length, 3, 'no third lap');
});

test("with an original server in the ring, an upload's last part goes around once", async (t) => {
  const { ctx, sent, peers } = await fixture(t);
  peers.delete(LAST);
  const { answer, round } = await lastPartPut(ctx, sent);
  assert.equal(round.lap, undefined);
  forwardedHandlers.FORWARD_PUT(homeward(round)!, ctx, 'peer', undefined);
  assert.equal((await answer)?.type, 'PUT');
  assert.equal(sent.length, 2, 'no second lap');
});

/** The handlers pass rounds on once their writes are stored: wait until `count` have gone. */
async function waitForSent(sent: readonly unknown[], count: number): Promise<void> {
  await waitFor(() => sent.length >= count, { timeoutMs: 2000, intervalMs: 1, what: `${count} messages passed on` });
}
