/**
 * A server whose disk fills up: its data directory is a small tmpfs in a
 * mount namespace of its own (`unshare -m`), filled and freed from outside
 * with `nsenter`. It must refuse writes with NO_SPACE (507 over HTTP) and not
 * crash, keep answering reads (items it lacks included, without leaking
 * descriptors), stay in the ring and relay rounds, never commit a truncated
 * large item, and catch up by itself once space is freed.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { ask, getItem, getRing, putBytes, putItem, fetchParts } from '../../src/client/client.js';
import { isCoopError } from '../../src/errors.js';
import { sameCycle } from '../../src/ring/ring.js';
import { sha1 } from '../../src/store/hash.js';
import { waitFor } from '../../src/util/wait.js';
import { killAll, startServer, type ServerProcess } from '../processes.js';
import { at, tempDir } from '../helpers.js';

after(killAll);

const MiB = 1024 * 1024;
const TMPFS_BYTES = 24 * MiB;
const RESERVE = '2MiB';
// Items over --max-message travel in lookups as a holder's address, not whole: 5 MiB items show that path.
const OPTIONS = [
  '--heartbeat',
  '0.5',
  '--suspicion-timeout',
  '3',
  '--round-timeout',
  '10',
  '--sync-interval',
  '0.5',
  '--max-message',
  '4MiB',
];

function unavailable(): string | false {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'needs root on Linux to mount a tmpfs in a mount namespace';
  const probe = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs /mnt && nsenter --version'], { stdio: 'ignore' });
  return probe.status === 0 ? false : 'unshare -m with a tmpfs mount, or nsenter, does not work here';
}
const skip = unavailable();

/** Runs the server with `dir` a tmpfs of its own, seen by it alone; `left`: filled before it starts but for that many bytes. */
function onTmpfs(dir: string, left?: number): string[] {
  const fill = left === undefined ? '' : ` && fallocate -l ${TMPFS_BYTES - left} '${dir}/filler'`;
  return ['unshare', '-m', 'sh', '-c', `mount -t tmpfs -o size=${TMPFS_BYTES} tmpfs '${dir}'${fill} && exec "$@"`, 'sh'];
}

/** A shell command in the server's mount namespace (where its tmpfs is). */
function inNamespace(server: ServerProcess, command: string): string {
  const run = spawnSync('nsenter', ['-t', String(server.process.pid), '-m', '--', 'sh', '-c', command], { encoding: 'utf8' });
  assert.equal(run.status, 0, `${command}: ${run.stderr}`);
  return run.stdout;
}

function freeBytes(server: ServerProcess, dir: string): number {
  return Number(inNamespace(server, `df -B1 --output=avail '${dir}' | tail -1`).trim());
}

/** Fills the disk until only `left` bytes are free. */
function fillUntil(server: ServerProcess, dir: string, left: number, filler = 'filler'): void {
  const size = freeBytes(server, dir) - left;
  inNamespace(server, `fallocate -l ${size} '${dir}/${filler}'`);
}

async function openDescriptors(server: ServerProcess): Promise<number> {
  return (await readdir(`/proc/${server.process.pid}/fd`)).length;
}

function httpPut(server: string, name: string, body: Buffer): Promise<number> {
  const [host, port] = [server.slice(0, server.lastIndexOf(':')), Number(server.slice(server.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method: 'PUT', path: `/${name}`, headers: { 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function httpGet(server: string, name: string): Promise<{ status: number; body: Buffer; etag?: string | undefined }> {
  const [host, port] = [server.slice(0, server.lastIndexOf(':')), Number(server.slice(server.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    request({ host, port, path: `/${name}` }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), etag: res.headers.etag }));
    })
      .on('error', reject)
      .end();
  });
}

async function refusedWith(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isCoopError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'accepted';
}

async function contentOf(server: string, name: string, timeoutMs?: number): Promise<string | undefined> {
  const lookup = await getItem(server, name, { timeoutMs });
  return lookup.found ? lookup.content : undefined;
}

async function localBytes(server: string, name: string): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  const info = await fetchParts(server, name, (bytes) => void parts.push(bytes), { local: true });
  return info ? Buffer.concat(parts) : undefined;
}

interface Ring {
  a: ServerProcess;
  full: ServerProcess;
  c: ServerProcess;
  dir: string;
  all: string[];
}

