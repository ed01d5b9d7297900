/** The checksum over a whole stored record, and what a child's end says about an LMDB index. Pure. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { recordCheck, verifyRecord, type CheckedFields } from '../../src/store/record-check.js';
import { indexVerdict } from '../../src/store/index-check.js';

const record: CheckedFields = {
  version: { clock: 1_700_000_000_000, server: '127.0.0.1:4043' },
  deleted: false,
  encoding: undefined,
  size: 5,
  storedAt: 1_700_000_000_001,
  hash: 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d',
  content: 'hello',
};

function checked(fields: CheckedFields, name = 'item'): CheckedFields & { check: string } {
  return { ...fields, check: recordCheck(name, fields) };
}

describe('verifyRecord', () => {
  test('a record with its own checksum is intact; one without is unchecked (older records)', () => {
    assert.equal(verifyRecord('item', checked(record)), 'intact');
    assert.equal(verifyRecord('item', record), 'unchecked');
  });

  test('a change to any field, or to the name it is stored under, is damage', () => {
    const good = checked(record);
    const changes: Array<Partial<CheckedFields>> = [
      { deleted: true },
      { version: { clock: record.version.clock + 1, server: record.version.server } },
      { version: { clock: record.version.clock, server: '127.0.0.1:4044' } },
      { size: 6 },
      { storedAt: 1 },
      { hash: '0'.repeat(40) },
      { encoding: 'base64' },
      { blob: '1-abcdef' },
      { content: undefined },
    ];
    for (const change of changes) assert.equal(verifyRecord('item', { ...good, ...change }), 'damaged', JSON.stringify(change));
    assert.equal(verifyRecord('other', good), 'damaged');
  });

  test('inline content is covered through its hash, not by the checksum itself', () => {
    assert.equal(verifyRecord('item', { ...checked(record), content: 'jello' }), 'intact');
  });

  test('fields of the wrong type, and values that are not records, are damage', () => {
    const good = checked(record);
    for (const bad of [
      { ...good, deleted: 1 },
      { ...good, size: '5' },
      { ...good, version: null },
      { ...good, hash: 3 },
    ]) {
      assert.equal(verifyRecord('item', bad), 'damaged', JSON.stringify(bad));
    }
    for (const value of [undefined, null, 'text', 42]) assert.equal(verifyRecord('item', value), 'damaged');
  });

  test('absent optional fields may come back as null', () => {
    const withNulls = { ...checked(record), encoding: null, blob: null };
    assert.equal(verifyRecord('item', withNulls), 'intact');
  });
});

describe('indexVerdict', () => {
  test('a clean exit is a readable index', () => {
    assert.deepEqual(indexVerdict(0, null, ''), { ok: true });
  });

  test('a crash by a signal, or LMDB calling the file damaged, is damage, and says which', () => {
    assert.deepEqual(indexVerdict(null, 'SIGSEGV', ''), {
      ok: false,
      damaged: true,
      why: 'reading it crashed a test process with SIGSEGV',
    });
    assert.deepEqual(indexVerdict(3, null, 'MDB_CORRUPTED: Located page was wrong type\n'), {
      ok: false,
      damaged: true,
      why: 'LMDB: MDB_CORRUPTED: Located page was wrong type',
    });
    assert.deepEqual(indexVerdict(3, null, 'MDB_INVALID: File is not an LMDB file'), {
      ok: false,
      damaged: true,
      why: 'LMDB: MDB_INVALID: File is not an LMDB file',
    });
  });

  test('another failure (no permission, no memory) is not called damage: --repair would move a sound index aside', () => {
    assert.deepEqual(indexVerdict(3, null, 'Permission denied: Attempting to setup locks'), {
      ok: false,
      damaged: false,
      why: 'LMDB: Permission denied: Attempting to setup locks',
    });
    assert.deepEqual(indexVerdict(1, null, ''), { ok: false, damaged: false, why: 'a test process reading it exited with status 1' });
  });
});
