import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log/logger.js';
import { LineOutput, type DropReason } from '../../src/log/output.js';
import { waitFor } from '../../src/util/wait.js';

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function collect(): { lines: string[]; destination: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

test('pretty lines start with the time (ISO 8601, milliseconds) unless time is off', () => {
  const timed = collect();
  createLogger({ destination: timed.destination, color: false }).child({ node: '127.0.0.1:1' }).warn('careful');
  const [stamp, ...rest] = timed.lines[0]!.split(' ');
  assert.match(stamp!, ISO_MS);
  assert.equal(rest.join(' '), '[WARN] careful\n');

  const bare = collect();
  createLogger({ destination: bare.destination, color: false, time: false }).info('hello');
  assert.deepEqual(bare.lines, ['[INFO] hello\n']);
});

test('JSON lines carry `time` unless time is off', () => {
  const timed = collect();
  createLogger({ format: 'json', destination: timed.destination }).info('hello');
  assert.equal(typeof (JSON.parse(timed.lines[0]!) as { time?: unknown }).time, 'number');
  const bare = collect();
  createLogger({ format: 'json', destination: bare.destination, time: false }).info('hello');
  assert.equal('time' in (JSON.parse(bare.lines[0]!) as object), false);
});

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'coop-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

for (const sync of [true, false]) {
  test(`LineOutput (${sync ? 'sync' : 'async'}): lines a descriptor refuses are dropped and counted, later ones tried again, nothing throws`, async (t) => {
    const file = join(scratch(t), 'read-only');
    writeFileSync(file, '');
    const fd = openSync(file, 'r'); // writes fail with EBADF
    t.after(() => closeSync(fd));
    const drops: [number, DropReason][] = [];
    const out = new LineOutput(fd, { sync, maxPendingChars: 1 << 20, onDrop: (lines, reason) => void drops.push([lines, reason]) });
    out.write('one\n');
    out.write('two\n');
    await waitFor(() => drops.length === 1, { what: 'the first write to fail' });
    assert.deepEqual(drops, [[2, 'unwritable']]);
    out.write('three\n');
    await waitFor(() => drops.length === 2, { what: 'the second write to fail' });
    out.write('four\n');
    out.flushSync();
    assert.deepEqual(drops, [
      [2, 'unwritable'],
      [1, 'unwritable'],
      [1, 'unwritable'],
    ]);
  });

  test(`LineOutput (${sync ? 'sync' : 'async'}): writes every line in order; past the backlog limit lines are dropped and counted`, async (t) => {
    const file = join(scratch(t), 'log');
    const fd = openSync(file, 'w');
    t.after(() => closeSync(fd));
    const drops: [number, DropReason][] = [];
    const out = new LineOutput(fd, { sync, maxPendingChars: 21, onDrop: (lines, reason) => void drops.push([lines, reason]) });
    for (let i = 0; i < 5; i++) out.write(`line ${i}\n`); // 7 characters each: the fourth and fifth do not fit
    assert.deepEqual(drops, [
      [1, 'backlog'],
      [1, 'backlog'],
    ]);
    await waitFor(() => readFileSync(file, 'utf8') === 'line 0\nline 1\nline 2\n', { what: 'the lines to be written' });
    out.write('at exit\n');
    out.flushSync();
    assert.equal(readFileSync(file, 'utf8'), 'line 0\nline 1\nline 2\nat exit\n');
  });
}
