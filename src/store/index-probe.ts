/**
 * Run as a child process by index-check.ts: opens an LMDB index and reads
 * every record. A damaged file can make LMDB fault (SIGSEGV, SIGBUS) instead
 * of returning an error, which would kill the server without a word; here it
 * kills only this probe, and the server can say what happened and where.
 * Exit 0: readable; 3: LMDB refused it (the message on stderr).
 */
import { open } from 'lmdb';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: index-probe INDEX_DIR\n');
  process.exit(2);
}
try {
  const db = open<unknown, string>({ path, compression: false, readOnly: true });
  for (const key of db.getKeys()) {
    try {
      db.get(key);
    } catch {
      // A record that does not decode is the server's to drop; only faults matter here.
    }
  }
  await db.close();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(3);
}
