/**
 * The consumer's batch pipeline. Each batch goes through two stages:
 *
 *   store   the PostgreSQL transaction (and the dead letters): up to `stores` batches at once (each on its own
 *           connection), started in batch order;
 *   commit  the Kafka offset commit (and the cache write): one batch at a time, in order, and a batch's
 *           commit starts only after its own store stage and the previous batch's commit stage have finished.
 *
 * So while batch N's transaction runs, batch N+1 is collected and decoded by the caller (and with stores = 2
 * its transaction runs beside N's), and N's offset commit may overlap later transactions. Committed offsets
 * therefore only ever cover stored records, in order. What may never happen, and the tests check: more store
 * stages at once than `stores`, a commit stage starting before its own store stage or the previous commit stage
 * finished, any commit stage after an earlier batch failed (an offset past unstored records), or a batch
 * starting once an earlier failure is known. (A transaction that started beside a batch that then failed may
 * still commit in PostgreSQL: its offsets are not committed, so its records come again and are deduplicated.)
 */
export interface Stages<B> {
  store(batch: B): Promise<void>;
  commit(batch: B): Promise<void>;
}

export interface PipelineOptions {
  /**
   * Store stages that may run at once (default 1). With 2, batch N+1's transaction starts while N's is still
   * running (on another connection); commits keep their order either way: a batch's commit stage waits for its
   * own store stage and for the previous batch's commit stage.
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
  /** The first store stage that failed: no batch starts after it is known. */
  #failure: unknown;
  /** Store stages not settled yet. */
  readonly #storing = new Set<Promise<void>>();

  constructor(stages: Stages<B>, options: PipelineOptions = {}) {
    this.#stages = stages;
    this.#depth = Math.max(1, options.stores ?? 1);
  }

  /**
   * Waits until `batch` may start (the store stage `stores` batches back finished, and the commit stage one batch
   * further back, which bounds the pipeline), then starts it, unless `stillWanted` says otherwise by then
   * (stopping). Resolves whether it started; rejects when an earlier batch failed, and then no later batch is
   * ever started.
   */
  async push(batch: B, stillWanted: () => boolean = () => true): Promise<boolean> {
    const d = this.#depth;
    const storeGate = this.#stores[this.#stores.length - d] ?? RESOLVED;
    const commitGate = this.#commits[this.#commits.length - d - 1] ?? RESOLVED;
    await Promise.all([storeGate, commitGate]);
    if (this.#failure !== undefined) throw this.#failure;
    if (!stillWanted()) return false;
    const previousCommit = this.#commits[this.#commits.length - 1] ?? RESOLVED;
    const stored = this.#stages.store(batch);
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
