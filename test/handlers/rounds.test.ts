/** PendingRounds (client requests waiting for their round, and resending it when lost) and SeenRounds (round ids already passed on). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  baseRoundId,
  confirmingId,
  isConfirmingId,
  PendingRounds,
  resendId,
  SeenRounds,
  type RoundTrail,
  type StallReason,
} from '../../src/handlers/rounds.js';

const NEVER = (): void => {
  assert.fail('onTimeout must not be called');
};

/** Deadlines on Date.now, which the tests' mock timers move with setTimeout. */
function pendingRounds<T>(): PendingRounds<T> {
  return new PendingRounds<T>(() => Date.now());
}

describe('PendingRounds', () => {
  test('take by id returns the value waiting under that id, once', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    pending.add('r1', 'PUT a', 'client-1', 1000, NEVER);
    pending.add('r2', 'PUT a', 'client-2', 1000, NEVER);
    pending.add('r3', 'GET b', 'client-3', 1000, NEVER);
    assert.equal(pending.size, 3);
    assert.equal(pending.take('r2', 'PUT a'), 'client-2');
    assert.equal(pending.size, 2);
    assert.equal(pending.take('r2', 'PUT a'), undefined);
    assert.equal(pending.take('r3', 'GET b'), 'client-3');
    assert.equal(pending.take('r1', 'PUT a'), 'client-1');
    assert.equal(pending.size, 0);
    t.mock.timers.tick(5000); // cleared timers never fire
  });

  test('peek shows the value waiting under an id and leaves it waiting', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    pending.add('r1', 'PUT a', 'client-1', 1000, NEVER);
    assert.equal(pending.peek('r1'), 'client-1');
    assert.equal(pending.peek('r2'), undefined);
    assert.equal(pending.size, 1);
    assert.equal(pending.take('r1', 'PUT a'), 'client-1');
    assert.equal(pending.peek('r1'), undefined);
  });

  test('take with an unknown id takes nothing, even when the key matches', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    pending.add('r1', 'PUT a', 'client-1', 1000, NEVER);
    assert.equal(pending.take('other', 'PUT a'), undefined);
    assert.equal(pending.size, 1);
    assert.equal(pending.take('r1', 'PUT a'), 'client-1');
  });

  test('take without id takes the oldest request under the key', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const steps: ReadonlyArray<[string, string, string]> = [
      ['r1', 'PUT a', 'first a'],
      ['r2', 'GET a', 'get a'],
      ['r3', 'PUT a', 'second a'],
      ['r4', 'PUT b', 'first b'],
      ['r5', 'PUT a', 'third a'],
    ];
    for (const [id, key, value] of steps) pending.add(id, key, value, 1000, NEVER);
    const takes: ReadonlyArray<[string, string | undefined]> = [
      ['PUT a', 'first a'],
      ['PUT a', 'second a'],
      ['PUT b', 'first b'],
      ['PUT b', undefined],
      ['PUT c', undefined],
      ['PUT a', 'third a'],
      ['PUT a', undefined],
      ['GET a', 'get a'],
    ];
    for (const [key, expected] of takes) {
      assert.equal(pending.take(undefined, key), expected, `take(undefined, ${key})`);
    }
    assert.equal(pending.size, 0);
    t.mock.timers.tick(5000);
  });

  test('a request taken by id is not taken again by key', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    pending.add('r1', 'PUT a', 'one', 1000, NEVER);
    pending.add('r2', 'PUT a', 'two', 1000, NEVER);
    assert.equal(pending.take('r1', 'PUT a'), 'one');
    assert.equal(pending.take(undefined, 'PUT a'), 'two');
  });

  test('timeout calls onTimeout exactly once, with the value, when the time is up', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const timedOut: string[] = [];
    pending.add('r1', 'PUT a', 'client-1', 1000, (value) => timedOut.push(value));
    t.mock.timers.tick(999);
    assert.deepEqual(timedOut, []);
    assert.equal(pending.size, 1);
    t.mock.timers.tick(1);
    assert.deepEqual(timedOut, ['client-1']);
    assert.equal(pending.size, 0);
    assert.equal(pending.take('r1', 'PUT a'), undefined);
    assert.equal(pending.take(undefined, 'PUT a'), undefined);
    t.mock.timers.tick(10_000);
    assert.deepEqual(timedOut, ['client-1']);
  });

  test('each request times out on its own clock', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const timedOut: string[] = [];
    const record = (value: string): void => {
      timedOut.push(value);
    };
    pending.add('slow', 'k', 'slow', 3000, record);
    pending.add('fast', 'k', 'fast', 1000, record);
    pending.add('taken', 'k', 'taken', 2000, record);
    t.mock.timers.tick(1000);
    assert.deepEqual(timedOut, ['fast']);
    assert.equal(pending.take('taken', 'k'), 'taken');
    t.mock.timers.tick(2000);
    assert.deepEqual(timedOut, ['fast', 'slow']);
    assert.equal(pending.size, 0);
  });

  test('a taken request never times out', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    let calls = 0;
    pending.add('r1', 'k', 'v', 100, () => {
      calls += 1;
    });
    assert.equal(pending.take(undefined, 'k'), 'v');
    t.mock.timers.tick(1000);
    assert.equal(calls, 0);
  });

  test('one request taken early does not keep the others from timing out on time', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const timedOut: Array<[string, number]> = [];
    const record = (value: string): void => {
      timedOut.push([value, Date.now()]);
    };
    const start = Date.now();
    pending.add('a', 'k', 'a', 1000, record);
    t.mock.timers.tick(300);
    pending.add('b', 'k', 'b', 1000, record);
    assert.equal(pending.take('a', 'k'), 'a'); // the timer was armed for a's deadline
    t.mock.timers.tick(700); // a's deadline: nothing is due, the timer re-arms for b
    assert.deepEqual(timedOut, []);
    pending.add('c', 'k', 'c', 200, record); // earlier than b's: the timer re-arms sooner
    t.mock.timers.tick(200);
    assert.deepEqual(timedOut, [['c', start + 1200]]);
    t.mock.timers.tick(100);
    assert.deepEqual(timedOut, [
      ['c', start + 1200],
      ['b', start + 1300],
    ]);
    assert.equal(pending.size, 0);
  });

  test('requests due at the same moment all time out together, and one added again under its id waits anew', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<number>();
    const timedOut: number[] = [];
    for (let i = 0; i < 5; i++) pending.add(`r${i}`, 'k', i, 500, (value) => timedOut.push(value));
    pending.add('r2', 'k', 20, 900, (value) => timedOut.push(value));
    t.mock.timers.tick(500);
    assert.deepEqual(timedOut, [0, 1, 3, 4]);
    t.mock.timers.tick(399);
    assert.deepEqual(timedOut, [0, 1, 3, 4]);
    t.mock.timers.tick(1);
    assert.deepEqual(timedOut, [0, 1, 3, 4, 20]);
  });

  test('requests with different timeouts, added in turns, each time out at their own deadline', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const start = Date.now();
    const timedOut: Array<[string, number]> = [];
    const record = (value: string): void => {
      timedOut.push([value, Date.now() - start]);
    };
    pending.add('a', 'k', 'a', 1000, record); // due at 1000
    pending.add('b', 'k', 'b', 300, record); // due at 300
    t.mock.timers.tick(100);
    pending.add('c', 'k', 'c', 1000, record); // due at 1100
    pending.add('d', 'k', 'd', 300, record); // due at 400
    pending.add('a', 'k', 'a again', 300, record); // a waits anew: due at 400
    for (let step = 0; step < 11; step++) t.mock.timers.tick(100);
    assert.deepEqual(timedOut, [
      ['b', 300],
      ['d', 400],
      ['a again', 400],
      ['c', 1100],
    ]);
    assert.equal(pending.size, 0);
  });

  test('a timer that fires late times out what is due in the order of the deadlines', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const timedOut: string[] = [];
    const record = (value: string): void => void timedOut.push(value);
    pending.add('long', 'k', 'long', 500, record);
    pending.add('short', 'k', 'short', 200, record);
    t.mock.timers.tick(100);
    pending.add('later', 'k', 'later', 200, record);
    t.mock.timers.tick(1000); // one step past every deadline: all three are due at one firing
    assert.deepEqual(timedOut, ['short', 'later', 'long']);
  });

  test('ten thousand waiting, half taken: the rest time out together, once each', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<number>();
    const timedOut: number[] = [];
    for (let i = 0; i < 10_000; i++) pending.add(`r${i}`, 'k', i, 1000, (value) => timedOut.push(value));
    for (let i = 0; i < 10_000; i += 2) assert.equal(pending.take(`r${i}`, 'k'), i);
    t.mock.timers.tick(1000);
    assert.equal(timedOut.length, 5000);
    assert.ok(timedOut.every((value, i) => value === 2 * i + 1));
    assert.equal(pending.size, 0);
  });

  test('drain returns every waiting value and clears everything', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<number>();
    let calls = 0;
    const count = (): void => {
      calls += 1;
    };
    pending.add('a', 'k1', 1, 1000, count);
    pending.add('b', 'k2', 2, 2000, count);
    pending.add('c', 'k1', 3, 3000, count);
    assert.deepEqual(pending.drain(), [1, 2, 3]);
    assert.equal(pending.size, 0);
    assert.equal(pending.take('a', 'k1'), undefined);
    assert.equal(pending.take(undefined, 'k1'), undefined);
    t.mock.timers.tick(10_000);
    assert.equal(calls, 0);
    assert.deepEqual(pending.drain(), []);
  });

  test('one timer serves every waiting request, and none is left once nothing waits (last take, drain)', () => {
    // Real timers: a timer left armed is what keeps a process from ending.
    const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    const pending = new PendingRounds<string>();
    pending.add('r1', 'k', 'a', 60_000, NEVER);
    pending.add('r2', 'k', 'b', 30_000, NEVER);
    assert.equal(timers(), before + 1, 'one timer for both');
    pending.take('r1', 'k');
    assert.equal(timers(), before + 1, 'still armed while one waits');
    pending.take(undefined, 'k');
    assert.equal(timers(), before, 'disarmed by the last take');
    pending.add('r3', 'k', 'c', 60_000, NEVER);
    assert.equal(timers(), before + 1);
    pending.drain();
    assert.equal(timers(), before, 'disarmed by drain');
  });
});

