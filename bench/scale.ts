/**
 * Membership at scale (`npm run bench -- --only scale`): rings of 8 to 256
 * servers in one process (createTestCluster, heartbeat 1 s), each measured
 * once: the time to build it by sequential joins, the membership messages
 * one more join costs (from the servers' own metrics), the time for that
 * join to converge everywhere, each server's CPU while idle, and the time
 * for a server stopped without leaving to be out of every view.
 */
import { createTestCluster, membershipReceived, type TestCluster } from '../src/node/cluster.js';
import type { RingNode } from '../src/node/node.js';
import { waitFor } from '../src/util/wait.js';

export interface ScaleFigures {
  size: number;
  buildSeconds: number;
  /** INSERT, UPDATE and CHECK: what the join itself sent (probes go on whether or not anyone joins). */
  messagesPerJoin: number;
  joinMs: number;
  idleCpuPercent: number;
  /** Members declared dead while every server idled (all of them were up): false removals. */
  falseRemovals: number;
  stoppedOutMs: number;
}

const OPTIONS = { heartbeatMs: 1000 };
const IDLE_MS = 10_000;

function sum(counts: Array<Record<string, number>>, types: readonly string[]): number {
  return counts.reduce((total, one) => total + types.reduce((part, type) => part + (one[type] ?? 0), 0), 0);
}

/** One more join: its messages (once its round has reached every server) and the time until every view agrees. */
async function oneJoin(cluster: TestCluster): Promise<{ messages: number; ms: number }> {
  const types = ['INSERT', 'UPDATE', 'CHECK'];
  const before = await membershipReceived(cluster.nodes);
  const started = performance.now();
  await cluster.add();
  const ms = performance.now() - started;
  const after = await waitFor(
    async () => {
      const now = await membershipReceived(cluster.nodes);
      return now.every((counts, i) => (counts.UPDATE ?? 0) > (before[i]?.UPDATE ?? 0)) ? now : undefined;
    },
    { timeoutMs: 60_000, what: 'the join to reach every server' },
  );
  return { messages: sum(after, types) - sum(before, types), ms };
}

/** Members declared dead so far, summed over the servers (coop_failures_detected_total). */
async function removals(nodes: readonly RingNode[]): Promise<number> {
  let total = 0;
  for (const node of nodes) {
    const metric = node.metrics.registry.getSingleMetric('coop_failures_detected_total');
    for (const { value } of metric ? (await metric.get()).values : []) total += value;
  }
  return total;
}

/** Each server's share of this process's CPU over IDLE_MS of nothing but heartbeats and sync, and the removals meanwhile. */
async function idle(cluster: TestCluster): Promise<{ cpuPercent: number; removals: number }> {
  const before = await removals(cluster.nodes);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const { user, system } = process.cpuUsage(cpu);
  const cpuPercent = ((user + system) / 1000 / (performance.now() - started) / cluster.nodes.length) * 100;
  return { cpuPercent, removals: (await removals(cluster.nodes)) - before };
}

/** Stops a server without leaving (as kill -9 would) and times until no view holds it. */
async function stoppedOut(cluster: TestCluster): Promise<number> {
  const victim: RingNode = cluster.nodes[Math.floor(cluster.nodes.length / 2)]!;
  const started = performance.now();
  await victim.stop();
  await cluster.whenConverged(120_000);
  return performance.now() - started;
}

export async function scaleFigures(sizes: readonly number[], say: (line: string) => void): Promise<ScaleFigures[]> {
  const figures: ScaleFigures[] = [];
  for (const size of sizes) {
    const started = performance.now();
    const cluster = await createTestCluster(size, OPTIONS);
    try {
      const buildSeconds = (performance.now() - started) / 1000;
      const join = await oneJoin(cluster);
      const quiet = await idle(cluster);
      const stopped = await stoppedOut(cluster);
      const row = {
        size,
        buildSeconds,
        messagesPerJoin: join.messages,
        joinMs: join.ms,
        idleCpuPercent: quiet.cpuPercent,
        falseRemovals: quiet.removals,
        stoppedOutMs: stopped,
      };
      say(
        `  ring of ${size}: built in ${buildSeconds.toFixed(1)} s; one join: ${join.messages} messages, ` +
          `${join.ms.toFixed(0)} ms; idle ${quiet.cpuPercent.toFixed(3)}% of a core per server, ${quiet.removals} removed; a stopped server out of every view in ${(stopped / 1000).toFixed(1)} s`,
      );
      figures.push(row);
    } finally {
      await cluster.stop();
    }
  }
  return figures;
}
