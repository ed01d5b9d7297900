/**
 * A ring that mixes our servers with one that behaves as the original does:
 * it knows only the original fields, so it drops our "id" and "found" when
 * it passes a message on, and it never answers RING.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { RingNode } from '../src/node/node.js';
import { getItem, getRing, putItem } from '../src/client/client.js';
import { sendMessage } from '../src/transport/tcp.js';
import { JsonObjectFramer } from '../src/protocol/framing.js';
import { parseAddress } from '../src/protocol/address.js';
import { pyDumps, type PyJson } from '../src/protocol/pyjson.js';
import { sameCycle } from '../src/ring/ring.js';
import { waitFor } from '../src/util/wait.js';

type Raw = { type: string; creator?: string; data: PyJson };

/** The original server's behaviour from SPEC.md section 2, reduced to what a mixed ring needs. */
class OriginalPeer {
  ring: string[] = [];
  readonly items = new Map<string, string>();
  readonly received: string[] = [];
  private server: Server | undefined;
  self = '';

  async start(): Promise<string> {
    this.server = createServer((socket) => {
      const framer = new JsonObjectFramer(1 << 26);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        const frame = framer.push(chunk);
        if (!frame) return;
        const text = frame.frame.toString('utf8');
        this.received.push(text);
        socket.end();
        void this.handle(JSON.parse(text) as Raw);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.self = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
    this.ring = [this.self];
    return this.self;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  join(target: string): Promise<void> {
    return this.send(target, { type: 'INSERT', data: this.self });
  }

  private successor(): string {
    return this.ring[(this.ring.indexOf(this.self) + 1) % this.ring.length]!;
  }

  private send(to: string, message: Record<string, PyJson>): Promise<void> {
    return sendMessage(parseAddress(to), pyDumps(message), 1000);
  }

  /** Passes a message on with only the original's fields, in its order. */
  private forward(message: Raw): Promise<void> {
    return this.send(this.successor(), { creator: message.creator!, type: message.type, data: message.data });
  }

  private async handle(message: Raw): Promise<void> {
    const data = message.data as Record<string, string>;
    switch (message.type) {
      case 'INSERT':
        this.ring.splice(this.ring.indexOf(this.self) + 1, 0, message.data as string);
        return this.send(this.successor(), { creator: this.self, type: 'UPDATE', data: this.ring });
      case 'UPDATE':
        if (message.creator === this.self) return;
        this.ring = message.data as string[];
        return this.forward(message);
      case 'FORWARD_PUT':
        if (message.creator === this.self) return;
        this.items.set(data.item!, data.content!);
        return this.forward(message);
      case 'FORWARD_GET': {
        if (message.creator === this.self) return;
        const held = this.items.get(data.item!);
        const content = held ?? data.content!;
        this.items.set(data.item!, content); // the original's defect 9, kept on purpose
        return this.forward({ ...message, data: { item: data.item!, content } });
      }
    }
  }
}

test('a mixed ring with an original server: join, PUT and GET keep working; its death is repaired', async (t) => {
  const options = { host: '127.0.0.1', port: 0, heartbeatMs: 200, connectTimeoutMs: 500 };
  const first = new RingNode(options);
  const original = new OriginalPeer();
  const later: RingNode[] = [];
  t.after(async () => {
    await Promise.all([first, ...later].map((node) => node.stop()));
    await original.stop();
  });
  const a = await first.start();
  const o = await original.start();
  await original.join(a);
  await waitFor(async () => (await getRing(a)).length === 2, { what: 'the original server in our ring' });
  const second = new RingNode({ ...options, join: a });
  later.push(second);
  const b = await second.start();
  await waitFor(
    async () => sameCycle(await getRing(a), [a, b, o]) && sameCycle(await getRing(b), [a, b, o]) && original.ring.length === 3,
    {
      what: 'all three to agree',
    },
  );
  // Our UPDATE reached the original byte-compatible: its fields first, in its order, in its format.
  const update = original.received.find((text) => text.includes('"UPDATE"'))!;
  assert.match(update, /^\{"creator": "127\.0\.0\.1:\d+", "type": "UPDATE", "data": \["127\.0\.0\.1:\d+", /);

  // PUT at our server: the round passes the original, which drops our id; the answer still comes.
  assert.equal(await putItem(b, 'mixed.txt', 'through the original'), '200 OK');
  assert.equal(original.items.get('mixed.txt'), 'through the original');
  assert.deepEqual(await getItem(a, 'mixed.txt'), { found: true, content: 'through the original', encoding: undefined });

  // An item only the original holds is found by a lookup that passes it.
  original.items.set('only-there.txt', 'original content');
  assert.deepEqual(await getItem(b, 'only-there.txt'), { found: true, content: 'original content', encoding: undefined });
  assert.deepEqual(await getItem(a, 'nowhere.txt'), { found: false });

  await original.stop();
  await waitFor(async () => sameCycle(await getRing(a), [a, b]) && sameCycle(await getRing(b), [a, b]), {
    timeoutMs: 5000,
    what: 'the ring to drop the stopped original',
  });
});

test('a server joins through an original server as its seed: the original answers nothing to PING, the ring comes back by UPDATE', async (t) => {
  const original = new OriginalPeer();
  const o = await original.start();
  const ours = new RingNode({ host: '127.0.0.1', port: 0, heartbeatMs: 200, connectTimeoutMs: 500, join: o });
  t.after(async () => {
    await ours.stop();
    await original.stop();
  });
  const self = await ours.start();
  // start() resolved: the original's UPDATE has come back, so both already hold the ring of two.
  assert.ok(sameCycle(ours.members, [o, self]));
  assert.deepEqual(original.ring, [o, self]);
  assert.equal(original.received.filter((text) => text.includes('"INSERT"')).length, 1, 'one INSERT: the original would place us twice');
});
