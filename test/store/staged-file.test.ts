/**
 * A staged content is flushed to the disk while it is received, every
 * FLUSH_BYTES: the commit's fsync waits for those flushes, and one that
 * failed (a disk found full at write-back) fails the next append and the
 * commit, never silently.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCoopError } from '../../src/errors.js';
import { FileStaged, FLUSH_BYTES } from '../../src/store/staged-file.js';
import { SpaceGuard } from '../../src/store/space.js';

const roomy = new SpaceGuard({ probe: async () => Number.MAX_SAFE_INTEGER, reserveBytes: 0, where: 'test' });

/** A file handle that takes every write whole and records the calls made on it; `datasync` does what `flush` says. */
function recordingHandle(flush: () => Promise<void> = async () => undefined): { handle: FileStaged['file']; calls: string[] } {
  const calls: string[] = [];
  const handle = {
    async writev(buffers: Buffer[]) {
      calls.push('write');
      return { bytesWritten: buffers.reduce((sum, buffer) => sum + buffer.length, 0), buffers };
    },
    async datasync() {
      calls.push('datasync');
      await flush();
      calls.push('datasync done');
    },
    async sync() {
      calls.push('sync');
    },
    async close() {
      calls.push('close');
    },
  } as unknown as FileStaged['file'];
  return { handle, calls };
}

const QUARTER = Buffer.alloc(FLUSH_BYTES / 4);

describe('FileStaged: flushing while receiving', () => {
  test('a flush starts each time FLUSH_BYTES more are written, not before', async () => {
    const { handle, calls } = recordingHandle();
    const staged = new FileStaged('/nowhere', handle, roomy);
    for (let i = 0; i < 3; i++) await staged.append([QUARTER]);
    assert.equal(calls.filter((call) => call === 'datasync').length, 0);
    for (let i = 0; i < 6; i++) await staged.append([QUARTER]);
    assert.equal(calls.filter((call) => call === 'datasync').length, 2, '9 quarters: flushed at 4 and at 8');
  });

  test("the commit's sync waits for the flush in the background", async () => {
    let release = (): void => undefined;
    const { handle, calls } = recordingHandle(() => new Promise((resolve) => (release = resolve)));
    const staged = new FileStaged('/nowhere', handle, roomy);
    await staged.append([Buffer.alloc(FLUSH_BYTES)]);
    const syncing = staged.sync();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.includes('sync'), false, 'not synced while a flush is under way');
    release();
    await syncing;
    assert.deepEqual(calls.slice(-2), ['datasync done', 'sync']);
  });

  test('a flush that found the disk full fails the commit, and every append after it as NO_SPACE', async () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), { code: 'ENOSPC' });
    const { handle, calls } = recordingHandle(() => Promise.reject(full));
    const staged = new FileStaged('/nowhere', handle, roomy);
    await staged.append([Buffer.alloc(FLUSH_BYTES)]);
    await assert.rejects(staged.sync(), full);
    assert.equal(calls.includes('sync'), false);
    await assert.rejects(staged.append([QUARTER]), (err) => isCoopError(err, 'NO_SPACE'));
    assert.equal(staged.size, FLUSH_BYTES, 'the refused part is not counted as taken');
  });
});

describe('FileStaged: hashing', () => {
  test('staged without hashing, its hash is read back from the file', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'coop-staged-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'staged');
    const staged = new FileStaged(path, await open(path, 'wx'), roomy, false);
    t.after(() => staged.discard());
    const bytes = Buffer.from('bytes whose writer hashed them elsewhere, '.repeat(1000));
    await staged.append([bytes.subarray(0, 1000), bytes.subarray(1000)]);
    assert.equal(await staged.hash(), createHash('sha1').update(bytes).digest('hex'));
  });
});
