/** What a failed write on the data directory means: STORE_UNAVAILABLE, NO_SPACE, or a failed LMDB commit. */
import { CoopError, isCoopError } from '../errors.js';

/**
 * Errors of the file system that mean the data directory cannot take writes
 * (as opposed to a bug). A full disk is NO_SPACE instead: it passes once space is freed.
 */
const UNWRITABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOENT', 'EIO', 'ENOTDIR']);

/** The error a write gets when the directory cannot take it: STORE_UNAVAILABLE, naming the directory (for the log). */
export function unwritable(dir: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !UNWRITABLE.has(code)) return err;
  return new CoopError('STORE_UNAVAILABLE', `data directory ${dir} cannot be written (${code}): ${(err as Error).message}`, {
    cause: err,
  });
}

/** errno codes of a file system that is full (or a quota that is). */
const FULL_CODES: ReadonlySet<unknown> = new Set(['ENOSPC', 'EDQUOT', 28, 122]);
/** LMDB's own "map full": the database reached its map size. */
const MDB_MAP_FULL = -30792;

/**
 * A failed write as NO_SPACE when the disk (or LMDB's map) is full; other
 * errors as they are. lmdb-js rejects a failed commit with "Commit failed" and
 * the cause in a promise (`commitError`), which must be handled here or it
 * ends the process as an unhandled rejection.
 */
export async function asStoreError(err: unknown, what: string, where: string): Promise<unknown> {
  if (isCoopError(err)) return err;
  let cause = err;
  const commitError = (err as { commitError?: unknown } | null)?.commitError;
  if (commitError instanceof Promise) {
    cause = await Promise.race([
      commitError.then(
        () => err,
        (reason: unknown) => reason,
      ),
      new Promise((resolve) => setTimeout(resolve, 100, err)),
    ]);
  }
  const code = (cause as { code?: unknown } | null)?.code;
  if (FULL_CODES.has(code) || code === MDB_MAP_FULL) {
    return new CoopError('NO_SPACE', `no space left for ${what} in ${where}: ${(cause as Error).message}`, { cause });
  }
  return err;
}

/**
 * lmdb-js's "Commit failed", as it also rejects a promise of its own that
 * nobody can handle (the start of the batch the failed write was in).
 */
export function isCommitFailure(reason: unknown): boolean {
  return reason instanceof Error && 'commitError' in reason && reason.message.startsWith('Commit failed');
}
