/**
 * Joining a ring through its seeds, until it is confirmed or the time is up.
 * Each attempt resolves the seed's host name afresh (DNS may come up late),
 * PINGs it (our servers answer ACK, or ERROR with the reason they refuse us;
 * the original answers nothing and closes, or keeps the connection open), sends
 * INSERT, and waits for a ring that holds the seed to come back: only then has
 * this server joined. A seed that is not up yet is tried again (join-policy.ts);
 * a seed that refuses us is dropped, and the join ends with JOIN_REFUSED when
 * every seed has refused or a ring server refuses this server itself (its
 * secret); no ring by the deadline is JOIN_FAILED, naming the seeds tried.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { CoopError, isCoopError } from '../errors.js';
import { formatAddress, parseAddress, parseHostPort, type Address, type HostPort } from '../protocol/address.js';
import { decodeReply, encodeMessage } from '../protocol/messages.js';
import type { Log } from '../log/logger.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { JoinPolicy, judgeErrorReply, judgeFailure, type Judgement } from './join-policy.js';

export interface JoinDeps {
  self: Address;
  /**
   * This server's port was chosen explicitly (not probed upward, not 0): only
   * then is a seed at its address this server. A probed port may have been
   * taken from under a seed that was still starting.
   */
  portExplicit?: boolean;
  /** "HOST:PORT" of each seed. */
  seeds: readonly string[];
  timeoutMs: number;
  transport: PeerTransport;
  /** This server has a cluster secret / dials with TLS: for the reasons given. */
  secret: boolean;
  /** Copies this server keeps of each item (`--replicas`): a ring that keeps another number refuses it. */
  replicas?: number | undefined;
  log: Log;
  now(): number;
  random?(): number;
  /** How long a PING to a seed may take, connect included. */
  probeTimeoutMs: number;
  /** How long to wait for the ring after an INSERT before trying again. */
  confirmWaitMs?: number;
  /** A host name to an IP; default: the system's resolver (/etc/hosts, DNS). */
  resolve?(host: string): Promise<string>;
  /**
   * Whether a seed that closed our PING without a word serves TLS: asked only
   * when no ring came back from it and this server dials plain. Undefined: never asked.
   */
  servesTls?(address: Address): Promise<boolean>;
  running(): boolean;
  /** Whether this server's ring holds more than itself, and `address` among them. */
  ringHolds(address: Address): boolean;
  /** Resolves at the next change of this server's ring, or after `ms`, or when the server stops. */
  waitForChange(ms: number): Promise<void>;
  /** Aborted when the server stops: a probe or a send in flight is not waited for. */
  signal?: AbortSignal;
}

export interface Joined {
  /** The ring-side name of the seed that took us in; undefined when every seed is this server (it starts the ring). */
  through: Address | undefined;
}

/** A list of seeds as the library takes it: one "HOST:PORT" or several. */
export function seedList(join: string | readonly string[] | undefined): string[] {
  const seeds = join === undefined ? [] : typeof join === 'string' ? [join] : [...join];
  for (const seed of seeds) parseHostPort(seed);
  return seeds;
}

/** A host name to an IP, at the moment of asking. */
export async function resolveHost(host: string): Promise<string> {
  return isIP(host) ? host : (await lookup(host)).address;
}

/** The seeds whose host names resolve now (best effort: one that does not yet is left out). */
export async function resolvedSeeds(seeds: readonly string[]): Promise<HostPort[]> {
  const resolved = await Promise.all(
    seeds.map(async (seed) => {
      const { host, port } = parseHostPort(seed);
      return resolveHost(host).then(
        (ip) => ({ host: ip, port }),
        () => undefined,
      );
    }),
  );
  return resolved.filter((seed) => seed !== undefined);
}

