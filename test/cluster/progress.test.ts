/** webclient's progress bar: drawn on a terminal for a large PUT and GET, never on a pipe or for a small item. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createTestCluster } from '../../src/node/cluster.js';
import { main } from '../../src/cli/client-main.js';
import { tempDir } from '../helpers.js';

/** A stderr that says it is a terminal (or not), keeping what is written to it. */
function stderr(isTTY: boolean): { isTTY: boolean; columns: number; text: string; write(chunk: string): boolean } {
  return {
    isTTY,
    columns: 100,
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

/** A stdout that keeps nothing. */
function sink(): PassThrough {
  const stream = new PassThrough();
  stream.resume();
  return stream;
}

test('webclient draws a progress bar on a terminal for a large PUT and GET, and none on a pipe or for a small item', async (t) => {
  const cluster = await createTestCluster(1);
  t.after(() => cluster.stop());
  const [host, port] = cluster.addresses[0]!.split(':') as [string, string];
  const dir = await tempDir(t);
  const large = join(dir, 'large.bin');
  const small = join(dir, 'small.txt');
  await writeFile(large, randomBytes(3 * 1024 * 1024));
  await writeFile(small, 'small\n');
  const at = ['-i', host, '-p', port];

  const terminal = stderr(true);
  assert.equal(await main(['-put', large, ...at], { stdout: sink(), stderr: terminal }), 0);
  assert.match(terminal.text, /PUT large\.bin \[.*\] 100% \| 3\.1 of 3\.1 MB/);
  const got = stderr(true);
  assert.equal(await main(['-get', 'large.bin', ...at], { stdout: sink(), stderr: got }), 0);
  assert.match(got.text, /GET large\.bin \[.*\] 100% \| 3\.1 of 3\.1 MB/);

  const pipe = stderr(false);
  assert.equal(await main(['-put', large, ...at], { stdout: sink(), stderr: pipe }), 0);
  assert.equal(await main(['-get', 'large.bin', ...at], { stdout: sink(), stderr: pipe }), 0);
  assert.doesNotMatch(pipe.text, /%/, 'no bar on a pipe');
  assert.match(pipe.text, /PUT large\.bin \(3145728 bytes\): 200 OK/);

  const one = stderr(true);
  assert.equal(await main(['-put', small, ...at], { stdout: sink(), stderr: one }), 0);
  assert.equal(await main(['-get', 'small.txt', ...at], { stdout: sink(), stderr: one }), 0);
  assert.doesNotMatch(one.text, /%/, 'no bar for an item of one part');
});
