/** The data directory lock: the verdict on a holder (pure), then taking, refusing, taking over and releasing in temp dirs. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isCoopError } from '../../src/errors.js';
import { DataDirLock, judge, LOCK_FILE, parseHolder, processStart, type Holder, type ProcessFacts } from '../../src/store/lock.js';
import { tempDir } from '../helpers.js';

const holder: Holder = { pid: 4242, address: '127.0.0.1:8000', since: '2026-01-01T00:00:00.000Z', host: 'h', start: '777' };

describe('judge', () => {
  const facts = (over: Partial<ProcessFacts>): ProcessFacts => ({
    ownPid: 1,
    alive: () => true,
    startOf: () => '777',
    ...over,
  });
  const cases: ReadonlyArray<{ name: string; holder: Holder | undefined; facts: ProcessFacts; held: boolean }> = [
    { name: 'a running holder started when recorded holds it', holder, facts: facts({}), held: true },
    { name: 'an unreadable lock is stale', holder: undefined, facts: facts({}), held: false },
    { name: 'a holder whose PID is not running is stale', holder, facts: facts({ alive: () => false }), held: false },
    { name: 'a reused PID (another start time) is stale', holder, facts: facts({ startOf: () => '778' }), held: false },
    { name: 'a running holder whose start time cannot be read holds it', holder, facts: facts({ startOf: () => undefined }), held: true },
    {
      name: 'a holder recorded without a start time holds it while its PID runs',
      holder: { ...holder, start: undefined },
      facts: facts({ startOf: () => '1' }),
      held: true,
    },
    { name: 'our own PID is a former process (PID 1 in a restarted container)', holder, facts: facts({ ownPid: 4242 }), held: false },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(judge(c.holder, c.facts).held, c.held));
  }
});

describe('parseHolder', () => {
  test('reads what a lock file records', () => assert.deepEqual(parseHolder(JSON.stringify(holder)), holder));
  for (const text of ['', '{', 'null', '{"pid":"12"}', '{"pid":0}', '{"pid":1.5}']) {
    test(`is undefined for ${JSON.stringify(text)}`, () => assert.equal(parseHolder(text), undefined));
  }
});

/** A PID that ran and has ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

async function writeLock(dir: string, value: Partial<Holder>): Promise<void> {
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ ...holder, host: hostname(), ...value }));
}

function lockedError(dir: string, pid: number): (err: unknown) => boolean {
  return (err) => isCoopError(err, 'DATA_DIR_LOCKED') && err.message.includes(dir) && err.message.includes(`PID ${pid}`);
}

describe('DataDirLock', () => {
  test('records its holder, refuses a second taker in this process, and is free again once released', async (t) => {
    const dir = await tempDir(t);
    const lock = await DataDirLock.acquire(dir, '127.0.0.1:9001');
    const recorded = parseHolder(await readFile(join(dir, LOCK_FILE), 'utf8'));
    assert.equal(recorded?.pid, process.pid);
    assert.equal(recorded?.address, '127.0.0.1:9001');
    assert.equal(lock.tookOver, undefined);
    await assert.rejects(DataDirLock.acquire(dir, '127.0.0.1:9002'), lockedError(dir, process.pid));
    await lock.release();
    await lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
    const again = await DataDirLock.acquire(dir, '127.0.0.1:9002');
    await again.release();
  });

  test('two takers at the same moment: exactly one gets it', async (t) => {
    const dir = await tempDir(t);
    const results = await Promise.allSettled([DataDirLock.acquire(dir, 'a:1'), DataDirLock.acquire(dir, 'b:2')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(lost && isCoopError(lost.reason, 'DATA_DIR_LOCKED'));
    await (won[0] as PromiseFulfilledResult<DataDirLock>).value.release();
  });

  test('creates a missing directory and leaves no files aside', async (t) => {
    const dir = join(await tempDir(t), 'new', 'data');
    const lock = await DataDirLock.acquire(dir, 'a:1');
    assert.deepEqual(await readdir(dir), [LOCK_FILE]);
    await lock.release();
    assert.deepEqual(await readdir(dir), []);
  });

  test('a lock whose holder has ended is taken over, and says from whom', async (t) => {
    const dir = await tempDir(t);
    const pid = await deadPid();
    await writeLock(dir, { pid });
    const lock = await DataDirLock.acquire(dir, 'a:1');
    assert.equal(lock.tookOver?.holder?.pid, pid);
    assert.equal(parseHolder(await readFile(join(dir, LOCK_FILE), 'utf8'))?.pid, process.pid);
    await lock.release();
  });

  test('an unreadable lock file is taken over', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, LOCK_FILE), '');
    const lock = await DataDirLock.acquire(dir, 'a:1');
    assert.ok(lock.tookOver);
    await lock.release();
  });

  const linux = processStart('self') !== undefined;

  test('a running holder, started when recorded, keeps it', { skip: !linux && 'needs /proc' }, async (t) => {
    const dir = await tempDir(t);
    await writeLock(dir, { pid: process.ppid, start: processStart(process.ppid) });
    await assert.rejects(DataDirLock.acquire(dir, 'a:1'), lockedError(dir, process.ppid));
    assert.equal(parseHolder(await readFile(join(dir, LOCK_FILE), 'utf8'))?.pid, process.ppid);
  });

  test('a running PID started at another time (reused) is taken over', { skip: !linux && 'needs /proc' }, async (t) => {
    const dir = await tempDir(t);
    await writeLock(dir, { pid: process.ppid, start: '1' });
    const lock = await DataDirLock.acquire(dir, 'a:1');
    assert.equal(lock.tookOver?.holder?.pid, process.ppid);
    await lock.release();
  });

  test('release leaves a lock that is no longer its own', async (t) => {
    const dir = await tempDir(t);
    const lock = await DataDirLock.acquire(dir, 'a:1');
    await writeLock(dir, { pid: process.ppid });
    await lock.release();
    assert.equal(parseHolder(await readFile(join(dir, LOCK_FILE), 'utf8'))?.pid, process.ppid);
  });
});
