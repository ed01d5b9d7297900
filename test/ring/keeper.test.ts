/**
 * The keeper's side of membership at scale, with a fake transport: what a
 * PING carries (a few changes or the whole membership), and which merges
 * start an UPDATE round (only this server's own changes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, type Message, type PingMessage } from '../../src/protocol/messages.js';
import { RingKeeper, ackFor } from '../../src/ring/keeper.js';
import { RingView } from '../../src/ring/ring.js';
import { ExtensionPeers } from '../../src/ring/extension-peers.js';
import { RUMOURS_PER_PROBE } from '../../src/ring/rumours.js';
import { silentLog } from '../../src/log/logger.js';
import type { RoundMessage } from '../../src/protocol/messages.js';

const NOW = 1_700_000_000_000;
const SELF = '127.0.0.1:7000';
const MEMBERS = [SELF, ...Array.from({ length: 30 }, (_, i) => `127.0.3.${i + 1}:7000`)];
const NEXT = MEMBERS[1]!;

/**
 * A keeper on SELF's view of MEMBERS; `peer` is the successor's view, which
 * answers every PING as a server of ours would. `originals`: members not
 * known to speak our extensions (every other one is).
 */
function harness(originals: readonly string[] = []) {
  const view = new RingView(SELF, MEMBERS, () => NOW);
  const peer = new RingView(NEXT, MEMBERS, () => NOW);
  peer.merge(view.membership.all());
  const peers = new ExtensionPeers();
  peers.vouch(MEMBERS.filter((member) => member !== SELF && !originals.includes(member)));
  const pings: PingMessage[] = [];
  const forwarded: RoundMessage[] = [];
  let changes = 0;
  const keeper = new RingKeeper({
    view,
    transport: {
      send: () => Promise.resolve(),
      request: (_to, payload) => {
        const ping = decodeMessage(payload) as Message & PingMessage;
        pings.push(ping);
        peer.merge(ping.members ?? []);
        return Promise.resolve(encodeMessage(ackFor(peer, ping)));
      },
    },
    log: silentLog,
    now: () => NOW,
    peers,
    lastHeard: new Map(),
    running: () => true,
    newRoundId: () => 'round',
    forward: (message) => void forwarded.push(message),
    ringChanged: () => void changes++,
    syncNow: () => undefined,
    traffic: () => undefined,
    declaredDead: () => undefined,
    localError: () => undefined,
    timing: { heartbeatMs: 1000, probeTimeoutMs: 500, suspicionTimeoutMs: 3000 },
  });
  return { view, peer, peers, keeper, pings, forwarded, changes: () => changes };
}

test('the first PING to a member carries the whole membership; once in step, at most a few recent changes', async () => {
  const { view, keeper, pings } = harness();
  await keeper.ping(NEXT, 500);
  assert.equal(pings[0]!.members?.length, MEMBERS.length, 'not yet known to be in step: the whole membership');
  for (let i = 0; i < 40; i++) await keeper.ping(NEXT, 500);
  const sizes = pings.slice(1).map((ping) => ping.members?.length ?? 0);
  assert.ok(Math.max(...sizes) <= RUMOURS_PER_PROBE, `PINGs in step carry at most ${RUMOURS_PER_PROBE} entries: ${sizes.join(', ')}`);
  assert.equal(sizes.at(-1), 0, 'every change told its number of times: nothing left to tell');
  for (const ping of pings) assert.equal(typeof ping.checksum, 'string');
  assert.equal(pings.at(-1)!.checksum, view.membership.checksum());
});

test('a member whose answer shows a different view gets the whole membership on the next PING', async () => {
  const { view, peer, keeper, pings } = harness();
  await keeper.ping(NEXT, 500);
  await keeper.ping(NEXT, 500);
  assert.ok((pings[1]!.members?.length ?? 0) <= RUMOURS_PER_PROBE);
  // Something only this server knows, learnt quietly: not among its rumours any more.
  view.insertAfter(SELF, '127.0.0.9:7000');
  view.membership.rumours.take(100, 1);
  await keeper.ping(NEXT, 500);
  assert.equal(peer.has('127.0.0.9:7000'), false, 'not told by a rumour');
  await keeper.ping(NEXT, 500);
  assert.equal(pings[3]!.members?.length, MEMBERS.length + 1, 'checksums differed: the whole membership');
  assert.equal(peer.has('127.0.0.9:7000'), true);
  assert.equal(peer.membership.checksum(), view.membership.checksum());
});

