/** Forwarder: a round's way to the next live successor, failing over, without sockets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoopError } from '../../src/errors.js';
import { silentLog } from '../../src/log/logger.js';
import type { ForwardGetMessage, ForwardPutMessage } from '../../src/protocol/messages.js';
import { RingView } from '../../src/ring/ring.js';
import type { Reach } from '../../src/ring/failure-detector.js';
import type { RoundMessage } from '../../src/handlers/handlers.js';
import { Forwarder, homeward } from '../../src/node/forwarder.js';
import { NodeMetrics } from '../../src/node/metrics.js';
import { inlineText, type Payload } from '../../src/transport/attached.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';
const C = '127.0.0.1:4045';
const D = '127.0.0.1:4046';

interface Fake {
  forwarder: Forwarder;
  view: RingView;
  /** Where each payload went, in order. */
  sent: { to: string; payload: string }[];
  /** The payloads as handed to the transport (a part's with its bytes attached). */
  payloads: Payload[];
  /** How sends to a member fail; absent: they succeed. */
  failing: Map<string, Error>;
  othersReach: Reach;
  /** The keeper's suspicions from this forwarder: whom, and whether a member asked confirmed it. */
  suspected: Array<{ address: string; confirmed: boolean }>;
  announced: number;
  ringChanges: number;
  completed: RoundMessage[];
}

function fake(members = [A, B, C, D]): Fake {
  const view = new RingView(A, members);
  const f: Omit<Fake, 'forwarder'> = {
    view,
    sent: [],
    payloads: [],
    failing: new Map(),
    othersReach: 'yes',
    suspected: [],
    announced: 0,
    ringChanges: 0,
    completed: [],
  };
  const forwarder = new Forwarder({
    view,
    transport: {
      send: async (to, payload) => {
        const failure = f.failing.get(to);
        if (failure) throw failure;
        f.sent.push({ to, payload: inlineText(payload) });
        f.payloads.push(payload);
      },
    },
    log: silentLog,
    metrics: new NodeMetrics({
      ringSize: () => 0,
      items: () => 0,
      bytesStored: () => 0,
      sync: () => ({ passes: 0, pulled: 0, deleted: 0 }),
    }),
    peers: new Set(members),
    rounds: { size: 0, now: () => 0, noteHop: () => undefined, stallAll: () => 0 },
    keeper: {
      othersReach: async () => f.othersReach,
      ping: async () => undefined,
      announce: () => void f.announced++,
      // As the keeper's: a suspicion that is news is printed and announced.
      suspect: (address, confirmed) => {
        f.suspected.push({ address, confirmed });
        if (!view.suspect(address)) return;
        f.ringChanges++;
        f.announced++;
      },
    },
    events: { listenerCount: () => 0, emit: () => false },
    running: () => true,
    leaving: () => false,
    ringChanged: () => void f.ringChanges++,
    complete: (message) => void f.completed.push(message),
    localError: () => undefined,
    timing: { heartbeatMs: 1000, connectTimeoutMs: 100, probeTimeoutMs: 100 },
  });
  return Object.assign(f, { forwarder });
}

const lookup = (creator: string): ForwardGetMessage => ({ type: 'FORWARD_GET', creator, data: { item: 'a.txt', content: '' }, id: 'r-1' });

test('a round goes to the successor, once', async () => {
  const f = fake();
  await f.forwarder.forward(lookup(A));
  assert.deepEqual(
    f.sent.map((s) => s.to),
    [B],
  );
  assert.equal(JSON.parse(f.sent[0]?.payload ?? '').type, 'FORWARD_GET');
  assert.equal(f.announced, 0);
});

test('a round passed on unchanged goes as the text it came as', async () => {
  const f = fake();
  await f.forwarder.forward(lookup(C), 'the text as received');
  assert.deepEqual(f.sent, [{ to: B, payload: 'the text as received' }]);
});

test('a part goes with its bytes attached beside its text (the text it came as, when given), inline as base64 otherwise; home without them', async () => {
  const bytes = [Buffer.from('raw '), Buffer.from('bytes')];
  const part: ForwardPutMessage = {
    type: 'FORWARD_PUT',
    creator: C,
    data: { item: 'big.bin', content: '', encoding: 'base64', part: { upload: 'u', offset: 9, size: 99 }, bytes },
    id: 'r-2',
  };
  const f = fake();
  await f.forwarder.forward(part);
  const sent = f.payloads[0];
  assert.ok(typeof sent === 'object', 'attached');
  assert.deepEqual(sent.bytes, bytes);
  assert.equal(JSON.parse(sent.text).data.content, '');
  assert.equal(JSON.parse(sent.inline()).data.content, Buffer.from('raw bytes').toString('base64'));
  await f.forwarder.forward(part, 'the text as received');
  assert.equal((f.payloads[1] as { text: string }).text, 'the text as received');
  // From the server before the creator, it goes home as a short notice.
  const last = fake([A, C]);
  await last.forwarder.forward(part);
  assert.equal(typeof last.payloads[0], 'string');
  assert.equal(JSON.parse(last.sent[0]!.payload).data.content, '');
});

