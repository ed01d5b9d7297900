/** The commits a server started while passing an upload's last part on, kept for its second lap. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commitKey, EarlyCommits } from '../../src/handlers/commits.js';

/** A commit whose end the test decides. */
function deferred(): { committing: Promise<boolean>; end: (nospace: boolean) => void } {
  let end!: (nospace: boolean) => void;
  const committing = new Promise<boolean>((resolve) => (end = resolve));
  return { committing, end };
}

test('a commit is found under the key of its upload and version, by every copy of its second lap', async () => {
  const commits = new EarlyCommits();
  const key = commitKey({ item: 'a.bin', content: '', version: { clock: 3, server: 'S' }, part: { upload: 'S/u', offset: 5, size: 10 } })!;
  commits.add(key, Promise.resolve(true));
  assert.equal(await commits.of(key), true);
  assert.equal(await commits.of(key), true, 'still there for a copy of the second lap');
  const other = commitKey({ item: 'a.bin', content: '', version: { clock: 4, server: 'S' }, part: { upload: 'S/u', offset: 5, size: 10 } });
  assert.notEqual(other, key, 'another version of the same upload is another commit');
});

test('a write that is not a versioned part has no commit key', () => {
  assert.equal(commitKey({ item: 'a.txt', content: 'x', version: { clock: 3, server: 'S' } }), undefined);
  assert.equal(commitKey({ item: 'a.bin', content: '', part: { upload: 'S/u', offset: 0, size: 1 } }), undefined);
});

test('a first lap that came by twice: its second lap waits for both commits, and hears of no room in either', async () => {
  const commits = new EarlyCommits();
  const first = deferred();
  const again = deferred();
  commits.add('k', first.committing);
  commits.add('k', again.committing);
  let settled: boolean | undefined;
  void commits.of('k')!.then((nospace) => (settled = nospace));
  again.end(false);
  await again.committing;
  await Promise.resolve();
  assert.equal(settled, undefined, 'not over while the first commit runs');
  first.end(true);
  await first.committing;
  await new Promise(setImmediate);
  assert.equal(settled, true);
});

test('only the newest commits are kept: one whose second lap never came is dropped first', () => {
  const commits = new EarlyCommits(2);
  commits.add('a', Promise.resolve(false));
  commits.add('b', Promise.resolve(false));
  commits.add('c', Promise.resolve(false));
  assert.equal(commits.of('a'), undefined);
  assert.ok(commits.of('b'));
  assert.ok(commits.of('c'));
});
