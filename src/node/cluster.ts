/**
 * Several servers in one process, on 127.0.0.1 with ports the system picks:
 * the same RingNode as the webserver program, for tests, simulations and demos.
 */
import type { Address } from '../protocol/address.js';
import { sameCycle } from '../ring/ring.js';
import { waitFor } from '../util/wait.js';
import { RingNode, type NodeOptions } from './node.js';

export type ClusterNodeOptions = Partial<Omit<NodeOptions, 'join'>>;

export interface TestCluster {
  readonly nodes: RingNode[];
  /** Addresses of the nodes, in start order. */
  readonly addresses: Address[];
  /** Starts one more server that joins `via` (default: the last running one) and waits until every view agrees. */
  add(options?: ClusterNodeOptions & { via?: Address }): Promise<RingNode>;
  /** Resolves when every running node sees the same ring of exactly the running nodes. */
  whenConverged(timeoutMs?: number): Promise<Address[]>;
  stop(): Promise<void>;
}

const TEST_DEFAULTS: ClusterNodeOptions = { heartbeatMs: 200, connectTimeoutMs: 500, roundTimeoutMs: 5000 };

export function running(nodes: readonly RingNode[]): RingNode[] {
  return nodes.filter((node) => node.running);
}

/** The common ring when every running node agrees on one made of exactly the running nodes. */
export function agreedRing(nodes: readonly RingNode[]): Address[] | undefined {
  const live = running(nodes);
  const first = live[0]?.members;
  if (!first || first.length !== live.length) return undefined;
  const addresses = new Set(live.map((node) => node.address));
  if (!first.every((member) => addresses.has(member))) return undefined;
  return live.every((node) => sameCycle(node.members, first)) ? first : undefined;
}

/** The membership messages a server receives: every one the ring's membership costs. */
export const MEMBERSHIP_TYPES = ['INSERT', 'UPDATE', 'CHECK', 'PING', 'PING_REQ'] as const;

/** Membership messages each node has received so far, by type (its own metrics: coop_requests_total). */
export async function membershipReceived(nodes: readonly RingNode[]): Promise<Array<Record<string, number>>> {
  const types = new Set<string>(MEMBERSHIP_TYPES);
  return Promise.all(
    nodes.map(async (node) => {
      const counts: Record<string, number> = {};
      const metric = node.metrics.registry.getSingleMetric('coop_requests_total');
      for (const { labels, value } of metric ? (await metric.get()).values : []) {
        const type = String(labels.type);
        if (types.has(type)) counts[type] = (counts[type] ?? 0) + value;
      }
      return counts;
    }),
  );
}

export async function createTestCluster(size: number, options: ClusterNodeOptions = {}): Promise<TestCluster> {
  const nodes: RingNode[] = [];
  const whenConverged = (timeoutMs = 10_000): Promise<Address[]> =>
    waitFor(() => agreedRing(nodes), { timeoutMs, what: 'the ring views to agree' });

  const add = async (extra: ClusterNodeOptions & { via?: Address } = {}): Promise<RingNode> => {
    const { via, ...rest } = extra;
    const join = via ?? running(nodes).at(-1)?.address;
    const node = new RingNode({ host: '127.0.0.1', port: 0, ...TEST_DEFAULTS, ...options, ...rest, join });
    await node.start();
    nodes.push(node);
    await whenConverged();
    return node;
  };

  const cluster: TestCluster = {
    nodes,
    get addresses() {
      return nodes.map((node) => node.address);
    },
    add,
    whenConverged,
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
  try {
    for (let i = 0; i < size; i++) await add();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
