/**
 * Prometheus metrics for one server (`GET /metrics`), through prom-client.
 * Each server has its own registry, so several servers in one process (tests,
 * the demo) keep apart.
 *
 * The per-request series are counted here in plain numbers and handed to the
 * registry only when it is scraped: prom-client's own `inc` and `observe`
 * hash their labels on every call, a cost every request would pay. A scrape
 * sees every request counted before it.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { droppedLogLines } from '../log/logger.js';

type Labels<L extends string> = Record<L, string>;

/** The values of a label set, in label order, as one string: what a series is found by (counted per message, so no array is built). */
function seriesKey<L extends string>(names: readonly L[], labels: Labels<L>): string {
  let key = labels[names[0]!];
  for (let i = 1; i < names.length; i++) key += `\u0000${labels[names[i]!]}`;
  return key;
}

/** Series found by their label values, each made on first use (with its own copy of the labels). */
class SeriesTable<L extends string, T> {
  private readonly entries = new Map<string, T>();

  constructor(
    private readonly names: readonly L[],
    private readonly make: (labels: Labels<L>) => T,
  ) {}

  get(labels: Labels<L>): T {
    const key = seriesKey(this.names, labels);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = this.make({ ...labels });
      this.entries.set(key, entry);
    }
    return entry;
  }

  values(): IterableIterator<T> {
    return this.entries.values();
  }

  clear(): void {
    this.entries.clear();
  }
}

/** One label set's running count; `inc` is an addition. */
export interface CounterSeries {
  inc(by?: number): void;
}

/** A counter whose increments wait in memory until the next scrape. */
export class TallyCounter<L extends string> {
  private readonly series: SeriesTable<L, { labels: Labels<L>; pending: number } & CounterSeries>;

  constructor(config: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }) {
    const series = (this.series = new SeriesTable(config.labelNames, (labels) => {
      const created = {
        labels,
        pending: 0,
        inc(by = 1) {
          created.pending += by;
        },
      };
      return created;
    }));
    new Counter<L>({
      ...config,
      collect() {
        for (const entry of series.values()) {
          if (entry.pending === 0) continue;
          this.inc(entry.labels, entry.pending);
          entry.pending = 0;
        }
      },
    });
  }

  inc(labels: Labels<L>, by = 1): void {
    this.labels(labels).inc(by);
  }

  /** The series of one label set, to keep at hand where it is counted often. */
  labels(labels: Labels<L>): CounterSeries {
    return this.series.get(labels);
  }
}

/** One label set of a histogram; `observe` finds a bucket and adds. */
export interface HistogramSeries {
  observe(seconds: number): void;
}

/**
 * A histogram kept in plain arrays, exported in prom-client's shape for the
 * registry (prom-client's Histogram has no cheap observe and no bulk one).
 */
export class LatencyHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: SeriesTable<L, { labels: Labels<L>; counts: number[]; sum: number; count: number } & HistogramSeries>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    this.series = new SeriesTable(labelNames, (labels) => {
      const created = {
        labels,
        counts: buckets.map(() => 0),
        sum: 0,
        count: 0,
        observe(seconds: number) {
          created.sum += seconds;
          created.count++;
          for (let i = 0; i < buckets.length; i++) {
            if (seconds <= buckets[i]!) {
              created.counts[i]!++;
              return;
            }
          }
        },
      };
      return created;
    });
    registry.registerMetric(this as unknown as Metric);
  }

  observe(labels: Labels<L>, seconds: number): void {
    this.labels(labels).observe(seconds);
  }

  labels(labels: Labels<L>): HistogramSeries {
    return this.series.get(labels);
  }

  /** What the registry prints: cumulative buckets, +Inf, sum and count per label set. */
  get(): Promise<unknown> {
    const values: unknown[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += counts[i]!;
        values.push({ labels: { le: bound }, sharedLabels: labels, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    this.series.clear();
  }
}

export interface MetricSources {
  ringSize(): number;
  items(): number;
  bytesStored(): number;
  sync(): { passes: number; pulled: number; deleted: number };
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly requests: TallyCounter<'type' | 'outcome'>;
  readonly latency: LatencyHistogram<'type'>;
  readonly forwards: TallyCounter<'type'>;
  readonly failuresDetected: Counter;
  readonly refused: Counter<'code'>;
  readonly localErrors: Counter<'code' | 'op'>;
  readonly roundsResent: Counter<'reason'>;
  readonly streamsUnacknowledged: Counter;
  readonly linksDown: Counter;
  readonly partBytes: Counter<'way'>;
  readonly http: TallyCounter<'method' | 'status'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.requests = new TallyCounter({
      name: 'coop_requests_total',
      help: 'Messages received, by type and outcome (ok, error).',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.latency = new LatencyHistogram(
      'coop_request_duration_seconds',
      'Time from receiving a request to answering it, by type.',
      ['type'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      this.registry,
    );
    this.forwards = new TallyCounter({
      name: 'coop_forwards_total',
      help: 'Round messages passed to a successor, by type.',
      labelNames: ['type'],
      registers,
    });
    this.failuresDetected = new Counter({ name: 'coop_failures_detected_total', help: 'Members this server declared dead.', registers });
    this.refused = new Counter({
      name: 'coop_refused_total',
      help: 'Messages refused: bad JSON, over a limit, no valid peer tag, a missing or wrong token, no room on disk for a write, by error code.',
      labelNames: ['code'],
      registers,
    });
    this.localErrors = new Counter({
      name: 'coop_local_errors_total',
      help:
        'Connections this server could not make (op=connect) or accept (op=accept) for a reason of its own, ' +
        'by errno code (EMFILE: out of file descriptors...). Never taken for a peer failure.',
      labelNames: ['code', 'op'],
      registers,
    });
    this.roundsResent = new Counter({
      name: 'coop_rounds_resent_total',
      help: 'Rounds of this server sent again: a server was cut out of the ring (reason=ring), or not back in time (reason=silent).',
      labelNames: ['reason'],
      registers,
    });
    this.streamsUnacknowledged = new Counter({
      name: 'coop_streams_unacknowledged_total',
      help: 'Peer streams given up because their messages were not acknowledged in time (resent on a new connection).',
      registers,
    });
    this.linksDown = new Counter({
      name: 'coop_links_down_total',
      help: 'Times this server found a member that others reach unreachable from here (rounds pass it by until it answers a PING).',
      registers,
    });
    this.partBytes = new Counter({
      name: 'coop_part_bytes_received_total',
      help: "Bytes of large items' parts received from peers passing a write around: raw (attached beside the message) or base64 (inside it).",
      labelNames: ['way'],
      registers,
    });
    this.http = new TallyCounter({
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
    const reported = new Map<string, number>();
    new Counter({
      name: 'coop_log_lines_dropped_total',
      help:
        'Log lines this process could not write and dropped, by stream (stdout, stderr) and reason ' +
        '(unwritable: the reader went away or the write failed; backlog: the reader fell too far behind).',
      labelNames: ['stream', 'reason'],
      registers,
      collect() {
        // The streams are the process's: each server's registry reports the same process-wide count.
        for (const { stream, reason, lines } of droppedLogLines()) {
          const key = `${stream} ${reason}`;
          const delta = lines - (reported.get(key) ?? 0);
          if (delta <= 0) continue;
          this.inc({ stream, reason }, delta);
          reported.set(key, lines);
        }
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }
}
