/**
 * A cheap summary of what a server holds, for anti-entropy: names are spread
 * over 256 buckets, and each bucket's value is the XOR of a hash of every
 * (name, version, deleted) in it. XOR makes an update O(1): take the old entry
 * out, put the new one in. Two servers compare the 256 values and list only
 * the buckets that differ; contents never travel to compare.
 */
import { sha1Bytes as hash } from './hash.js';
import type { Version } from './version.js';

export const BUCKETS = 256;

export interface DigestEntry {
  version: Version;
  deleted: boolean;
}

export function bucketOf(name: string): number {
  return hash(name)[0]!;
}

/** Each entry's hash (with the name it was taken under), kept so that taking an entry out costs no second hashing. */
const entryHashes = new WeakMap<DigestEntry, { name: string; value: bigint }>();

function entryHash(name: string, entry: DigestEntry): bigint {
  const kept = entryHashes.get(entry);
  if (kept?.name === name) return kept.value;
  const value = hash(`${name}\u0000${entry.version.clock}\u0000${entry.version.server}\u0000${entry.deleted ? 1 : 0}`).readBigUInt64BE(0);
  entryHashes.set(entry, { name, value });
  return value;
}

/** Buckets whose values differ between two digests in the wire's form. */
export function differingBuckets(ours: readonly string[], theirs: readonly string[]): number[] {
  return ours.flatMap((value, bucket) => (theirs[bucket] === value ? [] : [bucket]));
}

/** The digest of just these entries (those `keep` keeps), in the wire's form (`--replicas`: the items two servers both own). */
export function digestOf(entries: Iterable<readonly [string, DigestEntry]>, keep: (name: string) => boolean = () => true): string[] {
  const values = new Array<bigint>(BUCKETS).fill(0n);
  for (const [name, entry] of entries) if (keep(name)) values[bucketOf(name)]! ^= entryHash(name, entry);
  return values.map((value) => value.toString(16).padStart(16, '0'));
}

export class BucketDigest {
  private readonly values = new Array<bigint>(BUCKETS).fill(0n);
  /**
   * Entries whose hashes are still to be XORed into their name's bucket.
   * Hashing waits until the digest is read (every sync pass), so an item
   * written many times in between costs two hashes, not two per write (a
   * sizeable part of a small PUT's cost). XOR makes the wait exact: an entry
   * put in and taken out again before then cancels out.
   */
  private readonly pending = new Map<string, DigestEntry[]>();

  /** Records that `name` changed from `before` to `after` (either may be absent). */
  update(name: string, before: DigestEntry | undefined, after: DigestEntry | undefined): void {
    let entries = this.pending.get(name);
    if (!entries) {
      entries = [];
      this.pending.set(name, entries);
    }
    for (const entry of [before, after]) {
      if (!entry) continue;
      const at = entries.indexOf(entry);
      if (at === -1) entries.push(entry);
      else entries.splice(at, 1);
    }
  }

  private settle(): void {
    for (const [name, entries] of this.pending) {
      if (entries.length === 0) continue;
      const bucket = bucketOf(name);
      let value = this.values[bucket]!;
      for (const entry of entries) value ^= entryHash(name, entry);
      this.values[bucket] = value;
    }
    this.pending.clear();
  }

  /** The 256 bucket values as 16-digit hex strings, for the wire. */
  toWire(): string[] {
    this.settle();
    return this.values.map((value) => value.toString(16).padStart(16, '0'));
  }

  /** Buckets whose value differs from a peer's digest. */
  differing(peer: readonly string[]): number[] {
    return differingBuckets(this.toWire(), peer);
  }
}
