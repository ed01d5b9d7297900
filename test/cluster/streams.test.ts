/**
 * PeerStreams over real sockets: one connection per peer, messages in order, a broken stream retried once on a fresh one,
 * and, with a peer that acknowledges, a stream whose messages are not acknowledged in time given up and its messages resent.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { PeerStreams } from '../../src/transport/streams.js';
import { waitFor } from '../../src/util/wait.js';
import type { CoopError } from '../../src/errors.js';

/** A peer that records what each connection brought, in order of connection. */
async function recordingPeer(): Promise<{ address: string; connections: string[]; sockets: Socket[]; server: Server }> {
  const connections: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    const index = connections.push('') - 1;
    sockets.push(socket);
    socket.on('data', (chunk: Buffer) => (connections[index] += chunk.toString('utf8')));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { address: `127.0.0.1:${port}`, connections, sockets, server };
}

function stop(server: Server, sockets: Socket[]): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

const OPENING = '{"type": "STREAM", "from": "127.0.0.1:1"}';

/**
 * A peer that acknowledges as ours do: "0" at once, then the count of objects after the opening.
 * `deaf(i)`: connection i (from 0) still takes bytes but acknowledges nothing more, as when the way back is cut.
 */
async function ackingPeer(deaf: (connection: number) => boolean = () => false) {
  const peer = await recordingPeer();
  peer.server.removeAllListeners('connection');
  peer.server.on('connection', (socket: Socket) => {
    const index = peer.connections.push('') - 1;
    peer.sockets.push(socket);
    socket.on('error', () => undefined);
    socket.write('0\n');
    socket.on('data', (chunk: Buffer) => {
      peer.connections[index] += chunk.toString('utf8');
      const objects = (peer.connections[index]!.match(/\}/g) ?? []).length - 1; // the opening is not counted
      if (!deaf(index)) socket.write(`${objects}\n`);
    });
  });
  return peer;
}

/** The socket of the open stream to `to`: the test breaks it at a moment of its choosing. */
function socketOf(streams: PeerStreams, to: string): Socket {
  const open = (streams as unknown as { streams: Map<string, { socket: Socket }> }).streams;
  const stream = open.get(to);
  assert.ok(stream, `a stream to ${to} is open`);
  return stream.socket;
}

/** Opens a stream to `to` with one message and waits until the peer's acknowledgements have been seen (its first "0"). */
async function knownToAcknowledge(streams: PeerStreams, to: string): Promise<void> {
  void streams.send(to, '{"n": 0}').catch(() => undefined);
  const acking = (streams as unknown as { acking: Set<string> }).acking;
  await waitFor(() => acking.has(to), { timeoutMs: 5000, what: `${to} to acknowledge` });
}

