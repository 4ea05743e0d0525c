import type { Logger } from "pino";
import { backoffDelay, sleep } from "../backoff.js";
import type { RecordFetcher } from "../wire/index.js";
import type { Metrics, RETRY_STAGES } from "../metrics.js";

export type RetryStage = (typeof RETRY_STAGES)[number];

/**
 * Retries a batch's stage while its dependency (PostgreSQL, the dead-letter topic) is down, with consumption
 * paused meanwhile: nothing more is fetched and nothing is committed until the batch gets through.
 */
export class DependencyRetry {
  readonly #fetcher: RecordFetcher;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #signal: AbortSignal;
  #paused = false;

  constructor(fetcher: RecordFetcher, metrics: Metrics, log: Logger, signal: AbortSignal) {
    this.#fetcher = fetcher;
    this.#metrics = metrics;
    this.#log = log;
    this.#signal = signal;
  }

  /** Paused on a dependency outage (the processor is not ready then). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Retries `fn` with backoff until it succeeds or the processor stops (the signal aborts). */
  async untilDone<T>(stage: RetryStage, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn();
        if (this.#paused) {
          this.#paused = false;
          this.#metrics.paused.set(0);
          this.#fetcher.resume();
          this.#log.info({ stage, attempts: attempt }, "dependency back; consumption resumed");
        }
        return result;
      } catch (err) {
        if (!this.#paused) {
          this.#paused = true;
          this.#metrics.paused.set(1);
          // Stop fetching: nothing more is read until this batch is stored; heartbeats continue, so the
          // partitions stay ours through a short outage.
          this.#fetcher.pause();
        }
        this.#metrics.retries.inc({ stage });
        if (this.#signal.aborted) throw err;
        const delay = backoffDelay(attempt);
        this.#log.warn({ err, stage, attempt, retryInMs: delay }, "batch failed; nothing committed, retrying");
        await sleep(delay, this.#signal);
        if (this.#signal.aborted) throw err;
      }
    }
  }
}