describe('PendingRounds: resending lost rounds', () => {
  /** Records every resend as [value, attempt, why, ms since start]. */
  function recorder(start: number): {
    sends: Array<[string, number, StallReason, number]>;
    onStall: (v: string, a: number, w: StallReason) => boolean;
  } {
    const sends: Array<[string, number, StallReason, number]> = [];
    return {
      sends,
      onStall: (value, attempt, why) => {
        sends.push([value, attempt, why, Date.now() - start]);
        return true;
      },
    };
  }

  test('a round not back is sent again at a third and two thirds of its timeout, then times out with its trail', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const start = Date.now();
    const { sends, onStall } = recorder(start);
    const timedOut: Array<[string, RoundTrail, number]> = [];
    pending.add('r1', 'k', 'put', 3000, (value, trail) => timedOut.push([value, trail, Date.now() - start]), onStall);
    pending.noteHop('r1', '127.0.0.1:4001');
    t.mock.timers.tick(999);
    assert.deepEqual(sends, []);
    t.mock.timers.tick(1);
    assert.deepEqual(sends, [['put', 2, 'silent', 1000]]);
    pending.noteHop('r1', '127.0.0.1:4002'); // the resend went past a server cut out meanwhile
    t.mock.timers.tick(1000);
    assert.deepEqual(sends.at(-1), ['put', 3, 'silent', 2000]);
    t.mock.timers.tick(999);
    assert.deepEqual(timedOut, []);
    t.mock.timers.tick(1);
    assert.deepEqual(timedOut, [['put', { to: '127.0.0.1:4002', attempts: 3 }, 3000]]);
    assert.equal(sends.length, 2, 'not sent again at its deadline');
    assert.equal(pending.size, 0);
  });

  test('a round that comes back is never sent again; one without onStall is never sent again', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const { sends, onStall } = recorder(Date.now());
    const timedOut: Array<[string, RoundTrail]> = [];
    pending.add('back', 'k', 'back', 900, NEVER, onStall);
    pending.add('plain', 'k', 'plain', 900, (value, trail) => timedOut.push([value, trail]));
    t.mock.timers.tick(100);
    assert.equal(pending.take('back', 'k'), 'back');
    t.mock.timers.tick(2000);
    assert.deepEqual(sends, []);
    assert.deepEqual(timedOut, [['plain', { to: undefined, attempts: 1 }]]);
  });

  test('a resend that could not go (onStall false) is not counted, and is tried again an interval later', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    let asked = 0;
    const trails: RoundTrail[] = [];
    pending.add(
      'r1',
      'k',
      'v',
      900,
      (_value, trail) => trails.push(trail),
      () => (asked++, false),
    );
    t.mock.timers.tick(300);
    assert.equal(asked, 1);
    t.mock.timers.tick(299);
    assert.equal(asked, 1);
    t.mock.timers.tick(1);
    assert.equal(asked, 2);
    t.mock.timers.tick(300);
    assert.deepEqual(trails, [{ to: undefined, attempts: 1 }]);
  });

  test('stallAll sends again the rounds sent before a server was cut out, and the next check waits a whole interval from then', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const start = Date.now();
    const { sends, onStall } = recorder(start);
    pending.add('old', 'k', 'old', 3000, NEVER, onStall);
    pending.add('unwatched', 'k', 'unwatched', 3000, NEVER);
    t.mock.timers.tick(500);
    const cutOutAt = Date.now();
    t.mock.timers.tick(100);
    pending.add('young', 'k', 'young', 3000, NEVER, onStall); // sent after the cut: it did not go through the server
    assert.equal(pending.stallAll(cutOutAt), 1);
    assert.deepEqual(sends, [['old', 2, 'ring', 600]]);
    t.mock.timers.tick(400); // 1000: old was sent again at 600, so it is not stalled yet
    assert.deepEqual(sends.length, 1);
    t.mock.timers.tick(600); // 1600: one interval after its resend; young is stalled at 1600 too
    assert.deepEqual(sends.slice(1), [
      ['old', 3, 'silent', 1600],
      ['young', 2, 'silent', 1600],
    ]);
    for (const id of ['old', 'unwatched', 'young']) pending.take(id, 'k');
    t.mock.timers.tick(5000);
    assert.equal(sends.length, 3);
  });

  test('a resend whose copy comes home at once (a ring of one) ends the wait; no timeout follows', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<string>();
    const answered: string[] = [];
    const onStall = (): boolean => {
      answered.push(pending.take('r1', 'k')!);
      return true;
    };
    pending.add('r1', 'k', 'v', 900, NEVER, onStall);
    t.mock.timers.tick(300);
    assert.deepEqual(answered, ['v']);
    assert.equal(pending.size, 0);
    t.mock.timers.tick(2000);
  });

  test('many waiting, a few lost: only the lost ones are sent again', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const pending = pendingRounds<number>();
    const resent: number[] = [];
    for (let i = 0; i < 1000; i++) pending.add(`r${i}`, 'k', i, 3000, NEVER, (value) => (resent.push(value), true));
    for (let i = 0; i < 1000; i++) if (i % 100 !== 7) pending.take(`r${i}`, 'k');
    t.mock.timers.tick(1000);
    assert.deepEqual(resent, [7, 107, 207, 307, 407, 507, 607, 707, 807, 907]);
    for (const value of resent) pending.take(`r${value}`, 'k');
    assert.equal(pending.size, 0);
  });

  test('resend ids: each attempt has its own id, and every one leads back to the round', () => {
    assert.equal(resendId('a1b2-3f', 2), 'a1b2-3f/2');
    assert.notEqual(resendId('a1b2-3f', 2), resendId('a1b2-3f', 3));
    for (const id of ['a1b2-3f', resendId('a1b2-3f', 2), resendId('a1b2-3f', 17)]) assert.equal(baseRoundId(id), 'a1b2-3f');
  });

  test('a second lap has an id of its own for each copy of the first, told apart from them, and it leads back to the round', () => {
    const first = ['a1b2-3f', resendId('a1b2-3f', 2), resendId('a1b2-3f', 3)];
    const second = first.map(confirmingId);
    assert.equal(new Set([...first, ...second]).size, 6, "no id is another lap's or copy's");
    for (const id of second) assert.equal(baseRoundId(id), 'a1b2-3f');
    assert.deepEqual(first.map(isConfirmingId), [false, false, false]);
    assert.deepEqual(second.map(isConfirmingId), [true, true, true]);
    assert.equal(isConfirmingId(undefined), false);
  });
});

