/** FailureDetector: one heartbeat at a time (tick()), with fake probes and a fake clock. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CoopError } from '../../src/errors.js';
import type { Log } from '../../src/log/logger.js';
import type { Member } from '../../src/ring/membership.js';
import { RingView } from '../../src/ring/ring.js';
import { FailureDetector, LONE_SUSPICION, suspicionTimeout, type ProbeOptions } from '../../src/ring/failure-detector.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';
const C = '127.0.0.1:4045';
const D = '127.0.0.1:4046';
const E = '127.0.0.1:4047';
const F = '127.0.0.1:4048';

const OPTIONS: ProbeOptions = { heartbeatMs: 1000, probeTimeoutMs: 300, suspicionTimeoutMs: 5000, indirectProbes: 3, reprobeEvery: 1000 };

const refused = (): Promise<never> => Promise.reject(new CoopError('CONNECT_FAILED', 'connect ECONNREFUSED'));
const timedOut = (): Promise<never> => Promise.reject(new CoopError('TIMEOUT', 'no answer in 300 ms'));
/** As the transport reports a connect that failed because this process is out of descriptors. */
const outOfDescriptors = (): Promise<never> =>
  Promise.reject(
    new CoopError('CONNECT_FAILED', 'cannot connect to 127.0.0.1:4044: EMFILE', {
      cause: Object.assign(new Error('connect EMFILE 127.0.0.1:4044 - Local (undefined:undefined)'), { code: 'EMFILE' }),
    }),
  );

interface Fakes {
  members?: string[];
  /** Addresses that are original servers (no PING, only CHECK). */
  originals?: string[];
  ping?: (address: string) => Promise<Member[]>;
  pingVia?: (helper: string, target: string) => Promise<boolean>;
  check?: (address: string) => Promise<void>;
  /** Default: record only; `merge` merges what came back into the view, as the node does. */
  absorb?: 'record' | 'merge';
  options?: Partial<ProbeOptions>;
}

/** A detector on A's view with fake deps that record every call. */
function harness(fakes: Fakes = {}) {
  const clock = { now: 10_000 };
  const now = (): number => clock.now;
  const view = new RingView(A, fakes.members ?? [A, B, C, D], now);
  const calls = {
    ping: [] as Array<{ address: string; timeoutMs: number; whole?: boolean }>,
    pingVia: [] as Array<{ helper: string; target: string; timeoutMs: number }>,
    check: [] as string[],
    absorbed: [] as Member[][],
    changed: 0,
    /** Changes announced (this server's own). */
    announced: 0,
    warnings: [] as string[],
    localErrors: [] as Array<{ code: string; what: string }>,
  };
  const log: Log = {
    info: () => undefined,
    warn: (message) => void calls.warnings.push(message),
    error: (message) => assert.fail(`unexpected error log: ${message}`),
    send: () => undefined,
    recv: () => undefined,
    child: () => log,
  };
  const originals = new Set(fakes.originals ?? []);
  const detector = new FailureDetector(
    {
      view,
      log,
      now,
      speaksExtensions: (address) => !originals.has(address),
      check: (address) => {
        calls.check.push(address);
        return fakes.check ? fakes.check(address) : Promise.resolve();
      },
      // As the keeper's: the answer is merged before the probe resolves.
      ping: async (address, timeoutMs, whole) => {
        calls.ping.push({ address, timeoutMs, ...(whole ? { whole } : {}) });
        const members = await (fakes.ping ? fakes.ping(address) : Promise.resolve(view.membership.all()));
        calls.absorbed.push(members);
        if (fakes.absorb === 'merge') view.merge(members);
      },
      pingVia: (helper, target, timeoutMs) => {
        calls.pingVia.push({ helper, target, timeoutMs });
        return fakes.pingVia ? fakes.pingVia(helper, target) : Promise.resolve(false);
      },
      changed: (announce) => {
        calls.changed++;
        if (announce) calls.announced++;
      },
      localError: (code, what) => void calls.localErrors.push({ code, what }),
    },
    { ...OPTIONS, ...fakes.options },
  );
  return { clock, view, calls, detector };
}

