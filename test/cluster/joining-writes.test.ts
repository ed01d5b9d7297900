/**
 * A server still joining its ring takes no client writes: acknowledged, they
 * would be lost with the server if the join fails. Over JSON it answers
 * NOT_READY, over HTTP 503 with Retry-After, whole items and parts alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { RingNode } from '../../src/node/node.js';
import { deleteItem, PART_BYTES, putBytes, putItem } from '../../src/client/client.js';
import { NOT_READY_RETRY_AFTER_SECONDS } from '../../src/http/web.js';
import { waitFor } from '../../src/util/wait.js';

/** A node whose seed takes connections and never answers: it stays joining until stopped. */
async function joiningNode(t: { after(fn: () => Promise<void>): void }): Promise<{ node: RingNode; address: string }> {
  const sockets = new Set<Socket>();
  const seed = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {}).resume();
  });
  await new Promise<void>((resolve) => seed.listen(0, '127.0.0.1', resolve));
  const node = new RingNode({ host: '127.0.0.1', port: 0, join: `127.0.0.1:${(seed.address() as AddressInfo).port}` });
  // start() resolves only once joined: the server answers requests meanwhile.
  const joined = node.start();
  t.after(async () => {
    await node.stop();
    await joined.catch(() => undefined);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => seed.close(resolve));
  });
  const address = await waitFor(() => node.members[0], { timeoutMs: 5000, what: 'the joiner to listen' });
  return { node, address };
}

const notReady = { code: 'NOT_READY' };

test('while joining, JSON PUT (whole and in parts) and DELETE get NOT_READY, and nothing is stored', async (t) => {
  const { node, address } = await joiningNode(t);
  await assert.rejects(putItem(address, 'a.txt', 'hello'), notReady);
  const size = 2 * PART_BYTES + 1;
  await assert.rejects(
    putBytes(address, 'large.bin', size, async (_offset, length) => Buffer.alloc(length, 7)),
    notReady,
  );
  await assert.rejects(deleteItem(address, 'a.txt'), notReady);
  for (const item of ['a.txt', 'large.bin']) assert.equal(node.store.head(item), undefined, `${item} is not held`);
  assert.equal(node.store.size, 0);
});

test('while joining, HTTP PUT (whole and in parts) and DELETE get 503 with Retry-After, and nothing is stored', async (t) => {
  const { node, address } = await joiningNode(t);
  const retryAfter = String(NOT_READY_RETRY_AFTER_SECONDS);
  for (const [name, body] of [
    ['b.txt', 'hello'],
    ['large.bin', Buffer.alloc(2 * PART_BYTES + 1, 7)],
  ] as const) {
    const put = await fetch(`http://${address}/${name}`, { method: 'PUT', body });
    assert.equal(put.status, 503, `PUT ${name}`);
    assert.equal(put.headers.get('retry-after'), retryAfter);
    assert.match(await put.text(), /still joining/);
  }
  const removed = await fetch(`http://${address}/b.txt`, { method: 'DELETE' });
  assert.equal(removed.status, 503);
  assert.equal(removed.headers.get('retry-after'), retryAfter);
  // A read it cannot answer is not ready either, and says when to ask again.
  const read = await fetch(`http://${address}/b.txt`);
  assert.equal(read.status, 503);
  assert.equal(read.headers.get('retry-after'), retryAfter);
  for (const item of ['b.txt', 'large.bin']) assert.equal(node.store.head(item), undefined, `${item} is not held`);
  assert.equal(node.store.size, 0);
});