async function ringWithSmallDisk(t: { after(fn: () => Promise<void>): void }): Promise<Ring> {
  const base = await tempDir(t);
  const dir = `${base}/full`;
  spawnSync('mkdir', ['-p', dir]);
  const a = await startServer(['--listen', '127.0.0.1:0', '--memory', ...OPTIONS]);
  const full = await startServer(
    ['--listen', '127.0.0.1:0', '--data', dir, '--min-free', RESERVE, ...OPTIONS, ...at(a.address)],
    {},
    undefined,
    onTmpfs(dir),
  );
  const c = await startServer(['--listen', '127.0.0.1:0', '--memory', ...OPTIONS, ...at(full.address)]);
  t.after(async () => {
    await Promise.all([a, full, c].map((server) => server.kill()));
  });
  const all = [a.address, full.address, c.address];
  await waitFor(async () => (await Promise.all(all.map((s) => getRing(s)))).every((view) => sameCycle(view, all)), {
    what: 'the ring to form',
  });
  return { a, full, c, dir, all };
}

test(
  'a full disk: writes refused with NO_SPACE and 507, reads and the ring go on, and the server catches up once space is freed',
  { skip },
  async (t) => {
    const { a, full, c, dir, all } = await ringWithSmallDisk(t);
    await putItem(full.address, 'before.txt', 'stored while there was room');
    fillUntil(full, dir, MiB); // less than the reserve

    // Writes at the full server: refused, named, not crashed. (Free space is looked up about once a second:
    // a write in the moment after the disk filled may still be taken, while there is room for it.)
    const json = await waitFor(
      async () => {
        const outcome = await refusedWith(putItem(full.address, 'small.txt', 'x'.repeat(3000)));
        return outcome === 'accepted' ? undefined : outcome;
      },
      { what: 'a write to be refused' },
    );
    assert.match(json, /^NO_SPACE: .*no space left on disk for small\.txt; the write was not stored/);
    assert.equal(await httpPut(full.address, 'small-http.txt', Buffer.from('hello')), 507);
    const large = randomBytes(3 * MiB);
    const upload = await refusedWith(putBytes(full.address, 'large.bin', large.length, async (o, l) => large.subarray(o, o + l)));
    assert.match(upload, /^NO_SPACE/);

    // A write at another server passes through the full one: stored by the others, not acknowledged as done.
    const through = await refusedWith(putItem(a.address, 'through.txt', 'written while one server is full'));
    assert.match(through, new RegExp(`^NO_SPACE: .*server ${full.address.replace(/\./g, '\\.')} has no space`));
    for (const server of [a.address, c.address]) {
      assert.equal(await contentOf(server, 'through.txt'), 'written while one server is full');
    }
    const largeAt = randomBytes(2 * MiB);
    await refusedWith(putBytes(a.address, 'large-at-a.bin', largeAt.length, async (o, l) => largeAt.subarray(o, o + l)));
    await putItem(a.address, 'large-ok.bin', largeAt.toString('base64'), 'base64').catch(() => undefined);

    // Reads: held items, and items it lacks (looked up in the ring), whole or in parts; no descriptor kept.
    const descriptors = await openDescriptors(full);
    assert.equal(await contentOf(full.address, 'before.txt'), 'stored while there was room');
    for (let i = 0; i < 5; i++) {
      assert.equal(await contentOf(full.address, 'through.txt', 5000), 'written while one server is full');
      const got = await httpGet(full.address, 'large-ok.bin');
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(largeAt), 'a large item it lacks is served whole over HTTP');
    }
    assert.equal(await localBytes(full.address, 'through.txt'), undefined, 'it kept no copy it had no room for');
    await waitFor(async () => (await openDescriptors(full)) <= descriptors + 2, { what: 'its descriptors back to where they were' });

    // Still in the ring, still alive.
    for (const server of all) assert.ok(sameCycle(await getRing(server), all), `${server} sees all three`);
    assert.equal(full.process.exitCode, null, 'the full server keeps running');
    assert.doesNotMatch(full.output(), /Commit failed|unhandled|INTERNAL/i);
    assert.match(full.output(), /\[WARN\] .*no space for .*writes are refused until space is freed/);

    // Space freed: anti-entropy fills in what it refused, and writes are taken again.
    inNamespace(full, `rm '${dir}/filler'`);
    await waitFor(async () => (await localBytes(full.address, 'through.txt'))?.toString() === 'written while one server is full', {
      timeoutMs: 20_000,
      what: 'the full server to catch up by itself',
    });
    await waitFor(async () => (await localBytes(full.address, 'large-ok.bin'))?.equals(largeAt), {
      timeoutMs: 20_000,
      what: 'the large item to be filled in',
    });
    assert.equal(await putItem(full.address, 'after.txt', 'room again'), '200 OK');
    assert.equal(await httpPut(full.address, 'after-http.txt', Buffer.from('room again')), 201);
  },
);

