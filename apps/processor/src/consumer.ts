import { Consumer, type ConnectionOptions, type Producer } from "@platformatic/kafka";
import { SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import { backoffDelay, sleep } from "./backoff.js";
import type { Cache } from "./cache.js";
import type { Config } from "./config.js";
import { ErrorCodes, ProcessorError } from "./errors.js";
import { assemble, BatchRows, RecordFetcher, releasePrepared, type FetchedRecord } from "./wire/index.js";
import { BatchPipeline } from "./pipeline.js";
import { createDlqProducer, kafkaBaseOptions } from "./kafka.js";
import type { DEAD_LETTER_REASONS, Metrics } from "./metrics.js";
import { isPermanentDataError, type MinuteRollup, type PreparedBatch as PreparedWrite, type Store, type WriteResult } from "./store.js";
import { contextFromTraceHeaders, tracer } from "./tracing.js";

type KafkaMessage = FetchedRecord;
/** What a batch's store step achieved, summed over its attempts and bisection halves. */
type StoreTotals = Pick<WriteResult, "inserted" | "rollups">;
// One list (metrics.ts) names every reason: a new one must be added there, so its series exists from start-up.
type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** The offset to commit per partition: the one after the batch's last record. */
type NextOffset = { topic: string; partition: number; offset: bigint };

/** A batch being filled: each record becomes its row as it is taken (batch-rows.ts). */
interface OpenBatch {
  rows: BatchRows;
  bad: DeadLetter[];
  /** Per partition, the offset after its last record in the batch. */
  next: Map<number, number>;
  records: number;
  started: number;
  /** Time spent decoding and encoding its records so far, ms. */
  decodeMs: number;
}

/** A batch from decoding to its cache write, with the times of its stages (for the debug log line). */
interface PreparedBatch {
  /** Records in the batch, good and bad. */
  records: number;
  nextOffsets: NextOffset[];
  /** The good records as rows; the records themselves are not kept (batch-rows.ts says why). */
  rows: BatchRows;
  bad: DeadLetter[];
  /** The rows ready for the copy path (dedup, COPY payload, rollup aggregates). */
  write: PreparedWrite;
  batchSpan: Span;
  eventSpans: Span[];
  result: StoreTotals;
  t: { started: number; decodeMs: number; prepared: number; storeStart: number; stored: number; deadLettered: number };
}

interface DeadLetter {
  message: KafkaMessage;
  reason: DeadLetterReason;
  error: string;
}

export const CONSUMER_DEFAULTS = {
  heartbeatIntervalMs: 3_000,
  rebalanceTimeoutMs: 60_000,
  fetchMaxWaitMs: 1_000,
  /** Records decoded in one go before I/O callbacks get the thread (see #run). */
  decodeSliceRecords: 500,
  /** Floor of the per-partition fetch limit (see fetchSizes). */
  minPartitionFetchBytes: 64 * 1024,
  /** How often the durable cache marks are synced to Redis (see #syncCache). */
  cacheSyncIntervalMs: 2_000,
  /** Marks read per query; a sync reads at most cacheSyncMaxPages of them, the next tick goes on. */
  cacheSyncPage: 1_000,
  cacheSyncMaxPages: 10,
} as const;

export interface ProcessorDeps {
  config: Config;
  log: Logger;
  store: Store;
  cache: Cache;
  metrics: Metrics;
}

/**
 * The consumer loop. Per batch:
 *   1. decode every record as a CloudEvent (failures become dead letters);
 *   2. one PostgreSQL transaction stores the new events and moves the rollups by the new events only;
 *   3. dead letters are produced and acknowledged (acks=all);
 *   4. the Kafka offsets are committed;
 *   5. Redis gets the rollups' committed values (best effort: the durable cache marks of step 2 make the cache
 *      sync write them later if this write fails or the process dies before it).
 * Steps 2 and 3 retry with backoff while their dependency is down, consumption paused and nothing committed.
 * A crash anywhere before 4 means redelivery, and redelivery is harmless because of the (source, id) key.
 * Step 1 of the next batch overlaps steps 2-5 of the current one, and 4-5 overlap the next batch's 2-3
 * (src/pipeline.ts); the order of the steps of each batch, and of the batches, is unchanged.
 */
export class Processor {
  readonly #deps: ProcessorDeps;
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  readonly #abort = new AbortController();
  readonly #fetcher: RecordFetcher;
  #started = false;
  #loop: Promise<void> | undefined;
  readonly #pipeline: BatchPipeline<PreparedBatch>;
  #paused = false;
  #syncTimer: NodeJS.Timeout | undefined;
  #syncing = false;
  /** The last cache sync failed (a failure is logged at warn once, not at every tick of an outage). */
  #syncFailing = false;

  constructor(deps: ProcessorDeps) {
    this.#deps = deps;
    const { config } = deps;
    this.#consumer = new Consumer({
      ...kafkaBaseOptions(config, "consumer"),
      groupId: config.kafka.groupId,
      autocommit: false,
      sessionTimeout: config.kafka.sessionTimeoutMs,
      rebalanceTimeout: Math.max(CONSUMER_DEFAULTS.rebalanceTimeoutMs, config.kafka.sessionTimeoutMs),
      heartbeatInterval: CONSUMER_DEFAULTS.heartbeatIntervalMs,
    });
    this.#fetcher = createFetcher(this.#consumer, config);
    // BATCH_TRANSACTIONS batch transactions in flight, each on its own connection, the next one starting once the
    // one before has finished its COPY (the store stage releases it then, through the COPY's completion): its COPY
    // then runs while the one before runs its rollup statement and commits (the WAL flush here; on Aurora, the
    // write to the storage quorum), and two COPYs never compete for the same newest pages of the events table and
    // its index. Batches lock rows in one global order (write-batch.ts), as two members of the group do, so they
    // wait for each other instead of deadlocking.
    this.#pipeline = new BatchPipeline<PreparedBatch>(
      { store: (b, release) => this.#storeStage(b, release), commit: (b) => this.#commitStage(b) },
      { stores: config.pg.batchTransactions },
    );
    this.#producer = createDlqProducer(config);
    deps.metrics.setLagSource(() => this.#lag());
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
    // With the test hook that kills the process before its cache write, nothing else may write the cache
    // either: the test needs Redis left exactly as the killed batch left it.
    if (config.faultBeforeCacheWrite !== "exit") {
      this.#syncTimer = setInterval(() => void this.#syncCache(), CONSUMER_DEFAULTS.cacheSyncIntervalMs).unref();
    }
    this.#loop = this.#run();
    log.info({ topic: config.kafka.eventsTopic, group: config.kafka.groupId }, "consuming");
  }

  /** Settles when consumption ends: resolves after a graceful stop, rejects if fetching failed. */
  get done(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  /** Ready means: in the group with an assignment round done, and not paused on a dependency outage. */
  get ready(): boolean {
    return this.#started && !this.#abort.signal.aborted && !this.#paused && this.#consumer.isActive();
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
    clearInterval(this.#syncTimer);
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
    await this.#producer.close().catch(() => undefined);
    this.#deps.metrics.setLagSource(undefined);
  }

  /**
   * Batches are pipelined (src/pipeline.ts): while batch N is in its PostgreSQL transaction, batch N+1 is
   * collected, decoded and encoded here, and its transaction starts once N's COPY is done (BATCH_TRANSACTIONS
   * at most at once; with 1, once N has committed). The order of side effects per batch does not change (store,
   * then dead letters, then offsets, then the cache); transactions start in batch order, and batch N+1's offsets
   * are committed only after its own transaction and N's offset commit have finished: committed offsets only
   * ever cover stored records, in order. N's offset commit and cache write may overlap later transactions.
   */
  async #run(): Promise<void> {
    const max = this.#deps.config.kafka.batchMaxRecords;
    const fetcher = this.#fetcher;
    let open = this.#openBatch();
    // The hand-over of the previous batch while it waits for the pipeline; meanwhile this one goes on filling.
    let handing: Promise<boolean> | undefined;
    try {
      while (!this.#abort.signal.aborted && !fetcher.closed) {
        // Taken and decoded in one call, so no array of records stays referenced from here across an await.
        if (this.#takeInto(open, max) === 0 && open.records === 0) {
          await fetcher.wait();
          continue;
        }
        // A batch ends when it is full, or when nothing more has arrived and no transaction is running: under
        // load the batches are full (and overlap as they may), when idle a single record goes at once. No timer.
        const full = open.records >= max;
        if (!full && fetcher.buffered > 0) {
          // Decoding a whole response in one go would hold the thread for several milliseconds, and the batches
          // in their transactions need the thread at each of their round trips: let I/O run between slices.
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        if (!full && this.#pipeline.storing > 0) {
          await Promise.race([fetcher.wait(), this.#pipeline.storeSettled()]);
          continue;
        }
        if (handing) {
          if (!(await handing)) break;
          handing = undefined;
        }
        const prepared = this.#prepare(open);
        open = this.#openBatch();
        // Stopping: a batch prepared but not started is left uncommitted for the next owner.
        handing = this.#pipeline.push(prepared, () => !this.#abort.signal.aborted);
      }
      if (handing) await handing;
      // A fetcher failure surfaces through take(); one that failed while the loop waited surfaces here.
      if (fetcher.error && !this.#abort.signal.aborted) throw fetcher.error;
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      throw new ProcessorError(ErrorCodes.CONSUMER, `fetching from Kafka failed: ${(err as Error).message}`, { cause: err });
    }
    // The batches already started finish; one that failed (only possible while stopping) surfaces here.
    await this.#pipeline.drained().catch((err: unknown) => {
      if (!this.#abort.signal.aborted) throw err;
    });
  }

  #openBatch(): OpenBatch {
    return { rows: new BatchRows(this.#deps.config.kafka.batchMaxRecords), bad: [], next: new Map(), records: 0, started: 0, decodeMs: 0 };
  }

  /**
   * Takes up to a slice of what the fetcher holds (never past a full batch) into the open batch: each record is
   * decoded into its row in place (failures become dead letters, as objects); returns how many records.
   */
  #takeInto(open: OpenBatch, max: number): number {
    const t0 = performance.now();
    if (open.records === 0) open.started = t0;
    const { rows, bad, next } = open;
    const n = this.#fetcher.take(Math.min(CONSUMER_DEFAULTS.decodeSliceRecords, max - open.records), (c) => {
      const rejected = rows.addCursor(c);
      if (rejected) bad.push({ message: c.toRecord(), reason: rejected.reason, error: rejected.error });
      const after = c.offset + 1;
      if ((next.get(c.partition) ?? -1) < after) next.set(c.partition, after);
    });
    open.records += n;
    open.decodeMs += performance.now() - t0;
    return n;
  }

  /** Trace spans and the COPY payload of a filled batch: CPU work, no I/O. */
  #prepare(open: OpenBatch): PreparedBatch {
    const t0 = performance.now();
    const { rows, bad } = open;
    const batchSpan = tracer().startSpan("events process", {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": this.#deps.config.kafka.eventsTopic,
        "messaging.consumer.group.name": this.#deps.config.kafka.groupId,
        "messaging.batch.message_count": open.records,
      },
    });
    const eventSpans = this.#eventSpans(rows, batchSpan);
    const write = assemble(rows);
    const prepared = performance.now();
    return {
      records: open.records,
      nextOffsets: [...open.next].map(([partition, offset]) => ({ topic: this.#deps.config.kafka.eventsTopic, partition, offset: BigInt(offset) })),
      rows,
      bad,
      write,
      batchSpan,
      eventSpans,
      result: { inserted: 0, rollups: [] },
      t: { started: open.started, decodeMs: open.decodeMs + (prepared - t0), prepared, storeStart: 0, stored: 0, deadLettered: 0 },
    };
  }

  /** The PostgreSQL transaction and the dead letters of a batch, retried until done (or stopping). */
  async #storeStage(p: PreparedBatch, release: () => void): Promise<void> {
    const { metrics } = this.#deps;
    const { rows, bad, result } = p;
    p.t.storeStart = performance.now();
    try {
      // A retry writes the same prepared batch again; a bisection assembles the halves it writes.
      await this.#untilDone("store", () => this.#storeBisecting(rows, p.write, bad, result, release));
      p.t.stored = performance.now();
      // Stored: the rows' bytes and the payload are not read again (the commit stage needs only the aggregates
      // and counts), so their buffers go back for the next batches.
      releasePrepared(p.write);
      rows.release();
      if (bad.length > 0) await this.#untilDone("dead_letter", () => this.#deadLetter(bad));
    } catch (err) {
      for (const s of [p.batchSpan, ...p.eventSpans]) s.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message }).end();
      throw err;
    }
    const committedAt = Date.now();
    for (const ts of rows.timestamps) metrics.eventLatency.observe(Math.max(0, committedAt - ts) / 1000);

    // Fault-injection hook for the tests (docs/processor.md): die exactly between the PostgreSQL commit and
    // the Kafka offset commit, the window an at-least-once consumer must survive.
    if (this.#deps.config.faultAfterDbCommit === "exit") process.kill(process.pid, "SIGKILL");
    p.t.deadLettered = performance.now();
  }

  /** The offset commit and the cache write of a stored batch, then its metrics, span and log line. */
  async #commitStage(p: PreparedBatch): Promise<void> {
    const { metrics, log } = this.#deps;
    const { records, rows, bad, result, batchSpan, eventSpans, t } = p;
    const offsetsStart = performance.now();
    await this.#commitOffsets(p.nextOffsets);
    // Fault-injection hook for the tests (docs/processor.md): die after the offset commit and before the cache
    // write, the window the durable cache marks cover.
    if (this.#deps.config.faultBeforeCacheWrite === "exit") process.kill(process.pid, "SIGKILL");
    const committed = performance.now();
    const rejected = bad.filter((b) => b.reason === "store_rejected").length;
    const duplicates = rows.length - rejected - result.inserted;
    await this.#writeCache(await this.#rollupsToCache(p.write, result, duplicates));

    metrics.events.inc({ outcome: "stored" }, result.inserted);
    metrics.events.inc({ outcome: "duplicate" }, duplicates);
    const finished = performance.now();
    metrics.batchSize.observe(records);
    metrics.batchDuration.observe((finished - t.started) / 1000);
    batchSpan.setAttribute("eventstack.events.inserted", result.inserted);
    for (const s of [batchSpan, ...eventSpans]) s.end();
    if (log.isLevelEnabled("debug")) {
      // Where a batch's time goes, for profiling (the benchmark reads these lines): retries are inside store;
      // waits are the time spent queued behind the previous batch (before the transaction, before the offsets).
      const ms = (a: number, b: number) => Math.round((b - a) * 100) / 100;
      const stagesMs = {
        decode: Math.round(t.decodeMs * 100) / 100,
        store: ms(t.storeStart, t.stored),
        deadLetter: ms(t.stored, t.deadLettered),
        offsets: ms(offsetsStart, committed),
        cache: ms(committed, finished),
        waitStore: ms(t.prepared, t.storeStart),
        waitOffsets: ms(t.deadLettered, offsetsStart),
      };
      log.debug(
        { records, inserted: result.inserted, deadLetters: bad.length, slowDecodes: rows.slow, durationMs: ms(t.started, finished), stagesMs, trace_id: batchSpan.spanContext().traceId },
        "batch committed",
      );
    }
  }

  /**
   * One span per event that carries W3C trace context, parented on the producer's span (so the trace
   * continues from the HTTP request that created the event) and linked to the batch span.
   */
  #eventSpans(rows: BatchRows, batchSpan: Span): Span[] {
    const spans: Span[] = [];
    const topic = this.#deps.config.kafka.eventsTopic;
    for (const { row, traceparent, tracestate, id, source, type } of rows.traces) {
      const parent = contextFromTraceHeaders(traceparent, tracestate);
      if (!trace.getSpanContext(parent)) continue;
      spans.push(
        tracer().startSpan(
          `${topic} process`,
          {
            kind: SpanKind.CONSUMER,
            links: [{ context: batchSpan.spanContext() }],
            attributes: {
              "messaging.system": "kafka",
              "messaging.destination.name": topic,
              "messaging.destination.partition.id": String(rows.partitions[row]),
              "messaging.kafka.offset": rows.offsets[row] as number,
              "cloudevents.event_id": id,
              "cloudevents.event_source": source,
              "cloudevents.event_type": type,
            },
          },
          parent,
        ),
      );
    }
    return spans;
  }

  /**
   * Stores the batch in one transaction. A permanent data error (which retrying cannot fix) is narrowed down
   * by bisection to the event(s) PostgreSQL refuses; those become dead letters and the rest is stored.
   * Results accumulate in `acc` across retries, so halves committed before an outage interrupted the
   * bisection still reach the cache and the counters.
   */
  async #storeBisecting(rows: BatchRows, write: PreparedWrite, deadLetters: DeadLetter[], acc: StoreTotals, onCopied: () => void): Promise<void> {
    // Dead letters found by an attempt that then failed are found again by the retry: do not keep both.
    const before = deadLetters.length;
    try {
      await this.#storeOrBisect(rows, undefined, deadLetters, acc, write, onCopied);
    } catch (err) {
      deadLetters.length = before;
      throw err;
    }
  }

  /** The rows at `indices` (all when undefined; `write` is then their prepared batch) in one transaction. */
  async #storeOrBisect(rows: BatchRows, indices: number[] | undefined, deadLetters: DeadLetter[], acc: StoreTotals, write?: PreparedWrite, onCopied?: () => void): Promise<void> {
    try {
      const r = await this.#deps.store.writeBatch(write ?? assemble(rows, indices), onCopied);
      if (r.copyConflict) this.#deps.metrics.storeWrites.inc({ path: "copy_conflict" });
      this.#deps.metrics.storeWrites.inc({ path: r.path });
      acc.inserted += r.inserted;
      acc.rollups.push(...r.rollups);
    } catch (err) {
      if (!isPermanentDataError(err)) throw err;
      const all = indices ?? Array.from({ length: rows.length }, (_, i) => i);
      if (all.length === 1) {
        const i = all[0] as number;
        // The original bytes and headers go to the dead-letter topic; the record was not kept (batch-rows.ts).
        const message = await this.#fetcher.fetchRecord(rows.partitions[i] as number, BigInt(rows.offsets[i] as number));
        deadLetters.push({ message, reason: "store_rejected", error: `PostgreSQL rejected the event: ${(err as Error).message}` });
        return;
      }
      const half = Math.ceil(all.length / 2);
      await this.#storeOrBisect(rows, all.slice(0, half), deadLetters, acc);
      await this.#storeOrBisect(rows, all.slice(half), deadLetters, acc);
    }
  }

  async #deadLetter(deadLetters: DeadLetter[]): Promise<void> {
    const { config, metrics, log } = this.#deps;
    await this.#producer.send({
      messages: deadLetters.map(({ message, reason, error }) => {
        const headers = new Map<Buffer, Buffer>();
        for (const [k, v] of message.headers) if (k !== null) headers.set(k, v ?? EMPTY);
        const add = (k: string, v: string) => headers.set(Buffer.from(k), Buffer.from(v));
        add("dlq_reason", reason);
        add("dlq_error", error);
        add("dlq_source_topic", message.topic);
        add("dlq_partition", String(message.partition));
        add("dlq_offset", message.offset.toString());
        add("dlq_timestamp", new Date(Number(message.timestamp)).toISOString());
        add("dlq_consumer_group", config.kafka.groupId);
        return { topic: config.kafka.dlqTopic, key: message.key ?? undefined, value: message.value ?? undefined, headers };
      }),
    });
    for (const { message, reason, error } of deadLetters) {
      metrics.deadLetters.inc({ reason });
      metrics.events.inc({ outcome: "dead_lettered" });
      log.warn({ partition: message.partition, offset: message.offset.toString(), reason, error }, "record dead-lettered");
    }
  }

  /**
   * Commits, per partition, the offset after the last record of the batch. Only partitions still assigned
   * are committed: one revoked mid-batch now belongs to another member, which resumes from the previous
   * commit; the records it sees again are deduplicated by PostgreSQL. A failed commit is not retried: the
   * data is already stored, so the only cost is a redelivery.
   */
  async #commitOffsets(next: NextOffset[]): Promise<void> {
    const assigned = new Set((this.#consumer.assignments ?? []).flatMap((a) => a.partitions.map((p) => `${a.topic}:${p}`)));
    const offsets = next.filter((o) => assigned.has(`${o.topic}:${o.partition}`)).map((o) => ({ ...o, leaderEpoch: -1 }));
    if (offsets.length === 0) return;
    try {
      await this.#consumer.commit({ offsets });
    } catch (err) {
      this.#deps.metrics.offsetCommitErrors.inc();
      this.#deps.log.warn({ err }, "offset commit failed; the batch will be redelivered and deduplicated");
    }
  }

  /**
   * The rollups to push to Redis: those this batch changed, plus, when the batch held duplicates, the
   * current values of the duplicates' type-minutes. A duplicate usually means an earlier attempt committed
   * and then died (or lost the COMMIT reply) before its cache write; its marks would bring Redis up to date at
   * the next sync anyway, this only does it at once.
   */
  async #rollupsToCache(write: PreparedWrite, result: StoreTotals, duplicates: number): Promise<MinuteRollup[]> {
    const changed = latestRollups(result.rollups);
    if (duplicates <= 0) return changed;
    const have = new Set(changed.map((r) => rollupKey(r.type, r.minute)));
    const missing = new Map<string, { type: string; minute: Date }>();
    // The batch's type-minutes: those of its rollup aggregates.
    const { type: types, minute: minutes } = write.aggregates.counts;
    types.forEach((type, i) => {
      const minute = new Date(minutes[i] as number);
      const key = rollupKey(type, minute);
      if (!have.has(key)) missing.set(key, { type, minute });
    });
    if (missing.size === 0) return changed;
    try {
      return [...changed, ...(await this.#deps.store.readKeys([...missing.values()]))];
    } catch {
      // PostgreSQL is away again: the marks left by the earlier attempt's commit cover these type-minutes.
      return changed;
    }
  }

  /** The fast path of the cache: right after the offset commit. A failure is only counted; the marks cover it. */
  async #writeCache(rollups: MinuteRollup[]): Promise<void> {
    try {
      await this.#deps.cache.write(rollups);
    } catch {
      this.#deps.metrics.cacheWriteErrors.inc();
    }
  }

  /**
   * The durable path of the cache. Every batch transaction marks the type-minutes it moved, with their new
   * counts, in rollup_cache_pending (write-batch.ts). Every few seconds, while Redis is up, this writes the
   * committed values of the marked type-minutes to Redis (max-merge, so a value the fast path already wrote
   * changes nothing) and deletes the marks those values cover. Whatever happened to the batch's own cache write
   * (the process killed before it, Redis down, a failover losing it), the value reaches Redis at the next sync
   * of any member once Redis is reachable; the marks live in PostgreSQL, so a restart does not forget them.
   */
  async #syncCache(): Promise<void> {
    const { store, cache, metrics, log } = this.#deps;
    if (this.#syncing || !cache.ready) return;
    this.#syncing = true;
    try {
      let synced = 0;
      for (let page = 0; page < CONSUMER_DEFAULTS.cacheSyncMaxPages; page++) {
        const pending = await store.readCachePending(CONSUMER_DEFAULTS.cacheSyncPage);
        if (pending.length === 0) break;
        await cache.write(pending);
        synced += await store.clearCachePending(pending);
        if (pending.length < CONSUMER_DEFAULTS.cacheSyncPage) break;
      }
      if (synced > 0) {
        metrics.cacheSynced.inc(synced);
        log.debug({ entries: synced }, "cache entries synced");
      }
      this.#syncFailing = false;
    } catch (err) {
      // PostgreSQL or Redis away: the marks stay, the next tick tries again.
      if (this.#syncFailing) log.debug({ err }, "cache sync failed; retrying at the next tick");
      else log.warn({ err }, "cache sync failed; retrying at the next tick");
      this.#syncFailing = true;
    } finally {
      this.#syncing = false;
    }
  }

  /** Retries `fn` with backoff until it succeeds or the processor stops; consumption is paused meanwhile. */
  async #untilDone<T>(stage: "store" | "dead_letter", fn: () => Promise<T>): Promise<T> {
    const { metrics, log } = this.#deps;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn();
        if (this.#paused) {
          this.#paused = false;
          metrics.paused.set(0);
          this.#fetcher.resume();
          log.info({ stage, attempts: attempt }, "dependency back; consumption resumed");
        }
        return result;
      } catch (err) {
        if (!this.#paused) {
          this.#paused = true;
          metrics.paused.set(1);
          // Stop fetching: nothing more is read until this batch is stored; heartbeats continue, so the
          // partitions stay ours through a short outage.
          this.#fetcher.pause();
        }
        metrics.retries.inc({ stage });
        if (this.#abort.signal.aborted) throw err;
        const delay = backoffDelay(attempt);
        log.warn({ err, stage, attempt, retryInMs: delay }, "batch failed; nothing committed, retrying");
        await sleep(delay, this.#abort.signal);
        if (this.#abort.signal.aborted) throw err;
      }
    }
  }

  async #lag(): Promise<{ topic: string; partition: number; lag: number }[] | undefined> {
    const assignments = this.#consumer.assignments;
    if (!assignments || assignments.length === 0) return [];
    const [latest, committed] = await Promise.all([
      this.#consumer.listOffsets({ topics: assignments.map((a) => a.topic) }),
      this.#consumer.listCommittedOffsets({ topics: assignments }),
    ]);
    const out: { topic: string; partition: number; lag: number }[] = [];
    for (const { topic, partitions } of assignments) {
      for (const partition of partitions) {
        const end = latest.get(topic)?.[partition];
        const done = committed.get(topic)?.[partition];
        if (end === undefined) continue;
        // No commit yet: the group starts from the earliest offset, so the whole partition is pending
        // (ignoring retention, which makes this an upper bound).
        out.push({ topic, partition, lag: Number(end - (done !== undefined && done >= 0n ? done : 0n)) });
      }
    }
    return out;
  }
}

