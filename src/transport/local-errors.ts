/**
 * Whose fault a failed connect or send is. Some errors come from this
 * server's own resources (out of descriptors, buffers, memory, local ports)
 * and say nothing about the peer: the failure detector and the round
 * forwarder must not take them for a dead peer. Everything else (refused,
 * unreachable, reset, timed out) is about the peer or the path to it.
 */

/** errno codes raised by this host's limits, not by the peer. */
const LOCAL_CODES: ReadonlySet<string> = new Set([
  'EMFILE', // this process is out of file descriptors
  'ENFILE', // the whole system is out of file descriptors
  'ENOBUFS', // the kernel has no buffer space for a new socket
  'ENOMEM', // no memory for a new socket
  'EADDRNOTAVAIL', // no local (ephemeral) port left to connect from
]);

/** The errno code of a local failure anywhere in `err`'s cause chain, or undefined when the failure may be the peer's. */
export function localErrorCode(err: unknown): string | undefined {
  for (let cause = err, depth = 0; cause !== null && typeof cause === 'object' && depth < 8; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && LOCAL_CODES.has(code)) return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Says when a repeated warning is worth printing: at most once per
 * `intervalMs` per key, with how many were left unsaid since the last one.
 */
export class WarningGate {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** undefined: stay quiet; a number: print now, and that many were suppressed before. */
  pass(key: string): number | undefined {
    const now = this.now();
    const entry = this.last.get(key);
    if (entry !== undefined && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return undefined;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    return suppressed;
  }
}
