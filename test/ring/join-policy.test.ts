/** The joining policy without sockets: seeds in turn, backoff with jitter, log throttling, and what each failure means. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CoopError } from '../../src/errors.js';
import { JoinPolicy, judgeErrorReply, judgeFailure } from '../../src/ring/join-policy.js';

const errno = (code: string): Error => Object.assign(new Error(code), { code });
const connectFailed = (code: string): CoopError => new CoopError('CONNECT_FAILED', `cannot connect: ${code}`, { cause: errno(code) });

describe('JoinPolicy', () => {
  test('takes the seeds in turn, round and round, skipping those that are this server', () => {
    const policy = new JoinPolicy({ seeds: ['a:1', 'b:1', 'c:1'], timeoutMs: 1000 }, 0);
    assert.deepEqual([policy.nextSeed(), policy.nextSeed(), policy.nextSeed(), policy.nextSeed()], ['a:1', 'b:1', 'c:1', 'a:1']);
    policy.isSelf('b:1');
    assert.deepEqual([policy.nextSeed(), policy.nextSeed(), policy.nextSeed()], ['c:1', 'a:1', 'c:1']);
    assert.equal(policy.onlySelf, false);
    policy.isSelf('a:1');
    policy.isSelf('c:1');
    assert.equal(policy.onlySelf, true);
    assert.equal(policy.nextSeed(), undefined);
  });

  test('the delay doubles from 100 ms to a cap of 2 s, each within [half, whole] of its step', () => {
    for (const random of [0, 0.5, 0.999]) {
      const policy = new JoinPolicy({ seeds: ['a:1'], timeoutMs: 60_000, random: () => random }, 0);
      const steps = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
      for (const step of steps) {
        const delay = policy.failed('a:1', 'connection refused', 0);
        assert.ok(delay >= step / 2 && delay <= step, `${delay} within [${step / 2}, ${step}] (random ${random})`);
      }
    }
  });

  test('jitter spreads servers that fail together', () => {
    const delays = [0.1, 0.4, 0.9].map((random) => new JoinPolicy({ seeds: ['a:1'], timeoutMs: 60_000, random: () => random }, 0));
    for (const policy of delays) for (let i = 0; i < 5; i++) policy.failed('a:1', 'x', 0);
    const sixth = delays.map((policy) => policy.failed('a:1', 'x', 0));
    assert.equal(new Set(sixth).size, 3);
  });

  test('never waits past the deadline, and expires at it', () => {
    const policy = new JoinPolicy({ seeds: ['a:1'], timeoutMs: 1000, random: () => 0.99 }, 5000);
    for (let i = 0; i < 10; i++) policy.failed('a:1', 'x', 5000);
    assert.equal(policy.failed('a:1', 'x', 5900), 100);
    assert.equal(policy.failed('a:1', 'x', 6000), 0);
    assert.equal(policy.expired(5999), false);
    assert.equal(policy.expired(6000), true);
    assert.equal(policy.remaining(5250), 750);
  });

  test('logs the first failure, then at most one every 5 s', () => {
    const policy = new JoinPolicy({ seeds: ['a:1'], timeoutMs: 60_000 }, 0);
    const logged = [0, 100, 200, 4999, 5000, 5100, 9999, 10_000].filter((now) => policy.shouldLog(now));
    assert.deepEqual(logged, [0, 5000, 10_000]);
  });

  test('names every seed tried with what happened there last', () => {
    const policy = new JoinPolicy({ seeds: ['a:1', 'b:2', 'me:3', 'c:4'], timeoutMs: 1000 }, 0);
    policy.failed('a:1', 'connection refused', 0);
    policy.failed('b:2', 'host name not found', 0);
    policy.failed('b:2', 'timed out', 0);
    policy.isSelf('me:3');
    assert.equal(policy.tried(), 'a:1 (connection refused), b:2 (timed out), c:4 (not tried)');
    policy.unanswered('a:1', 'no ring came back');
    assert.match(policy.tried(), /^a:1 \(no ring came back\)/);
  });

  test('a seed that refused leaves the rotation; all refused only when every seed but this server did', () => {
    const policy = new JoinPolicy({ seeds: ['a:1', 'b:2', 'me:3'], timeoutMs: 1000 }, 0);
    policy.isSelf('me:3');
    assert.equal(policy.allRefused, false);
    policy.refuse('a:1', 'not a ring server');
    assert.deepEqual([policy.nextSeed(), policy.nextSeed()], ['b:2', 'b:2']);
    assert.equal(policy.allRefused, false);
    policy.refuse('b:2', 'TLS handshake failed');
    assert.equal(policy.allRefused, true);
    assert.equal(policy.nextSeed(), undefined);
    assert.equal(policy.tried(), 'a:1 (not a ring server), b:2 (TLS handshake failed)');
  });

  test('seeds that are all this server are not "all refused"', () => {
    const policy = new JoinPolicy({ seeds: ['me:3'], timeoutMs: 1000 }, 0);
    policy.isSelf('me:3');
    assert.equal(policy.allRefused, false);
  });
});

describe('judgeFailure', () => {
  const open = { secret: false };
  const retried: ReadonlyArray<[string, unknown, RegExp]> = [
    ['connection refused', connectFailed('ECONNREFUSED'), /connection refused/],
    ['host unreachable', connectFailed('EHOSTUNREACH'), /unreachable/],
    ['a connect timeout', new CoopError('TIMEOUT', 'connecting timed out'), /timed out/],
    ['a host name not found (DNS)', errno('ENOTFOUND'), /host name not found/],
    ['a resolver not ready (DNS)', errno('EAI_AGAIN'), /not resolvable yet/],
    ['a test transport that drops the message', new Error('cut'), /cut/],
  ];
  for (const [name, err, reason] of retried) {
    test(`${name}: try again`, () => {
      const judged = judgeFailure(err, open);
      assert.equal(judged.verdict, 'retry');
      assert.match(judged.reason, reason);
    });
  }
  const refused: ReadonlyArray<[string, unknown, RegExp]> = [
    ['TLS to a plain server', connectFailed('ERR_SSL_WRONG_VERSION_NUMBER'), /does not serve TLS/],
    ['an untrusted certificate', connectFailed('DEPTH_ZERO_SELF_SIGNED_CERT'), /--tls-ca/],
    ['an answer that is not JSON (an HTTP server)', new CoopError('BAD_JSON', 'a message must be one JSON object'), /not a ring server/],
    ['JSON that is not an ACK', new CoopError('BAD_FIELD', 'expected a ACK reply, got "GET"'), /not a ring server/],
  ];
  for (const [name, err, reason] of refused) {
    test(`${name}: refused`, () => {
      const judged = judgeFailure(err, open);
      assert.equal(judged.verdict, 'refused');
      assert.match(judged.reason, reason);
    });
  }
  test('an answer without our tag (we have a secret, the seed none): refused, naming the secret', () => {
    const judged = judgeFailure(new CoopError('UNAUTHENTICATED', 'no tag'), { secret: true });
    assert.equal(judged.verdict, 'refused');
    assert.match(judged.reason, /no cluster secret/);
  });
  test('closed without a word (the original, to a PING): silent', () => {
    assert.equal(judgeFailure(new CoopError('CLOSED', 'closed the connection without a reply'), open).verdict, 'silent');
  });
  test('connected, then no reply in time (an original that keeps the connection open): silent', () => {
    const noReply = Object.assign(new CoopError('TIMEOUT', 'no reply within 4000 ms'), { connected: true });
    assert.equal(judgeFailure(noReply, open).verdict, 'silent');
  });
  test('refusals by that seed alone (not a ring server, TLS) are not ring-wide; an answer without our tag is', () => {
    assert.notEqual(judgeFailure(new CoopError('BAD_JSON', 'x'), open).ringWide, true);
    assert.notEqual(judgeFailure(connectFailed('ERR_SSL_WRONG_VERSION_NUMBER'), open).ringWide, true);
    assert.equal(judgeFailure(new CoopError('UNAUTHENTICATED', 'no tag'), { secret: true }).ringWide, true);
  });
});

describe('judgeErrorReply', () => {
  test('UNAUTHENTICATED without a secret: refused, saying the ring has one', () => {
    const judged = judgeErrorReply('UNAUTHENTICATED', 'peer messages need the cluster secret', { secret: false });
    assert.equal(judged.verdict, 'refused');
    assert.match(judged.reason, /has a cluster secret and this server has none/);
  });
  test('UNAUTHENTICATED with a secret: refused, naming both causes (the secrets differ, or the address dialled)', () => {
    const judged = judgeErrorReply('UNAUTHENTICATED', 'the authentication tag does not match', { secret: true });
    assert.equal(judged.verdict, 'refused');
    assert.match(judged.reason, /secrets differ, or the address dialled .*tag does not match/);
  });
  test('a seed that is stopping or still starting: try again', () => {
    assert.equal(judgeErrorReply('SHUTTING_DOWN', 'stopping', { secret: false }).verdict, 'retry');
    assert.equal(judgeErrorReply('NOT_READY', 'joining', { secret: false }).verdict, 'retry');
  });
  test('a seed that does not know PING: silent (INSERT may still work)', () => {
    assert.equal(judgeErrorReply('UNKNOWN_TYPE', 'unknown type "PING"', { secret: false }).verdict, 'silent');
  });
  test('any other refusal: refused, with its code, by that seed alone', () => {
    const judged = judgeErrorReply('FORBIDDEN', 'no', { secret: false });
    assert.equal(judged.verdict, 'refused');
    assert.match(judged.reason, /FORBIDDEN/);
    assert.notEqual(judged.ringWide, true);
  });
  test('a ring server refusing our secret (or its absence) is ring-wide: the join ends', () => {
    assert.equal(judgeErrorReply('UNAUTHENTICATED', 'x', { secret: false }).ringWide, true);
    assert.equal(judgeErrorReply('UNAUTHENTICATED', 'x', { secret: true }).ringWide, true);
  });
});
