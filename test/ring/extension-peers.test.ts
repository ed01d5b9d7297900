/** ExtensionPeers: which peers speak our extensions, and who is told when one is learnt. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExtensionPeers } from '../../src/ring/extension-peers.js';

const A = '127.0.0.1:4043';
const B = '127.0.0.1:4044';
const C = '127.0.0.1:4045';

test('a peer learnt is told once, however often it shows it speaks our extensions', () => {
  const learnt: string[] = [];
  const peers = new ExtensionPeers((address) => learnt.push(address));
  peers.learn(B);
  peers.learn(B);
  peers.learn(C);
  assert.deepEqual(learnt, [B, C]);
  assert.equal(peers.has(B), true);
  assert.equal(peers.has(A), false);
});

test('a peer added directly (it answered a probe) is not told; one dropped is told again when learnt anew', () => {
  const learnt: string[] = [];
  const peers = new ExtensionPeers((address) => learnt.push(address));
  peers.add(B);
  peers.learn(B);
  assert.deepEqual(learnt, []);
  peers.delete(B);
  peers.learn(B);
  assert.deepEqual(learnt, [B]);
});

test('everyone: true only when every member but this server speaks our extensions', () => {
  const peers = new ExtensionPeers();
  assert.equal(peers.everyone([A], A), true, 'alone');
  assert.equal(peers.everyone([A, B, C], A), false);
  peers.learn(B);
  assert.equal(peers.everyone([A, B, C], A), false, 'C may be an original server');
  peers.learn(C);
  assert.equal(peers.everyone([A, B, C], A), true);
});

test('among: the members that speak our extensions, this server left out, in the order given', () => {
  const peers = new ExtensionPeers();
  peers.learn(C);
  peers.learn(A);
  assert.deepEqual(peers.among([A, B, C], A), [C]);
  peers.learn(B);
  assert.deepEqual(peers.among([C, A, B], A), [C, B]);
});
