/**
 * Rings that mix our servers with the original program (test/original.ts
 * behaves as SPEC.md section 2 says the original does: one 1024-byte read,
 * relays only its own fields, rounds without ids), joined in every order, and
 * the original client against our servers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { RingNode, type NodeOptions } from '../../src/node/node.js';
import { createTestCluster } from '../../src/node/cluster.js';
import { getItem, getRing, getStatus, putItem } from '../../src/client/client.js';
import { pyDumps } from '../../src/protocol/pyjson.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { ORIGINAL_READ, OriginalServer, originalClient } from '../original.js';
import { killAll, runClient, startServer } from '../processes.js';
import { at, tempDir } from '../helpers.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const OPTIONS: NodeOptions = { host: '127.0.0.1', port: 0, heartbeatMs: 200, connectTimeoutMs: 500, roundTimeoutMs: 5000 };

interface Mixed {
  ours: RingNode[];
  originals: OriginalServer[];
  /** Starts one of ours (joining `join` when given). */
  server(join?: string): Promise<string>;
  original(): Promise<OriginalServer>;
}

function mixed(t: { after(fn: () => Promise<void>): void }): Mixed {
  const ring: Mixed = {
    ours: [],
    originals: [],
    async server(join) {
      const node = new RingNode({ ...OPTIONS, join });
      ring.ours.push(node);
      return node.start();
    },
    async original() {
      const original = new OriginalServer({ checkIntervalMs: 200 });
      ring.originals.push(original);
      await original.start();
      return original;
    },
  };
  t.after(async () => {
    await Promise.all(ring.ours.map((node) => node.stop()));
    await Promise.all(ring.originals.map((original) => original.stop()));
  });
  return ring;
}

/** Every server, ours and the originals, holds the same ring of exactly `members`. */
async function agreed(ring: Mixed, members: string[], what: string): Promise<void> {
  await waitFor(
    async () => {
      for (const node of ring.ours) if (!sameCycle(await getRing(node.address), members)) return false;
      return ring.originals.every((original) => sameCycle(original.ring, members));
    },
    { timeoutMs: 10_000, what },
  );
}

interface Pair {
  original: OriginalServer;
  o: string;
  a: string;
}

/** An original, then one of ours joining it: the ring o -> a. */
async function oursJoinsAnOriginal(ring: Mixed): Promise<Pair> {
  const original = await ring.original();
  const o = original.self;
  const a = await ring.server(o);
  await agreed(ring, [o, a], 'ours and the original to share the ring');
  return { original, o, a };
}

/** One of ours, then an original joining it: the ring a -> o. */
async function originalJoinsOurs(ring: Mixed): Promise<Pair> {
  const a = await ring.server();
  const original = await ring.original();
  const o = original.self;
  await original.join(a);
  await agreed(ring, [a, o], 'ours and the original to share the ring');
  return { original, o, a };
}

/** Two of ours, then an original joining at a: the ring a -> o -> b, where what a starts reaches b through the original. */
async function originalBetweenOurs(ring: Mixed): Promise<Pair & { b: string }> {
  const a = await ring.server();
  const b = await ring.server(a);
  await agreed(ring, [a, b], 'two of ours');
  const original = await ring.original();
  const o = original.self;
  await original.join(a);
  await agreed(ring, [a, o, b], 'the original between a and b');
  return { original, o, a, b };
}

const found = (content: string) => ({ found: true, content, encoding: undefined });

/** The original's exact reply to a GET. */
function originalGetReply(item: string, content: string): string {
  return pyDumps({ type: 'GET', data: { item, content } });
}

test('one of ours joins an original server: the ring forms, and both clients work at both servers', async (t) => {
  const ring = mixed(t);
  const { original, o, a } = await oursJoinsAnOriginal(ring);

  // The original's client PUTs at the original: its round passes ours and comes back.
  const put = await originalClient(o, { type: 'PUT', data: { item: 'from-original.txt', content: 'o1' } });
  assert.deepEqual(put.reply, { type: 'PUT', data: { item: 'from-original.txt', status: '200 OK' } });
  assert.deepEqual(await getItem(a, 'from-original.txt'), found('o1'));

  // Ours takes a PUT; the original keeps its copy.
  assert.equal(await putItem(a, 'from-ours.txt', 'a1'), '200 OK');
  assert.equal(original.items.get('from-ours.txt'), 'a1');

  // The original client reads at ours, in the original's exact form.
  assert.equal((await originalClient(a, { type: 'GET', data: 'from-original.txt' })).text, originalGetReply('from-original.txt', 'o1'));

  // A lookup the original starts is filled in by ours.
  original.items.delete('from-ours.txt');
  assert.equal((await originalClient(o, { type: 'GET', data: 'from-ours.txt' })).text, originalGetReply('from-ours.txt', 'a1'));
  assert.equal(original.lost, 0, 'every message to the original fit its one read');
});

