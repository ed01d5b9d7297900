/** Membership (INSERT, UPDATE, CHECK, PING, PING_REQ) in process: what each answers and what it changes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { membershipHandlers } from '../../src/handlers/membership.js';
import { RingView } from '../../src/ring/ring.js';
import type { AckReply } from '../../src/protocol/messages.js';
import { fixture, LAST, NEXT, NOW, onlySent, SELF } from './fixture.js';

const NEWCOMER = '127.0.0.1:4046';

test("PING without a matching checksum is answered at once with ACK and this server's whole membership; its sender is heard and known as ours", async (t) => {
  const { ctx, ring, heard, peers } = await fixture(t);
  peers.delete(NEXT);
  const reply = membershipHandlers.PING({ type: 'PING', from: NEXT }, ctx, NEXT, undefined);
  assert.deepEqual(reply, { type: 'ACK', from: SELF, members: ring.membership.all(), checksum: ring.membership.checksum() });
  assert.deepEqual(heard, [NEXT]);
  assert.equal(peers.has(NEXT), true);
  const stale = membershipHandlers.PING({ type: 'PING', from: NEXT, checksum: 'not-ours' }, ctx, NEXT, undefined);
  assert.deepEqual(stale, reply, 'a view that differs gets the whole membership');
});

test('PING from a view like ours is answered with no entries: the same view has nothing to tell', async (t) => {
  const members = [SELF, ...Array.from({ length: 40 }, (_, i) => `127.0.2.${i + 1}:4000`)];
  const { ctx, ring } = await fixture(t, { members });
  const reply = membershipHandlers.PING(
    { type: 'PING', from: members[1]!, checksum: ring.membership.checksum() },
    ctx,
    members[1]!,
    undefined,
  ) as AckReply;
  assert.deepEqual(reply, { type: 'ACK', from: SELF, members: [], checksum: ring.membership.checksum() });
});

test('PING carrying a change merges it before answering, and the answer carries the checksum after the merge', async (t) => {
  const { ctx, ring } = await fixture(t);
  const theirs = new RingView(NEXT, [NEXT, LAST, SELF], () => NOW);
  theirs.merge(ring.membership.all());
  theirs.insertAfter(NEXT, NEWCOMER);
  const change = theirs.membership.get(NEWCOMER)!;
  const reply = membershipHandlers.PING(
    { type: 'PING', from: NEXT, members: [change], checksum: theirs.membership.checksum() },
    ctx,
    NEXT,
    undefined,
  ) as AckReply;
  assert.equal(ring.has(NEWCOMER), true, 'merged before answering');
  assert.equal(reply.checksum, ring.membership.checksum());
});

test('PING_REQ answers whether the target answered a probe from here', async (t) => {
  for (const alive of [true, false]) {
    const { ctx } = await fixture(t, { alive });
    const reply = await membershipHandlers.PING_REQ({ type: 'PING_REQ', data: LAST, from: NEXT }, ctx, NEXT, undefined);
    assert.deepEqual(reply, { type: 'PING_REQ', data: { target: LAST, alive } });
  }
});

test('UPDATE from one of ours merges its members here and goes on carrying the merged view', async (t) => {
  const { ctx, ring, sent, absorbed } = await fixture(t);
  // The creator's view: it has taken in a newcomer after itself.
  const theirs = new RingView(LAST, [LAST, SELF, NEXT], () => NOW);
  theirs.insertAfter(LAST, NEWCOMER);
  const update = { type: 'UPDATE' as const, creator: LAST, data: [...theirs.members], id: 'u1', members: theirs.membership.all() };
  assert.equal(membershipHandlers.UPDATE(update, ctx, LAST, undefined), undefined, 'nothing to answer');
  assert.equal(absorbed.length, 1);
  assert.equal(ring.has(NEWCOMER), true, 'merged here');
  const passed = onlySent(sent, 'UPDATE');
  assert.deepEqual(passed.data, [...ring.members]);
  assert.ok(passed.data.includes(NEWCOMER));
});

test("UPDATE's `ours` teaches a relay which members speak our extensions, and the round goes on with what this relay knows", async (t) => {
  const { ctx, ring, sent, peers } = await fixture(t);
  peers.delete(NEXT);
  const theirs = new RingView(LAST, [LAST, SELF, NEXT], () => NOW);
  const update = {
    type: 'UPDATE' as const,
    creator: LAST,
    data: [...theirs.members],
    id: 'u3',
    members: theirs.membership.all(),
    ours: [LAST, NEXT],
  };
  membershipHandlers.UPDATE(update, ctx, LAST, undefined);
  assert.equal(peers.has(NEXT), true, 'vouched for by the round: not taken for an original');
  const passed = onlySent(sent, 'UPDATE');
  assert.deepEqual(new Set(passed.ours), new Set([SELF, NEXT, LAST]));
  assert.equal(ring.has(NEXT), true);
});

test('an UPDATE of our own, come home, ends there', async (t) => {
  const { ctx, sent } = await fixture(t);
  membershipHandlers.UPDATE({ type: 'UPDATE', creator: SELF, data: [SELF, NEXT, LAST], id: 'u2' }, ctx, LAST, undefined);
  assert.equal(sent.length, 0);
});

test('INSERT places the newcomer after this server and announces the ring', async (t) => {
  const server = await fixture(t);
  const insert = { type: 'INSERT' as const, data: NEWCOMER, from: NEWCOMER };
  assert.equal(membershipHandlers.INSERT(insert, server.ctx, NEWCOMER, undefined), undefined);
  assert.equal(server.ring.successor(), NEWCOMER);
  assert.equal(server.peers.has(NEWCOMER), true);
  assert.equal(server.announced, 1);
});

test('CHECK with `from` shows its sender speaks our extensions, and is not answered', async (t) => {
  const { ctx, peers } = await fixture(t);
  peers.delete(LAST);
  assert.equal(membershipHandlers.CHECK({ type: 'CHECK', from: LAST }, ctx, LAST, undefined), undefined);
  assert.equal(peers.has(LAST), true);
});
