/**
 * One server per data directory. A lock file, `webserver.lock`, names its
 * holder (PID, address, start); it is made complete aside and hard-linked into
 * place, so of two servers starting at once exactly one gets it, and a reader
 * never sees it half written.
 *
 * Why not a library or LMDB: LMDB lets many processes share an environment by
 * design and has no exclusive open; proper-lockfile judges staleness by mtime,
 * so after `kill -9` the next start would wait out the stale period (and the
 * holder must keep touching the file). Node has no flock(). A PID file can be
 * judged at once instead: a holder whose PID is not running, or runs a process
 * started at another time than the one recorded (the PID was reused), is stale
 * and taken over.
 *
 * Limits: PIDs are judged in this PID namespace, so servers in two containers
 * sharing a volume cannot tell each other's liveness (do not share a data
 * directory between containers); the start time is read from /proc (Linux);
 * elsewhere a reused PID holds the lock until the file is removed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CoopError } from '../errors.js';

export const LOCK_FILE = 'webserver.lock';

/** What a lock file records about its holder. */
export interface Holder {
  pid: number;
  address: string;
  /** When the holder took the lock (ISO 8601). */
  since: string;
  host: string;
  /** The holder's process start time as the kernel counts it (/proc/PID/stat), to tell a reused PID. */
  start?: string;
}

/** What judge() needs to know about the running processes. */
export interface ProcessFacts {
  ownPid: number;
  alive(pid: number): boolean;
  startOf(pid: number): string | undefined;
}

export type Verdict = { held: true } | { held: false; why: string };

/** Is the holder a lock file names still holding it? Pure. */
export function judge(holder: Holder | undefined, facts: ProcessFacts): Verdict {
  if (!holder) return { held: false, why: 'the lock file is unreadable' };
  // Our own PID (a server of this process is refused before): a former process with it, as PID 1 in a restarted container.
  if (holder.pid === facts.ownPid) return { held: false, why: `PID ${holder.pid} is this process now` };
  if (!facts.alive(holder.pid)) return { held: false, why: `PID ${holder.pid} is not running` };
  const start = facts.startOf(holder.pid);
  if (holder.start !== undefined && start !== undefined && start !== holder.start) {
    return { held: false, why: `PID ${holder.pid} is another process now` };
  }
  return { held: true };
}

/** Parses a lock file's text; undefined when it is not one. */
export function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    return {
      pid: value.pid,
      address: String(value.address ?? '?'),
      since: String(value.since ?? '?'),
      host: String(value.host ?? '?'),
      ...(typeof value.start === 'string' ? { start: value.start } : {}),
    };
  } catch {
    return undefined;
  }
}

export function describeHolder(holder: Holder): string {
  const elsewhere = holder.host === hostname() ? '' : ` on host ${holder.host}`;
  return `PID ${holder.pid}${elsewhere} at ${holder.address}, since ${holder.since}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: running, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/PID/stat: the start time in clock ticks since boot. */
export function processStart(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The lock files this process holds, with their text: removed at exit if still ours. */
const heldHere = new Map<string, string>();
/** The lock files this process holds or is taking: a second server of this process on one directory is refused at once. */
const claimed = new Set<string>();
let exitHook = false;

function releaseAllAtExit(): void {
  for (const [path, text] of heldHere) releaseSync(path, text);
}

function releaseSync(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) unlinkSync(path);
  } catch {
    // Gone already.
  }
}

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

export class DataDirLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly text: string,
    /** The stale holder this lock was taken over from, if any, and why it was stale. */
    readonly tookOver: { holder: Holder | undefined; why: string } | undefined,
  ) {}

  /**
   * Takes the lock of `dir` (created if missing) for a server at `address`.
   * Throws DATA_DIR_LOCKED naming the directory and the holder when a live one has it.
   */
  static async acquire(dir: string, address: string): Promise<DataDirLock> {
    await mkdir(dir, { recursive: true });
    const path = join(await realpath(dir), LOCK_FILE);
    const holder: Holder = { pid: process.pid, address, since: new Date().toISOString(), host: hostname() };
    const start = processStart('self');
    const text = JSON.stringify(start === undefined ? holder : { ...holder, start }) + '\n';
    if (claimed.has(path)) {
      throw new CoopError('DATA_DIR_LOCKED', `data directory ${dir} is in use by another server of this process (PID ${process.pid})`);
    }
    claimed.add(path);
    try {
      return await DataDirLock.take(dir, path, text);
    } catch (err) {
      claimed.delete(path);
      throw err;
    }
  }

  private static async take(dir: string, path: string, text: string): Promise<DataDirLock> {
    let tookOver: DataDirLock['tookOver'];
    // A few rounds: a takeover may meet another server taking over at the same moment.
    for (let round = 0; round < 5; round++) {
      if (await place(path, text)) {
        heldHere.set(path, text);
        if (!exitHook) {
          exitHook = true;
          process.on('exit', releaseAllAtExit);
        }
        return new DataDirLock(path, text, tookOver);
      }
      let found: string;
      try {
        found = await readFile(path, 'utf8');
      } catch (err) {
        if (isCode(err, 'ENOENT')) continue;
        throw err;
      }
      const current = parseHolder(found);
      const verdict = judge(current, { ownPid: process.pid, alive, startOf: processStart });
      if (verdict.held) {
        throw new CoopError(
          'DATA_DIR_LOCKED',
          `data directory ${dir} is in use by another webserver (${describeHolder(current!)}); ` +
            `stop that one first, or remove ${path} if no such server runs`,
        );
      }
      if (await removeIfUnchanged(path, found)) tookOver = { holder: current, why: verdict.why };
    }
    throw new CoopError('DATA_DIR_LOCKED', `data directory ${dir}: could not take its lock ${path} (other servers keep taking it)`);
  }

  /** Removes the lock file if it is still this one. Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.path);
    claimed.delete(this.path);
    try {
      if ((await readFile(this.path, 'utf8')) === this.text) await unlink(this.path);
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
  }
}

/** Writes the lock aside and links it into place: false when a lock file is there already. */
async function place(path: string, text: string): Promise<boolean> {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(aside, text, { flag: 'wx' });
  try {
    await link(aside, path);
    return true;
  } catch (err) {
    if (isCode(err, 'EEXIST')) return false;
    throw err;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

/**
 * Moves a stale lock out of the way, checking that what was moved is the one
 * judged stale: if another server took it over meanwhile, its lock goes back.
 */
async function removeIfUnchanged(path: string, stale: string): Promise<boolean> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return false;
    throw err;
  }
  const moved = await readFile(aside, 'utf8');
  if (moved !== stale) await link(aside, path).catch(() => undefined);
  await unlink(aside);
  return moved === stale;
}