for (const third of ['ours', 'an original'] as const) {
  for (const via of ['the original', 'ours'] as const) {
    test(`a third server, ${third}, joins a ring of ours and an original through ${via}: the ring takes it and keeps working`, async (t) => {
      const ring = mixed(t);
      const { o, a } = await oursJoinsAnOriginal(ring);
      const target = via === 'ours' ? a : o;
      if (third === 'ours') await ring.server(target);
      else await (await ring.original()).join(target);
      await waitFor(async () => (await getRing(a)).length === 3 && ring.originals.every((each) => each.ring.length === 3), {
        what: 'the third in the ring',
      });
      await agreed(ring, await getRing(a), 'all three to agree');

      // The original client at each original (its first PUT there, the only one it answers).
      for (const each of ring.originals) {
        const name = `${each.self}.txt`;
        const put = await originalClient(each.self, { type: 'PUT', data: { item: name, content: 'from the original' } });
        assert.deepEqual(put.reply, { type: 'PUT', data: { item: name, status: '200 OK' } });
        for (const node of ring.ours) assert.deepEqual(await getItem(node.address, name), found('from the original'));
      }
      for (const node of ring.ours) {
        const name = `${node.address}.txt`;
        assert.equal(await putItem(node.address, name, 'from ours'), '200 OK');
        for (const each of ring.originals) assert.equal(each.items.get(name), 'from ours');
        for (const other of ring.ours) assert.deepEqual(await getItem(other.address, name), found('from ours'));
      }
      for (const each of ring.originals) assert.equal(each.lost, 0);
    });
  }
}

test('an original joins a ring of ours: join, PUT and GET keep working; its death is repaired', async (t) => {
  const ring = mixed(t);
  const { original, a } = await originalJoinsOurs(ring);
  const b = await ring.server(a);
  await waitFor(async () => (await getRing(b)).length === 3, { what: 'the new server in a ring of three' });
  await agreed(ring, await getRing(b), 'all three to agree');
  // Our UPDATE reached the original in its own form: its fields only, in its order.
  const updates = original.received.filter((text) => text.includes('"UPDATE"'));
  assert.ok(updates.length > 0);
  for (const update of updates) assert.match(update, /^\{"creator": "127\.0\.0\.1:\d+", "type": "UPDATE", "data": \["[^\]]*"\]\}$/);

  assert.equal(await putItem(b, 'mixed.txt', 'through the original'), '200 OK');
  assert.equal(original.items.get('mixed.txt'), 'through the original');
  assert.deepEqual(await getItem(a, 'mixed.txt'), found('through the original'));

  // An item only the original holds is found by a lookup that passes it.
  original.items.set('only-there.txt', 'original content');
  assert.deepEqual(await getItem(b, 'only-there.txt'), found('original content'));
  assert.deepEqual(await getItem(a, 'nowhere.txt'), { found: false });

  await original.stop();
  await waitFor(async () => sameCycle(await getRing(a), [a, b]) && sameCycle(await getRing(b), [a, b]), {
    timeoutMs: 5000,
    what: 'the ring to drop the stopped original',
  });
});

test('a server joins through an original server as its seed: the original answers nothing to PING, the ring comes back by UPDATE', async (t) => {
  const ring = mixed(t);
  const original = await ring.original();
  const o = original.self;
  const self = await ring.server(o);
  const ours = ring.ours[0]!;
  // start() resolved: the original's UPDATE has come back, so both already hold the ring of two.
  assert.ok(sameCycle(ours.members, [o, self]));
  assert.deepEqual(original.ring, [o, self]);
  assert.equal(original.received.filter((text) => text.includes('"INSERT"')).length, 1, 'one INSERT: the original would place us twice');
});

test('writes relayed through an original keep their order: the newest copy wins at ours behind it', async (t) => {
  const ring = mixed(t);
  const { original, o, a, b } = await originalBetweenOurs(ring);

  assert.equal(await putItem(b, 'x.txt', 'v1'), '200 OK');
  assert.equal(await putItem(a, 'x.txt', 'v2'), '200 OK');
  assert.deepEqual(await getItem(b, 'x.txt'), found('v2'), 'a second PUT, relayed through the original, wins over the older copy');
  assert.equal(await putItem(a, 'x.txt', 'v3'), '200 OK');
  assert.deepEqual(await getItem(b, 'x.txt'), found('v3'));

  // A write from the original's client wins too, everywhere, and stays after the servers compare their copies.
  const put = await originalClient(o, { type: 'PUT', data: { item: 'x.txt', content: 'v4' } });
  assert.deepEqual(put.reply, { type: 'PUT', data: { item: 'x.txt', status: '200 OK' } });
  for (const server of [a, b]) assert.deepEqual(await getItem(server, 'x.txt'), found('v4'));
  for (const node of ring.ours) await node.sync.syncNow();
  for (const server of [a, b]) assert.deepEqual(await getItem(server, 'x.txt'), found('v4'));
  assert.equal(original.items.get('x.txt'), 'v4');
});

