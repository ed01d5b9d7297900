/** The status of the ring: the table webclient prints, the health decision, the checks of what peers report, gathering. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatAgo, formatStatus } from '../../src/cli/status-table.js';
import { CatchUp, decideHealth, storeErrorOf } from '../../src/node/health.js';
import { healthAnswer } from '../../src/http/status-routes.js';
import { FiguresGatherer } from '../../src/node/gather.js';
import { decodeFigures, decodeRingStatus, type RingStatus, type SelfFigures } from '../../src/protocol/status.js';
import { isCoopError } from '../../src/errors.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';
const C = '127.0.0.1:4045';
const D = '127.0.0.1:4046';

function status(overrides: Partial<RingStatus> = {}): RingStatus {
  return {
    self: A,
    version: '1.2.3',
    uptimeSeconds: 12,
    incarnation: 0,
    ring: [A, C, B],
    members: [
      { address: A, status: 'alive', incarnation: 0, version: '1.2.3', items: 5, bytes: 10, digest: 'aa', inSync: true },
      { address: B, status: 'suspect', incarnation: 2, lastHeardMsAgo: 7_500 },
      {
        address: C,
        status: 'alive',
        incarnation: 1,
        lastHeardMsAgo: 300,
        version: '1.2.2',
        items: 4,
        bytes: 8,
        digest: 'bb',
        inSync: false,
      },
      { address: D, status: 'dead', incarnation: 0, lastHeardMsAgo: 3_600_000 },
    ],
    items: 5,
    bytes: 10,
    digest: 'aa',
    health: { ok: true },
    ...overrides,
  };
}

describe('formatStatus', () => {
  test('one line per member in ring order, those out of the ring after, with every column', () => {
    const lines = formatStatus(status()).trimEnd().split('\n');
    assert.equal(lines[0], `${A}: version 1.2.3, 3 in the ring, healthy`);
    assert.match(lines[1]!, /^ADDRESS\s+STATE\s+INCARNATION\s+VERSION\s+ITEMS\s+IN SYNC\s+LAST HEARD$/);
    const cells = lines.slice(2).map((line) => line.split(/\s{2,}/));
    assert.deepEqual(cells, [
      [`${A} (this)`, 'alive', '0', '1.2.3', '5', 'yes', '-'],
      [C, 'alive', '1', '1.2.2', '4', 'no', '0.3s ago'],
      [B, 'suspect', '2', '-', '-', '-', '7.5s ago'],
      [D, 'dead', '0', '-', '-', '-', '60m ago'],
    ]);
  });

  test('columns line up whatever the widths', () => {
    const lines = formatStatus(status()).trimEnd().split('\n').slice(1);
    const at = lines[0]!.indexOf('STATE');
    for (const line of lines) assert.match(line.slice(at), /^(STATE|alive|suspect|dead)/);
  });

  test('a server that is not ready says why in the first line', () => {
    const first = formatStatus(status({ health: { ok: false, reason: 'catching up' } })).split('\n')[0];
    assert.equal(first, `${A}: version 1.2.3, 3 in the ring, not ready: catching up`);
  });
});

describe('formatAgo', () => {
  const cases: ReadonlyArray<[number | undefined, string]> = [
    [undefined, '-'],
    [0, '0.0s ago'],
    [9_940, '9.9s ago'],
    [42_000, '42s ago'],
    [300_000, '5m ago'],
    [3 * 3_600_000, '3h ago'],
    [5 * 86_400_000, '5d ago'],
  ];
  for (const [ms, text] of cases) test(`${ms} ms is "${text}"`, () => assert.equal(formatAgo(ms), text));
});

describe('health', () => {
  test('ok only when joined, caught up and the store usable; the store first, then joining, then catching up', () => {
    assert.deepEqual(decideHealth({ joining: false, catchingUp: false }), { ok: true });
    assert.deepEqual(decideHealth({ joining: true, catchingUp: true }), { ok: false, reason: 'joining' });
    assert.deepEqual(decideHealth({ joining: false, catchingUp: true }), { ok: false, reason: 'catching up' });
    assert.deepEqual(decideHealth({ joining: true, catchingUp: false, storeError: 'EACCES' }), {
      ok: false,
      reason: 'store failed: EACCES',
    });
  });

  test('catching up is latched: once caught up, a server stays so whoever comes later', () => {
    const joined = { joinAsked: true, joining: false };
    // Joined with one of ours to compare with: catching up until a pass completes, then caught up for good.
    const afterPass = new CatchUp();
    assert.equal(afterPass.catchingUp({ joinAsked: true, joining: true, passes: 0, peers: 0 }), true, 'no latch while joining');
    assert.equal(afterPass.catchingUp({ ...joined, passes: 0, peers: 1 }), true);
    assert.equal(afterPass.catchingUp({ ...joined, passes: 1, peers: 1 }), false);
    assert.equal(afterPass.catchingUp({ ...joined, passes: 1, peers: 3 }), false);
    // Joined with nobody of ours to compare with (only original servers): caught up, and still when one of ours comes.
    const nobody = new CatchUp();
    assert.equal(nobody.catchingUp({ ...joined, passes: 0, peers: 0 }), false);
    assert.equal(nobody.catchingUp({ ...joined, passes: 0, peers: 1 }), false);
    // Not asked to join: nothing to catch up on.
    assert.equal(new CatchUp().catchingUp({ joinAsked: false, joining: false, passes: 0, peers: 2 }), false);
  });

  test('the HTTP answer is 200 ok or 503 with the reason', () => {
    assert.deepEqual(healthAnswer({ ok: true }), { statusCode: 200, body: { status: 'ok' } });
    assert.deepEqual(healthAnswer({ ok: false, reason: 'joining' }), {
      statusCode: 503,
      body: { status: 'unavailable', reason: 'joining' },
    });
  });

  test('a store failure is told by its code, never by its message (which names files)', () => {
    const err = Object.assign(new Error("ENOENT: no such file or directory, access '/srv/data/index'"), { code: 'ENOENT' });
    assert.equal(storeErrorOf(err), 'ENOENT');
    assert.equal(storeErrorOf(new Error('/srv/data is broken')), 'cannot be used');
  });
});

describe('decoding what servers report', () => {
  test("a peer's figures are checked field by field", () => {
    const figures = { address: B, version: '1.0.0', incarnation: 3, items: 2, bytes: 100, digest: 'ab12' };
    assert.deepEqual(decodeFigures(figures), figures);
    for (const bad of [
      undefined,
      [],
      { ...figures, address: 'nowhere' },
      { ...figures, items: -1 },
      { ...figures, version: 'x'.repeat(65) },
    ]) {
      assert.throws(
        () => decodeFigures(bad),
        (err) => isCoopError(err, 'BAD_FIELD'),
      );
    }
  });

  test('a whole status round-trips through JSON; a wrong member state is refused', () => {
    const whole = status();
    const json = JSON.stringify(whole);
    assert.equal(JSON.stringify(decodeRingStatus(JSON.parse(json))), json);
    const broken = { ...whole, members: [{ address: B, status: 'gone', incarnation: 0 }] };
    assert.throws(
      () => decodeRingStatus(broken),
      (err) => isCoopError(err, 'BAD_FIELD'),
    );
  });
});

describe('FiguresGatherer', () => {
  function figuresOf(address: string): SelfFigures {
    return { address, version: '1.0.0', incarnation: 0, items: 1, bytes: 1, digest: 'x' };
  }

  function setup(answer: (peer: string) => Promise<SelfFigures>) {
    let now = 1000;
    const asked: string[] = [];
    const heard: string[] = [];
    const gatherer = new FiguresGatherer(
      {
        peers: () => [B, C, D],
        fetch: (peer) => {
          asked.push(peer);
          return answer(peer);
        },
        heard: (peer) => heard.push(peer),
        now: () => now,
      },
      { intervalMs: 1000, timeoutMs: 1000 },
    );
    return { gatherer, asked, heard, advance: (ms: number) => (now += ms) };
  }

  test('keeps the figures of the members that answered as themselves, and tells who was heard', async () => {
    const { gatherer, heard } = setup(async (peer) => {
      if (peer === C) throw new Error('timed out');
      return peer === D ? figuresOf(A) : figuresOf(peer);
    });
    const figures = await gatherer.current();
    assert.deepEqual([...figures.keys()], [B]);
    assert.deepEqual(heard, [B]);
  });

  test('asks at most once per interval; requests meanwhile share the fan-out and its results', async () => {
    const { gatherer, asked, advance } = setup(async (peer) => figuresOf(peer));
    const [first, second] = await Promise.all([gatherer.current(), gatherer.current()]);
    assert.equal(first, second);
    assert.equal(asked.length, 3);
    advance(999);
    await gatherer.current();
    assert.equal(asked.length, 3, 'within the interval: no new fan-out');
    advance(1);
    await gatherer.current();
    assert.equal(asked.length, 6, 'after the interval: asked again');
  });

  test('a member that stops answering loses its figures at the next fan-out', async () => {
    let silent = false;
    const { gatherer, advance } = setup(async (peer) => {
      if (silent && peer === B) throw new Error('timed out');
      return figuresOf(peer);
    });
    assert.ok((await gatherer.current()).has(B));
    silent = true;
    advance(1000);
    assert.equal((await gatherer.current()).has(B), false);
  });
});