test('a large item whose staging runs out of room midway is never committed nor served', { skip }, async (t) => {
  const { a, full, c, dir } = await ringWithSmallDisk(t);
  const size = 4 * MiB;
  const part = 256 * 1024;
  const content = randomBytes(size);
  fillUntil(full, dir, 8 * MiB); // room for the whole upload when it starts
  const upload = randomBytes(8).toString('hex');
  let refused: string | undefined;
  for (let offset = 0; offset < size && refused === undefined; offset += part) {
    // Midway, the disk fills up behind the server's back: the rest of the staging meets a full disk
    // (a short write, then ENOSPC), or the reserve once the server looks again.
    if (offset === MiB) fillUntil(full, dir, MiB, 'filler-2');
    const bytes = content.subarray(offset, offset + part);
    const data = { item: 'big.bin', content: bytes.toString('base64'), encoding: 'base64' as const, part: { upload, offset, size } };
    await ask(full.address, { type: 'PUT', data }, 'PUT').catch((err: unknown) => (refused = isCoopError(err) ? err.code : String(err)));
  }
  assert.equal(refused, 'NO_SPACE', 'the upload fails with NO_SPACE');
  assert.equal(await localBytes(full.address, 'big.bin'), undefined, 'nothing committed at the full server');
  for (const server of [a.address, c.address]) {
    assert.equal(await localBytes(server, 'big.bin'), undefined, `nothing committed at ${server}`);
  }
  const got = await httpGet(full.address, 'big.bin');
  assert.equal(got.status, 404, 'nothing served');
  assert.equal(inNamespace(full, `ls '${dir}/staging' | wc -l`).trim(), '0', 'its staged part is gone');

  // Once there is room the same upload goes through whole, and is served whole with the right ETag.
  inNamespace(full, `rm '${dir}/filler' '${dir}/filler-2'`);
  // The server looks at the disk again at most every 100 ms while it refuses: a write at once may still be refused.
  await waitFor(
    () =>
      putBytes(full.address, 'big.bin', size, async (o, l) => content.subarray(o, o + l)).then(
        () => true,
        (err: unknown) => {
          if (isCoopError(err, 'NO_SPACE')) return false;
          throw err;
        },
      ),
    { what: 'the upload to be taken once space is freed' },
  );
  const whole = await httpGet(full.address, 'big.bin');
  assert.equal(whole.status, 200);
  assert.ok(whole.body.equals(content));
  assert.equal(whole.etag, `"${sha1(content)}"`);
  assert.equal(full.process.exitCode, null);
});

test('a server that starts on a full disk joins, serves what the ring holds, and fills in once space is freed', { skip }, async (t) => {
  const dir = `${await tempDir(t)}/full`;
  spawnSync('mkdir', ['-p', dir]);
  const a = await startServer(['--listen', '127.0.0.1:0', '--memory', ...OPTIONS]);
  const c = await startServer(['--listen', '127.0.0.1:0', '--memory', ...OPTIONS, ...at(a.address)]);
  t.after(async () => {
    await Promise.all([a, c].map((server) => server.kill()));
  });
  const huge = randomBytes(5 * MiB); // over --max-message: a lookup names its holder instead of carrying it
  await putBytes(a.address, 'huge.bin', huge.length, async (o, l) => huge.subarray(o, o + l));
  await putItem(a.address, 'small.txt', 'held by the ring');

  const full = await startServer(
    ['--listen', '127.0.0.1:0', '--data', dir, '--min-free', RESERVE, ...OPTIONS, ...at(c.address)],
    {},
    undefined,
    onTmpfs(dir, MiB),
  );
  t.after(async () => void (await full.kill()));
  const all = [a.address, c.address, full.address];
  await waitFor(async () => (await Promise.all(all.map((s) => getRing(s)))).every((view) => sameCycle(view, all)), {
    what: 'the ring to form',
  });
  await waitFor(() => /no space for .*writes are refused until space is freed/.test(full.output()), {
    what: 'its catching up to be refused for want of space',
  });

  const descriptors = await openDescriptors(full);
  for (let i = 0; i < 3; i++) {
    assert.equal(await contentOf(full.address, 'small.txt', 5000), 'held by the ring');
    const got = await httpGet(full.address, 'huge.bin');
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(huge), 'read part by part from the server holding it');
  }
  assert.equal(await localBytes(full.address, 'huge.bin'), undefined);
  await waitFor(async () => (await openDescriptors(full)) <= descriptors + 2, { what: 'its descriptors back to where they were' });
  assert.equal(full.process.exitCode, null, 'it keeps running');

  inNamespace(full, `rm '${dir}/filler'`);
  await waitFor(async () => (await localBytes(full.address, 'huge.bin'))?.equals(huge), {
    timeoutMs: 20_000,
    what: 'the server to fill in by itself',
  });
  assert.equal((await localBytes(full.address, 'small.txt'))?.toString(), 'held by the ring');
});
