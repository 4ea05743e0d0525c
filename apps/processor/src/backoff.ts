/** Exponential backoff with jitter, for retrying a batch while a dependency is down. */
export const BACKOFF_DEFAULTS = {
  initialMs: 100,
  maxMs: 5_000,
} as const;

/** Delay before retry `attempt` (1-based): doubling from initialMs up to maxMs, then 50-100% of that. */
export function backoffDelay(attempt: number, opts: { initialMs?: number; maxMs?: number } = {}): number {
  const initial = opts.initialMs ?? BACKOFF_DEFAULTS.initialMs;
  const max = opts.maxMs ?? BACKOFF_DEFAULTS.maxMs;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt - 1, 30));
  // Jitter keeps replicas that lost the database together from retrying in lockstep.
  return Math.round(ceiling * (0.5 + Math.random() * 0.5));
}

/** Resolves after `ms`, or early (without rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
