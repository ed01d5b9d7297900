/** The rules for rings mixed with the original program (src/node/mixed.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ORIGINAL_READ_BYTES, pastAnOriginal, settledByCreator } from '../../src/handlers/mixed.js';
import type { ForwardGetMessage, ForwardPutMessage } from '../../src/protocol/messages.js';

const A = '127.0.0.1:4043';
const version = { clock: 5, server: A };

test('a write without its version is taken from its creator; one with a version, or a part of an upload, is applied as it came', () => {
  const put = (data: Partial<ForwardPutMessage['data']>): ForwardPutMessage => ({
    type: 'FORWARD_PUT',
    creator: A,
    data: { item: 'a', content: 'x', ...data },
  });
  assert.equal(settledByCreator(put({})), true);
  assert.equal(settledByCreator(put({ encoding: 'base64' })), true);
  assert.equal(settledByCreator(put({ version })), false);
  assert.equal(settledByCreator(put({ version, part: { upload: 'u', offset: 0, size: 9 } })), false);
});

test('past an original: sent when its form fits the one read, passed by when not, and a found lookup of ours goes home', () => {
  const lookup = (content: string, found?: boolean): ForwardGetMessage => ({
    type: 'FORWARD_GET',
    creator: A,
    data: { item: 'a', content, found },
    id: 'r',
  });
  const put: ForwardPutMessage = { type: 'FORWARD_PUT', creator: A, data: { item: 'a', content: 'x', version }, id: 'r' };
  assert.equal(pastAnOriginal(put, ORIGINAL_READ_BYTES, true), 'send');
  assert.equal(pastAnOriginal(put, ORIGINAL_READ_BYTES + 1, true), 'skip');
  assert.equal(pastAnOriginal({ type: 'UPDATE', creator: A, data: [A] }, ORIGINAL_READ_BYTES + 1, false), 'skip');
  // A lookup still looking goes on through the original, which may hold the item.
  assert.equal(pastAnOriginal(lookup('404 NOT FOUND'), 100, true), 'send');
  assert.equal(pastAnOriginal(lookup('', false), 100, true), 'send');
  assert.equal(pastAnOriginal(lookup('content', true), 100, true), 'home');
  assert.equal(pastAnOriginal(lookup('content', true), 5000, true), 'home');
  // An original's own lookup goes on around the ring, in the original's form.
  assert.equal(pastAnOriginal(lookup('content', true), 100, false), 'send');
});

test('past an original: a part of a large upload is passed by, however small, since the original would keep it as the whole item', () => {
  const part = { upload: 'u', offset: 8, size: 10 };
  const last: ForwardPutMessage = { type: 'FORWARD_PUT', creator: A, data: { item: 'a', content: 'AAE=', version, part }, id: 'r' };
  assert.equal(pastAnOriginal(last, 100, true), 'skip');
  assert.equal(pastAnOriginal({ ...last, data: { ...last.data, content: '' }, id: 'r/c', lap: 'confirm' }, 100, true), 'skip');
});
