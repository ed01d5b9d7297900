/** SHA-1, through the one-shot crypto.hash where Node has it (20.12+): a third of the cost of a Hash object. */
import * as crypto from 'node:crypto';
import { createReadStream } from 'node:fs';

const oneShot = typeof crypto.hash === 'function';

/** Hex SHA-1: content hashes (ETags, damage checks). A string is hashed as its UTF-8 bytes. */
export function sha1(data: Buffer | string): string {
  return oneShot ? crypto.hash('sha1', data, 'hex') : crypto.createHash('sha1').update(data).digest('hex');
}

/** Hex SHA-1 of a file's bytes, read in a stream. */
export async function hashFile(path: string): Promise<string> {
  const hash = crypto.createHash('sha1');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Raw SHA-1: digest buckets and entries. */
export function sha1Bytes(data: string): Buffer {
  return oneShot ? crypto.hash('sha1', data, 'buffer') : crypto.createHash('sha1').update(data).digest();
}