function status(view: RingView, address: string): string | undefined {
  return view.membership.get(address)?.status;
}

describe('FailureDetector.tick: the successor answers', () => {
  test('a successor that answers PING has its members absorbed and is not suspected', async () => {
    const answer: Member[] = [
      { address: B, incarnation: 0, status: 'alive', after: A, placed: 1 },
      { address: E, incarnation: 0, status: 'alive', after: B, placed: 2 },
    ];
    const { view, calls, detector } = harness({ ping: () => Promise.resolve(answer) });
    await detector.tick();
    assert.deepEqual(calls.ping, [{ address: B, timeoutMs: OPTIONS.probeTimeoutMs }]);
    assert.deepEqual(calls.absorbed, [answer]);
    assert.equal(calls.pingVia.length, 0);
    assert.equal(calls.check.length, 0);
    assert.equal(calls.changed, 0);
    assert.equal(status(view, B), 'alive');
    assert.deepEqual(view.members, [A, B, C, D]);
  });

  test('only the successor is probed', async () => {
    const { calls, detector } = harness({ members: [A, B, C, D] });
    await detector.tick();
    await detector.tick();
    assert.deepEqual(
      calls.ping.map((p) => p.address),
      [B, B],
    );
  });

  test('alone: no probe at all', async () => {
    const { calls, detector } = harness({ members: [A] });
    for (let i = 0; i < 3; i++) await detector.tick();
    assert.equal(calls.ping.length, 0);
    assert.equal(calls.pingVia.length, 0);
    assert.equal(calls.check.length, 0);
    assert.equal(calls.absorbed.length, 0);
    assert.equal(calls.changed, 0);
  });
});

