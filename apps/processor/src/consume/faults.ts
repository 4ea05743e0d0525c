/**
 * The points of a batch's life where a test injects a fault (docs/processor.md, "Exactly-once effect, step by
 * step"). The consumer calls them at those points; what they do is chosen once at start-up (test-faults.ts), and
 * in every deployment it is NO_FAULTS, which does nothing.
 */
export interface FaultHooks {
  /** After the batch's PostgreSQL commit and dead letters, before its offset commit: the window an at-least-once consumer must survive. */
  afterDbCommit(): void;
  /** After the batch's offset commit, before its cache write: the window the durable cache marks cover. */
  beforeCacheWrite(): void;
  /**
   * Whether the durable cache sync runs (cache-sync.ts). A test that kills the process before its cache write
   * turns it off: it needs Redis left exactly as the killed batch left it.
   */
  readonly cacheSync: boolean;
}

const nothing = (): void => undefined;

/** The production value: no fault anywhere, the cache sync on. */
export const NO_FAULTS: FaultHooks = Object.freeze({ afterDbCommit: nothing, beforeCacheWrite: nothing, cacheSync: true });
