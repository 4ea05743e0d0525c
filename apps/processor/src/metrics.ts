import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Every value of these labels: the series exist from start-up at 0. prom-client creates a labelled series on its first
 * increment, and Prometheus' rate()/increase() need two samples of a series, so without the 0 the first dead letter
 * of a process would never show as an increase and an alert on it would stay silent.
 */
export const EVENT_OUTCOMES = ["stored", "duplicate", "dead_lettered"] as const;
export const DEAD_LETTER_REASONS = ["undecodable", "invalid_cloudevent", "store_rejected"] as const;
export const CACHE_RESULTS = ["hit", "miss", "error"] as const;
export const RETRY_STAGES = ["store", "dead_letter"] as const;

/** Returns consumer lag per topic-partition (assigned partitions only), or undefined when unknown. */
export type LagSource = () => Promise<{ topic: string; partition: number; lag: number }[] | undefined>;

/**
 * The service's Prometheus metrics, on a registry of its own (several instances can live in one test
 * process without clashing over the global registry).
 */
export class Metrics {
  readonly registry = new Registry();
  #lagSource: LagSource | undefined;

  readonly consumerLag = new Gauge({
    name: "processor_consumer_lag",
    help: "Records between the group's committed offset and the partition's high watermark, per assigned partition (read from Kafka at scrape time).",
    labelNames: ["topic", "partition"] as const,
    registers: [this.registry],
    collect: async () => {
      const lags = await this.#lagSource?.().catch(() => undefined);
      if (!lags) return;
      this.consumerLag.reset();
      for (const { topic, partition, lag } of lags) this.consumerLag.set({ topic, partition: String(partition) }, lag);
    },
  });

  readonly batchSize = new Histogram({
    name: "processor_batch_size",
    help: "Records per processed batch.",
    buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000],
    registers: [this.registry],
  });

  readonly batchDuration = new Histogram({
    name: "processor_batch_duration_seconds",
    help: "Time to process one batch: decode, dead-letter, PostgreSQL commit and Kafka offset commit (retries included).",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly eventLatency = new Histogram({
    name: "processor_event_latency_seconds",
    help: "From the Kafka record timestamp to the PostgreSQL commit that stored it.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly events = new Counter({
    name: "processor_events_total",
    help: "Records processed, by outcome: stored (new), duplicate (already stored), dead_lettered.",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: "processor_dead_letters_total",
    help: "Records sent to the dead-letter topic, by reason.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: "processor_batch_retries_total",
    help: "Batch attempts that failed and were retried after a backoff, by stage (store, dead_letter).",
    labelNames: ["stage"] as const,
    registers: [this.registry],
  });

  readonly storeWrites = new Counter({
    name: "processor_store_writes_total",
    help: "PostgreSQL batch transactions by path: copy (every event new), merge (batch with stored duplicates), copy_conflict (a copy rolled back on a stored duplicate, then merged).",
    labelNames: ["path"] as const,
    registers: [this.registry],
  });

  readonly offsetCommitErrors = new Counter({
    name: "processor_offset_commit_errors_total",
    help: "Kafka offset commits that failed after the data was stored (the records will be redelivered and deduplicated).",
    registers: [this.registry],
  });

  readonly cacheRequests = new Counter({
    name: "processor_cache_requests_total",
    help: "Read API cache lookups, by result: hit, miss, error (Redis unavailable).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly cacheWriteErrors = new Counter({
    name: "processor_cache_write_errors_total",
    help: "Failed Redis writes (consumer and read-path fills); the consumer's are synced from PostgreSQL once Redis is back.",
    registers: [this.registry],
  });
  readonly cacheSynced = new Counter({
    name: "processor_cache_synced_total",
    help: "Type-minutes written to Redis by the cache sync from their durable marks (rollup_cache_pending).",
    registers: [this.registry],
  });

  readonly paused = new Gauge({
    name: "processor_consumption_paused",
    help: "1 while consumption is paused because PostgreSQL or the dead-letter topic is unavailable.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const outcome of EVENT_OUTCOMES) this.events.inc({ outcome }, 0);
    for (const reason of DEAD_LETTER_REASONS) this.deadLetters.inc({ reason }, 0);
    for (const stage of RETRY_STAGES) this.retries.inc({ stage }, 0);
    for (const result of CACHE_RESULTS) this.cacheRequests.inc({ result }, 0);
  }

  setLagSource(source: LagSource | undefined): void {
    this.#lagSource = source;
  }
}
