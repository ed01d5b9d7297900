/**
 * Bytes attached to messages over real sockets (PeerStreams to a TcpListener): a receiver that says it reads
 * them gets them as bytes beside the text; one that does not (a server of ours from before) gets the message inline.
 * And ranges read with `attach`: their bytes come beside the reply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpListener } from '../../src/transport/listener.js';
import { PeerStreams } from '../../src/transport/streams.js';
import { waitFor } from '../../src/util/wait.js';
import type { Attached } from '../../src/transport/attached.js';
import { randomBytes } from 'node:crypto';
import { createTestCluster } from '../../src/node/cluster.js';
import { ask, fetchParts, PART_BYTES, putBytes } from '../../src/client/client.js';
import { sealedTransport } from '../../src/security/sealed.js';
import { PeerAuth } from '../../src/security/peer-auth.js';
import { tcpTransport } from '../../src/transport/peer-transport.js';

const LIMITS = { maxMessageBytes: 1 << 20, idleTimeoutMs: 5000, requestTimeoutMs: 5000, maxConnections: 16 };

async function receiver(t: { after(fn: () => Promise<void>): void }, attaching: boolean) {
  const got: Array<{ text: string; bytes?: Buffer }> = [];
  const listener = new TcpListener(LIMITS, {
    onMessage: () => (attaching ? 'attaching' : 'stream'),
    onStreamMessage: (text, _stream, bytes) => {
      got.push(bytes ? { text, bytes: Buffer.concat(bytes) } : { text });
      return true;
    },
    onFrameError: () => undefined,
  });
  const { port } = await listener.start('127.0.0.1', 0);
  const streams = new PeerStreams(() => '{"type": "STREAM", "from": "127.0.0.1:1", "attach": true}', 2000);
  t.after(async () => {
    await streams.close(100);
    await listener.stop();
  });
  return { to: `127.0.0.1:${port}`, got, streams };
}

/** Sends a first message and waits until the receiver's first line has been read (as streams.test.ts does). */
async function opened(streams: PeerStreams, to: string): Promise<void> {
  await streams.send(to, '{"first": 1}');
  const acking = (streams as unknown as { acking: Set<string> }).acking;
  await waitFor(() => acking.has(to), { timeoutMs: 5000, what: `${to} to acknowledge` });
}

const BYTES = Buffer.from([0x7b, 0x22, 0x7d, 0, 0xff, 0x0a]);
const PART: Attached = { text: '{"part": ""}', bytes: [BYTES.subarray(0, 2), BYTES.subarray(2)], inline: () => '{"part": "eyJ9AP8K"}' };

test('to a receiver that reads attachments, a part goes as its bytes beside its text', async (t) => {
  const { to, got, streams } = await receiver(t, true);
  await opened(streams, to);
  await streams.send(to, PART);
  await waitFor(() => got.length === 2, { timeoutMs: 5000, what: 'both messages' });
  assert.deepEqual(got, [{ text: '{"first": 1}' }, { text: '{"part": ""}', bytes: BYTES }]);
});

test('to a receiver that does not say it reads attachments, the same part goes inline, as base64 in its text', async (t) => {
  const { to, got, streams } = await receiver(t, false);
  await opened(streams, to);
  await streams.send(to, PART);
  await waitFor(() => got.length === 2, { timeoutMs: 5000, what: 'both messages' });
  assert.deepEqual(got, [{ text: '{"first": 1}' }, { text: '{"part": "eyJ9AP8K"}' }]);
});

test('a range asked for with `attach` comes as raw bytes beside the reply, under the cluster tag too; without it, as base64', async (t) => {
  const secret = 'ring secret';
  const cluster = await createTestCluster(2, { secret });
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [string];
  const bytes = randomBytes(PART_BYTES + 1000);
  const peer = sealedTransport(tcpTransport({ connectTimeoutMs: 1000, maxReplyBytes: 1 << 22 }), new PeerAuth(secret));
  const asPeer = {
    exchange: (server: string, payload: string, timeoutMs: number) => peer.request(server, payload, timeoutMs),
    exchangeBytes: (server: string, payload: string, timeoutMs: number) => peer.exchange!(server, payload, timeoutMs),
  };
  await putBytes(a, 'big.bin', bytes.length, async (offset, length) => bytes.subarray(offset, offset + length), asPeer);
  const range = { offset: 1000, length: PART_BYTES };
  const raw = await ask(a, { type: 'GET', data: 'big.bin', part: range, attach: true, local: true }, 'GET', asPeer);
  assert.equal(raw.data.content, '');
  assert.ok(Buffer.concat(raw.data.bytes!).equals(bytes.subarray(1000, 1000 + PART_BYTES)));
  const inline = await ask(a, { type: 'GET', data: 'big.bin', part: range, local: true }, 'GET', asPeer);
  assert.equal(inline.data.bytes, undefined);
  assert.ok(Buffer.from(inline.data.content, 'base64').equals(bytes.subarray(1000, 1000 + PART_BYTES)));
});

test('through a transport that carries no bytes back (one given by a test or an embedder), ranges come inside replies and fetchParts still works', async (t) => {
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  const [a] = cluster.addresses as [string];
  const bytes = randomBytes(2 * PART_BYTES + 5);
  await putBytes(a, 'big.bin', bytes.length, async (offset, length) => bytes.subarray(offset, offset + length));
  const textOnly = tcpTransport({ connectTimeoutMs: 1000, maxReplyBytes: 1 << 22 });
  const options = { exchange: (server: string, payload: string, timeoutMs: number) => textOnly.request(server, payload, timeoutMs) };
  const range = await ask(a, { type: 'GET', data: 'big.bin', part: { offset: 0, length: 10 }, attach: true }, 'GET', options);
  assert.equal(range.data.bytes, undefined);
  assert.ok(Buffer.from(range.data.content, 'base64').equals(bytes.subarray(0, 10)));
  const parts: Buffer[] = [];
  await fetchParts(a, 'big.bin', (part) => void parts.push(part), options);
  assert.ok(Buffer.concat(parts).equals(bytes));
});