describe('SeenRounds', () => {
  test('firstSighting is true the first time only', () => {
    const seen = new SeenRounds();
    const steps: ReadonlyArray<[string, boolean]> = [
      ['a', true],
      ['b', true],
      ['a', false],
      ['b', false],
      ['c', true],
      ['a', false],
      ['', true],
      ['', false],
    ];
    for (const [id, first] of steps) assert.equal(seen.firstSighting(id), first, `firstSighting(${JSON.stringify(id)})`);
  });

  test('forgets the oldest id beyond its capacity', () => {
    const seen = new SeenRounds(3);
    for (const id of ['a', 'b', 'c']) assert.equal(seen.firstSighting(id), true);
    assert.equal(seen.firstSighting('d'), true); // evicts a
    assert.equal(seen.firstSighting('b'), false);
    assert.equal(seen.firstSighting('c'), false);
    assert.equal(seen.firstSighting('d'), false);
    assert.equal(seen.firstSighting('a'), true); // forgotten, so new again; evicts b
    assert.equal(seen.firstSighting('b'), true); // evicts c
    assert.equal(seen.firstSighting('d'), false);
    assert.equal(seen.firstSighting('a'), false);
  });

  test('keeps exactly the newest ids, however many times its capacity is passed', () => {
    const capacity = 7;
    const seen = new SeenRounds(capacity);
    const model: string[] = []; // the ids it should remember, oldest first
    for (let i = 0; i < 200; i += 1) {
      // Mostly new ids, now and then one seen recently or long ago.
      const id = i % 5 === 4 ? `r${i - 1 - (i % 11)}` : `r${i}`;
      const first = !model.includes(id);
      assert.equal(seen.firstSighting(id), first, `firstSighting(${id}) at step ${i}`);
      if (first) {
        model.push(id);
        if (model.length > capacity) model.shift();
      }
    }
  });

  test('the default capacity holds many ids', () => {
    const seen = new SeenRounds();
    for (let i = 0; i < 50_000; i += 1) seen.firstSighting(`r${i}`);
    assert.equal(seen.firstSighting('r0'), false);
    assert.equal(seen.firstSighting('r49999'), false);
  });
});
