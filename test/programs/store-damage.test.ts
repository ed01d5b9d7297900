/**
 * A data directory that goes bad under the real programs: a corrupted LMDB
 * file, a flipped bit in a record, blobs cut short or changed, the directory
 * removed while running, a read-only directory; and a webclient paused while
 * its reply waits in its socket.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { deleteItem, getItem, getRing, putBytes, putItem } from '../../src/client/client.js';
import { parseAddress } from '../../src/protocol/address.js';
import { isCoopError } from '../../src/errors.js';
import { INLINE_LIMIT } from '../../src/store/items.js';
import { waitFor } from '../../src/util/wait.js';
import { at, tempDir } from '../helpers.js';
import { killAll, runClient, runProgram, startServer, WEBCLIENT, WEBSERVER, type ServerProcess } from '../processes.js';

after(killAll);

const FAST = ['--listen', '127.0.0.1:0', '--heartbeat', '0.2', '--sync-interval', '0.3'];

async function health(server: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const response = await fetch(`http://${server}/_health`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
}

/** A ring of two: `a` in memory, `b` on `dir`. */
async function ringOfTwo(dir: string, extra: string[] = []): Promise<{ a: ServerProcess; b: ServerProcess }> {
  const a = await startServer(FAST);
  const b = await startServer([...FAST, '--data', dir, '--join', a.address, ...extra]);
  // `a` holds `b` a moment before `b` has heard its join is done: until then `b` answers NOT_READY.
  await waitFor(async () => (await getRing(a.address)).length === 2 && (await health(b.address)).body.reason !== 'joining', {
    what: 'a ring of two, b joined',
  });
  return { a, b };
}

/** Waits until `b` has compared contents with a peer (healthy), then stops `a`, so what `b` serves is its own. */
async function aloneWithItsOwnCopies(a: ServerProcess, b: ServerProcess): Promise<void> {
  await waitFor(async () => (await health(b.address)).status === 200, { timeoutMs: 15_000, what: 'b to catch up' });
  await a.kill('SIGTERM');
  await waitFor(async () => (await getRing(b.address)).length === 1, { what: 'b alone' });
}

const bigBytes = (seed: number): Buffer => Buffer.alloc(INLINE_LIMIT + 50_000, seed);

test('a corrupted LMDB file: the webserver exits 4 naming its index and --repair; with --repair it moves the index aside and refills from the ring', async (t) => {
  const dir = await tempDir(t);
  const { a, b } = await ringOfTwo(dir);
  for (let i = 0; i < 20; i++) assert.equal(await putItem(a.address, `item-${i}`, `content ${i}`), '200 OK');
  await b.kill('SIGTERM');
  // Garbage over both meta pages: LMDB itself faults on this (SIGSEGV) instead of failing.
  const file = join(dir, 'index', 'data.mdb');
  const bytes = await readFile(file);
  for (const page of [0, 4096]) bytes.fill(0xab, page + 16, page + 200);
  await writeFile(file, bytes);

  const refused = await runProgram(WEBSERVER, [...FAST, '--data', dir, '--join', a.address]);
  const said = refused.stdout.toString('utf8') + refused.stderr;
  assert.equal(refused.status, 4, said);
  assert.match(
    said,
    new RegExp(`data directory ${dir}: its index ${join(dir, 'index')} is damaged \\(reading it crashed a test process with SIGSEGV\\)`),
  );
  assert.match(said, /start with --repair/);

  const repaired = await startServer([...FAST, '--data', dir, '--join', a.address, '--repair']);
  assert.match(repaired.output(), /its damaged index \(.*\) was moved to .*index\.damaged-/);
  assert.ok((await readdir(dir)).some((name) => name.startsWith('index.damaged-')));
  await aloneWithItsOwnCopies(a, repaired);
  for (let i = 0; i < 20; i++)
    assert.deepEqual(await getItem(repaired.address, `item-${i}`), { found: true, content: `content ${i}`, encoding: undefined });
});

