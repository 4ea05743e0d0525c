import type { PreparedBatch } from "../wire/index.js";
import type { Cache } from "../cache.js";
import type { Metrics } from "../metrics.js";
import type { MinuteRollup, Store } from "../store.js";
import type { StoreTotals } from "./bisect.js";

/**
 * The rollups to push to Redis: those this batch changed, plus, when the batch held duplicates, the
 * current values of the duplicates' type-minutes. A duplicate usually means an earlier attempt committed
 * and then died (or lost the COMMIT reply) before its cache write; its marks would bring Redis up to date at
 * the next sync anyway, this only does it at once.
 */
export async function rollupsToCache(store: Store, write: PreparedBatch, result: StoreTotals, duplicates: number): Promise<MinuteRollup[]> {
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
    return [...changed, ...(await store.readKeys([...missing.values()]))];
  } catch {
    // PostgreSQL is away again: the marks left by the earlier attempt's commit cover these type-minutes.
    return changed;
  }
}

/** The fast path of the cache: right after the offset commit. A failure is only counted; the marks cover it (cache-sync.ts). */
export async function writeCache(cache: Cache, metrics: Metrics, rollups: MinuteRollup[]): Promise<void> {
  try {
    await cache.write(rollups);
  } catch {
    metrics.cacheWriteErrors.inc();
  }
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
