/**
 * The consumer's batch pipeline. Each batch goes through two stages:
 *
 *   store   the PostgreSQL transaction (and the dead letters): up to `stores` batches at once (each on its own
 *           connection), started in batch order, each once the one before has released it (its COPY is done)
 *           or has finished;
 *   commit  the Kafka offset commit (and the cache write): one batch at a time, in order, and a batch's
 *           commit starts only after its own store stage and the previous batch's commit stage have finished.
 *
 * So while batch N's transaction runs, batch N+1 is collected and decoded by the caller (and with stores = 2
 * its transaction starts beside N's once N has copied its rows), and N's offset commit may overlap later
 * transactions. Committed offsets therefore only ever cover stored records, in order. What may never happen,
 * and the tests check: more store stages at once than `stores`, a store stage starting before the previous one
 * released it, a commit stage starting before its own store stage or the previous commit stage finished, any
 * commit stage after an earlier batch failed (an offset past unstored records), or a batch starting once an
 * earlier failure is known. (A transaction that started beside a batch that then failed may still commit in
 * PostgreSQL: its offsets are not committed, so its records come again and are deduplicated.)
 */
export interface Stages<B> {
  /**
   * The batch's transaction. It calls `release` once the next batch's store stage may start beside it (with
   * `stores` > 1); a stage that never calls it releases the next one when it settles.
   */
  store(batch: B, release: () => void): Promise<void>;
  commit(batch: B): Promise<void>;
}

export interface PipelineOptions {
  /**
   * Store stages that may run at once (default 1). With 2, batch N+1's transaction starts while N's is still
   * running (on another connection), once N has released it; commits keep their order either way: a batch's
   * commit stage waits for its own store stage and for the previous batch's commit stage.
   */
  stores?: number;
}

const RESOLVED = Promise.resolve();

export class BatchPipeline<B> {
  readonly #stages: Stages<B>;
  readonly #depth: number;
  /** Store stages of the most recently started batches, oldest first (the last `depth` + 1). */
  #stores: Promise<void>[] = [];
  /** Commit stages of the most recently started batches, oldest first (the last `depth` + 1). */
  #commits: Promise<void>[] = [];
  /** Settles when the last push has started its batch, or decided not to. */
  #pushed: Promise<void> = RESOLVED;
  /** Settles when the last started batch has released the next one (or its store stage settled). */
  #released: Promise<void> = RESOLVED;
  /** The first store stage that failed: no batch starts after it is known. */
  #failure: unknown;
  /** Store stages not settled yet. */
  readonly #storing = new Set<Promise<void>>();

  constructor(stages: Stages<B>, options: PipelineOptions = {}) {
    this.#stages = stages;
    this.#depth = Math.max(1, options.stores ?? 1);
  }

  /**
   * Waits until `batch` may start (the previous batch released it, the store stage `stores` batches back
   * finished, and the commit stage one batch further back, which bounds the pipeline), then starts it, unless `stillWanted` says otherwise by then
   * (stopping). Resolves whether it started; rejects when an earlier batch failed, and then no later batch is
   * ever started.
   */
  async push(batch: B, stillWanted: () => boolean = () => true): Promise<boolean> {
    // Pushes are taken in call order: the gates below are those left by the batch pushed before, once it started.
    const previousPush = this.#pushed;
    let pushed!: () => void;
    this.#pushed = new Promise<void>((resolve) => (pushed = resolve));
    try {
      await previousPush;
      return await this.#start(batch, stillWanted);
    } finally {
      pushed();
    }
  }

  async #start(batch: B, stillWanted: () => boolean): Promise<boolean> {
    const d = this.#depth;
    const storeGate = this.#stores[this.#stores.length - d] ?? RESOLVED;
    const commitGate = this.#commits[this.#commits.length - d - 1] ?? RESOLVED;
    await Promise.all([storeGate, this.#released, commitGate]);
    if (this.#failure !== undefined) throw this.#failure;
    if (!stillWanted()) return false;
    const previousCommit = this.#commits[this.#commits.length - 1] ?? RESOLVED;
    let release!: () => void;
    this.#released = new Promise<void>((resolve) => (release = resolve));
    const stored = this.#stages.store(batch, release);
    void stored.then(release, release);
    stored.catch((err: unknown) => {
      this.#failure ??= err;
    });
    this.#storing.add(stored);
    void stored.then(
      () => this.#storing.delete(stored),
      () => this.#storing.delete(stored),
    );
    const committed = Promise.all([previousCommit, stored]).then(() => this.#stages.commit(batch));
    // Awaited by a later push, idle() or drained(); never an unhandled rejection in between.
    committed.catch(() => undefined);
    this.#stores.push(stored);
    this.#commits.push(committed);
    if (this.#stores.length > d + 1) this.#stores.shift();
    if (this.#commits.length > d + 1) this.#commits.shift();
    return true;
  }

  /** Store stages running now. */
  get storing(): number {
    return this.#storing.size;
  }

  /** Settles (never rejects) when one of the running store stages settles (at once when none runs). */
  async storeSettled(): Promise<void> {
    if (this.#storing.size === 0) return;
    await Promise.race([...this.#storing].map((p) => p.catch(() => undefined)));
  }

  /** Settles (never rejects) when every started batch has finished or failed. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#stores, ...this.#commits]);
  }

  /** Resolves when every started batch has been stored and committed; rejects with the first failure. */
  async drained(): Promise<void> {
    await Promise.all([...this.#stores, ...this.#commits]);
  }
}