describe('FailureDetector.tick: the successor does not answer', () => {
  test('a refused connection (CONNECT_FAILED) makes it dead at once, without indirect probes', async () => {
    const { view, calls, detector } = harness({ ping: refused });
    await detector.tick();
    assert.equal(status(view, B), 'dead');
    assert.equal(view.has(B), false);
    assert.deepEqual(view.members, [A, C, D]);
    assert.equal(calls.changed, 1);
    assert.equal(calls.pingVia.length, 0);
    assert.equal(calls.absorbed.length, 0);
    assert.equal(view.successor(), C);
  });

  test('a timeout with no indirect probe reaching it: suspected, then dead once the suspicion times out', async () => {
    const { clock, view, calls, detector } = harness({ ping: timedOut, pingVia: () => Promise.resolve(false) });
    await detector.tick();
    assert.equal(status(view, B), 'suspect');
    assert.equal(view.has(B), true);
    assert.equal(calls.changed, 1);
    assert.deepEqual(
      calls.pingVia.map((p) => p.target),
      [B, B],
    );
    assert.deepEqual(new Set(calls.pingVia.map((p) => p.helper)), new Set([C, D]));
    for (const p of calls.pingVia) assert.equal(p.timeoutMs, OPTIONS.probeTimeoutMs * 2);

    // Not yet: the suspicion is one millisecond short of the timeout.
    clock.now += OPTIONS.suspicionTimeoutMs - 1;
    await detector.tick();
    assert.equal(status(view, B), 'suspect');
    assert.equal(calls.changed, 1, 'a second suspicion of the same member is not news');

    clock.now += 1;
    await detector.tick();
    assert.equal(status(view, B), 'dead');
    assert.equal(view.has(B), false);
    assert.equal(calls.changed, 2);
    assert.equal(calls.announced, 2, "the suspicion and the death are this server's own: both announced");
  });

  test("a suspicion learnt from others that this server's own probe confirms is its own: its death is announced here", async () => {
    const { clock, view, calls, detector } = harness({ ping: timedOut, pingVia: () => Promise.resolve(false) });
    view.merge([{ ...view.membership.get(B)!, status: 'suspect' }]);
    await detector.tick();
    assert.equal(calls.announced, 0, 'not news: nothing to announce yet');
    clock.now += OPTIONS.suspicionTimeoutMs;
    await detector.tick();
    assert.equal(status(view, B), 'dead');
    assert.equal(calls.announced, 1);
  });

  test('a suspicion learnt from others times out here quietly: its death is announced by the server that suspected it', async () => {
    const { clock, view, calls, detector } = harness();
    const theirs = view.membership.get(C)!;
    view.merge([{ ...theirs, status: 'suspect' }]);
    clock.now += OPTIONS.suspicionTimeoutMs;
    await detector.tick();
    assert.equal(status(view, C), 'dead');
    assert.equal(calls.changed, 1, 'printed here');
    assert.equal(calls.announced, 0, 'not announced by a server that only heard of it');
  });

  const indirect: ReadonlyArray<{ answers: Record<string, 'yes' | 'no' | 'fails'>; suspected: boolean }> = [
    { answers: { [C]: 'no', [D]: 'no' }, suspected: true },
    { answers: { [C]: 'yes', [D]: 'no' }, suspected: false },
    { answers: { [C]: 'no', [D]: 'yes' }, suspected: false },
    { answers: { [C]: 'yes', [D]: 'yes' }, suspected: false },
    { answers: { [C]: 'fails', [D]: 'no' }, suspected: true },
    { answers: { [C]: 'fails', [D]: 'yes' }, suspected: false },
    { answers: { [C]: 'fails', [D]: 'fails' }, suspected: true },
  ];
  for (const { answers, suspected } of indirect) {
    const name = Object.entries(answers)
      .map(([helper, answer]) => `${helper} ${answer}`)
      .join(', ');
    test(`a timeout, indirect probes ${name}: ${suspected ? 'suspected' : 'not suspected'}`, async () => {
      const { view, calls, detector } = harness({
        ping: timedOut,
        pingVia: (helper) => {
          const answer = answers[helper];
          return answer === 'fails' ? timedOut() : Promise.resolve(answer === 'yes');
        },
      });
      await detector.tick();
      assert.equal(calls.pingVia.length, 2);
      assert.equal(status(view, B), suspected ? 'suspect' : 'alive');
      assert.equal(calls.changed, suspected ? 1 : 0);
      assert.equal(view.has(B), true);
    });
  }

  test('no helper answers at all: suspected, but the suspicion lasts LONE_SUSPICION times longer here, and probes wait longer', async () => {
    const { clock, view, calls, detector } = harness({ ping: timedOut, pingVia: timedOut });
    await detector.tick();
    assert.equal(status(view, B), 'suspect');
    assert.equal(calls.announced, 1, 'announced, so that it can refute');
    assert.match(calls.warnings.join('\n'), /none of the members asked about it answered/);
    clock.now += OPTIONS.suspicionTimeoutMs * LONE_SUSPICION - 1;
    for (let i = 0; i < 4; i++) await detector.tick();
    assert.equal(status(view, B), 'suspect', 'not yet dead');
    assert.deepEqual(
      calls.ping.map((p) => p.timeoutMs),
      [300, 900, 1000, 1000, 1000],
      'one probe timeout longer for each time nobody answered, and for the new suspicion; never past a heartbeat',
    );
    clock.now += 1;
    await detector.tick();
    assert.equal(status(view, B), 'dead', 'a member gone with everybody else is still declared dead');
    assert.equal(calls.announced, 2);
  });

  test('an unconfirmed suspicion that a member asked later confirms lasts the suspicion timeout', async () => {
    let helpers: 'silent' | 'no' = 'silent';
    const { clock, view, detector } = harness({
      ping: timedOut,
      pingVia: () => (helpers === 'silent' ? timedOut() : Promise.resolve(false)),
    });
    await detector.tick();
    assert.equal(status(view, B), 'suspect');
    helpers = 'no';
    await detector.tick();
    clock.now += OPTIONS.suspicionTimeoutMs;
    await detector.tick();
    assert.equal(status(view, B), 'dead');
  });

  test('a ring of two, nobody to ask: a silent successor is suspected', async () => {
    const { view, calls, detector } = harness({ members: [A, B], ping: timedOut });
    await detector.tick();
    assert.equal(calls.pingVia.length, 0);
    assert.equal(status(view, B), 'suspect');
  });

  test('asks at most `indirectProbes` helpers, never itself, the target or an original server', async () => {
    const { calls, detector } = harness({
      members: [A, B, C, D, E, F],
      originals: [D],
      ping: timedOut,
      options: { indirectProbes: 2 },
    });
    for (let i = 0; i < 5; i++) {
      calls.pingVia.length = 0;
      await detector.tick();
      assert.equal(calls.pingVia.length, 2);
      const helpers = calls.pingVia.map((p) => p.helper);
      assert.equal(new Set(helpers).size, 2, 'two different helpers');
      for (const helper of helpers) assert.ok([C, E, F].includes(helper), `${helper} may help`);
    }
  });

  test('asks three helpers by default', async () => {
    const { calls, detector } = harness({ members: [A, B, C, D, E, F], ping: timedOut, options: { indirectProbes: undefined } });
    await detector.tick();
    assert.equal(calls.pingVia.length, 3);
    assert.equal(new Set(calls.pingVia.map((p) => p.helper)).size, 3);
  });

  test('a suspected successor that answers with its refutation is alive again and never expires', async () => {
    let answering = false;
    const h = harness({
      absorb: 'merge',
      ping: () => {
        if (!answering) return timedOut();
        const own = h.view.membership.get(B)!;
        return Promise.resolve([{ ...own, status: 'alive' as const, incarnation: own.incarnation + 1 }]);
      },
    });
    await h.detector.tick();
    assert.equal(status(h.view, B), 'suspect');
    answering = true;
    await h.detector.tick();
    assert.equal(status(h.view, B), 'alive');
    assert.equal(h.view.membership.get(B)?.incarnation, 1);
    h.clock.now += OPTIONS.suspicionTimeoutMs * 10;
    await h.detector.tick();
    assert.equal(status(h.view, B), 'alive');
    assert.equal(h.view.has(B), true);
  });
});

