/**
 * A server that cannot send to its successor, in one process (the network
 * version is links-netns.test.ts): its transport fails every message and
 * probe to that one peer without refusing, as a one-way fault does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCluster } from '../../src/node/cluster.js';
import { tcpTransport, type PeerTransport } from '../../src/node/node.js';
import { CoopError, isCoopError } from '../../src/errors.js';
import { getItem, putItem } from '../../src/client/client.js';
import { waitFor } from '../../src/util/wait.js';
import { captureLog } from '../helpers.js';

/** Sends and probes to `cut.to` fail with TIMEOUT while `cut.on`, as when nothing comes through (no refusal). */
function cutTransport(cut: { to: string; on: boolean }): PeerTransport {
  const real = tcpTransport({ connectTimeoutMs: 500, maxReplyBytes: 1 << 26 });
  const silent = (to: string) => new CoopError('TIMEOUT', `messages to ${to} not acknowledged for 1.0 s`);
  return {
    send: (to, payload) => (cut.on && to === cut.to ? Promise.reject(silent(to)) : real.send(to, payload)),
    request: (to, payload, timeoutMs) => (cut.on && to === cut.to ? Promise.reject(silent(to)) : real.request(to, payload, timeoutMs)),
    close: () => real.close?.(),
  };
}

test('a successor that others reach but this server cannot is passed by, never cut out; it catches up when the way is back', async (t) => {
  const cut = { to: '', on: false };
  const captured = captureLog();
  const cluster = await createTestCluster(1, { heartbeatMs: 500, syncIntervalMs: 200, suspicionTimeoutMs: 1500 });
  t.after(() => cluster.stop());
  const b = await cluster.add({ transport: cutTransport(cut), log: captured.log });
  const c = await cluster.add();
  assert.equal(b.members[1], c.address, 'c is the successor of b');
  cut.to = c.address;
  cut.on = true;

  for (let i = 0; i < 5; i++) assert.equal(await putItem(b.address, `cut-${i}.txt`, `written at b ${i}`), '200 OK');
  const said = captured.lines.map((line) => line.msg).join('\n');
  assert.ok(captured.has(`${c.address} answers others but not this server`), `b says why it passes c by:\n${said}`);
  for (const node of cluster.nodes) assert.ok(node.members.includes(c.address), `c is in the view of ${node.address}`);
  assert.ok(
    !captured.lines.some((line) => /removing it|is unreachable|declared dead|suspected/.test(line.msg)),
    'c was neither cut out nor suspected',
  );

  cut.on = false;
  await waitFor(() => captured.has(`${c.address} answers this server again`), { timeoutMs: 5000, what: 'b to reach c again' });
  await waitFor(() => c.store.head('cut-4.txt') !== undefined, { timeoutMs: 5000, what: 'c to catch up by sync' });
  assert.equal(await putItem(b.address, 'after.txt', 'through c again'), '200 OK');
  assert.deepEqual(await getItem(c.address, 'after.txt'), { found: true, content: 'through c again', encoding: undefined });
});

test('a successor that nobody reaches, without refusing, is suspected and passed by; the suspicion timeout removes it', async (t) => {
  const cut = { to: '', on: false };
  const captured = captureLog();
  const cluster = await createTestCluster(1, { syncIntervalMs: 200, suspicionTimeoutMs: 1000 });
  t.after(() => cluster.stop());
  const b = await cluster.add({ transport: cutTransport(cut), log: captured.log });
  const c = await cluster.add();
  cut.to = c.address;
  cut.on = true;
  // Nobody else reaches c either: it is stopped (its port refuses), but b's transport only ever times out.
  await c.stop();

  assert.equal(await putItem(b.address, 'meanwhile.txt', 'past a silent c'), '200 OK');
  assert.ok(captured.has(`${c.address} does not take messages`), 'b suspects c for its silence');
  await waitFor(() => !b.members.includes(c.address), { timeoutMs: 5000, what: 'the suspicion of c to expire' });
});

test('a server that can send to no other server acknowledges no write as if the ring had it: OUTCOME_UNKNOWN, not 200 OK', async (t) => {
  const cut = { to: '', on: false };
  // A long suspicion timeout: the other server stays in the ring, merely passed by, for the whole test.
  const cluster = await createTestCluster(1, { heartbeatMs: 500, suspicionTimeoutMs: 60_000, roundTimeoutMs: 1500 });
  t.after(() => cluster.stop());
  const a = cluster.nodes[0]!;
  const b = await cluster.add({ transport: cutTransport(cut) });
  cut.to = a.address;
  cut.on = true;
  await assert.rejects(putItem(b.address, 'alone.txt', 'stored at b only'), (err: unknown) => {
    assert.ok(isCoopError(err, 'OUTCOME_UNKNOWN'), String(err));
    return true;
  });
  assert.ok(b.members.includes(a.address), 'a was passed by, not cut out');
});