test('a flipped deleted bit, a blob cut short and a changed byte in a blob: dropped at restart and fetched again from the ring', async (t) => {
  const dir = await tempDir(t);
  const { a, b } = await ringOfTwo(dir);
  assert.equal(await putItem(a.address, 'flip.txt', 'alive'), '200 OK');
  assert.equal(await putItem(a.address, 'gone.txt', 'soon deleted'), '200 OK');
  assert.equal(await deleteItem(a.address, 'gone.txt'), '200 OK');
  const cut = bigBytes(1);
  const changed = bigBytes(2);
  for (const [name, content] of [
    ['cut.bin', cut],
    ['changed.bin', changed],
  ] as const) {
    assert.equal(await putBytes(a.address, name, content.length, async (o, l) => content.subarray(o, o + l)), '200 OK');
  }
  await b.kill('SIGTERM');

  const db = openLmdb<Record<string, unknown>, string>({ path: join(dir, 'index'), compression: false });
  let blobs: { cut: string; changed: string };
  try {
    // As a flipped bit would: the flag changes, the record's checksum does not.
    await db.put('flip.txt', { ...db.get('flip.txt')!, deleted: true });
    await db.put('gone.txt', { ...db.get('gone.txt')!, deleted: false });
    blobs = { cut: db.get('cut.bin')!['blob'] as string, changed: db.get('changed.bin')!['blob'] as string };
  } finally {
    await db.close();
  }
  await truncate(join(dir, 'blobs', blobs.cut), 4096);
  const blob = await readFile(join(dir, 'blobs', blobs.changed));
  blob[1000]! ^= 0x10;
  await writeFile(join(dir, 'blobs', blobs.changed), blob);

  const restarted = await startServer([...FAST, '--data', dir, '--join', a.address]);
  await waitFor(() => /4 damaged items dropped/.test(restarted.output()), { what: 'the damage to be reported', timeoutMs: 5000 }).catch(
    () => assert.fail(restarted.output()),
  );
  for (const name of ['flip.txt', 'gone.txt', 'cut.bin', 'changed.bin']) assert.ok(restarted.output().includes(name), restarted.output());
  await aloneWithItsOwnCopies(a, restarted);
  assert.deepEqual(await getItem(restarted.address, 'flip.txt'), { found: true, content: 'alive', encoding: undefined });
  assert.deepEqual(await getItem(restarted.address, 'gone.txt'), { found: false });
  for (const [name, content] of [
    ['cut.bin', cut],
    ['changed.bin', changed],
  ] as const) {
    const client = await runClient([...at(restarted.address), '--get', name]);
    assert.equal(client.status, 0, client.stderr);
    assert.ok(client.stdout.equals(content), `${name} comes back byte-exact`);
  }
});

test('the data directory removed under a running webserver: no write is acknowledged, it leaves the ring and exits 5 saying why', async (t) => {
  const dir = await tempDir(t);
  const { a, b } = await ringOfTwo(dir);
  assert.equal(await putItem(b.address, 'before.txt', 'kept by the ring'), '200 OK');
  await rm(dir, { recursive: true, force: true });
  // Whether it still listens or has gone already, nothing it takes now is acknowledged.
  const outcome = await putItem(b.address, 'after.txt', 'nowhere to keep it').then(
    (status) => status,
    (err: unknown) => (isCoopError(err) ? err.code : String(err)),
  );
  // Refused as unkeepable, refused as stopping, cut off (outcome unknown), or gone: never 200 OK, nor an internal error.
  assert.ok(['STORE_UNAVAILABLE', 'SHUTTING_DOWN', 'OUTCOME_UNKNOWN', 'CONNECT_FAILED'].includes(outcome), outcome);
  assert.equal(await b.exited, 5, b.output());
  assert.match(b.output(), new RegExp(`data directory ${dir} was removed or replaced while this server ran`));
  assert.match(b.output(), /leaving the ring and stopping/);
  assert.deepEqual(await getRing(a.address), [a.address]);
  assert.deepEqual(await getItem(a.address, 'before.txt'), { found: true, content: 'kept by the ring', encoding: undefined });
});

const canMount =
  process.getuid?.() === 0 && spawnSync('unshare', ['-m', '--propagation', 'private', 'mount', '-t', 'tmpfs', 'none', '/mnt']).status === 0;
const noMount = canMount ? false : 'needs root and unshare -m (a private mount namespace) to make a read-only mount';

