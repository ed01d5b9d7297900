/**
 * A checksum over a whole stored record (its name and every field), kept in
 * the record: a flipped bit anywhere in it (the deleted flag, the version,
 * the size) is found when the record is read at start, and the record is
 * dropped so that anti-entropy fetches it again. Inline content is covered
 * through its hash, which the checksum covers and which is checked against
 * the content itself, so the content is not hashed twice per write.
 */
import { sha1 } from './hash.js';
import type { Version } from './version.js';

/** The fields of a record that the checksum covers. */
export interface CheckedFields {
  version: Version;
  deleted: boolean;
  encoding?: string | null | undefined;
  size: number;
  storedAt: number;
  hash: string;
  blob?: string | null | undefined;
  content?: string | null | undefined;
}

/** The checksum of `name`'s record: hex SHA-1 over a fixed encoding of every field. */
export function recordCheck(name: string, record: CheckedFields): string {
  const { version, deleted, encoding, size, storedAt, hash, blob, content } = record;
  const fields = [name, version.clock, version.server, deleted, encoding ?? null, size, storedAt, hash, blob ?? null, content != null];
  return sha1(JSON.stringify(fields));
}

export type RecordVerdict = 'intact' | 'unchecked' | 'damaged';

/**
 * Whether a decoded record is whole: 'intact' when its checksum matches,
 * 'unchecked' when it has none (written before records carried one: accepted,
 * and rewritten with one), 'damaged' otherwise, also when a field is of the
 * wrong type (a flipped bit can turn `true` into a number).
 */
export function verifyRecord(name: string, record: unknown): RecordVerdict {
  if (typeof record !== 'object' || record === null) return 'damaged';
  const fields = record as Partial<CheckedFields> & { check?: unknown };
  const version = fields.version as Partial<Version> | undefined;
  if (
    typeof version !== 'object' ||
    version === null ||
    typeof version.clock !== 'number' ||
    typeof version.server !== 'string' ||
    typeof fields.deleted !== 'boolean' ||
    typeof fields.size !== 'number' ||
    typeof fields.storedAt !== 'number' ||
    typeof fields.hash !== 'string' ||
    (fields.encoding != null && typeof fields.encoding !== 'string') ||
    (fields.blob != null && typeof fields.blob !== 'string') ||
    (fields.content != null && typeof fields.content !== 'string')
  ) {
    return 'damaged';
  }
  if (fields.check === undefined) return 'unchecked';
  return fields.check === recordCheck(name, fields as CheckedFields) ? 'intact' : 'damaged';
}
