/**
 * A server's handler context in process: an in-memory store, a real view of
 * a ring whose other members are only addresses, and a forward that records
 * what would go to the successor. Nothing here opens a socket.
 */
import type { Address } from '../../src/protocol/address.js';
import type { LookupData, RangeRequest } from '../../src/protocol/messages.js';
import type { Member } from '../../src/ring/membership.js';
import { RingView } from '../../src/ring/ring.js';
import { placementOf } from '../../src/ring/owners.js';
import { ExtensionPeers } from '../../src/ring/extension-peers.js';
import { ackFor } from '../../src/ring/keeper.js';
import { ItemStore } from '../../src/store/items.js';
import { MemoryPersistence } from '../../src/store/memory.js';
import { Uploads } from '../../src/store/uploads.js';
import { VersionClock, type Version } from '../../src/store/version.js';
import { silentLog } from '../../src/log/logger.js';
import { PendingRounds, SeenRounds } from '../../src/handlers/rounds.js';
import { EarlyCommits } from '../../src/handlers/commits.js';
import type { HandlerContext, RoundMessage, Waiting } from '../../src/handlers/handlers.js';

export const SELF = '127.0.0.1:4043';
export const NEXT = '127.0.0.1:4044';
export const LAST = '127.0.0.1:4045';
export const NOW = 1_700_000_000_000;

export interface Sent {
  message: RoundMessage;
  received: string | undefined;
}

export interface Fixture {
  ctx: HandlerContext;
  store: ItemStore;
  ring: RingView;
  peers: ExtensionPeers;
  /** The clients waiting for their rounds. */
  waiting: PendingRounds<Waiting>;
  /** What the handlers passed to the successor, in order. */
  sent: Sent[];
  /** Parts' bytes the handlers were done with (written and passed on), in order. */
  letGo: Array<readonly Buffer[]>;
  /** Members absorbed, announcements started, and members heard from. */
  absorbed: Member[][];
  announced: number;
  heard: Address[];
}

export interface FixtureOptions {
  /** The ring, this server first (default: SELF, NEXT, LAST). */
  members?: readonly Address[];
  joining?: boolean;
  roundTimeoutMs?: number;
  /** Copies of each item (`--replicas`); default: every server holds every item. */
  replicas?: number;
  wholeLimit?: number;
  /** What a probe on behalf of another member finds. */
  alive?: boolean;
  /** Copies an item from its holder (default: the holder cannot be reached). */
  pull?: (holder: Address, item: string, versionless?: () => Version) => Promise<boolean>;
  readFrom?: (holder: Address, item: string, part: RangeRequest) => Promise<LookupData>;
  /** When a message passed to the successor is delivered (default: at once). */
  delivered?: (sent: Sent) => Promise<void>;
  /** Where the store keeps items (default: a new MemoryPersistence). */
  persistence?: MemoryPersistence;
}

/** A fixture, closed (rounds drained, store closed) when the test ends. */
export async function fixture(t: { after(fn: () => Promise<void>): void }, options: FixtureOptions = {}): Promise<Fixture> {
  const members = options.members ?? [SELF, NEXT, LAST];
  const self = members[0] ?? SELF;
  const ring = new RingView(self, members, () => NOW);
  const store = await ItemStore.open(options.persistence ?? new MemoryPersistence());
  const uploads = new Uploads(store);
  const waiting = new PendingRounds<Waiting>();
  const peers = new ExtensionPeers();
  for (const member of members) if (member !== self) peers.add(member);
  const clock = new VersionClock(self);
  store.watchVersions((version) => clock.observe(version));
  const sent: Sent[] = [];
  const letGo: Array<readonly Buffer[]> = [];
  const absorbed: Member[][] = [];
  const heard: Address[] = [];
  let rounds = 0;
  const state = { announced: 0 };
  t.after(async () => {
    waiting.drain();
    await uploads.clear();
    await store.close();
  });
  const ctx: HandlerContext = {
    self,
    ring,
    store,
    log: silentLog,
    waiting,
    seen: new SeenRounds(),
    clock,
    uploads,
    roundTimeoutMs: options.roundTimeoutMs ?? 30_000,
    replicas: options.replicas,
    placement: options.replicas === undefined ? () => undefined : placementOf(() => ring.members, options.replicas),
    syncWith: () => undefined,
    ownedBy: () => undefined,
    readOwner: () => Promise.reject(new Error('no owners in this fixture')),
    wholeLimit: options.wholeLimit ?? 1024 * 1024,
    peers,
    commits: new EarlyCommits(),
    joining: () => options.joining ?? false,
    leaving: () => false,
    now: () => NOW,
    newRoundId: () => `round-${rounds++}`,
    forward: (message: RoundMessage, received?: string) => {
      const one = { message, received };
      sent.push(one);
      return options.delivered?.(one) ?? Promise.resolve();
    },
    letGo: (bytes) => void letGo.push(bytes),
    announceRing: () => void state.announced++,
    ringChanged: () => undefined,
    resent: () => undefined,
    absorb: (members) => {
      absorbed.push(members);
      ring.merge(members);
    },
    answerPing: (ping) => {
      ctx.absorb(ping.members ?? []);
      return ackFor(ring, ping);
    },
    probeFor: () => Promise.resolve(options.alive ?? true),
    pull: options.pull ?? (() => Promise.reject(new Error('not reached'))),
    readFrom: options.readFrom ?? (() => Promise.reject(new Error('not reached'))),
    noSpace: () => undefined,
    heard: (address) => void heard.push(address),
    figures: () => ({ address: self, version: 'test', incarnation: 0, items: store.size, bytes: 0, digest: 'digest' }),
    ringStatus: () => Promise.reject(new Error('not gathered in these tests')),
  };
  return {
    ctx,
    store,
    ring,
    peers,
    waiting,
    sent,
    letGo,
    absorbed,
    heard,
    get announced() {
      return state.announced;
    },
  };
}

/** The one message the handlers passed on, of the type expected. */
export function onlySent<T extends RoundMessage['type']>(sent: readonly Sent[], type: T): Extract<RoundMessage, { type: T }> {
  if (sent.length !== 1) throw new Error(`expected one message passed on, got ${sent.length}`);
  const { message } = sent[0] as Sent;
  if (message.type !== type) throw new Error(`expected ${type}, got ${message.type}`);
  return message as Extract<RoundMessage, { type: T }>;
}