test('a binary item relayed through an original reaches ours behind it as bytes, not as its base64 text', async (t) => {
  const ring = mixed(t);
  const { o, a } = await oursJoinsAnOriginal(ring);
  const b = await ring.server(o);
  // o -> b -> a -> o: what a starts reaches b through the original.
  await agreed(ring, [o, b, a], 'all three to agree');
  const bytes = randomBytes(300);
  assert.equal(await putItem(a, 'blob.bin', bytes.toString('base64'), 'base64'), '200 OK');
  assert.deepEqual(await getItem(b, 'blob.bin'), { found: true, content: bytes.toString('base64'), encoding: 'base64' });
  assert.equal(ring.ours[1]!.store.head('blob.bin')?.size, 300);
});

test("a write too large for the original's one read passes it by: the round completes and ours behind it keep the copy", async (t) => {
  const ring = mixed(t);
  const { original, a, b } = await originalBetweenOurs(ring);
  const large = 'L'.repeat(3 * ORIGINAL_READ);
  assert.equal(await putItem(a, 'large.txt', large), '200 OK');
  assert.deepEqual(await getItem(b, 'large.txt'), found(large));
  assert.equal(original.items.has('large.txt'), false, 'the original never got it');
  assert.equal(original.lost, 0, 'nothing was sent that the original could not read');
});

test('a lookup of ours filled in before an original goes straight home: a binary item comes back as bytes', async (t) => {
  const ring = mixed(t);
  const { original, o, a } = await originalJoinsOurs(ring);
  const b = await ring.server(a);
  // a -> b -> o -> a: after b, the lookup would cross the original on its way back to a.
  await agreed(ring, [a, b, o], 'all three to agree');
  const bytes = randomBytes(200);
  const holder = ring.ours[1]!;
  await holder.store.apply(
    'only-b.bin',
    { version: { clock: Date.now(), server: b }, encoding: 'base64', content: bytes.toString('base64') },
    Date.now(),
  );
  assert.deepEqual(await getItem(a, 'only-b.bin'), { found: true, content: bytes.toString('base64'), encoding: 'base64' });
  assert.equal(ring.ours[0]!.store.head('only-b.bin')?.size, 200, 'a keeps the bytes, not their base64 text');
  assert.equal(original.items.has('only-b.bin'), false, 'the lookup did not pass the original');
});

test('two of ours that only an original connects one way learn each other: they compare their copies', async (t) => {
  const ring = mixed(t);
  const { o, a } = await oursJoinsAnOriginal(ring);
  const b = await ring.server(o);
  // o -> b -> a -> o: a never sends to b, save to answer its greeting.
  await agreed(ring, [o, b, a], 'all three to agree');
  const [first, second] = ring.ours as [RingNode, RingNode];
  await first.store.apply('only-a.txt', { version: { clock: Date.now(), server: a }, content: 'held by a' }, Date.now());
  await waitFor(async () => (await second.sync.syncNow())?.peer === a && second.store.head('only-a.txt'), {
    what: 'b to compare its copies with a',
  });
  assert.deepEqual(await getItem(b, 'only-a.txt'), found('held by a'));
});

test("an original's stale UPDATE that still lists a dead member of ours does not bring it back", async (t) => {
  const ring = mixed(t);
  const { original, o, a, b } = await originalBetweenOurs(ring);
  const c = await ring.server(b);
  await agreed(ring, [a, o, b, c], 'four in the ring');
  await ring.ours[2]!.stop();
  await waitFor(
    async () => sameCycle(await getRing(a), [a, o, b]) && sameCycle(await getRing(b), [a, o, b]) && sameCycle(original.ring, [a, o, b]),
    { timeoutMs: 10_000, what: 'the stopped server to be cut out everywhere' },
  );
  const seenAs = async (server: string) => {
    const member = (await getStatus(server)).members.find((each) => each.address === c);
    return member && { status: member.status, incarnation: member.incarnation };
  };
  const deadAt = await seenAs(a);
  assert.equal(deadAt?.status, 'dead');

  // The original's view from before c died, sent round as its own UPDATE: b, then a, then home to the original.
  original.ring = [a, o, b, c];
  const sentBefore = original.received.length;
  await original.announce();
  // Done when the round is home; a server that took c back would lose the round failing over past it.
  const home = () => original.received.slice(sentBefore).some((text) => text.includes(`"creator": "${o}", "type": "UPDATE"`));
  const takenBack = async () => !isDeepStrictEqual(await seenAs(a), deadAt) || !isDeepStrictEqual(await seenAs(b), deadAt);
  await waitFor(async () => home() || (await takenBack()), { what: 'the round to come back to the original' });
  for (const server of [a, b]) {
    assert.deepEqual(await seenAs(server), deadAt, `${server} keeps c dead, at the same incarnation`);
    assert.ok(sameCycle(await getRing(server), [a, o, b]), `${server}'s ring`);
  }
});

