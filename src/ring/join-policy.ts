/**
 * How a joining server keeps trying: which seed next (in turn), how long to
 * wait after a failure (doubling, with jitter, up to a cap, never past the
 * deadline), when a failure is worth a log line (the first, then at most one
 * every few seconds), and what a failure means: try again later (the seed is
 * not up yet), refused (a misconfiguration that waiting cannot cure: by that
 * seed alone, or ring-wide when a ring server refuses this server itself), or
 * silent (closed without a word, or never answered, as the original does to a PING).
 *
 * Pure: time and randomness come in as arguments; errors are only inspected.
 */
import { isCoopError, type ErrorCode } from '../errors.js';

export interface JoinPolicyOptions {
  /** "HOST:PORT" of each seed, tried in this order, round and round. */
  seeds: readonly string[];
  timeoutMs: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** At most one log line about failures this often, after the first. */
  logEveryMs?: number;
  /** In [0, 1): the jitter. */
  random?: () => number;
}

export class JoinPolicy {
  readonly seeds: readonly string[];
  readonly deadline: number;
  private readonly firstDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly logEveryMs: number;
  private readonly random: () => number;
  private turn = 0;
  private failures = 0;
  private lastLogged: number | undefined;
  private readonly self = new Set<string>();
  /** Seeds that refused us (not a ring server, TLS mismatch...): out of the rotation. */
  private readonly refused = new Set<string>();
  /** What happened at each seed the last time it was tried. */
  private readonly outcomes = new Map<string, string>();

  constructor(options: JoinPolicyOptions, now: number) {
    if (options.seeds.length === 0) throw new Error('a join needs at least one seed');
    this.seeds = options.seeds;
    this.deadline = now + options.timeoutMs;
    this.firstDelayMs = options.firstDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 2000;
    this.logEveryMs = options.logEveryMs ?? 5000;
    this.random = options.random ?? Math.random;
  }

  /** The seed to try now, in turn, skipping those found to be this server or that refused us; undefined when none is left. */
  nextSeed(): string | undefined {
    for (let i = 0; i < this.seeds.length; i++) {
      const seed = this.seeds[this.turn++ % this.seeds.length]!;
      if (!this.self.has(seed) && !this.refused.has(seed)) return seed;
    }
    return undefined;
  }

  /** The seed refused this server for a reason of its own: it is not tried again. */
  refuse(seed: string, reason: string): void {
    this.refused.add(seed);
    this.outcomes.set(seed, reason);
  }

  /** Every seed other than this server refused (and at least one did). */
  get allRefused(): boolean {
    return this.refused.size > 0 && this.seeds.every((seed) => this.self.has(seed) || this.refused.has(seed));
  }

  /** The seed turned out to be this server itself: it is not tried again. */
  isSelf(seed: string): void {
    this.self.add(seed);
  }

  get onlySelf(): boolean {
    return this.seeds.every((seed) => this.self.has(seed));
  }

  /** A failed attempt at `seed`: how long to wait before the next one. */
  failed(seed: string, reason: string, now: number): number {
    this.outcomes.set(seed, reason);
    const ceiling = Math.min(this.maxDelayMs, this.firstDelayMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // Equal jitter: at least half the step, so servers started together spread out but still back off.
    const delay = ceiling / 2 + (this.random() * ceiling) / 2;
    return Math.max(0, Math.min(delay, this.deadline - now));
  }

  /** The seed answered but no ring came back (yet): noted for the final message, no backoff (the wait was the backoff). */
  unanswered(seed: string, reason: string): void {
    this.outcomes.set(seed, reason);
  }

  /** Log this failure? The first one, then at most one every `logEveryMs`. */
  shouldLog(now: number): boolean {
    if (this.lastLogged !== undefined && now - this.lastLogged < this.logEveryMs) return false;
    this.lastLogged = now;
    return true;
  }

  get attempts(): number {
    return this.failures;
  }

  expired(now: number): boolean {
    return now >= this.deadline;
  }

  remaining(now: number): number {
    return Math.max(0, this.deadline - now);
  }

  /** "a:1 (connection refused), b:2 (host name not found)": for the message when the time is up. */
  tried(): string {
    return this.seeds
      .filter((seed) => !this.self.has(seed))
      .map((seed) => `${seed} (${this.outcomes.get(seed) ?? 'not tried'})`)
      .join(', ');
  }
}

export type Verdict = 'retry' | 'refused' | 'silent';

export interface Judgement {
  verdict: Verdict;
  /** Why, in words, for logs and the final message. */
  reason: string;
  /**
   * A refusal about this server itself (its cluster secret), from a ring
   * server: every seed of that ring would say the same, so the join ends.
   * Otherwise a refusal is that seed's alone (not a ring server, TLS at that address).
   */
  ringWide?: boolean;
}

/** Errors a seed that is not up yet (or not resolvable yet) gives: worth another try. */
const NOT_YET: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host down',
  ENETDOWN: 'network down',
  EADDRNOTAVAIL: 'address not available',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name not resolvable yet',
  EAI_NONAME: 'host name not found',
  EAI_FAIL: 'host name lookup failed',
  ESERVFAIL: 'host name lookup failed',
  ENODATA: 'host name has no address',
};