const EMPTY = Buffer.alloc(0);

/** The fetch loop over this member's partitions, with the consumer's connection settings (fetcher.ts). */
export function createFetcher(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, config: Config): RecordFetcher {
  const base = kafkaBaseOptions(config, "consumer");
  return new RecordFetcher(consumer, {
    topic: config.kafka.eventsTopic,
    clientId: base.clientId,
    ...fetchSizes(config),
    maxWaitTime: CONSUMER_DEFAULTS.fetchMaxWaitMs,
    // About one response waits to be read: the next fetch is in flight while the consumer reads the current one
    // (reading overlaps the broker's round trip), and no more than that is held, since what waits here is raw
    // response bytes until the consumer turns its records into rows (batch-rows.ts).
    maxBufferedBytes: fetchSizes(config).maxBytes,
    connection: fetchConnectionOptions(config),
  });
}

/** The fetch connections' options: the consumer's TLS (with SNI), SASL and request timeout, so MSK IAM applies to them too. */
export function fetchConnectionOptions(config: Config): ConnectionOptions {
  const base = kafkaBaseOptions(config, "consumer");
  return { tls: base.tls, tlsServerName: base.tlsServerName, sasl: base.sasl, requestTimeout: base.requestTimeout };
}

/**
 * Fetch response limits: KAFKA_FETCH_MAX_BYTES in all (1 MiB by default, measured in docs/processor.md#benchmark)
 * and a quarter of that per partition, so that a backlogged partition does not fill every response alone. One
 * response is what waits between the fetcher and the consumer (fetcher.ts), so this also bounds that memory.
 */
export function fetchSizes(config: Config): { maxBytes: number; maxBytesPerPartition: number } {
  const maxBytes = config.kafka.fetchMaxBytes;
  return { maxBytes, maxBytesPerPartition: Math.max(CONSUMER_DEFAULTS.minPartitionFetchBytes, Math.floor(maxBytes / 4)) };
}

/** For each rollup key the value with the highest count, i.e. the latest committed one. */
function latestRollups(rollups: MinuteRollup[]): MinuteRollup[] {
  const byKey = new Map<string, MinuteRollup>();
  for (const r of rollups) {
    const key = rollupKey(r.type, r.minute);
    const seen = byKey.get(key);
    if (!seen || seen.count < r.count) byKey.set(key, r);
  }
  return [...byKey.values()];
}

function rollupKey(type: string, minute: Date): string {
  return `${type}\u0000${minute.getTime()}`;
}
