/** The Inbox in process: it decodes, refuses, dispatches, and is the one that writes and counts every reply. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inbox } from '../../src/node/inbox.js';
import { NodeMetrics } from '../../src/node/metrics.js';
import { AccessPolicy } from '../../src/security/access.js';
import { ExtensionPeers } from '../../src/ring/extension-peers.js';
import { errorReply, type Reply } from '../../src/protocol/messages.js';
import { silentLog } from '../../src/log/logger.js';
import type { Connection } from '../../src/transport/listener.js';
import { waitFor } from '../../src/util/wait.js';
import { fixture, NOW, SELF, type Fixture } from '../handlers/fixture.js';

function inbox(server: Fixture | undefined, running = () => true): { inbox: Inbox; metrics: NodeMetrics } {
  const metrics = new NodeMetrics({
    ringSize: () => 3,
    items: () => 0,
    bytesStored: () => 0,
    sync: () => ({ passes: 0, pulled: 0, deleted: 0 }),
  });
  const created = new Inbox({
    auth: undefined,
    access: new AccessPolicy(),
    limits: { maxNameBytes: 255, maxItemBytes: 1024 * 1024 },
    peers: new ExtensionPeers(),
    metrics,
    log: () => silentLog,
    maxMessageBytes: 64 * 1024,
    running,
    watched: () => false,
    traffic: () => undefined,
    noSpace: () => undefined,
    checkStore: () => undefined,
  });
  if (server) created.open(server.ctx);
  return { inbox: created, metrics };
}

/** A client's connection that keeps what is written to it. */
function client(): Connection & { written: string[] } {
  const written: string[] = [];
  return { remote: '127.0.0.1:50000', written, reply: (payload) => void written.push(payload), close: () => undefined };
}

async function count(metrics: NodeMetrics, type: string, outcome: string): Promise<number> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`coop_requests_total{type="${type}",outcome="${outcome}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

test('a GET of an item held here is written before receive returns, and counted', async (t) => {
  const server = await fixture(t);
  await server.store.apply('a.txt', { version: { clock: 1, server: SELF }, content: 'hello' }, NOW);
  const { inbox: box, metrics } = inbox(server);
  const connection = client();
  box.receive('{"type": "GET", "data": "a.txt"}', connection);
  assert.deepEqual(
    connection.written.map((payload) => JSON.parse(payload) as Reply),
    [{ type: 'GET', data: { item: 'a.txt', content: 'hello' } }],
  );
  assert.equal(await count(metrics, 'GET', 'ok'), 1);
});

test('before the server has started, every message is answered SHUTTING_DOWN', async () => {
  const { inbox: box } = inbox(undefined);
  const connection = client();
  box.receive('{"type": "GET", "data": "a.txt"}', connection);
  assert.match(connection.written[0] ?? '', /SHUTTING_DOWN/);
  assert.deepEqual(await box.ask({ type: 'GET', data: 'a.txt' }), errorReply('SHUTTING_DOWN', 'the server is stopping'));
});

test('text that is not a message is refused with its code', async (t) => {
  const { inbox: box } = inbox(await fixture(t));
  const connection = client();
  assert.equal(box.receive('{"type": "NOPE"}', connection), 'refused');
  assert.equal((JSON.parse(connection.written[0] ?? '{}') as { type: string }).type, 'ERROR');
});

test('a PUT is written when its round comes home; the HTTP face gets the same reply object', async (t) => {
  const server = await fixture(t);
  const { inbox: box, metrics } = inbox(server);
  const connection = client();
  box.receive('{"type": "PUT", "data": {"item": "p.txt", "content": "x"}}', connection);
  const round = await waitFor(() => server.sent[0]?.message, { timeoutMs: 2000, intervalMs: 1, what: 'the round to go' });
  assert.equal(connection.written.length, 0, 'not before the round is home');
  box.dispatch({ type: 'FORWARD_PUT', creator: SELF, data: { item: 'p.txt', content: '' }, id: round.id });
  await waitFor(() => connection.written.length > 0, { timeoutMs: 2000, intervalMs: 1, what: 'the reply' });
  assert.deepEqual(JSON.parse(connection.written[0] ?? ''), { type: 'PUT', data: { item: 'p.txt', status: '200 OK' } });
  assert.equal(await count(metrics, 'PUT', 'ok'), 1);
  const asked = await box.ask({ type: 'GET', data: 'p.txt' });
  assert.deepEqual(asked, { type: 'GET', data: { item: 'p.txt', content: 'x', encoding: undefined } });
});

test('clients whose rounds are drained at a stop have their answers written once written() resolves', async (t) => {
  const server = await fixture(t);
  const { inbox: box } = inbox(server);
  const connection = client();
  box.receive('{"type": "PUT", "data": {"item": "s.txt", "content": "x"}}', connection);
  await waitFor(() => server.sent.length > 0, { timeoutMs: 2000, intervalMs: 1, what: 'the round to go' });
  // From a turn of the event loop of its own, as a stop is: what was written then, and once written() resolved.
  const seen = await new Promise<{ before: number; after: string[] }>((resolve) =>
    setImmediate(() => {
      for (const waiting of server.waiting.drain()) waiting.answer(errorReply('SHUTTING_DOWN', 'the server is stopping'));
      const before = connection.written.length;
      void box.written().then(() => resolve({ before, after: [...connection.written] }));
    }),
  );
  assert.equal(seen.before, 0, "the answer goes through the handler's promise");
  assert.equal(seen.after.length, 1);
  assert.match(seen.after[0] ?? '', /SHUTTING_DOWN/);
});

test('a waited-for reply that cannot be encoded is answered INTERNAL, not left unanswered', async (t) => {
  const server = await fixture(t);
  // A status with a number JSON cannot carry: writing the reply throws.
  server.ctx.ringStatus = () => Promise.resolve({ members: [], self: SELF, figure: Number.NaN } as never);
  const { inbox: box, metrics } = inbox(server);
  const connection = client();
  box.receive('{"type": "RING", "status": "all"}', connection);
  await waitFor(() => connection.written.length > 0);
  assert.match(connection.written[0] ?? '', /INTERNAL/);
  assert.equal(await count(metrics, 'RING', 'error'), 1);
});