describe('FailureDetector.tick: failures of this server, not the peer (out of descriptors)', () => {
  test('a PING that cannot connect for want of descriptors neither kills nor suspects, and asks no helper', async () => {
    const { view, calls, detector } = harness({ ping: outOfDescriptors });
    for (let i = 0; i < 3; i++) await detector.tick();
    assert.equal(status(view, B), 'alive');
    assert.deepEqual(view.members, [A, B, C, D]);
    assert.equal(calls.changed, 0);
    assert.equal(calls.pingVia.length, 0);
    assert.deepEqual(
      calls.localErrors,
      [0, 1, 2].map(() => ({ code: 'EMFILE', what: `PING to ${B}` })),
    );
  });

  test('helpers that cannot be asked for want of descriptors: no suspicion after a PING timeout', async () => {
    const { view, calls, detector } = harness({ ping: timedOut, pingVia: outOfDescriptors });
    await detector.tick();
    assert.equal(status(view, B), 'alive');
    assert.equal(calls.changed, 0);
    assert.equal(calls.pingVia.length, 2);
    assert.deepEqual(
      calls.localErrors.map((e) => e.code),
      ['EMFILE', 'EMFILE'],
    );
  });

  test('one helper asked and answering no, another not asked for want of descriptors: no suspicion', async () => {
    const { view, calls, detector } = harness({
      ping: timedOut,
      pingVia: (helper) => (helper === C ? Promise.resolve(false) : outOfDescriptors()),
    });
    await detector.tick();
    assert.equal(status(view, B), 'alive');
    assert.equal(calls.changed, 0);
  });

  test('an original successor whose CHECK fails for want of descriptors stays', async () => {
    const { view, calls, detector } = harness({ originals: [B], check: outOfDescriptors });
    await detector.tick();
    assert.equal(status(view, B), 'alive');
    assert.deepEqual(view.members, [A, B, C, D]);
    assert.equal(calls.changed, 0);
    assert.deepEqual(calls.localErrors, [{ code: 'EMFILE', what: `CHECK to ${B}` }]);
  });
});

