/** Durability and bounded memory, with the real programs: kill -9 mid-storm, and a large file through a ring of three. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { getDigest, getItem, getRing, putItem } from '../../src/client/client.js';
import { waitFor } from '../../src/util/wait.js';
import { killAll, runClient, startServer, type ServerProcess } from '../processes.js';
import { at, tempDir } from '../helpers.js';

after(killAll);

/** Content that can be told apart from any torn or mixed copy. */
function contentOf(name: string): string {
  return `${name}|`.repeat(200) + 'end';
}

async function startRing(
  t: { after(fn: () => Promise<void>): void },
  size: number,
  extra: string[] = [],
): Promise<{ servers: ServerProcess[]; dirs: string[] }> {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  for (let i = 0; i < size; i++) {
    const dir = await tempDir(t);
    dirs.push(dir);
    const join = servers.length > 0 ? at(servers.at(-1)!.address) : [];
    servers.push(await startServer(['--listen', '127.0.0.1:0', '--heartbeat', '0.3', '--data', dir, ...extra, ...join]));
    await waitFor(async () => (await getRing(servers[0]!.address)).length === servers.length, { what: 'the ring to grow' });
  }
  return { servers, dirs };
}

test('kill -9 in the middle of a PUT storm: the restarted server has every acknowledged item, untorn, and converges', async (t) => {
  const { servers, dirs } = await startRing(t, 3, ['--sync-interval', '0.5']);
  const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
  const acknowledged: string[] = [];
  let stop = false;
  t.after(() => {
    stop = true;
  });
  const writers = Array.from({ length: 8 }, async (_, writer) => {
    for (let i = 0; !stop; i++) {
      const name = `w${writer}-${i}.txt`;
      const server = [a, b, c][(writer + i) % 3]!;
      try {
        await putItem(server.address, name, contentOf(name), undefined, { timeoutMs: 5000 });
        acknowledged.push(name);
      } catch {
        // The killed server refuses, and rounds in flight through it may time out: only acknowledged writes count.
        await delay(20); // back off instead of spinning on a refused port
      }
    }
  });
  await waitFor(() => acknowledged.length >= 150, { timeoutMs: 20_000, what: '150 acknowledged PUTs' });
  const ackedBeforeKill = [...acknowledged];
  await b.kill('SIGKILL');
  await waitFor(() => acknowledged.length >= ackedBeforeKill.length + 50, { timeoutMs: 20_000, what: 'the storm to go on without b' });
  stop = true;
  await Promise.all(writers);

  // Alone first, so that every answer comes from its own disk.
  const alone = await startServer(['--listen', b.address, '--data', dirs[1]!, '--heartbeat', '0.3', '--sync-interval', '0.5']);
  for (const name of ackedBeforeKill) {
    assert.deepEqual(await getItem(alone.address, name), { found: true, content: contentOf(name), encoding: undefined }, name);
  }
  assert.equal(await alone.kill('SIGTERM'), 0);

  // Then back into the ring: it converges with the others.
  const back = await startServer([
    '--listen',
    b.address,
    '--data',
    dirs[1]!,
    '--heartbeat',
    '0.3',
    '--sync-interval',
    '0.5',
    ...at(a.address),
  ]);
  await waitFor(
    async () => {
      const digests = await Promise.all([a, back, c].map((server) => getDigest(server.address)));
      return digests.every((digest) => digest.join() === digests[0]!.join());
    },
    { timeoutMs: 15_000, what: 'the restarted server to converge' },
  );
  for (const name of acknowledged) {
    const copy = await getItem(back.address, name);
    assert.ok(copy.found && copy.content === contentOf(name), `${name} intact after convergence`);
  }
});

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

test('a 128 MiB file through a ring of three: byte-exact, and no server holds it whole in memory', async (t) => {
  const { servers } = await startRing(t, 3);
  const dir = await tempDir(t);
  const file = join(dir, 'big.bin');
  // Memory grows by some tens of MiB whatever the size (garbage-collector slack): 128 MiB shows it is not the file.
  const size = 128 * 1024 * 1024;
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  await writeFile(file, bytes);
  const before = await Promise.all(servers.map((server) => peakRss(server.process.pid!)));

  const put = await runClient(['-put', file, ...at(servers[0]!.address)]);
  assert.equal(put.status, 0, put.stderr);
  const get = await runClient(['-get', 'big.bin', ...at(servers[2]!.address)]);
  assert.equal(get.status, 0, get.stderr);
  assert.equal(createHash('sha256').update(get.stdout).digest('hex'), createHash('sha256').update(bytes).digest('hex'));

  const peaks = await Promise.all(servers.map((server) => peakRss(server.process.pid!)));
  const growth = peaks.map((peak, i) => peak - before[i]!);
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  t.diagnostic(
    `peak RSS per server: ${peaks.map(mib).join(', ')} MiB (growth ${growth.map(mib).join(', ')} MiB) for a ${mib(size)} MiB file`,
  );
  for (const value of growth) assert.ok(value < size / 2, `peak memory grew by ${mib(value)} MiB, well under the file's ${mib(size)} MiB`);
});
