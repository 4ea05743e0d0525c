import type { Logger } from "pino";
import type { Cache } from "../cache.js";
import type { Metrics } from "../metrics.js";
import type { Store } from "../store.js";
import { CONSUMER_DEFAULTS } from "./defaults.js";

/**
 * The durable path of the cache. Every batch transaction marks the type-minutes it moved, with their new
 * counts, in rollup_cache_pending (write-batch.ts). Every few seconds, while Redis is up, this writes the
 * committed values of the marked type-minutes to Redis (max-merge, so a value the fast path already wrote
 * changes nothing) and deletes the marks those values cover. Whatever happened to the batch's own cache write
 * (the process killed before it, Redis down, a failover losing it), the value reaches Redis at the next sync
 * of any member once Redis is reachable; the marks live in PostgreSQL, so a restart does not forget them.
 */
export class CacheSync {
  readonly #store: Store;
  readonly #cache: Cache;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #syncing = false;
  /** The last sync failed (a failure is logged at warn once, not at every tick of an outage). */
  #failing = false;

  constructor(store: Store, cache: Cache, metrics: Metrics, log: Logger) {
    this.#store = store;
    this.#cache = cache;
    this.#metrics = metrics;
    this.#log = log;
  }

  /** Syncs every CONSUMER_DEFAULTS.cacheSyncIntervalMs; the timer does not keep the process alive. */
  start(): void {
    this.#timer = setInterval(() => void this.#sync(), CONSUMER_DEFAULTS.cacheSyncIntervalMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #sync(): Promise<void> {
    if (this.#syncing || !this.#cache.ready) return;
    this.#syncing = true;
    try {
      let synced = 0;
      for (let page = 0; page < CONSUMER_DEFAULTS.cacheSyncMaxPages; page++) {
        const pending = await this.#store.readCachePending(CONSUMER_DEFAULTS.cacheSyncPage);
        if (pending.length === 0) break;
        await this.#cache.write(pending);
        synced += await this.#store.clearCachePending(pending);
        if (pending.length < CONSUMER_DEFAULTS.cacheSyncPage) break;
      }
      if (synced > 0) {
        this.#metrics.cacheSynced.inc(synced);
        this.#log.debug({ entries: synced }, "cache entries synced");
      }
      this.#failing = false;
    } catch (err) {
      // PostgreSQL or Redis away: the marks stay, the next tick tries again.
      if (this.#failing) this.#log.debug({ err }, "cache sync failed; retrying at the next tick");
      else this.#log.warn({ err }, "cache sync failed; retrying at the next tick");
      this.#failing = true;
    } finally {
      this.#syncing = false;
    }
  }
}
