/**
 * The consumer's batch pipeline, one batch deep. Each batch goes through two stages:
 *
 *   store   the PostgreSQL transaction (and the dead letters): one batch at a time, in order;
 *   commit  the Kafka offset commit (and the cache write): one batch at a time, in order, and a batch's
 *           commit starts only after its own store stage has finished.
 *
 * So while batch N's transaction runs, batch N+1 is collected and decoded by the caller, and N's offset commit
 * may overlap N+1's transaction. What may never happen, and the tests check: a store stage starting before
 * the previous one finished, a commit stage starting before its own store stage or the previous commit stage
 * finished, or any later stage running after an earlier batch failed (an offset past unstored records).
 */
export interface Stages<B> {
  store(batch: B): Promise<void>;
  commit(batch: B): Promise<void>;
}

export class BatchPipeline<B> {
  readonly #stages: Stages<B>;
  /** The last started batch's store stage. */
  #stored: Promise<void> = Promise.resolve();
  /** The last started batch's commit stage. */
  #committed: Promise<void> = Promise.resolve();
  /** The commit stage of the batch before the last: a new batch waits for it, which bounds the pipeline. */
  #committedBefore: Promise<void> = Promise.resolve();
  /** Whether the last started store stage is still running. */
  #storing = false;

  constructor(stages: Stages<B>) {
    this.#stages = stages;
  }

  /**
   * Waits until `batch` may start (the previous batch stored, the one before it committed), then starts it,
   * unless `stillWanted` says otherwise by then (stopping). Resolves whether it started; rejects when an
   * earlier batch failed, and then no later batch is ever started.
   */
  async push(batch: B, stillWanted: () => boolean = () => true): Promise<boolean> {
    await Promise.all([this.#stored, this.#committedBefore]);
    if (!stillWanted()) return false;
    const stored = this.#stages.store(batch);
    this.#storing = true;
    const done = () => {
      if (this.#stored === stored) this.#storing = false;
    };
    stored.then(done, done);
    this.#committedBefore = this.#committed;
    this.#committed = Promise.all([this.#committed, stored]).then(() => this.#stages.commit(batch));
    // Awaited by the next push or by idle(); never an unhandled rejection in between.
    this.#committed.catch(() => undefined);
    this.#stored = stored;
    return true;
  }

  /** Whether a store stage (a batch's transaction) is running now. */
  get storing(): boolean {
    return this.#storing;
  }

  /** Settles (never rejects) when the running store stage settles (at once when none runs). */
  async storeSettled(): Promise<void> {
    await this.#stored.catch(() => undefined);
  }

  /** Settles (never rejects) when every started batch has finished or failed. */
  async idle(): Promise<void> {
    await Promise.allSettled([this.#stored, this.#committed]);
  }

  /** Resolves when every started batch has been stored and committed; rejects with the first failure. */
  async drained(): Promise<void> {
    await Promise.all([this.#stored, this.#committed]);
  }
}