test('a successor that refuses the connection is cut out, the next one gets the round, and the new ring is announced', async () => {
  const f = fake();
  f.failing.set(B, new CoopError('CONNECT_FAILED', 'refused'));
  await f.forwarder.forward(lookup(A));
  assert.deepEqual(
    f.sent.map((s) => s.to),
    [C],
  );
  assert.equal(f.view.has(B), false);
  assert.equal(f.ringChanges, 1);
  assert.equal(f.announced, 1);
});

test('a silent successor that others reach is kept and passed by, until it answers a PING from here', async () => {
  const f = fake();
  f.failing.set(B, new Error('not acknowledged'));
  await f.forwarder.forward(lookup(A));
  assert.deepEqual(
    f.sent.map((s) => s.to),
    [C],
  );
  assert.equal(f.view.has(B), true);
  assert.equal(f.announced, 0);

  f.failing.delete(B);
  await f.forwarder.forward(lookup(A));
  assert.deepEqual(
    f.sent.map((s) => s.to),
    [C, C],
    'passed by without trying it again',
  );

  f.forwarder.reachableAgain(B);
  await f.forwarder.forward(lookup(A));
  assert.deepEqual(
    f.sent.map((s) => s.to),
    [C, C, B],
  );
});

const silentOnes: ReadonlyArray<{ reach: Reach; suspected: boolean; confirmed?: boolean }> = [
  { reach: 'no', suspected: true, confirmed: true },
  { reach: 'unheard', suspected: true, confirmed: false },
  { reach: 'unknown', suspected: false },
];
for (const { reach, suspected, confirmed } of silentOnes) {
  test(`a silent successor, the members asked about it telling '${reach}': passed by, ${suspected ? `suspected (${confirmed ? 'confirmed' : 'unconfirmed'})` : 'not suspected'}`, async () => {
    const f = fake();
    f.othersReach = reach;
    f.failing.set(B, new Error('not acknowledged'));
    await f.forwarder.forward(lookup(A));
    assert.deepEqual(
      f.sent.map((s) => s.to),
      [C],
    );
    assert.deepEqual(f.suspected, suspected ? [{ address: B, confirmed }] : []);
    assert.equal(f.view.membership.get(B)?.status, suspected ? 'suspect' : 'alive');
    assert.equal(f.view.has(B), true, 'kept in the ring: the failure detector decides');
  });
}

test('a round of ours completes here when every other server is gone', async () => {
  const f = fake([A, B]);
  f.failing.set(B, new CoopError('CONNECT_FAILED', 'refused'));
  const round = lookup(A);
  await f.forwarder.forward(round);
  assert.deepEqual(f.sent, []);
  assert.deepEqual(f.completed, [round]);
});

test('a round that is not ours, with every other server gone, ends here without completing', async () => {
  const f = fake([A, B]);
  f.failing.set(B, new CoopError('CONNECT_FAILED', 'refused'));
  await f.forwarder.forward(lookup(C));
  assert.deepEqual(f.completed, []);
});

test('a whole PUT goes home without its content, with what it found on the way', () => {
  const put: ForwardPutMessage = {
    type: 'FORWARD_PUT',
    creator: A,
    data: { item: 'a.txt', content: 'a kilobyte' },
    id: 'r-2',
    nospace: [C],
  };
  assert.deepEqual(homeward(put), { type: 'FORWARD_PUT', creator: A, data: { item: 'a.txt', content: '' }, id: 'r-2', nospace: [C] });
});

test("the first lap of an upload's last part goes home marked as that lap, without its bytes", () => {
  const data = {
    item: 'a.bin',
    content: '',
    bytes: [Buffer.from('ab')],
    encoding: 'base64' as const,
    part: { upload: 'u', offset: 8, size: 10 },
  };
  const back = homeward({ type: 'FORWARD_PUT', creator: A, data, id: 'r-3', lap: 'early' });
  assert.deepEqual(back, { type: 'FORWARD_PUT', creator: A, data: { item: 'a.bin', content: '' }, id: 'r-3', lap: 'early' });
});

test('lookups and rounds without an id travel home whole', () => {
  assert.equal(homeward(lookup(A)), undefined);
  assert.equal(homeward({ type: 'FORWARD_PUT', creator: A, data: { item: 'a.txt', content: 'x' } }), undefined);
});

test('a PUT home from this server to its creator goes without content', async () => {
  const f = fake([A, B]);
  const put: ForwardPutMessage = { type: 'FORWARD_PUT', creator: B, data: { item: 'a.txt', content: 'the content' }, id: 'r-3' };
  await f.forwarder.forward(put);
  assert.equal(f.sent.length, 1);
  assert.equal(JSON.parse(f.sent[0]?.payload ?? '').data.content, '');
});