describe('FailureDetector.tick: original servers', () => {
  test('an original successor gets CHECK, not PING, and stays when it connects', async () => {
    const { view, calls, detector } = harness({ originals: [B] });
    await detector.tick();
    assert.deepEqual(calls.check, [B]);
    assert.equal(calls.ping.length, 0);
    assert.equal(calls.changed, 0);
    assert.equal(status(view, B), 'alive');
  });

  const failures: ReadonlyArray<{ name: string; fail: () => Promise<never> }> = [
    { name: 'refused', fail: refused },
    { name: 'timed out', fail: timedOut },
  ];
  for (const { name, fail } of failures) {
    test(`an original successor whose CHECK is ${name} is dead at once`, async () => {
      const { view, calls, detector } = harness({ originals: [B], check: fail });
      await detector.tick();
      assert.deepEqual(calls.check, [B]);
      assert.equal(calls.ping.length, 0);
      assert.equal(calls.pingVia.length, 0);
      assert.equal(status(view, B), 'dead');
      assert.deepEqual(view.members, [A, C, D]);
      assert.equal(calls.changed, 1);
    });
  }
});

describe('FailureDetector.tick: re-probing the dead', () => {
  test('every `reprobeEvery` ticks a dead member that speaks extensions is pinged and its answer absorbed', async () => {
    const answer: Member[] = [{ address: D, incarnation: 1, status: 'alive', after: C, placed: 99 }];
    const { view, calls, detector } = harness({
      options: { reprobeEvery: 3 },
      ping: (address) => Promise.resolve(address === D ? answer : []),
    });
    assert.equal(view.remove(D), true);
    const pinged: string[][] = [];
    for (let i = 1; i <= 6; i++) {
      calls.ping.length = 0;
      await detector.tick();
      pinged.push(calls.ping.map((p) => p.address));
    }
    assert.deepEqual(pinged, [[B], [B], [B, D], [B], [B], [B, D]]);
    assert.deepEqual(
      calls.ping.filter((p) => p.address === D).map((p) => p.whole),
      [true],
      'a dead member gets the whole membership, so that it learns it is held dead and refutes',
    );
    assert.deepEqual(
      calls.absorbed.filter((members) => members === answer),
      [answer, answer],
    );
    assert.equal(calls.changed, 0);
  });

  test('by default the dead are re-probed every fifth tick', async () => {
    const { view, calls, detector } = harness({ options: { reprobeEvery: undefined }, ping: () => Promise.resolve([]) });
    view.remove(D);
    const reprobed: number[] = [];
    for (let i = 1; i <= 10; i++) {
      calls.ping.length = 0;
      await detector.tick();
      if (calls.ping.some((p) => p.address === D)) reprobed.push(i);
    }
    assert.deepEqual(reprobed, [5, 10]);
  });

  test('a re-probed dead member that answers merges back into the ring', async () => {
    const h = harness({
      absorb: 'merge',
      options: { reprobeEvery: 2 },
      ping: (address) => {
        if (address !== D) return Promise.resolve([]);
        const own = h.view.membership.get(D)!;
        return Promise.resolve([{ ...own, status: 'alive' as const, incarnation: own.incarnation + 1 }]);
      },
    });
    h.view.remove(D);
    await h.detector.tick();
    assert.equal(h.view.has(D), false);
    await h.detector.tick();
    assert.equal(h.view.has(D), true);
    assert.deepEqual(h.view.members, [A, B, C, D]);
  });

  test('a dead original server is not re-probed; a re-probe that fails changes nothing', async () => {
    const { view, calls, detector } = harness({
      originals: [C],
      options: { reprobeEvery: 1 },
      ping: (address) => (address === D ? timedOut() : Promise.resolve([])),
    });
    view.remove(C);
    await detector.tick();
    assert.deepEqual(
      calls.ping.map((p) => p.address),
      [B],
    );
    view.remove(D);
    await detector.tick();
    assert.deepEqual(
      calls.ping.map((p) => p.address),
      [B, B, D],
    );
    assert.equal(status(view, D), 'dead');
    assert.equal(calls.changed, 0);
  });
});