test("a merge of others' changes is printed but not announced; a refutation is this server's own, and is", () => {
  const { view, peers, keeper, forwarded, changes } = harness();
  const other = new RingView(NEXT, MEMBERS, () => NOW);
  other.merge(view.membership.all());
  other.insertAfter(NEXT, '127.0.0.8:7000');
  peers.vouch(['127.0.0.8:7000']); // one of ours (else the ring would hold an original, and every change is announced)
  keeper.absorb(other.membership.all());
  assert.equal(view.has('127.0.0.8:7000'), true);
  assert.equal(changes(), 1, 'printed');
  assert.equal(forwarded.length, 0, 'no UPDATE round started by a server that only learnt of the change');
  const accused = { ...view.membership.get(SELF)!, status: 'suspect' as const };
  keeper.absorb([accused]);
  assert.equal(view.membership.get(SELF)?.incarnation, 1, 'refuted');
  assert.equal(forwarded.length, 1, 'the refutation is announced');
  assert.equal(forwarded[0]!.type, 'UPDATE');
});

test('greeting a seed of another ring announces what it brought; a greeting that brings nothing announces nothing', async () => {
  const { view, peer, peers, keeper, pings, forwarded } = harness();
  await keeper.ping(NEXT, 500); // the two views in step first
  await keeper.ping(NEXT, 500);
  await keeper.greet(NEXT, 500);
  assert.equal(pings[2]!.members?.length, MEMBERS.length, 'a greeting carries the whole membership, even to a member in step');
  assert.equal(forwarded.length, 0, 'the same view on both sides: nothing to announce');
  peer.insertAfter(NEXT, '127.0.0.7:7000');
  peers.vouch(['127.0.0.7:7000']);
  await keeper.greet(NEXT, 500);
  assert.equal(view.has('127.0.0.7:7000'), true);
  assert.equal(forwarded.length, 1, 'news from another ring is announced here, where it came in');
});

test('with an original server in the ring, a change learnt from others is announced too: originals learn only from UPDATE', () => {
  const { view, keeper, forwarded } = harness([MEMBERS[5]!]);
  const other = new RingView(NEXT, MEMBERS, () => NOW);
  other.merge(view.membership.all());
  other.insertAfter(NEXT, '127.0.0.8:7000');
  keeper.absorb(other.membership.all());
  assert.equal(forwarded.length, 1);
});

test('a PING from outside the ring (a seed greeting from another ring) is announced where it came in; one from a member is not', () => {
  const { view, peers, keeper, forwarded } = harness();
  const stranger = new RingView('127.0.0.6:7000', ['127.0.0.6:7000', '127.0.0.5:7000'], () => NOW);
  peers.vouch(['127.0.0.6:7000', '127.0.0.5:7000']); // ours: announced as news, not because of an original
  keeper.answer({ type: 'PING', from: NEXT, members: [] });
  assert.equal(forwarded.length, 0);
  const ack = keeper.answer({ type: 'PING', from: '127.0.0.6:7000', members: stranger.membership.all() });
  assert.equal(view.has('127.0.0.5:7000'), true);
  assert.equal(forwarded.length, 1, 'the other ring announced here');
  assert.equal(ack.members?.length, view.membership.all().length, 'and answered with the whole membership');
});

test('a suspicion from a round this server could not deliver is its own: announced now', () => {
  const { view, keeper, forwarded } = harness();
  keeper.suspect(MEMBERS[3]!, true);
  assert.equal(view.membership.get(MEMBERS[3]!)?.status, 'suspect');
  assert.equal(forwarded.length, 1);
  keeper.suspect(MEMBERS[3]!, true);
  assert.equal(forwarded.length, 1, 'not news the second time');
});