test('an original joins a ring whose members have come and gone: its UPDATE carries only the live ring and fits its read', async (t) => {
  const cluster = await createTestCluster(8, { heartbeatMs: 200, connectTimeoutMs: 500 });
  const original = new OriginalServer({ checkIntervalMs: 200 });
  t.after(async () => {
    await cluster.stop();
    await original.stop();
  });
  await Promise.all(cluster.nodes.slice(3).map((node) => node.stop()));
  const live = await cluster.whenConverged();
  assert.equal(live.length, 3);
  const o = await original.start();
  await original.join(live[0]!);
  await waitFor(
    async () =>
      original.ring.length === 4 &&
      (await Promise.all(live.map((server) => getRing(server)))).every((seen) => sameCycle(seen, original.ring)),
    { what: 'the original and ours to agree on the ring of four' },
  );
  assert.ok(original.ring.includes(o));
  assert.equal(original.lost, 0, 'no message to the original was longer than its one read');
  for (const text of original.received) assert.ok(Buffer.byteLength(text) < ORIGINAL_READ);
});

test('the original client against ours: PUT and GET answers in its exact form, an item as large as its one read allows', async (t) => {
  const cluster = await createTestCluster(2);
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [string, string];
  // The largest item whose reply, in the original's form, fits the original client's one read.
  const content = 'k'.repeat(ORIGINAL_READ - originalGetReply('k.txt', '').length);
  const put = await originalClient(a, { type: 'PUT', data: { item: 'k.txt', content } });
  assert.equal(put.text, '{"type": "PUT", "data": {"item": "k.txt", "status": "200 OK"}}');
  for (const server of [a, b]) {
    const get = await originalClient(server, { type: 'GET', data: 'k.txt' });
    assert.equal(get.text, originalGetReply('k.txt', content));
    assert.ok(Buffer.byteLength(get.text) <= ORIGINAL_READ);
  }
  const miss = await originalClient(b, { type: 'GET', data: 'absent.txt' });
  assert.equal(miss.text, originalGetReply('absent.txt', '404 NOT FOUND'));
  // Our own client still tells a file whose text is "404 NOT FOUND" from a miss.
  await putItem(a, 'tricky.txt', '404 NOT FOUND');
  assert.deepEqual(await getItem(b, 'tricky.txt'), found('404 NOT FOUND'));
  assert.deepEqual(await getItem(b, 'absent.txt'), { found: false });
});

test('the webserver program joins an original server named by -i/-p, and both clients work across them', async (t) => {
  const original = new OriginalServer({ checkIntervalMs: 200 });
  t.after(async () => {
    await killAll();
    await original.stop();
  });
  const o = await original.start();
  const server = await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.2', ...at(o)]);
  const a = server.address;
  await waitFor(() => sameCycle(original.ring, [o, a]), { what: 'the original to take the program into its ring' });
  await waitFor(async () => sameCycle(await getRing(a), [o, a]), { what: "the program to take the original's ring" });

  const put = await originalClient(o, { type: 'PUT', data: { item: 'index.html', content: '<h1>from the original</h1>' } });
  assert.deepEqual(put.reply, { type: 'PUT', data: { item: 'index.html', status: '200 OK' } });
  const got = await runClient(['-get', 'index.html', ...at(a)]);
  assert.equal(got.status, 0, got.stderr);
  assert.equal(got.stdout.toString('utf8'), '<h1>from the original</h1>');

  const file = join(await tempDir(t), 'page.html');
  await writeFile(file, 'from the program');
  const sent = await runClient(['-put', file, ...at(a)]);
  assert.equal(sent.status, 0, sent.stderr);
  assert.equal(original.items.get('page.html'), 'from the program');
  assert.doesNotMatch(server.output(), /came around again/);
});