/** What an error from resolving, dialing or probing a seed means. */
export function judgeFailure(err: unknown, options: { secret: boolean }): Judgement {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const errno = codeOf(cause) ?? (isCoopError(err) ? undefined : codeOf(err));
  if (errno !== undefined) {
    if (isTlsFailure(errno)) return { verdict: 'refused', reason: tlsReason(errno) };
    if (NOT_YET[errno] !== undefined) return { verdict: 'retry', reason: NOT_YET[errno]! };
  }
  if (!isCoopError(err)) return { verdict: 'retry', reason: errno ?? (err as Error | undefined)?.message ?? String(err) };
  // Connected, took the PING and never answered: what an original that keeps the connection open does.
  if (err.code === 'TIMEOUT' && (err as { connected?: unknown }).connected === true) {
    return { verdict: 'silent', reason: 'it took our PING and never answered' };
  }
  switch (err.code) {
    case 'TIMEOUT':
      return { verdict: 'retry', reason: 'timed out' };
    case 'CONNECT_FAILED':
      return { verdict: 'retry', reason: errno ?? err.message };
    case 'CLOSED':
      return { verdict: 'silent', reason: 'it closed the connection without answering' };
    case 'BAD_JSON':
    case 'TOO_DEEP':
    case 'TOO_LARGE':
    case 'BAD_FIELD':
      return { verdict: 'refused', reason: `not a ring server: its answer is not the ring's protocol (${err.message})` };
    case 'UNAUTHENTICATED':
      // Thrown here (not sent by the seed): its answer had no tag of our secret.
      return {
        verdict: 'refused',
        ringWide: true,
        reason: options.secret
          ? 'its answer carries no tag of our cluster secret: its ring has no cluster secret, or another one'
          : err.message,
      };
    default:
      return { verdict: 'retry', reason: err.message };
  }
}

/** What an ERROR reply from a seed to our PING means. */
export function judgeErrorReply(code: ErrorCode, message: string, options: { secret: boolean }): Judgement {
  switch (code) {
    case 'UNAUTHENTICATED':
      // With a secret, our tag covers it and the address we dialled: either may be what the seed refused.
      return {
        verdict: 'refused',
        ringWide: true,
        reason: options.secret
          ? `it refused our cluster secret's tag: the secrets differ, or the address dialled is not one of the seed's own (a port forward or proxy in between: dial the address it advertises) (${message})`
          : `its ring has a cluster secret and this server has none: give it the same --secret or --secret-file (${message})`,
      };
    case 'SHUTTING_DOWN':
    case 'NOT_READY':
    case 'TIMEOUT':
    case 'INTERNAL':
      return { verdict: 'retry', reason: `${code}: ${message}` };
    case 'UNKNOWN_TYPE':
      // A server that does not know PING may still take INSERT, as the original does.
      return { verdict: 'silent', reason: `it does not know PING (${message})` };
    default:
      return { verdict: 'refused', reason: `it refused: ${code}: ${message}` };
  }
}

function codeOf(value: unknown): string | undefined {
  const code = (value as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|HOSTNAME_MISMATCH/;

function isTlsFailure(code: string): boolean {
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || CERT_ERRORS.test(code);
}

function tlsReason(code: string): string {
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return `the TLS handshake failed (${code}): the seed does not serve TLS, and this server dials with TLS (--tls-cert)`;
  }
  return `the TLS handshake failed (${code}): is the seed's certificate trusted (--tls-ca)?`;
}
