/** The joiner's steps without sockets or timers: a fake transport, resolver and clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoopError, isCoopError, type ErrorCode } from '../../src/errors.js';
import { joinRing, type JoinDeps } from '../../src/ring/joiner.js';
import type { Log } from '../../src/log/logger.js';
import { inlineText } from '../../src/transport/attached.js';

const SELF = '10.0.0.9:4043';

interface Fake {
  deps: JoinDeps;
  sent: Array<{ to: string; payload: string }>;
  warnings: string[];
  /** Members of our ring besides us. */
  ring: Set<string>;
}

/** `now` moves only when the joiner waits: each wait takes all the time it asks for, unless the ring changes. */
function fake(overrides: Partial<JoinDeps> & { onInsert?(to: string, fake: Fake): void }): Fake {
  let now = 0;
  const warnings: string[] = [];
  const sent: Fake['sent'] = [];
  const ring = new Set<string>();
  const log = {
    info() {},
    warn: (message: string) => warnings.push(message),
    error() {},
    send() {},
    recv() {},
    child: () => log,
  } as Log;
  const result: Fake = { deps: undefined as unknown as JoinDeps, sent, warnings, ring };
  result.deps = {
    self: SELF,
    seeds: ['seed:4043'],
    timeoutMs: 60_000,
    secret: false,
    log,
    now: () => now,
    random: () => 0.5,
    probeTimeoutMs: 4000,
    resolve: async () => '10.0.0.1',
    running: () => true,
    ringHolds: (address) => ring.has(address),
    waitForChange: async (ms) => {
      now += ms;
    },
    transport: {
      request: async () => '{"type": "ACK", "from": "10.0.0.1:4043"}',
      send: async (to, payload) => {
        sent.push({ to, payload: inlineText(payload) });
        if (inlineText(payload).includes('"INSERT"')) overrides.onInsert?.(to, result);
      },
    },
    ...overrides,
  };
  return result;
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isCoopError(err), String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

const inserts = (f: Fake) => f.sent.filter((entry) => entry.payload.includes('"INSERT"'));

test('a host name that resolves late is resolved again at each try; one warning, then joined', async () => {
  let lookups = 0;
  const f = fake({
    resolve: async () => {
      if (++lookups <= 3) throw Object.assign(new Error('getaddrinfo ENOTFOUND seed'), { code: 'ENOTFOUND' });
      return '10.0.0.1';
    },
    onInsert: (_to, self) => self.ring.add('10.0.0.1:4043'),
  });
  assert.deepEqual(await joinRing(f.deps), { through: '10.0.0.1:4043' });
  assert.equal(lookups, 4);
  assert.equal(f.warnings.length, 1);
  assert.match(f.warnings[0]!, /cannot join through seed:4043 yet \(host name not found\)/);
  assert.deepEqual(JSON.parse(inserts(f)[0]!.payload), { type: 'INSERT', data: SELF, from: SELF });
});

test('the seed named in the ring is the one its ACK gives, not the address dialed', async () => {
  const f = fake({
    transport: {
      request: async () => '{"type": "ACK", "from": "192.168.5.5:4043"}',
      send: async () => {
        f.ring.add('192.168.5.5:4043');
      },
    },
  });
  assert.deepEqual(await joinRing(f.deps), { through: '192.168.5.5:4043' });
});

test('an original seed (closes our PING without a word) gets one INSERT, however long its ring takes', async () => {
  let waits = 0;
  const f = fake({
    transport: {
      request: async () => {
        throw new CoopError('CLOSED', 'closed the connection without a reply');
      },
      send: async (to, payload) => void f.sent.push({ to, payload: inlineText(payload) }),
    },
    servesTls: async () => false,
    waitForChange: async () => {
      if (++waits === 5) f.ring.add('10.0.0.1:4043');
    },
  });
  assert.deepEqual(await joinRing(f.deps), { through: '10.0.0.1:4043' });
  assert.equal(inserts(f).length, 1);
});

test('a refusal ends the join at once, without INSERT', async () => {
  const f = fake({
    transport: {
      request: async () =>
        '{"type": "ERROR", "data": {"code": "UNAUTHENTICATED", "status": "401 UNAUTHORIZED", "message": "peer messages need the cluster secret"}}',
      send: async (to, payload) => void f.sent.push({ to, payload: inlineText(payload) }),
    },
  });
  await rejectsWith(joinRing(f.deps), 'JOIN_REFUSED', /cannot join seed:4043 \(10\.0\.0\.1:4043\): its ring has a cluster secret/);
  assert.equal(f.sent.length, 0);
});

test('a silent seed that serves TLS to this plain server is refused, naming TLS', async () => {
  const f = fake({
    transport: {
      request: async () => {
        throw new CoopError('CLOSED', 'closed the connection without a reply');
      },
      send: async () => undefined,
    },
    servesTls: async () => true,
  });
  await rejectsWith(joinRing(f.deps), 'JOIN_REFUSED', /serves TLS and this server dials plain TCP/);
});

test('seeds that never answer: JOIN_FAILED at the deadline naming each, and one warning per 5 s at most', async () => {
  const refused = new CoopError('CONNECT_FAILED', 'cannot connect: ECONNREFUSED', {
    cause: Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  });
  let attempts = 0;
  const f = fake({
    seeds: ['a:1', 'b:2'],
    timeoutMs: 30_000,
    transport: {
      request: async () => {
        attempts++;
        throw refused;
      },
      send: async () => undefined,
    },
  });
  await rejectsWith(
    joinRing(f.deps),
    'JOIN_FAILED',
    /no ring within 30 s; seeds tried: a:1 \(connection refused\), b:2 \(connection refused\)/,
  );
  assert.ok(attempts > 15, `${attempts} attempts`);
  assert.ok(f.warnings.length >= 2 && f.warnings.length <= 1 + 30 / 5, `${f.warnings.length} warnings`);
});

test('a seed that is this server (by address, or by its ACK) is skipped; only such seeds: the ring starts here', async () => {
  const f = fake({
    seeds: ['10.0.0.9:4043', 'me-by-another-name:4043'],
    resolve: async (host) => (host === 'me-by-another-name' ? '127.0.0.1' : host),
    transport: { request: async () => `{"type": "ACK", "from": "${SELF}"}`, send: async () => undefined },
  });
  assert.deepEqual(await joinRing(f.deps), { through: undefined });
});

test('a seed that is not a ring server is dropped, with its cause logged; the next seed takes us in', async () => {
  const f = fake({
    seeds: ['stale:80', 'seed:4043'],
    resolve: async (host) => (host === 'stale' ? '10.0.0.2' : '10.0.0.1'),
    transport: {
      request: async (to) => (to === '10.0.0.2:80' ? 'HTTP/1.1 400 Bad Request\r\n\r\n' : '{"type": "ACK", "from": "10.0.0.1:4043"}'),
      send: async (to, payload) => {
        f.sent.push({ to, payload: inlineText(payload) });
        f.ring.add('10.0.0.1:4043');
      },
    },
  });
  assert.deepEqual(await joinRing(f.deps), { through: '10.0.0.1:4043' });
  assert.deepEqual(
    inserts(f).map((entry) => entry.to),
    ['10.0.0.1:4043'],
  );
  assert.ok(
    f.warnings.some((line) => /cannot join stale:80 \(10\.0\.0\.2:80\): not a ring server.*trying the other seeds/.test(line)),
    f.warnings.join('\n'),
  );
});

/** A transport whose every probe gets `reply`, counting the probes. */
function answering(reply: string): { transport: JoinDeps['transport']; probes(): number } {
  let probes = 0;
  return {
    transport: {
      request: async () => {
        probes++;
        return reply;
      },
      send: async () => undefined,
    },
    probes: () => probes,
  };
}

test('a refusal from every seed is JOIN_REFUSED, naming each cause; a refused seed is not tried again', async () => {
  const seed = answering('not json at all');
  const f = fake({ seeds: ['a:1', 'b:2'], transport: seed.transport });
  await rejectsWith(
    joinRing(f.deps),
    'JOIN_REFUSED',
    /every seed refused this server: a:1 \(not a ring server.*\), b:2 \(not a ring server/,
  );
  assert.equal(seed.probes(), 2);
});

test('a cluster-secret refusal from a ring server ends the join at once, though other seeds remain', async () => {
  const seed = answering('{"type": "ERROR", "data": {"code": "UNAUTHENTICATED", "status": "401 UNAUTHORIZED", "message": "bad tag"}}');
  const f = fake({ seeds: ['a:1', 'b:2'], transport: seed.transport, secret: true });
  await rejectsWith(joinRing(f.deps), 'JOIN_REFUSED', /cannot join a:1 .*the secrets differ/);
  assert.equal(seed.probes(), 1);
});

test('a seed that takes our PING and never answers is treated as an original: one INSERT, then its ring', async () => {
  let waits = 0;
  let probes = 0;
  const f = fake({
    transport: {
      request: async () => {
        probes++;
        throw Object.assign(new CoopError('TIMEOUT', 'no reply within 4000 ms'), { connected: true });
      },
      send: async (to, payload) => void f.sent.push({ to, payload: inlineText(payload) }),
    },
    servesTls: async () => false,
    waitForChange: async () => {
      if (++waits === 5) f.ring.add('10.0.0.1:4043');
      // This clock stands still: a join that never sends INSERT would wait forever.
      if (waits > 100) throw new Error('still waiting after 100 waits, and no INSERT sent');
    },
  });
  assert.deepEqual(await joinRing(f.deps), { through: '10.0.0.1:4043' });
  assert.equal(inserts(f).length, 1);
  assert.equal(probes, 1);
});

test('a connect that times out is not taken for a silent original: tried again, no INSERT', async () => {
  const f = fake({
    timeoutMs: 5000,
    transport: {
      request: async () => {
        throw new CoopError('TIMEOUT', 'connecting timed out');
      },
      send: async (to, payload) => void f.sent.push({ to, payload: inlineText(payload) }),
    },
  });
  await rejectsWith(joinRing(f.deps), 'JOIN_FAILED', /seed:4043 \(timed out\)/);
  assert.equal(inserts(f).length, 0);
});

test('a probed port that equals a seed is not taken for the seed: the join does not start a ring of its own', async () => {
  const resolve = async (host: string): Promise<string> => host;
  const f = fake({ seeds: [SELF], portExplicit: false, resolve });
  await rejectsWith(joinRing(f.deps), 'JOIN_REFUSED', /took that port while probing upward/);
  const explicit = fake({ seeds: [SELF], portExplicit: true, resolve });
  assert.deepEqual(await joinRing(explicit.deps), { through: undefined });
});

// The probe and the wait never end by themselves: without the wake-up this test would hang until its timeout.
test('stopping the server wakes a join that waits on a seed that never answers: SHUTTING_DOWN', { timeout: 10_000 }, async () => {
  const stop = new AbortController();
  let running = true;
  const f = fake({
    running: () => running,
    signal: stop.signal,
    // A probe and a wait that never end by themselves.
    transport: { request: () => new Promise<string>(() => undefined), send: async () => undefined },
    waitForChange: () => new Promise<void>(() => undefined),
  });
  const joining = joinRing(f.deps);
  await new Promise((resolve) => setImmediate(resolve));
  running = false;
  stop.abort();
  await rejectsWith(joining, 'SHUTTING_DOWN', /stopped while joining/);
});
