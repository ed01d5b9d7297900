/** Placement: each item on R members by consistent hashing; a join or leave moves about 1/N of the items. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Placement } from '../../src/ring/owners.js';

const members = (n: number): string[] => Array.from({ length: n }, (_, i) => `127.0.0.1:${5000 + i}`);
const items = Array.from({ length: 3000 }, (_, i) => `item-${i}.txt`);

test('every item has R distinct owners among the members, the same whatever order the members are listed in', () => {
  const six = members(6);
  const placement = new Placement(six, 3);
  const shuffled = new Placement([...six].reverse(), 3);
  for (const item of items.slice(0, 500)) {
    const owners = placement.owners(item);
    assert.equal(new Set(owners).size, 3);
    assert.ok(owners.every((owner) => six.includes(owner)));
    assert.deepEqual(shuffled.owners(item), owners);
  }
});

test('with R at least the number of members, every member owns every item; with no members, nobody does', () => {
  assert.deepEqual(new Placement(members(2), 3).owners('a').sort(), members(2));
  assert.deepEqual(new Placement([], 3).owners('a'), []);
});

test("each member's share of the copies is near R/N", () => {
  const placement = new Placement(members(9), 3);
  const counts = new Map<string, number>();
  for (const item of items) for (const owner of placement.owners(item)) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  const fair = (items.length * 3) / 9;
  for (const [member, count] of counts) assert.ok(Math.abs(count - fair) < fair * 0.35, `${member} holds ${count} copies, fair is ${fair}`);
});

test('a member joining takes about 1/N of the copies and moves nothing between the others; leaving gives them back', () => {
  const before = new Placement(members(9), 3);
  const after = new Placement(members(10), 3);
  const joiner = members(10)[9]!;
  let moved = 0;
  for (const item of items) {
    const was = before.owners(item);
    const now = after.owners(item);
    const gained = now.filter((owner) => !was.includes(owner));
    // Only the joiner gains copies; each copy it gains is one another member drops.
    assert.ok(gained.every((owner) => owner === joiner));
    moved += gained.length;
  }
  const share = (items.length * 3) / 10;
  assert.ok(moved > share * 0.6 && moved < share * 1.4, `${moved} copies moved, about ${share} expected`);
  for (const item of items.slice(0, 300)) assert.deepEqual(new Placement(members(9), 3).owners(item), before.owners(item));
});
