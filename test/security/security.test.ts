/** Peer tags, access rules and client limits, without sockets. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { answerTo, PeerAuth, MAX_SKEW_MS } from '../../src/security/peer-auth.js';
import { AccessPolicy, accessOf, type Access } from '../../src/security/access.js';
import { checkClientRequest } from '../../src/security/requests.js';
import { tokenOf } from '../../src/http/web.js';
import { decodeMessage, encodeMessage, type Message } from '../../src/protocol/messages.js';
import { CoopError, type ErrorCode } from '../../src/errors.js';

function assertCode(fn: () => unknown, code: ErrorCode, fragment?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CoopError, `expected a CoopError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (fragment !== undefined) assert.match(err.message, new RegExp(fragment));
    return true;
  });
}

const PUT = encodeMessage({
  type: 'FORWARD_PUT',
  creator: '127.0.0.1:4043',
  data: { item: 'a.txt', content: 'hello', version: { clock: 5, server: '127.0.0.1:4043' } },
  id: 'r1',
});

const TO = '127.0.0.1:4044';
const seal = (auth: PeerAuth, payload = PUT): string => auth.seal(payload, TO).text;

describe('PeerAuth', () => {
  test('a sealed message opens to the same bytes, authentic, and still decodes for an open-ring server', () => {
    const sealed = new PeerAuth('s3cret').seal(PUT, TO);
    assert.match(sealed.text, /, "auth": "1\.\d+\.[0-9a-f]{16}\.0\.[A-Za-z0-9_-]{43}"\}$/);
    assert.deepEqual(new PeerAuth('s3cret').open(sealed.text, TO), { text: PUT, authentic: true, nonce: sealed.nonce });
    assert.deepEqual(decodeMessage(sealed.text), decodeMessage(PUT));
  });

  test('a message without a tag opens as not authentic, unchanged', () => {
    const auth = new PeerAuth('s3cret');
    assert.deepEqual(auth.open(PUT, TO), { text: PUT, authentic: false });
    // Text that only mentions the field, inside a string, is no tag: its quotes are escaped.
    const mention = encodeMessage({ type: 'PUT', data: { item: 'x', content: ', "auth": "1.2.3"}' } });
    assert.deepEqual(auth.open(mention, TO), { text: mention, authentic: false });
  });

  test('another secret, another audience, or any altered byte, is refused', () => {
    const sealed = seal(new PeerAuth('s3cret'));
    assertCode(() => new PeerAuth('other').open(sealed, TO), 'UNAUTHENTICATED', 'does not match');
    assertCode(() => new PeerAuth('s3cret').open(sealed, '127.0.0.1:4045'), 'UNAUTHENTICATED', 'meant for another server');
    const altered = sealed.replace('hello', 'hellO');
    assertCode(() => new PeerAuth('s3cret').open(altered, TO), 'UNAUTHENTICATED', 'does not match');
    const retagged = sealed.replace(/\.0\./, '.1.');
    assertCode(() => new PeerAuth('s3cret').open(retagged, TO), 'UNAUTHENTICATED', 'does not match');
  });

  test('a tag covers the bytes attached to a message: the same bytes in other chunks open, altered or missing ones do not', () => {
    const sender = new PeerAuth('s3cret');
    const bytes = Buffer.from('the bytes of one part');
    const text = sender.seal(PUT, TO, [bytes.subarray(0, 5), bytes.subarray(5)]).text;
    assert.equal(new PeerAuth('s3cret').open(text, TO, undefined, [bytes]).authentic, true);
    const altered = Buffer.from(bytes);
    altered[3] = altered[3]! ^ 1;
    assertCode(() => new PeerAuth('s3cret').open(text, TO, undefined, [altered]), 'UNAUTHENTICATED', 'does not match');
    assertCode(() => new PeerAuth('s3cret').open(text, TO), 'UNAUTHENTICATED', 'does not match');
    const plain = sender.seal(PUT, TO).text;
    assertCode(() => new PeerAuth('s3cret').open(plain, TO, undefined, [bytes]), 'UNAUTHENTICATED', 'does not match');
  });

  test('a second audience (the address a connection arrived at) is taken too; a replay is still refused there', () => {
    const { text: sealed, nonce } = new PeerAuth('s3cret').seal(PUT, TO);
    const receiver = new PeerAuth('s3cret');
    const advertised = '127.0.0.2:4044';
    assertCode(() => receiver.open(sealed, advertised, () => '127.0.0.1:4045'), 'UNAUTHENTICATED', 'meant for another server');
    assertCode(() => receiver.open(sealed, advertised, () => undefined), 'UNAUTHENTICATED', 'meant for another server');
    assert.deepEqual(
      receiver.open(sealed, advertised, () => TO),
      { text: PUT, authentic: true, nonce },
    );
    assertCode(() => receiver.open(sealed, advertised, () => TO), 'UNAUTHENTICATED', 'seen before');
    assertCode(() => new PeerAuth('other').open(sealed, advertised, () => TO), 'UNAUTHENTICATED', 'does not match');
  });

  test('an answer is sealed for the request it answers, and for no other', () => {
    const asker = new PeerAuth('s3cret');
    const answerer = new PeerAuth('s3cret');
    const [first, second] = [asker.seal(PUT, TO), asker.seal(PUT, TO)];
    const opened = answerer.open(first.text, TO);
    const answer = answerer.seal('{"type": "ACK"}', answerTo(opened.nonce!)).text;
    assertCode(() => asker.open(answer, answerTo(second.nonce)), 'UNAUTHENTICATED', 'does not match');
    assert.equal(asker.open(answer, answerTo(first.nonce)).authentic, true);
  });

  test('a replayed message is refused; messages out of order are not', () => {
    const sender = new PeerAuth('s3cret');
    const receiver = new PeerAuth('s3cret');
    const [first, second, third] = [seal(sender), seal(sender), seal(sender)];
    assert.equal(receiver.open(third, TO).authentic, true);
    assert.equal(receiver.open(first, TO).authentic, true);
    assert.equal(receiver.open(second, TO).authentic, true);
    assertCode(() => receiver.open(first, TO), 'UNAUTHENTICATED', 'seen before');
    assertCode(() => receiver.open(third, TO), 'UNAUTHENTICATED', 'seen before');
  });

  test('a message far behind the newest one from its sender is refused', () => {
    const sender = new PeerAuth('s3cret');
    const receiver = new PeerAuth('s3cret');
    const oldest = seal(sender);
    let newest = '';
    for (let i = 0; i < 70_000; i++) newest = seal(sender);
    assert.equal(receiver.open(newest, TO).authentic, true);
    assertCode(() => receiver.open(oldest, TO), 'UNAUTHENTICATED', 'seen before');
  });

  test('a message stamped outside the allowed skew is refused', () => {
    const now = Date.now();
    const late = seal(new PeerAuth('s3cret', () => now - MAX_SKEW_MS - 1000));
    const early = seal(new PeerAuth('s3cret', () => now + MAX_SKEW_MS + 1000));
    const receiver = new PeerAuth('s3cret', () => now);
    assertCode(() => receiver.open(late, TO), 'UNAUTHENTICATED', 'stamped');
    assertCode(() => receiver.open(early, TO), 'UNAUTHENTICATED', 'stamped');
    assert.equal(receiver.open(seal(new PeerAuth('s3cret', () => now - MAX_SKEW_MS + 1000)), TO).authentic, true);
  });

  test('an empty secret is refused', () => {
    assert.throws(() => new PeerAuth(''), /empty/);
  });
});

describe('AccessPolicy', () => {
  const types: Array<[Message['type'], Access]> = [
    ['INSERT', 'peer'],
    ['UPDATE', 'peer'],
    ['CHECK', 'peer'],
    ['FORWARD_PUT', 'peer'],
    ['FORWARD_GET', 'peer'],
    ['PING', 'peer'],
    ['PING_REQ', 'peer'],
    ['STREAM', 'peer'],
    ['PUT', 'write'],
    ['DELETE', 'write'],
    ['GET', 'read'],
    ['RING', 'read'],
    ['DIGEST', 'read'],
    ['LIST', 'read'],
  ];
  for (const [type, access] of types) test(`${type} needs ${access} access`, () => assert.equal(accessOf(type), access));

  test('an open server lets anything through', () => {
    const open = new AccessPolicy();
    assert.equal(open.readsOpen, true);
    for (const access of ['peer', 'write', 'read'] as const) open.check(access, undefined);
  });

  test('with a secret, peer messages need a valid tag', () => {
    const policy = new AccessPolicy({ secret: true });
    assertCode(() => policy.check('peer', undefined), 'UNAUTHENTICATED');
    assertCode(() => policy.check('peer', 'a token is no tag'), 'UNAUTHENTICATED');
    policy.check('peer', undefined, true);
    policy.check('write', undefined);
  });

  test('the write token guards writes only; a wrong one is forbidden, a missing one unauthorized', () => {
    const policy = new AccessPolicy({ writeToken: 'w' });
    assertCode(() => policy.check('write', undefined), 'UNAUTHORIZED');
    assertCode(() => policy.check('write', 'x'), 'FORBIDDEN');
    assertCode(() => policy.check('write', 'ww'), 'FORBIDDEN');
    policy.check('write', 'w');
    policy.check('read', undefined);
    policy.check('write', undefined, true); // a peer with the secret
  });

  test('the read token guards reads; the write token grants them too, the read token no writes', () => {
    const policy = new AccessPolicy({ writeToken: 'w', readToken: 'r' });
    assertCode(() => policy.check('read', undefined), 'UNAUTHORIZED');
    assertCode(() => policy.check('read', 'x'), 'FORBIDDEN');
    policy.check('read', 'r');
    policy.check('read', 'w');
    assertCode(() => policy.check('write', 'r'), 'FORBIDDEN');
  });

  test('empty tokens are refused', () => {
    assert.throws(() => new AccessPolicy({ writeToken: '' }), /empty/);
  });
});

describe('checkClientRequest', () => {
  const limits = { maxNameBytes: 10, namePattern: /^(?:[a-z.]+)$/u, maxItemBytes: 4 };
  test('names over the limit or outside the pattern are refused for GET, PUT and DELETE', () => {
    assertCode(() => checkClientRequest({ type: 'GET', data: 'abcdefghijk' }, limits), 'BAD_NAME', 'longer');
    assertCode(() => checkClientRequest({ type: 'DELETE', data: 'A.txt' }, limits), 'BAD_NAME', 'pattern');
    assertCode(() => checkClientRequest({ type: 'PUT', data: { item: '../x', content: '' } }, limits), 'BAD_NAME', 'pattern');
    checkClientRequest({ type: 'GET', data: 'a.txt' }, limits);
  });

  test('items over the limit are refused, whole (text or base64) or announced by their first part', () => {
    checkClientRequest({ type: 'PUT', data: { item: 'a', content: 'abcd' } }, limits);
    assertCode(() => checkClientRequest({ type: 'PUT', data: { item: 'a', content: 'abcde' } }, limits), 'TOO_LARGE');
    checkClientRequest({ type: 'PUT', data: { item: 'a', content: Buffer.alloc(4).toString('base64'), encoding: 'base64' } }, limits);
    assertCode(
      () =>
        checkClientRequest({ type: 'PUT', data: { item: 'a', content: Buffer.alloc(5).toString('base64'), encoding: 'base64' } }, limits),
      'TOO_LARGE',
    );
    const part = { upload: 'u', offset: 0, size: 5 };
    assertCode(() => checkClientRequest({ type: 'PUT', data: { item: 'a', content: '', encoding: 'base64', part } }, limits), 'TOO_LARGE');
  });

  test("a peer's GET of its own copy (local, anti-entropy) is not held to the client limits", () => {
    checkClientRequest({ type: 'GET', data: 'Much-Too-Long.txt', local: true }, limits);
    assertCode(() => checkClientRequest({ type: 'GET', data: 'Much-Too-Long.txt' }, limits), 'BAD_NAME');
  });

  test('other requests pass', () => {
    checkClientRequest({ type: 'RING' }, limits);
    checkClientRequest({ type: 'CHECK' }, limits);
  });
});

describe('the token of an HTTP Authorization header', () => {
  test('Bearer takes everything after "Bearer ", spaces included; Basic takes the password', () => {
    assert.equal(tokenOf('Bearer a long random token'), 'a long random token');
    assert.equal(tokenOf('bearer  w-token '), 'w-token');
    assert.equal(tokenOf(`Basic ${Buffer.from('anyone:pass word').toString('base64')}`), 'pass word');
    assert.equal(tokenOf('Bearer'), undefined);
    assert.equal(tokenOf('Bearer '), undefined);
    assert.equal(tokenOf('Basic abc def'), undefined);
    assert.equal(tokenOf('Digest x'), undefined);
    assert.equal(tokenOf(undefined), undefined);
  });
});