test('a read-only data directory at start: exit 4 with one line naming the directory', { skip: noMount }, async (t) => {
  const dir = await tempDir(t);
  const readOnly = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind -o ro "$0" "$0" && exec "$@"', dir];
  const run = await runProgram(WEBSERVER, [...FAST, '--data', dir], {}, readOnly);
  const said = run.stdout.toString('utf8') + run.stderr;
  assert.equal(run.status, 4, said);
  assert.match(said, new RegExp(`data directory ${dir} cannot be written \\(EROFS\\)`));
});

test(
  'a data directory that turns read-only while running: large writes get STORE_UNAVAILABLE (503), /_health says EROFS, reads go on',
  { skip: noMount },
  async (t) => {
    const dir = await tempDir(t);
    const server = await startServer([...FAST, '--data', dir], {}, undefined, ['unshare', '-m', '--propagation', 'private']);
    assert.equal(await putItem(server.address, 'small.txt', 'readable'), '200 OK');
    // Its staging folder, inside the server's own mount namespace (nothing is open for writing there).
    const staging = join(dir, 'staging');
    const mounted = spawnSync('nsenter', ['-t', String(server.process.pid), '-m', 'mount', '--bind', '-o', 'ro', staging, staging]);
    assert.equal(mounted.status, 0, mounted.stderr.toString());
    const big = bigBytes(3);
    await assert.rejects(
      putBytes(server.address, 'big.bin', big.length, async (o, l) => big.subarray(o, o + l)),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'STORE_UNAVAILABLE');
        assert.match(err.message, /503 SERVICE UNAVAILABLE: this server cannot keep writes \(EROFS on its data directory\)/);
        return true;
      },
    );
    await waitFor(() => server.output().includes(`data directory ${dir} cannot be written (EROFS)`), {
      what: 'the log line naming the directory',
    });
    assert.deepEqual(await health(server.address), { status: 503, body: { status: 'unavailable', reason: 'store failed: EROFS' } });
    assert.deepEqual(await getItem(server.address, 'small.txt'), { found: true, content: 'readable', encoding: undefined });
  },
);

test('a webclient stopped (SIGSTOP) longer than its --timeout while a reply waits in its socket reads that reply when continued', async (t) => {
  const server = await startServer(FAST);
  const target = parseAddress(server.address);
  const file = join(await tempDir(t), 'upload.bin');
  const content = randomBytes(4 * 256 * 1024 + 1000);
  await writeFile(file, content);
  // A relay between the client and the server that stops the client as the last bytes of its upload
  // (one HTTP PUT) arrive (the client is then still busy, not waiting in its event loop, as when Ctrl-Z
  // lands mid-work), and continues it well after its timeout, once the answer waits in its socket.
  let clientPid = 0;
  let connections = 0;
  let answerWaits: () => void = () => undefined;
  const answerInSocket = new Promise<void>((resolve) => (answerWaits = resolve));
  const relay = createServer((client: Socket) => {
    connections++;
    const upstream = createConnection(target);
    let head = '';
    let body = -1;
    client.on('data', (chunk: Buffer) => {
      if (body < 0) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) body = head.length - end - 4;
      } else {
        body += chunk.length;
      }
      upstream.write(chunk);
      if (body >= content.length) {
        body = -Infinity;
        process.kill(clientPid, 'SIGSTOP');
        // The pause is what is tested: four times the client's timeout at least, and until the answer
        // has been handed to the client's socket (a server slowed by a busy disk may take longer).
        const paused = new Promise((resolve) => setTimeout(resolve, 2000));
        void Promise.all([paused, answerInSocket]).then(() => process.kill(clientPid, 'SIGCONT'));
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk, answerWaits));
    upstream.on('end', () => client.end());
    for (const socket of [client, upstream]) socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.after(() => relay.close());
  const port = (relay.address() as { port: number }).port;
  const child = spawn(process.execPath, [WEBCLIENT, '-i', '127.0.0.1', '-p', String(port), '--timeout', '0.5', '--put', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  clientPid = child.pid!;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(connections, 1, 'the file went as one HTTP PUT through the relay');
  assert.equal(status, 0, stderr);
  const stored = await runClient([...at(server.address), '--get', 'upload.bin']);
  assert.ok(stored.stdout.equals(content));
});
