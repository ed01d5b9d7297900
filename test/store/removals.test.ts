/** Removals: files removed in the background, waited for on demand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Removals } from '../../src/store/removals.js';

test('files are removed in the background; settled() waits for them and says whether there were any', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'coop-removals-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await Promise.all(['a', 'b', 'kept'].map((name) => writeFile(join(dir, name), name)));
  const removals = new Removals();
  assert.equal(await removals.settled(), false, 'nothing under way');
  removals.remove(join(dir, 'a'));
  removals.remove(join(dir, 'b'));
  removals.remove(join(dir, 'never-there'));
  assert.equal(await removals.settled(), true);
  assert.deepEqual(await readdir(dir), ['kept']);
  assert.equal(await removals.settled(), false, 'done ones are forgotten');
});

test('a removal that fails is left for the next start, and does not fail anything', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'coop-removals-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'file'), 'x');
  const removals = new Removals();
  removals.remove(join(dir, 'file', 'under-a-file')); // ENOTDIR
  assert.equal(await removals.settled(), true);
  assert.deepEqual(await readdir(dir), ['file']);
});
