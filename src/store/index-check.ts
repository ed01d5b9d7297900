/**
 * Whether a data directory's LMDB index can be opened and read without
 * killing the process: the reading is done first by a child process
 * (index-probe.ts), which costs a process start (tens of ms) once per server
 * start. Checking the meta pages alone would miss a damaged branch page,
 * which faults only when a read walks through it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROBE = fileURLToPath(new URL('./index-probe.js', import.meta.url));

/** ok, damaged (a crash, or LMDB's words for a damaged file), or unreadable for another reason (not damage: no repair). */
export type IndexVerdict = { ok: true } | { ok: false; damaged: boolean; why: string };

/** LMDB's words for a file that is not a sound environment (as opposed to one it may not open). */
export const LMDB_DAMAGE = /MDB_CORRUPTED|MDB_INVALID|MDB_PAGE_NOTFOUND|MDB_VERSION_MISMATCH|MDB_BAD_TXN|MDB_BAD_VALSIZE/;

/** Reads the whole LMDB environment in `indexDir` in a child process; an absent one is fine (it will be made). */
export async function checkIndex(indexDir: string): Promise<IndexVerdict> {
  if (!existsSync(join(indexDir, 'data.mdb'))) return { ok: true };
  const { code, signal, stderr } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [PROBE, indexDir], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stderr }));
    },
  );
  return indexVerdict(code, signal, stderr);
}

/** What the probe's end says about the index. Pure. */
export function indexVerdict(code: number | null, signal: string | null, stderr: string): IndexVerdict {
  if (signal !== null) return { ok: false, damaged: true, why: `reading it crashed a test process with ${signal}` };
  if (code === 0) return { ok: true };
  const said = stderr.trim().split('\n').at(-1) ?? '';
  if (said === '') return { ok: false, damaged: false, why: `a test process reading it exited with status ${code}` };
  return { ok: false, damaged: LMDB_DAMAGE.test(said), why: `LMDB: ${said}` };
}