describe('PeerStreams', () => {
  test('one connection per peer carries the opening, then every message in the order sent', async () => {
    const peer = await recordingPeer();
    const streams = new PeerStreams(() => OPENING, 2000);
    try {
      const sent = Array.from({ length: 50 }, (_, i) => `{"n": ${i}}`);
      await Promise.all(sent.map((message) => streams.send(peer.address, message)));
      await streams.send(peer.address, '{"n": "last"}');
      const expected = OPENING + sent.join('') + '{"n": "last"}';
      await waitFor(() => peer.connections[0] === expected, { timeoutMs: 5000, what: 'every message on the first connection' });
      assert.equal(peer.connections.length, 1);
    } finally {
      streams.close();
      await stop(peer.server, peer.sockets);
    }
  });

  test('messages waiting in a batch when their stream breaks go again, in order, on one fresh stream', async () => {
    const peer = await recordingPeer();
    const streams = new PeerStreams(() => OPENING, 2000);
    try {
      await streams.send(peer.address, '{"n": 1}'); // the stream has carried a message: a break may be a restart
      const pending = [streams.send(peer.address, '{"n": 2}'), streams.send(peer.address, '{"n": 3}')];
      socketOf(streams, peer.address).destroy(); // broken before the batch is written
      await Promise.all(pending);
      await waitFor(() => peer.connections[1] === OPENING + '{"n": 2}{"n": 3}', { timeoutMs: 5000, what: 'the retried batch' });
      assert.equal(peer.connections[0], OPENING + '{"n": 1}');
      assert.equal(peer.connections.length, 2, 'both retried messages share one fresh stream');
    } finally {
      streams.close();
      await stop(peer.server, peer.sockets);
    }
  });

  test('a send to a peer that is gone fails with CONNECT_FAILED', async () => {
    const peer = await recordingPeer();
    const address = peer.address;
    await stop(peer.server, peer.sockets); // nothing listens there any more
    const streams = new PeerStreams(() => OPENING, 2000);
    try {
      await assert.rejects(streams.send(address, '{"n": 1}'), (err: CoopError) => err.code === 'CONNECT_FAILED');
    } finally {
      streams.close();
    }
  });

  test('after close, nothing is sent and sends fail', async () => {
    const peer = await recordingPeer();
    const streams = new PeerStreams(() => OPENING, 2000);
    try {
      await streams.send(peer.address, '{"n": 1}');
      streams.close();
      await assert.rejects(streams.send(peer.address, '{"n": 2}'), (err: CoopError) => err.code === 'CLOSED');
      await waitFor(() => peer.sockets.every((socket) => socket.readableEnded || socket.destroyed), {
        timeoutMs: 5000,
        what: 'the peer to see its stream closed',
      });
      assert.equal(peer.connections.join(''), OPENING + '{"n": 1}');
    } finally {
      streams.close();
      await stop(peer.server, peer.sockets);
    }
  });

  test('to a peer that acknowledges, a send resolves once its message is acknowledged', async () => {
    const peer = await ackingPeer();
    const streams = new PeerStreams(() => OPENING, 2000, undefined, { timeoutMs: 5000 });
    try {
      await streams.send(peer.address, '{"n": 1}'); // learns that the peer acknowledges
      await streams.send(peer.address, '{"n": 2}');
      assert.equal(peer.connections[0], OPENING + '{"n": 1}{"n": 2}');
      assert.equal(peer.connections.length, 1);
    } finally {
      streams.close();
      await stop(peer.server, peer.sockets);
    }
  });

  test('a stream whose messages are not acknowledged in time is given up; they go again on a fresh stream', async () => {
    const peer = await ackingPeer((connection) => connection === 0);
    const given: Array<{ peer: string; resent: number }> = [];
    const streams = new PeerStreams(() => OPENING, 2000, undefined, {
      timeoutMs: 200,
      onUnacknowledged: (to, _waited, resent) => given.push({ peer: to, resent }),
    });
    try {
      // The first connection acknowledges its opening ("0"), then nothing: the kernel takes every byte, nothing fails here.
      await knownToAcknowledge(streams, peer.address);
      const sent = [streams.send(peer.address, '{"n": 1}'), streams.send(peer.address, '{"n": 2}')];
      await Promise.all(sent);
      assert.equal(peer.connections.length, 2, 'one fresh connection');
      assert.match(peer.connections[1]!, /^\{"type": "STREAM"[^}]*\}(\{"n": 0\})*\{"n": 1\}\{"n": 2\}$/);
      assert.equal(given.length, 1);
      assert.equal(given[0]!.peer, peer.address);
      assert.ok(given[0]!.resent >= 2, `the unacknowledged messages went again (${given[0]!.resent})`);
    } finally {
      streams.close();
      await stop(peer.server, peer.sockets);
    }
  });

  test('a message not acknowledged on a fresh stream either fails its send with TIMEOUT', async () => {
    const peer = await ackingPeer(() => true);
    const streams = new PeerStreams(() => OPENING, 2000, undefined, { timeoutMs: 200 });
    try {
      // The hello ("0") shows the peer acknowledges: from then on a message is held for its acknowledgement.
      await knownToAcknowledge(streams, peer.address);
      await assert.rejects(
        streams.send(peer.address, '{"n": 1}'),
        (err: CoopError) => err.code === 'TIMEOUT' && /not acknowledged/.test(err.message),
      );
      assert.ok(peer.connections.length >= 2, 'tried on a fresh connection first');
    } finally {
      streams.close();
      await stop(peer.server, peer.sockets);
    }
  });
});
