/**
 * Prometheus metrics for one server (`GET /metrics`), through prom-client.
 * Each server has its own registry, so several servers in one process (tests,
 * the demo) keep apart.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricSources {
  ringSize(): number;
  items(): number;
  bytesStored(): number;
  sync(): { passes: number; pulled: number; deleted: number };
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'type' | 'outcome'>;
  readonly latency: Histogram<'type'>;
  readonly forwards: Counter<'type'>;
  readonly failuresDetected: Counter;
  readonly refused: Counter<'code'>;
  readonly http: Counter<'method' | 'status'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'coop_requests_total',
      help: 'Messages received, by type and outcome (ok, error).',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'coop_request_duration_seconds',
      help: 'Time from receiving a request to answering it, by type.',
      labelNames: ['type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.forwards = new Counter({
      name: 'coop_forwards_total',
      help: 'Round messages passed to a successor, by type.',
      labelNames: ['type'],
      registers,
    });
    this.failuresDetected = new Counter({ name: 'coop_failures_detected_total', help: 'Members this server declared dead.', registers });
    this.refused = new Counter({
      name: 'coop_refused_total',
      help: 'Messages refused: bad JSON, over a limit, no valid peer tag, a missing or wrong token, by error code.',
      labelNames: ['code'],
      registers,
    });
    this.http = new Counter({
      name: 'coop_http_requests_total',
      help: 'HTTP requests, by method and status.',
      labelNames: ['method', 'status'],
      registers,
    });
    new Gauge({
      name: 'coop_ring_size',
      help: 'Members in this server\u2019s view of the ring.',
      registers,
      collect() {
        this.set(sources.ringSize());
      },
    });
    new Gauge({
      name: 'coop_items',
      help: 'Live items held here.',
      registers,
      collect() {
        this.set(sources.items());
      },
    });
    new Gauge({
      name: 'coop_bytes_stored',
      help: 'Bytes of live item content held here.',
      registers,
      collect() {
        this.set(sources.bytesStored());
      },
    });
    const sync = (field: 'passes' | 'pulled' | 'deleted') =>
      function (this: Gauge) {
        this.set(sources.sync()[field]);
      };
    new Gauge({ name: 'coop_sync_passes', help: 'Anti-entropy passes completed.', registers, collect: sync('passes') });
    new Gauge({ name: 'coop_sync_pulled_items', help: 'Items repaired by anti-entropy.', registers, collect: sync('pulled') });
    new Gauge({ name: 'coop_sync_deletions', help: 'Deletions repaired by anti-entropy.', registers, collect: sync('deleted') });
    collectDefaultMetrics({ register: this.registry });
  }
}