describe('FailureDetector: local health', () => {
  test('a new suspicion makes the next probes wait longer (never past a heartbeat); direct answers bring it back', async () => {
    let answering = false;
    const { view, calls, detector } = harness({
      ping: () => (answering ? Promise.resolve([]) : timedOut()),
      pingVia: () => Promise.resolve(false),
      options: { heartbeatMs: 1000, probeTimeoutMs: 300 },
    });
    await detector.tick(); // B suspected: this server's own probes may be what fails
    assert.equal(status(view, B), 'suspect');
    assert.equal(calls.ping.at(-1)!.timeoutMs, 300);
    await detector.tick();
    assert.equal(calls.ping.at(-1)!.timeoutMs, 600);
    assert.equal(calls.pingVia.at(-1)!.timeoutMs, 1200);
    await detector.tick(); // a suspect that stays silent does not count again
    assert.equal(calls.ping.at(-1)!.timeoutMs, 600);

    view.merge([{ ...view.membership.get(B)!, status: 'alive', incarnation: 1 }]); // B refuted
    await detector.tick(); // suspected anew: slower again, but a probe never waits past a heartbeat
    await detector.tick();
    assert.equal(calls.ping.at(-1)!.timeoutMs, 900);
    view.merge([{ ...view.membership.get(B)!, status: 'alive', incarnation: 2 }]);
    await detector.tick();
    view.merge([{ ...view.membership.get(B)!, status: 'alive', incarnation: 3 }]);
    await detector.tick();
    await detector.tick();
    assert.equal(calls.ping.at(-1)!.timeoutMs, 1000, 'capped at the heartbeat');

    answering = true;
    for (let i = 0; i < 10; i++) await detector.tick();
    assert.equal(calls.ping.at(-1)!.timeoutMs, 300, 'each direct answer takes one step back');
  });
});

describe('suspicionTimeout: longer in a larger ring (Lifeguard)', () => {
  test('the configured time up to 10 members, then times log10 of the size', () => {
    assert.equal(suspicionTimeout(3000, 2), 3000);
    assert.equal(suspicionTimeout(3000, 10), 3000);
    assert.equal(suspicionTimeout(3000, 100), 6000);
    assert.ok(Math.abs(suspicionTimeout(3000, 256) - 3000 * Math.log10(256)) < 1e-9);
  });

  test('a suspect in a ring of 100 is not declared dead at the configured time, only at twice it', async () => {
    const members = [A, B, ...Array.from({ length: 98 }, (_, i) => `127.0.1.${i + 1}:4000`)];
    const { clock, view, detector } = harness({ members, ping: timedOut, pingVia: () => Promise.resolve(false) });
    await detector.tick();
    assert.equal(status(view, B), 'suspect');
    clock.now += OPTIONS.suspicionTimeoutMs;
    await detector.tick();
    assert.equal(status(view, B), 'suspect');
    clock.now += OPTIONS.suspicionTimeoutMs;
    await detector.tick();
    assert.equal(status(view, B), 'dead');
  });
});