/** Resolves at the next change of the ring (`events` emits `ring`), or after `ms`, or when `signal` aborts. */
export function nextRingChange(events: RingEvents, signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      events.off('ring', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    events.on('ring', done);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

/** What tells of changes of the ring: the server. */
export interface RingEvents {
  on(event: 'ring', listener: () => void): unknown;
  off(event: 'ring', listener: () => void): unknown;
}

export async function joinRing(deps: JoinDeps): Promise<Joined> {
  const policy = new JoinPolicy({ seeds: deps.seeds, timeoutMs: deps.timeoutMs, random: deps.random }, deps.now());
  const resolve = deps.resolve ?? resolveHost;
  const confirmWaitMs = deps.confirmWaitMs ?? 3000;
  /** Ring-side names of the seeds we sent INSERT to: a ring holding one of them is ours. */
  const contacted = new Set<Address>();
  /** Seeds that answered nothing (an original server): INSERT goes to them once, since the original would place us twice. */
  const silent = new Set<Address>();
  const tlsAsked = new Set<Address>();
  const joinedThrough = (): Address | undefined => [...contacted].find((name) => deps.ringHolds(name));
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    if (deps.signal?.aborted) resolve(STOPPED);
    deps.signal?.addEventListener('abort', () => resolve(STOPPED), { once: true });
  });
  /** `work`, unless the server stops first: then SHUTTING_DOWN at once. */
  const unlessStopped = async <T>(work: Promise<T>): Promise<T> => {
    const result = await Promise.race([work, stopped]);
    if (result === STOPPED || !deps.running()) {
      work.catch(() => undefined);
      throw shuttingDown();
    }
    return result as T;
  };
  const refuse = (seed: string, address: Address, judgement: Judgement): void => {
    const reason = `cannot join ${describeSeed(seed, address)}: ${judgement.reason}`;
    if (judgement.ringWide) throw new CoopError('JOIN_REFUSED', reason);
    policy.refuse(seed, judgement.reason);
    if (policy.allRefused) {
      const tried = policy.tried();
      throw new CoopError('JOIN_REFUSED', deps.seeds.length === 1 ? reason : `every seed refused this server: ${tried}`);
    }
    deps.log.warn(`${reason}; trying the other seeds`);
  };
  /** How long to wait before the next attempt, after a failure. */
  let pause = 0;
  const fail = (seed: string, judgement: Judgement): void => {
    const now = deps.now();
    const wait = policy.failed(seed, judgement.reason, now);
    if (policy.shouldLog(now)) {
      const elapsed = Math.round((now - (policy.deadline - deps.timeoutMs)) / 1000);
      const first = policy.attempts === 1;
      deps.log.warn(
        first
          ? `cannot join through ${seed} yet (${judgement.reason}); trying again for up to ${Math.round(deps.timeoutMs / 1000)} s`
          : `still joining after ${elapsed} s and ${policy.attempts} attempts: ${seed} (${judgement.reason})`,
      );
    }
    pause = wait;
  };

  for (;;) {
    if (!deps.running()) throw shuttingDown();
    const through = joinedThrough();
    if (through !== undefined) {
      deps.log.info(`joined the ring through ${through}`);
      return { through };
    }
    if (pause > 0) {
      await unlessStopped(deps.waitForChange(pause));
      pause = 0;
      continue;
    }
    if (policy.expired(deps.now())) {
      throw new CoopError('JOIN_FAILED', `no ring within ${Math.round(deps.timeoutMs / 1000)} s; seeds tried: ${policy.tried()}`);
    }
    const seed = policy.nextSeed();
    if (seed === undefined) {
      deps.log.info('the seeds name only this server: it starts the ring');
      return { through: undefined };
    }
    const { host, port } = parseHostPort(seed);
    let address: Address;
    try {
      address = formatAddress(await unlessStopped(resolve(host)), port);
    } catch (err) {
      if (isCoopError(err, 'SHUTTING_DOWN')) throw err;
      fail(seed, judgeFailure(err, deps));
      continue;
    }
    if (address === deps.self) {
      if (deps.portExplicit !== false) {
        policy.isSelf(seed);
        continue;
      }
      refuse(seed, address, {
        verdict: 'refused',
        reason: `this server took that port while probing upward for a free one, so it is not the seed: give --listen an explicit port`,
      });
      continue;
    }
    const timeoutMs = Math.max(1, Math.min(deps.probeTimeoutMs, policy.remaining(deps.now())));
    let name = address;
    if (!silent.has(address)) {
      const probed = await unlessStopped(probe(deps, address, timeoutMs));
      if (probed.verdict === 'refused') {
        refuse(seed, address, probed);
        continue;
      }
      if (probed.verdict === 'retry') {
        fail(seed, probed);
        continue;
      }
      if (probed.verdict === 'self') {
        policy.isSelf(seed);
        continue;
      }
      if (probed.verdict === 'ok') name = probed.name;
      else if (deps.replicas !== undefined) {
        const reason = 'it did not answer our PING, as an original server does, and only our servers place items by --replicas';
        refuse(seed, address, { verdict: 'refused', ringWide: true, reason });
        continue;
      } else silent.add(address);
      try {
        await unlessStopped(deps.transport.send(address, encodeMessage({ type: 'INSERT', data: deps.self, from: deps.self })));
        deps.log.send(`INSERT ${deps.self} to ${address}`);
      } catch (err) {
        if (isCoopError(err, 'SHUTTING_DOWN')) throw err;
        silent.delete(address);
        fail(seed, judgeFailure(err, deps));
        continue;
      }
      contacted.add(name);
    }
    await unlessStopped(waitForRing(deps, joinedThrough, Math.min(confirmWaitMs, policy.remaining(deps.now()))));
    if (joinedThrough() !== undefined) continue;
    if (silent.has(address) && deps.servesTls && !tlsAsked.has(address)) {
      tlsAsked.add(address);
      if (await unlessStopped(deps.servesTls(address).catch(() => false))) {
        const reason = 'it serves TLS and this server dials plain TCP: give this server --tls-cert, --tls-key (and --tls-ca)';
        refuse(seed, address, { verdict: 'refused', reason });
        continue;
      }
    }
    const unanswered = silent.has(address)
      ? 'it did not answer our PING, as an original server does, and no ring came back after INSERT'
      : `no ring came back after INSERT: can it reach this server at ${deps.self}?`;
    policy.unanswered(seed, unanswered);
    if (policy.shouldLog(deps.now())) deps.log.warn(`still joining: ${seed} (${unanswered})`);
  }
}

