import type { Consumer } from "@platformatic/kafka";
import type { Logger } from "pino";
import { releasePrepared } from "../wire/index.js";
import type { Cache } from "../cache.js";
import type { RecordFetcher } from "../wire/index.js";
import type { Metrics } from "../metrics.js";
import type { Stages } from "../pipeline.js";
import type { Store } from "../store.js";
import type { InFlightBatch } from "./batch-filling.js";
import { logBatchCommitted } from "./batch-log.js";
import { endBatchSpans, failBatchSpans } from "./batch-spans.js";
import { storeBisecting } from "./bisect.js";
import { rollupsToCache, writeCache } from "./cache-write.js";
import { commitOffsets } from "./commits.js";
import type { DeadLetters } from "./dead-letters.js";
import type { FaultHooks } from "./faults.js";
import type { DependencyRetry } from "./retry.js";

export interface StageDeps {
  store: Store;
  cache: Cache;
  metrics: Metrics;
  log: Logger;
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  fetcher: RecordFetcher;
  retry: DependencyRetry;
  deadLetters: DeadLetters;
  faults: FaultHooks;
}

/**
 * The order of a batch's side effects, as the two stages of the pipeline (pipeline.ts) run them:
 *   store   the PostgreSQL transaction (bisected on a permanent data error), then the dead letters, each retried
 *           until done while its dependency is down;
 *   commit  the offset commit, then the cache write, then the batch's metrics, spans and log line.
 */
export class BatchStages implements Stages<InFlightBatch> {
  readonly #deps: StageDeps;

  constructor(deps: StageDeps) {
    this.#deps = deps;
  }

  /** The PostgreSQL transaction and the dead letters of a batch, retried until done (or stopping). */
  async store(p: InFlightBatch, release: () => void): Promise<void> {
    const { metrics, retry, deadLetters } = this.#deps;
    const { rows, bad, result } = p;
    p.t.storeStart = performance.now();
    try {
      // A retry writes the same prepared batch again; a bisection assembles the halves it writes.
      await retry.untilDone("store", () => storeBisecting(this.#deps, rows, p.write, bad, result, release));
      p.t.stored = performance.now();
      // Stored: the rows' bytes and the payload are not read again (the commit stage needs only the aggregates
      // and counts), so their buffers go back for the next batches.
      releasePrepared(p.write);
      rows.release();
      if (bad.length > 0) await retry.untilDone("dead_letter", () => deadLetters.send(bad));
    } catch (err) {
      failBatchSpans(p.batchSpan, p.eventSpans, err);
      throw err;
    }
    const committedAt = Date.now();
    for (const ts of rows.timestamps) metrics.eventLatency.observe(Math.max(0, committedAt - ts) / 1000);
    this.#deps.faults.afterDbCommit();
    p.t.deadLettered = performance.now();
  }

  /** The offset commit and the cache write of a stored batch, then its metrics, spans and log line. */
  async commit(p: InFlightBatch): Promise<void> {
    const { store, cache, metrics, log, consumer } = this.#deps;
    const { records, rows, bad, result } = p;
    const offsetsStart = performance.now();
    await commitOffsets(consumer, p.nextOffsets, metrics, log);
    this.#deps.faults.beforeCacheWrite();
    const committed = performance.now();
    const rejected = bad.filter((b) => b.reason === "store_rejected").length;
    const duplicates = rows.length - rejected - result.inserted;
    await writeCache(cache, metrics, await rollupsToCache(store, p.write, result, duplicates));

    metrics.events.inc({ outcome: "stored" }, result.inserted);
    metrics.events.inc({ outcome: "duplicate" }, duplicates);
    const finished = performance.now();
    metrics.batchSize.observe(records);
    metrics.batchDuration.observe((finished - p.t.started) / 1000);
    endBatchSpans(p.batchSpan, p.eventSpans, result.inserted);
    logBatchCommitted(log, p, { offsetsStart, committed, finished });
  }
}
