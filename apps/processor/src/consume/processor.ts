import { Consumer } from "@platformatic/kafka";
import type { Logger } from "pino";
import type { Cache } from "../cache.js";
import type { Config } from "../config.js";
import type { RecordFetcher } from "../wire/index.js";
import { kafkaBaseOptions } from "../kafka.js";
import type { Metrics } from "../metrics.js";
import { BatchPipeline } from "../pipeline.js";
import type { Store } from "../store.js";
import { closeBatch, type InFlightBatch } from "./batch-filling.js";
import { CacheSync } from "./cache-sync.js";
import { DeadLetters } from "./dead-letters.js";
import { CONSUMER_DEFAULTS } from "./defaults.js";
import { NO_FAULTS, type FaultHooks } from "./faults.js";
import { createFetcher } from "./fetcher-setup.js";
import { consumerLag } from "./lag.js";
import { runLoop } from "./loop.js";
import { DependencyRetry } from "./retry.js";
import { BatchStages } from "./stages.js";

export interface ProcessorDeps {
  config: Config;
  log: Logger;
  store: Store;
  cache: Cache;
  metrics: Metrics;
  /** Test fault hooks (faults.ts), chosen at start-up by test-faults.ts. Default NO_FAULTS: none. */
  faults?: FaultHooks;
}

/**
 * The consumer: joins the group, runs the loop (loop.ts) and stops gracefully. Per batch:
 *   1. decode every record as a CloudEvent (failures become dead letters; batch-filling.ts);
 *   2. one PostgreSQL transaction stores the new events and moves the rollups by the new events only (bisect.ts);
 *   3. dead letters are produced and acknowledged (acks=all; dead-letters.ts);
 *   4. the Kafka offsets are committed (commits.ts);
 *   5. Redis gets the rollups' committed values (best effort, cache-write.ts: the durable cache marks of step 2
 *      make the cache sync, cache-sync.ts, write them later if this write fails or the process dies before it).
 * Steps 2 and 3 retry with backoff while their dependency is down, consumption paused and nothing committed
 * (retry.ts). A crash anywhere before 4 means redelivery, and redelivery is harmless because of the (source, id)
 * key. Step 1 of the next batch overlaps steps 2-5 of the current one, and 4-5 overlap the next batch's 2-3
 * (src/pipeline.ts); the order of the steps of each batch (stages.ts), and of the batches, is unchanged.
 */
export class Processor {
  readonly #deps: ProcessorDeps;
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #abort = new AbortController();
  readonly #fetcher: RecordFetcher;
  readonly #retry: DependencyRetry;
  readonly #pipeline: BatchPipeline<InFlightBatch>;
  readonly #deadLetters: DeadLetters;
  readonly #cacheSync: CacheSync;
  readonly #faults: FaultHooks;
  #started = false;
  #loop: Promise<void> | undefined;

  constructor(deps: ProcessorDeps) {
    this.#deps = deps;
    const { config, store, cache, metrics, log } = deps;
    this.#faults = deps.faults ?? NO_FAULTS;
    this.#consumer = new Consumer({
      ...kafkaBaseOptions(config, "consumer"),
      groupId: config.kafka.groupId,
      autocommit: false,
      sessionTimeout: config.kafka.sessionTimeoutMs,
      rebalanceTimeout: Math.max(CONSUMER_DEFAULTS.rebalanceTimeoutMs, config.kafka.sessionTimeoutMs),
      heartbeatInterval: CONSUMER_DEFAULTS.heartbeatIntervalMs,
    });
    this.#fetcher = createFetcher(this.#consumer, config);
    this.#retry = new DependencyRetry(this.#fetcher, metrics, log, this.#abort.signal);
    this.#deadLetters = new DeadLetters(config, metrics, log);
    // BATCH_TRANSACTIONS batch transactions in flight, each on its own connection, the next one starting once the
    // one before has finished its COPY (the store stage releases it then, through the COPY's completion): its COPY
    // then runs while the one before runs its rollup statement and commits (the WAL flush here; on Aurora, the
    // write to the storage quorum), and two COPYs never compete for the same newest pages of the events table and
    // its index. Batches lock rows in one global order (write-batch.ts), as two members of the group do, so they
    // wait for each other instead of deadlocking.
    const stages = new BatchStages({
      store,
      cache,
      metrics,
      log,
      consumer: this.#consumer,
      fetcher: this.#fetcher,
      retry: this.#retry,
      deadLetters: this.#deadLetters,
      faults: this.#faults,
    });
    this.#pipeline = new BatchPipeline<InFlightBatch>(stages, { stores: config.pg.batchTransactions });
    this.#cacheSync = new CacheSync(store, cache, metrics, log);
    metrics.setLagSource(() => consumerLag(this.#consumer));
  }

  /** Joins the group and starts consuming. Resolves once fetching has started; `done` settles when it ends. */
  async start(): Promise<void> {
    const { config, log } = this.#deps;
    this.#consumer.on("consumer:group:join", ({ memberId, assignments }) =>
      log.info({ memberId, assignments: assignments?.map((a) => `${a.topic}[${a.partitions.join(",")}]`) }, "joined consumer group"),
    );
    // Resumes from the group's committed offsets; a new group starts at the beginning of the topic.
    await this.#fetcher.start();
    this.#started = true;
    if (this.#faults.cacheSync) this.#cacheSync.start();
    this.#loop = runLoop({
      fetcher: this.#fetcher,
      pipeline: this.#pipeline,
      signal: this.#abort.signal,
      maxRecords: config.kafka.batchMaxRecords,
      close: (open) => closeBatch(open, config.kafka),
    });
    log.info({ topic: config.kafka.eventsTopic, group: config.kafka.groupId }, "consuming");
  }

  /** Settles when consumption ends: resolves after a graceful stop, rejects if fetching failed. */
  get done(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  /** Ready means: in the group with an assignment round done, and not paused on a dependency outage. */
  get ready(): boolean {
    return this.#started && !this.#abort.signal.aborted && !this.#retry.paused && this.#consumer.isActive();
  }

  /**
   * Graceful stop (SIGTERM): the batches already started (in their transaction or committing offsets)
   * finish and commit; a batch decoded but not started and fetched records are left for the next owner; the
   * fetcher closes and the consumer leaves the group so partitions move at once instead of after the session
   * timeout. A batch stuck retrying an outage is abandoned uncommitted.
   */
  async stop(): Promise<void> {
    if (this.#abort.signal.aborted) return this.#loop?.catch(() => undefined);
    this.#abort.abort();
    this.#cacheSync.stop();
    // The batches already launched finish (a stage retrying an outage gives up at once on abort), then the
    // fetcher closes, which ends the loop even when it is waiting for records.
    await this.#pipeline.idle();
    await this.#fetcher.close();
    await this.#loop?.catch(() => undefined);
    // force=true: send LeaveGroup without waiting for anything else.
    await new Promise<void>((resolve) =>
      this.#consumer.close(true, (err) => {
        if (err) this.#deps.log.warn({ err }, "leaving the consumer group failed");
        resolve();
      }),
    );
    await this.#deadLetters.close().catch(() => undefined);
    this.#deps.metrics.setLagSource(undefined);
  }
}
