/** The consumer's fixed settings, in one place; the file that uses each says why its value. */
export const CONSUMER_DEFAULTS = {
  heartbeatIntervalMs: 3_000,
  rebalanceTimeoutMs: 60_000,
  fetchMaxWaitMs: 1_000,
  /** Records decoded in one go before I/O callbacks get the thread (loop.ts). */
  decodeSliceRecords: 500,
  /** Floor of the per-partition fetch limit (fetchSizes in fetcher-setup.ts). */
  minPartitionFetchBytes: 64 * 1024,
  /** How often the durable cache marks are synced to Redis (cache-sync.ts). */
  cacheSyncIntervalMs: 2_000,
  /** Marks read per query; a sync reads at most cacheSyncMaxPages of them, the next tick goes on. */
  cacheSyncPage: 1_000,
  cacheSyncMaxPages: 10,
} as const;
