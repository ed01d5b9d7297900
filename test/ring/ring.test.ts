/** RingView: one server's view of the ring, pure state. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatRing, RingView, sameCycle } from '../../src/ring/ring.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';
const C = '127.0.0.1:4045';
const D = '[::1]:4046';
const X = '10.9.9.9:1';

describe('RingView alone', () => {
  test('holds only itself and has no successor', () => {
    const ring = new RingView(A);
    assert.equal(ring.self, A);
    assert.equal(ring.size, 1);
    assert.deepEqual(ring.members, [A]);
    assert.deepEqual(ring.fromSelf(), [A]);
    assert.equal(ring.successor(), undefined);
    assert.equal(ring.successor(A), undefined);
    assert.equal(ring.has(A), true);
    assert.equal(ring.has(B), false);
    assert.equal(ring.format(), '[127.0.0.1:4043]');
  });

  test('puts itself first when the given members leave it out', () => {
    const ring = new RingView(A, [B, C]);
    assert.deepEqual(ring.members, [A, B, C]);
  });

  test('keeps the given order when it is listed', () => {
    const ring = new RingView(B, [A, B, C]);
    assert.ok(sameCycle(ring.members, [A, B, C]));
    assert.deepEqual(ring.fromSelf(), [B, C, A]);
  });

  test('copies the members it is given', () => {
    const members = [A, B];
    const ring = new RingView(A, members);
    members.push(C);
    assert.deepEqual(ring.members, [A, B]);
  });
});

describe('RingView.successor', () => {
  const ring = new RingView(A, [A, B, C, D]);
  const cases: ReadonlyArray<{ of: string | undefined; next: string | undefined }> = [
    { of: undefined, next: B },
    { of: A, next: B },
    { of: B, next: C },
    { of: C, next: D },
    { of: D, next: A }, // wraps around
    { of: X, next: undefined }, // not a member
  ];
  for (const { of, next } of cases) {
    test(`after ${of ?? 'self'} comes ${next ?? 'nobody'}`, () => {
      assert.equal(of === undefined ? ring.successor() : ring.successor(of), next);
    });
  }

  test("in a ring of two each is the other one's successor", () => {
    const two = new RingView(A, [A, B]);
    assert.equal(two.successor(A), B);
    assert.equal(two.successor(B), A);
  });
});

describe('RingView.insertAfter', () => {
  const cases: ReadonlyArray<{
    name: string;
    self: string;
    start: string[];
    anchor: string;
    address: string;
    changed: boolean;
    end: string[];
  }> = [
    { name: 'a new server after a lone self', self: A, start: [A], anchor: A, address: B, changed: true, end: [A, B] },
    { name: 'a new server right after self', self: A, start: [A, B, C], anchor: A, address: X, changed: true, end: [A, X, B, C] },
    { name: 'a new server after the last member', self: A, start: [A, B, C], anchor: C, address: X, changed: true, end: [A, B, C, X] },
    { name: 'a new server after another member', self: A, start: [A, B, C], anchor: B, address: X, changed: true, end: [A, B, X, C] },
    // A member placed after a moved one moves with it: placements form a tree.
    { name: 'an existing member moved forward', self: A, start: [A, B, C, D], anchor: A, address: C, changed: true, end: [A, C, D, B] },
    { name: 'an existing member moved backward', self: A, start: [A, B, C, D], anchor: C, address: B, changed: true, end: [A, C, B, D] },
    { name: 'self moved after another member', self: A, start: [A, B, C], anchor: B, address: A, changed: true, end: [B, A, C] },
    { name: 'the member already there (no change)', self: A, start: [A, B, C], anchor: A, address: B, changed: false, end: [A, B, C] },
    {
      name: 'the first member after the last (already there)',
      self: A,
      start: [A, B, C],
      anchor: C,
      address: A,
      changed: false,
      end: [A, B, C],
    },
    { name: 'a server after itself (refused)', self: A, start: [A, B], anchor: B, address: B, changed: false, end: [A, B] },
    { name: 'after an unknown anchor (refused)', self: A, start: [A, B], anchor: X, address: C, changed: false, end: [A, B] },
  ];
  for (const { name, self, start, anchor, address, changed, end } of cases) {
    test(`places ${name}`, () => {
      const ring = new RingView(self, start);
      assert.equal(ring.insertAfter(anchor, address), changed);
      assert.ok(sameCycle(ring.members, end), `${ring.members.join(' ')} is not the cycle ${end.join(' ')}`);
      assert.equal(new Set(ring.members).size, ring.size, 'a member is listed twice');
    });
  }
});

describe('RingView.remove', () => {
  const cases: ReadonlyArray<{ name: string; start: string[]; address: string; changed: boolean; end: string[] }> = [
    { name: 'a member', start: [A, B, C], address: B, changed: true, end: [A, C] },
    { name: 'the last member', start: [A, B, C], address: C, changed: true, end: [A, B] },
    { name: 'the only other member', start: [A, B], address: B, changed: true, end: [A] },
    { name: 'never self', start: [A, B, C], address: A, changed: false, end: [A, B, C] },
    { name: 'never self when alone', start: [A], address: A, changed: false, end: [A] },
    { name: 'nobody for an unknown address', start: [A, B], address: X, changed: false, end: [A, B] },
  ];
  for (const { name, start, address, changed, end } of cases) {
    test(`cuts out ${name}`, () => {
      const ring = new RingView(A, start);
      assert.equal(ring.remove(address), changed);
      assert.ok(sameCycle(ring.members, end), `${ring.members.join(' ')} is not the cycle ${end.join(' ')}`);
    });
  }

  test('successor skips a removed member', () => {
    const ring = new RingView(A, [A, B, C]);
    ring.remove(B);
    assert.equal(ring.successor(), C);
    ring.remove(C);
    assert.equal(ring.successor(), undefined);
  });
});

describe('RingView.adopt', () => {
  const cases: ReadonlyArray<{ name: string; start: string[]; offered: string[]; changed: boolean; end: string[] }> = [
    { name: 'a larger ring', start: [A], offered: [B, A, C], changed: true, end: [B, A, C] },
    // Known members keep their placements: an original server's list adds and removes, it does not reorder.
    { name: 'a reordered ring', start: [A, B, C], offered: [A, C, B], changed: false, end: [A, B, C] },
    // Its creator (here A) cut out its successor B.
    { name: 'a smaller ring', start: [A, B, C], offered: [C, A], changed: true, end: [C, A] },
    { name: 'no list without self', start: [A, B], offered: [B, C], changed: false, end: [A, B] },
    { name: 'no empty list', start: [A, B], offered: [], changed: false, end: [A, B] },
    { name: 'nothing for the same list', start: [A, B, C], offered: [A, B, C], changed: false, end: [A, B, C] },
    { name: 'nothing for the same cycle rotated', start: [A, B, C], offered: [B, C, A], changed: false, end: [A, B, C] },
    { name: 'nothing for the same cycle rotated twice', start: [A, B, C], offered: [C, A, B], changed: false, end: [A, B, C] },
  ];
  for (const { name, start, offered, changed, end } of cases) {
    test(`takes ${name}`, () => {
      const ring = new RingView(A, start);
      assert.equal(ring.adopt(offered, A), changed);
      assert.ok(sameCycle(ring.members, end), `${ring.members.join(' ')} is not the cycle ${end.join(' ')}`);
    });
  }

  test('copies the adopted list', () => {
    const ring = new RingView(A);
    const offered = [A, B];
    assert.equal(ring.adopt(offered), true);
    offered.push(C);
    assert.deepEqual(ring.members, [A, B]);
  });
});

describe('RingView.format', () => {
  const cases: ReadonlyArray<{ self: string; members: string[]; picture: string }> = [
    { self: A, members: [A], picture: '[127.0.0.1:4043]' },
    { self: A, members: [A, B], picture: '[127.0.0.1:4043] --> [127.0.0.1:4044]' },
    { self: B, members: [A, B, C], picture: '[127.0.0.1:4044] --> [127.0.0.1:4045] --> [127.0.0.1:4043]' },
    { self: D, members: [A, D, B], picture: '[[::1]:4046] --> [127.0.0.1:4044] --> [127.0.0.1:4043]' },
  ];
  for (const { self, members, picture } of cases) {
    test(`draws the ring from ${self}`, () => {
      const ring = new RingView(self, members);
      assert.equal(ring.format(), picture);
      assert.equal(ring.fromSelf()[0], self);
    });
  }

  test('formatRing draws any list in its own order', () => {
    assert.equal(formatRing([]), '');
    assert.equal(formatRing([C, A]), '[127.0.0.1:4045] --> [127.0.0.1:4043]');
  });
});

describe('sameCycle', () => {
  const cases: ReadonlyArray<{ a: string[]; b: string[]; same: boolean }> = [
    { a: [], b: [], same: true },
    { a: [A], b: [A], same: true },
    { a: [A], b: [B], same: false },
    { a: [A, B], b: [B, A], same: true },
    { a: [A, B, C], b: [A, B, C], same: true },
    { a: [A, B, C], b: [B, C, A], same: true },
    { a: [A, B, C], b: [C, A, B], same: true },
    { a: [A, B, C], b: [A, C, B], same: false },
    { a: [A, B, C], b: [C, B, A], same: false },
    { a: [A, B], b: [A, B, C], same: false },
    { a: [A, B, C], b: [A, B], same: false },
    { a: [A, B, C], b: [A, B, D], same: false },
    { a: [A], b: [], same: false },
  ];
  for (const { a, b, same } of cases) {
    test(`${JSON.stringify(a)} and ${JSON.stringify(b)} are ${same ? '' : 'not '}the same cycle`, () => {
      assert.equal(sameCycle(a, b), same);
      assert.equal(sameCycle(b, a), same);
    });
  }
});
