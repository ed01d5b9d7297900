/** reusedReads: an accepted socket read into one buffer used again, on the Node versions this project runs on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { reusedReads } from '../../src/transport/reused-reads.js';

test('an accepted socket reads into the reused buffer: every byte in order, then its end; no data events', async (t) => {
  const sent = randomBytes(3 * 1024 * 1024 + 17);
  const received: Buffer[] = [];
  let views = 0;
  let dataEvents = 0;
  const ended = new Promise<void>((resolve, reject) => {
    const server = createServer((socket: Socket) => {
      const reuse = reusedReads(socket);
      if (!reuse) {
        reject(new Error(`Node ${process.version} no longer lets an accepted socket read into a buffer of ours`));
        return;
      }
      let last: ArrayBufferLike | undefined;
      reuse((bytes) => {
        // Views of one buffer, valid until the callback returns: copied here.
        if (last !== undefined) assert.equal(bytes.buffer, last, 'the same buffer every time');
        last = bytes.buffer;
        views++;
        received.push(Buffer.from(bytes));
      });
      socket.on('data', () => dataEvents++);
      socket.on('end', () => {
        socket.end();
        resolve();
      });
      socket.resume();
    });
    t.after(() => server.close());
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      const client = connect(port, '127.0.0.1', () => client.end(sent));
      client.on('error', reject);
    });
  });
  await ended;
  assert.ok(Buffer.concat(received).equals(sent));
  assert.ok(views > 1);
  assert.equal(dataEvents, 0);
});
