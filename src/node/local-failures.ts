/**
 * Failures that are this server's own (out of descriptors, a full disk):
 * counted every time, logged at most every few seconds per kind, since they
 * come in bursts and say nothing about any peer.
 */
import type { CoopError } from '../errors.js';
import type { Log } from '../log/logger.js';
import { WarningGate } from '../transport/local-errors.js';
import type { NodeMetrics } from './metrics.js';

const LOCAL_WARNING_INTERVAL_MS = 5000;

const LOCAL_MEANING: Readonly<Record<string, string>> = {
  EMFILE: ' (out of file descriptors: raise ulimit -n)',
  ENFILE: ' (the system is out of file descriptors)',
  ENOBUFS: ' (no socket buffer space)',
  ENOMEM: ' (out of memory)',
  EADDRNOTAVAIL: ' (no local port left)',
};

export class LocalFailures {
  private readonly warnings = new WarningGate(LOCAL_WARNING_INTERVAL_MS);

  /** `log`: the server's log as it is now (it is named after the server once bound). */
  constructor(
    private readonly metrics: NodeMetrics,
    private readonly log: () => Log,
  ) {}

  /** A write refused for want of space: counted, and logged at most every few seconds (a full disk refuses many). */
  noSpace(err: CoopError): void {
    this.metrics.refused.inc({ code: 'NO_SPACE' });
    const suppressed = this.warnings.pass('NO_SPACE');
    if (suppressed === undefined) return;
    const more = suppressed > 0 ? ` (${suppressed} more refused since the last warning)` : '';
    this.log().warn(`${err.message}: writes are refused until space is freed${more}`);
  }

  /** A connect or accept that failed for this server's own reasons (`code`: EMFILE...): not taken for a peer failure. */
  /** A failure of this server's own while it connects to a peer (for the parts that only ever connect). */
  readonly connectError = (code: string, what: string): void => this.localError(code, 'connect', what);

  localError(code: string, op: 'connect' | 'accept', what: string): void {
    this.metrics.localErrors.inc({ code, op });
    const suppressed = this.warnings.pass(`${op} ${code}`);
    if (suppressed === undefined) return;
    const more = suppressed > 0 ? ` (${suppressed} more like it since the last warning)` : '';
    this.log().warn(`${what} failed on this server: ${code}${LOCAL_MEANING[code] ?? ''}; not taken for a peer failure${more}`);
  }
}
