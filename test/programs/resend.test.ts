/**
 * Rounds lost with a relay, over real processes: a relay killed (-9) or
 * paused until it is cut out while many PUTs are in flight; every writer gets
 * its answer and every acknowledged write is on every survivor. A round that
 * cannot finish gets OUTCOME_UNKNOWN naming the server it was handed to; a
 * client whose write was taken and never answered gets OUTCOME_UNKNOWN too.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getItem, getRing, putItem } from '../../src/client/client.js';
import { isCoopError } from '../../src/errors.js';
import { waitFor } from '../../src/util/wait.js';
import { assertReadEverywhere, killAll, ringOf, runClient, type ServerProcess } from '../processes.js';
import { createTestCluster } from '../../src/node/cluster.js';
import type { RingNode } from '../../src/node/node.js';
import { tcpTransport, type PeerTransport } from '../../src/transport/peer-transport.js';
import { tempDir } from '../helpers.js';
import { inlineText } from '../../src/transport/attached.js';

after(killAll);

type T = { after(fn: () => Promise<void> | void): void; diagnostic(message: string): void };

interface Outcome {
  name: string;
  server: string;
  answer: string; // '200 OK' or an error code
}

/** Writers that keep many PUTs in flight at `targets` until stopped; every answer is recorded. */
function storm(targets: ServerProcess[], writers: number): { outcomes: Outcome[]; acknowledged: () => number; stop(): Promise<void> } {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: writers }, async (_, writer) => {
    for (let i = 0; running; i++) {
      const server = targets[(writer + i) % targets.length]!.address;
      const name = `w${writer}-${i}.txt`;
      try {
        const status = await putItem(server, name, `content of ${name}`, undefined, { timeoutMs: 20_000 });
        outcomes.push({ name, server, answer: status });
      } catch (err) {
        outcomes.push({ name, server, answer: isCoopError(err) ? err.code : String(err) });
      }
    }
  });
  return {
    outcomes,
    acknowledged: () => outcomes.filter((outcome) => outcome.answer === '200 OK').length,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Rounds sent again after a server was cut out, as the servers logged them. */
function resendsLogged(servers: ServerProcess[]): number {
  const counts = servers.flatMap((server) =>
    [...server.output().matchAll(/(\d+) rounds in flight sent again/g)].map((match) => Number(match[1])),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

/** Every writer was answered 200 OK, and every write is on every survivor. */
async function assertAllStored(outcomes: Outcome[], survivors: ServerProcess[]): Promise<void> {
  const failed = outcomes.filter((outcome) => outcome.answer !== '200 OK');
  assert.deepEqual(failed, [], 'every write to a live server is acknowledged: no TIMEOUT, no OUTCOME_UNKNOWN');
  await assertReadEverywhere(
    outcomes.map(({ name }) => name),
    survivors,
  );
}

test('kill -9 of a relay with many PUTs in flight: every writer is answered 200 OK, every write is on every survivor', async (t) => {
  const servers = await ringOf(t, 4, ['--heartbeat', '0.2', '--suspicion-timeout', '0.6', '--round-timeout', '8']);
  const [a, b, c, d] = servers as [ServerProcess, ServerProcess, ServerProcess, ServerProcess];
  const load = storm([a, c, d], 12);
  t.after(() => load.stop());
  await waitFor(() => load.acknowledged() >= 150, { timeoutMs: 30_000, what: '150 acknowledged PUTs' });
  await b.kill('SIGKILL');
  const before = load.acknowledged();
  await waitFor(async () => (await getRing(a.address)).length === 3 && load.acknowledged() >= before + 150, {
    timeoutMs: 30_000,
    what: 'b cut out and 150 more PUTs acknowledged',
  });
  await load.stop();
  t.diagnostic(`${load.outcomes.length} PUTs; resends after the cut: ${resendsLogged([a, c, d])}`);
  await assertAllStored(load.outcomes, [a, c, d]);
});

test('a relay paused (SIGSTOP) until it is cut out, with many PUTs in flight: every writer is answered 200 OK', async (t) => {
  const servers = await ringOf(t, 4, ['--heartbeat', '0.2', '--suspicion-timeout', '0.6', '--round-timeout', '8']);
  const [a, b, c, d] = servers as [ServerProcess, ServerProcess, ServerProcess, ServerProcess];
  t.after(() => void b.process.kill('SIGCONT'));
  const load = storm([a, c, d], 12);
  t.after(() => load.stop());
  await waitFor(() => load.acknowledged() >= 150, { timeoutMs: 30_000, what: '150 acknowledged PUTs' });
  b.process.kill('SIGSTOP');
  await waitFor(async () => (await Promise.all([a, c, d].map((s) => getRing(s.address)))).every((view) => view.length === 3), {
    timeoutMs: 15_000,
    what: 'the paused server to be cut out of every view',
  });
  const before = load.acknowledged();
  await waitFor(() => load.acknowledged() >= before + 150, { timeoutMs: 30_000, what: '150 more PUTs acknowledged' });
  await load.stop();
  t.diagnostic(`${load.outcomes.length} PUTs; resends after the cut: ${resendsLogged([a, c, d])}`);
  await assertAllStored(load.outcomes, [a, c, d]);
});

test('a round that cannot finish (every other server paused, not yet cut out): OUTCOME_UNKNOWN naming the server it is stuck at', async (t) => {
  // A suspicion timeout far past the round timeout: the paused servers stay in the ring meanwhile.
  const servers = await ringOf(t, 4, ['--heartbeat', '0.2', '--suspicion-timeout', '120', '--round-timeout', '1.5']);
  const [a, ...others] = servers as [ServerProcess, ...ServerProcess[]];
  await putItem(a.address, 'before.txt', 'written before the pause');
  const successor = (await getRing(a.address))[1]!;
  for (const other of others) other.process.kill('SIGSTOP');
  t.after(() => {
    for (const other of others) other.process.kill('SIGCONT');
  });

  await assert.rejects(putItem(a.address, 'stuck.txt', 'may or may not land', undefined, { timeoutMs: 10_000 }), (err: unknown) => {
    assert.ok(isCoopError(err, 'OUTCOME_UNKNOWN'), String(err));
    t.diagnostic(err.message);
    assert.ok(err.message.includes(successor), `names ${successor}: ${err.message}`);
    assert.match(err.message, /may or may not/);
    return true;
  });

  // The same through the webclient (exit status 6) and over HTTP (504).
  const dir = await tempDir(t);
  const file = join(dir, 'stuck-too.txt');
  await writeFile(file, 'may or may not land either');
  const [ip, port] = a.address.split(':') as [string, string];
  const run = await runClient(['-put', file, '-i', ip, '-p', port, '--timeout', '10']);
  assert.equal(run.status, 6, run.stderr);
  assert.ok(run.stderr.includes(successor), run.stderr);
  assert.match(run.stderr, /outcome unknown/);
  const response = await fetch(`http://${a.address}/stuck-http.txt`, { method: 'PUT', body: 'over HTTP' });
  assert.equal(response.status, 504);
  assert.match(await response.text(), /outcome unknown/);

  // A lookup that cannot finish is a TIMEOUT, naming the server too.
  await assert.rejects(getItem(a.address, 'nowhere.txt', { timeoutMs: 10_000 }), (err: unknown) => {
    assert.ok(isCoopError(err, 'TIMEOUT'), String(err));
    assert.ok(err.message.includes(successor), err.message);
    return true;
  });
  assert.match(a.output(), /did not come back within 1\.5 s: it was last handed to/);
});

test('a round lost without anyone cut out (a relay dropped it) is sent again after a third of the round timeout: 200 OK, stored everywhere', async (t) => {
  const cluster = await createTestCluster(1, { roundTimeoutMs: 1500 });
  t.after(() => cluster.stop());
  // b passes its first copy of the round on to nowhere: the round is lost past b, and b stays in the ring.
  const real = tcpTransport({ connectTimeoutMs: 500, maxReplyBytes: 1 << 26 });
  let dropped = 0;
  const dropping: PeerTransport = {
    ...real,
    send: (to, payload) => {
      const text = inlineText(payload);
      if (dropped === 0 && text.includes('"FORWARD_PUT"') && text.includes('lost-once.txt')) {
        dropped++;
        return Promise.resolve();
      }
      return real.send(to, payload);
    },
  };
  await cluster.add({ transport: dropping });
  await cluster.add();
  const [a, b, c] = cluster.nodes as [RingNode, RingNode, RingNode];
  assert.equal(a.members[1], b.address, 'the ring is a -> b -> c');

  assert.equal(await putItem(a.address, 'lost-once.txt', 'sent twice, stored once'), '200 OK');
  assert.equal(dropped, 1);
  for (const node of [a, b, c]) {
    assert.ok(node.store.head('lost-once.txt'), `stored at ${node.address} by the round itself`);
    assert.equal((await node.store.get('lost-once.txt'))?.content, 'sent twice, stored once');
  }
  const metrics = await (await fetch(`http://${a.address}/metrics`)).text();
  assert.match(metrics, /coop_rounds_resent_total\{reason="silent"\} 1\b/);
});

/** A server that accepts connections and reads, but never answers. */
async function silentServer(t: T): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('a client whose write was taken but never answered gets OUTCOME_UNKNOWN (webclient exit 6); a read gets TIMEOUT; a refused write CONNECT_FAILED', async (t) => {
  const silent = await silentServer(t);
  await assert.rejects(putItem(silent, 'x.txt', 'x', undefined, { timeoutMs: 300 }), (err: unknown) => {
    assert.ok(isCoopError(err, 'OUTCOME_UNKNOWN'), String(err));
    assert.ok(err.message.includes(silent), err.message);
    return true;
  });
  await assert.rejects(getItem(silent, 'x.txt', { timeoutMs: 300 }), (err: unknown) => isCoopError(err, 'TIMEOUT'));

  const refusing = createServer();
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  const refusedAt = `127.0.0.1:${(refusing.address() as { port: number }).port}`;
  await new Promise((resolve) => refusing.close(resolve));
  await assert.rejects(putItem(refusedAt, 'x.txt', 'x'), (err: unknown) => isCoopError(err, 'CONNECT_FAILED'));

  const dir = await tempDir(t);
  const file = join(dir, 'x.txt');
  await writeFile(file, 'x');
  const [ip, port] = silent.split(':') as [string, string];
  const run = await runClient(['-put', file, '-i', ip, '-p', port, '--timeout', '0.3']);
  assert.equal(run.status, 6, run.stderr);
  assert.match(run.stderr, /outcome unknown/);
});

test('a server leaving the ring (SIGTERM) takes no more client writes: SHUTTING_DOWN, never a write acknowledged by it alone', async (t) => {
  // Its peers paused, the leaving server waits for them to take its farewell: the window in which a write used to be taken.
  const servers = await ringOf(t, 3, ['--heartbeat', '2']);
  const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
  for (const peer of [b, c]) peer.process.kill('SIGSTOP');
  t.after(() => {
    for (const peer of [b, c]) peer.process.kill('SIGCONT');
  });
  a.process.kill('SIGTERM');
  await waitFor(() => a.output().includes('leaving the ring'), { what: 'the server to start leaving' });
  await assert.rejects(
    putItem(a.address, 'late.txt', 'written while the server leaves', undefined, { timeoutMs: 10_000 }),
    (err: unknown) => {
      // Refused by the leaving server, or it has gone already: either way not acknowledged.
      assert.ok(isCoopError(err, 'SHUTTING_DOWN') || isCoopError(err, 'CONNECT_FAILED'), String(err));
      return true;
    },
  );
});
