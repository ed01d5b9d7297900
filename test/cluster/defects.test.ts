/** One test (or more) per defect of the original that must not come back: SPEC.md section 3. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCluster } from '../../src/node/cluster.js';
import { getItem, getRing, putItem } from '../../src/client/client.js';
import { sendMessage } from '../../src/transport/dial.js';
import { tcpTransport } from '../../src/node/node.js';
import { parseAddress } from '../../src/protocol/address.js';
import { sameCycle } from '../../src/ring/ring.js';
import { waitFor } from '../../src/util/wait.js';
import { captureLog, rawExchange } from '../helpers.js';

async function runAll<T>(tasks: Array<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]!();
      }
    }),
  );
  return results;
}

test('defect 1: concurrent clients mixing hits, misses and PUTs at every server each get their own answer', async (t) => {
  // Items written while the ring has one server live only there: lookups at
  // the later servers travel the ring, so many rounds are in flight at once.
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  // Sizes differ widely, so that small rounds overtake big ones on the way.
  const items = Array.from(
    { length: 120 },
    (_, i) => [`item-${i}.txt`, `content of item ${i} `.repeat(i % 8 === 0 ? 40_000 : 1 + (i % 7))] as const,
  );
  for (const [name, content] of items) await putItem(cluster.addresses[0]!, name, content);
  await cluster.add();
  await cluster.add();
  const servers = cluster.addresses;

  type Outcome = { ok: boolean; what: string };
  const tasks: Array<() => Promise<Outcome>> = [];
  items.forEach(([name, content], i) => {
    for (const server of servers.slice(1)) {
      tasks.push(async () => {
        const lookup = await getItem(server, name);
        return { ok: lookup.found && lookup.content === content, what: `GET ${name} at ${server}` };
      });
    }
    tasks.push(async () => {
      const lookup = await getItem(servers[i % 3]!, `missing-${i}`);
      return { ok: !lookup.found, what: `GET missing-${i}` };
    });
    tasks.push(async () => {
      const status = await putItem(servers[(i + 1) % 3]!, `new-${i}`, `new content ${i}`);
      return { ok: status === '200 OK', what: `PUT new-${i}` };
    });
  });
  // Shuffle deterministically so that hits, misses and PUTs interleave.
  for (let i = tasks.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [tasks[i], tasks[j]] = [tasks[j]!, tasks[i]!];
  }
  const outcomes = await runAll(tasks, 64);
  const wrong = outcomes.filter((outcome) => !outcome.ok).map((outcome) => outcome.what);
  assert.deepEqual(wrong, []);
  assert.equal(outcomes.length, items.length * 4);
  // The PUTs landed everywhere.
  for (const server of servers) {
    assert.deepEqual(await getItem(server, 'new-7'), { found: true, content: 'new content 7', encoding: undefined });
  }
});

test('defect 2: a message of many megabytes is taken whole; one over the limit gets an error and the server keeps going', async (t) => {
  const cluster = await createTestCluster(3, { maxMessageBytes: 24 * 1024 * 1024 });
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [string, string];
  const big = 'x'.repeat(16 * 1024 * 1024);
  assert.equal(await putItem(a, 'big.txt', big), '200 OK');
  const copy = await getItem(b, 'big.txt');
  assert.ok(copy.found && copy.content.length === big.length && copy.content === big);

  const tooBig = 'y'.repeat(25 * 1024 * 1024);
  await assert.rejects(putItem(a, 'too-big.txt', tooBig), { code: 'TOO_LARGE' });
  assert.deepEqual(await getItem(a, 'too-big.txt'), { found: false });
  assert.equal(await putItem(a, 'small.txt', 'still here'), '200 OK');
});

test('defect 3: every PUT a server receives is answered, one after another and all at once', async (t) => {
  const cluster = await createTestCluster(3);
  t.after(() => cluster.stop());
  const a = cluster.addresses[0]!;
  for (let i = 0; i < 30; i++) assert.equal(await putItem(a, `seq-${i}`, `v${i}`), '200 OK');
  const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => putItem(a, `par-${i}`, `v${i}`)));
  assert.deepEqual(new Set(statuses), new Set(['200 OK']));
  assert.equal(statuses.length, 200);
});

test('defect 6: a FORWARD round whose creator is gone stops after one lap', async (t) => {
  const capture = captureLog();
  const sent: string[] = [];
  const transport = {
    ...tcpTransport({ connectTimeoutMs: 500, maxReplyBytes: 1 << 26 }),
    send(to: string, payload: string) {
      sent.push(payload);
      return sendMessage(parseAddress(to), payload, 500);
    },
  };
  const cluster = await createTestCluster(3, { log: capture.log, transport });
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [string, string, string];
  const ghost = '{"creator": "127.0.0.1:1", "type": "FORWARD_PUT", "data": {"item": "orphan", "content": "o"}, "id": "ghost-1"}';
  await rawExchange(b, ghost, { halfClose: true });
  await waitFor(() => capture.has('came around again'), { what: 'the orphan round to be dropped' });
  // b -> c -> a -> b, and b drops it: three sends, not one more.
  assert.equal(sent.filter((payload) => payload.includes('"ghost-1"')).length, 3);
  for (const server of [a, b, c]) assert.equal((await getItem(server, 'orphan')).found, true);

  // A round from an original server carries no id: a creator outside the ring stops it at once.
  const before = sent.length;
  await rawExchange(a, '{"creator": "127.0.0.1:1", "type": "FORWARD_GET", "data": {"item": "zzz", "content": "404 NOT FOUND"}}', {
    halfClose: true,
  });
  await waitFor(() => capture.lines.filter((line) => line.msg.includes('came around again')).length === 2, {
    what: 'the id-less round to be dropped',
  });
  assert.equal(sent.slice(before).filter((payload) => payload.includes('"zzz"')).length, 0);
});

test('defect 6: an UPDATE without id whose creator is gone stops at once and brings nobody back', async (t) => {
  const capture = captureLog();
  const cluster = await createTestCluster(3, { log: capture.log, heartbeatMs: 200, connectTimeoutMs: 500 });
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.addresses as [string, string, string];
  await cluster.nodes[2]!.stop();
  await waitFor(async () => sameCycle(await getRing(a), [a, b]) && sameCycle(await getRing(b), [a, b]), {
    what: 'the stopped server to be cut out',
  });
  // What an original creator would send, or a round of it still going after it died: it lists its creator.
  await rawExchange(a, `{"creator": "${c}", "type": "UPDATE", "data": ["${a}", "${b}", "${c}"]}`, { halfClose: true });
  await waitFor(() => capture.has(`UPDATE from ${c} came around again`), { what: 'the round to be dropped' });
  for (const server of [a, b]) assert.ok(sameCycle(await getRing(server), [a, b]), `${server}'s ring`);
});

const HOSTILE: Array<{ name: string; bytes: string | Buffer; code: string }> = [
  { name: 'malformed JSON', bytes: '{"type": "GET", "data": }', code: 'BAD_JSON' },
  // Not opening a JSON object: the same port takes it for HTTP, which refuses it with 400.
  { name: 'an array', bytes: '[1, 2, 3]', code: 'HTTP 400' },
  { name: 'a bare string', bytes: '"GET"', code: 'HTTP 400' },
  { name: 'binary garbage', bytes: Buffer.from([0xff, 0x00, 0x13, 0x37, 0x7b, 0x22]), code: 'HTTP 400' },
  { name: 'an object, then garbage after a NUL', bytes: '{"type": "GET", "data": "x"\u0000}', code: 'BAD_JSON' },
  { name: 'an unknown type', bytes: '{"type": "DESTROY"}', code: 'UNKNOWN_TYPE' },
  { name: 'no type', bytes: '{"data": "x"}', code: 'BAD_FIELD' },
  { name: 'a number as the GET name', bytes: '{"type": "GET", "data": 5}', code: 'BAD_FIELD' },
  { name: 'a PUT without content', bytes: '{"type": "PUT", "data": {"item": "a"}}', code: 'BAD_FIELD' },
  { name: 'a PUT with an empty name', bytes: '{"type": "PUT", "data": {"item": "", "content": "x"}}', code: 'BAD_NAME' },
  { name: 'a name with NUL', bytes: '{"type": "PUT", "data": {"item": "a\\u0000b", "content": "x"}}', code: 'BAD_NAME' },
  { name: 'an overlong name', bytes: `{"type": "PUT", "data": {"item": "${'n'.repeat(300)}", "content": "x"}}`, code: 'BAD_NAME' },
  { name: 'deep nesting', bytes: '{"type": "PUT", "data": ' + '['.repeat(5000) + ']'.repeat(5000) + '}', code: 'TOO_DEEP' },
  { name: 'an UPDATE with an empty ring', bytes: '{"creator": "127.0.0.1:9", "type": "UPDATE", "data": []}', code: 'BAD_FIELD' },
  { name: 'an UPDATE with a bad address', bytes: '{"creator": "127.0.0.1:9", "type": "UPDATE", "data": ["nowhere"]}', code: 'BAD_FIELD' },
  { name: 'an INSERT of a non-address', bytes: '{"type": "INSERT", "data": 42}', code: 'BAD_FIELD' },
  { name: 'a truncated object, then end of stream', bytes: '{"type": "PUT", "data": {"item": "t", "con', code: 'CLOSED' },
  { name: 'huge numbers', bytes: '{"type": "GET", "data": 1e999999}', code: 'BAD_FIELD' },
  {
    name: 'overlong UTF-8 in a name',
    bytes: Buffer.concat([Buffer.from('{"type": "GET", "data": "'), Buffer.from([0xc0, 0xae, 0xc0, 0xae]), Buffer.from('"}')]),
    code: 'BAD_JSON',
  },
  { name: 'a lone surrogate, encoded', bytes: Buffer.from('{"type": "GET", "data": "\xed\xa0\x80"}', 'latin1'), code: 'BAD_JSON' },
];

test('defect 10: hostile input gets a clear error reply, and the server and its data are unharmed', async (t) => {
  const cluster = await createTestCluster(2);
  t.after(() => cluster.stop());
  const [a, b] = cluster.addresses as [string, string];
  await putItem(a, 'keep.txt', 'precious');
  const ringBefore = await getRing(a);
  for (const { name, bytes, code } of HOSTILE) {
    const reply = await rawExchange(a, bytes, { halfClose: true });
    assert.ok(reply.closed, `${name}: the server closes the connection`);
    if (code === 'HTTP 400') {
      assert.match(reply.text, /^HTTP\/1\.1 400 /, name);
      continue;
    }
    const parsed = JSON.parse(reply.text) as { type: string; data: { code: string } };
    assert.equal(parsed.type, 'ERROR', name);
    assert.equal(parsed.data.code, code, name);
  }
  // Not half-closed, as the original client does: the reply still comes.
  const open = await rawExchange(a, '{"type": "NOPE"}');
  assert.equal(JSON.parse(open.text).data.code, 'UNKNOWN_TYPE');

  assert.deepEqual(await getItem(b, 'keep.txt'), { found: true, content: 'precious', encoding: undefined });
  assert.deepEqual(await getItem(a, 'a'), { found: false });
  assert.deepEqual(await getRing(a), ringBefore);
});

test('defect 10: a client that connects and never finishes is cut off by the idle timeout', async (t) => {
  const cluster = await createTestCluster(1, { idleTimeoutMs: 300 });
  t.after(() => cluster.stop());
  const a = cluster.addresses[0]!;
  const reply = await rawExchange(a, '{"type": "GET", "da', { timeoutMs: 5000 });
  assert.ok(reply.closed);
  assert.equal(JSON.parse(reply.text).data.code, 'TIMEOUT');
  assert.deepEqual(await getItem(a, 'x'), { found: false });
});