const STOPPED = Symbol('stopped');

function shuttingDown(): CoopError {
  return new CoopError('SHUTTING_DOWN', 'the server stopped while joining');
}

type Probed = Judgement | { verdict: 'ok'; name: Address } | { verdict: 'self' };

/** PINGs a seed, without our membership (it is not ours to merge yet): who it is, or why not. */
async function probe(deps: JoinDeps, address: Address, timeoutMs: number): Promise<Probed> {
  const options = { secret: deps.secret };
  let text: string;
  try {
    text = await deps.transport.request(address, encodeMessage({ type: 'PING', from: deps.self }), timeoutMs);
  } catch (err) {
    return judgeFailure(err, options);
  }
  let reply;
  try {
    reply = decodeReply(text, 'ACK');
  } catch (err) {
    return judgeFailure(err, options);
  }
  if (reply.type === 'ERROR') return judgeErrorReply(reply.data.code, reply.data.message, options);
  if (reply.from === deps.self) return { verdict: 'self' };
  if (reply.replicas !== deps.replicas)
    return { verdict: 'refused', ringWide: true, reason: replicasDiffer(reply.replicas, deps.replicas) };
  return { verdict: 'ok', name: reply.from };
}

/** Why a ring that places items otherwise than this server refuses it. */
function replicasDiffer(theirs: number | undefined, ours: number | undefined): string {
  const say = (r: number | undefined): string => (r === undefined ? 'every server holds every item' : `each item is kept on ${r} servers`);
  return `in its ring ${say(theirs)} (--replicas), and this server was started so that ${say(ours)}: every server of a ring must give the same --replicas`;
}

async function waitForRing(deps: JoinDeps, joined: () => Address | undefined, ms: number): Promise<void> {
  const until = deps.now() + ms;
  while (joined() === undefined && deps.running() && deps.now() < until) await deps.waitForChange(until - deps.now());
}

function describeSeed(seed: string, address: Address): string {
  return seed === address ? seed : `${seed} (${address})`;
}

/** Whether `address` completes a TLS handshake (any certificate): what a TLS server does and the original does not. */
export function servesTls(address: Address, timeoutMs: number): Promise<boolean> {
  const { host, port } = parseAddress(address);
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false });
    const done = (value: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/**
 * After joining: PINGs, with our whole membership, the other seeds that are
 * not in our ring yet (`greet`, which merges their answers). Servers that
 * share a seed list and started together may have formed two rings; this merges them.
 */
export async function greetOtherSeeds(deps: {
  seeds: readonly string[];
  self: Address;
  inRing(address: Address): boolean;
  greet(address: Address): Promise<unknown>;
  resolve?(host: string): Promise<string>;
}): Promise<void> {
  const resolve = deps.resolve ?? resolveHost;
  for (const seed of deps.seeds) {
    try {
      const { host, port } = parseHostPort(seed);
      const address = formatAddress(await resolve(host), port);
      if (address === deps.self || deps.inRing(address)) continue;
      await deps.greet(address);
    } catch {
      // Best effort: a seed that is down now is not needed.
    }
  }
}
