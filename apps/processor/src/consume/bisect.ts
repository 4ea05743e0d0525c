import { assemble, type BatchRows, type PreparedBatch } from "../wire/index.js";
import type { RecordFetcher } from "../wire/index.js";
import type { Metrics } from "../metrics.js";
import { isPermanentDataError, type Store, type WriteResult } from "../store.js";
import type { DeadLetter } from "./dead-letters.js";

/** What a batch's store step achieved, summed over its attempts and bisection halves. */
export type StoreTotals = Pick<WriteResult, "inserted" | "rollups">;

export interface BisectDeps {
  store: Store;
  /** Fetches a refused record again: the batch keeps rows, not records (batch-rows.ts). */
  fetcher: RecordFetcher;
  metrics: Metrics;
}

/**
 * Stores the batch in one transaction. A permanent data error (which retrying cannot fix) is narrowed down
 * by bisection to the event(s) PostgreSQL refuses; those become dead letters and the rest is stored.
 * Results accumulate in `acc` across retries, so halves committed before an outage interrupted the
 * bisection still reach the cache and the counters.
 */
export async function storeBisecting(deps: BisectDeps, rows: BatchRows, write: PreparedBatch, deadLetters: DeadLetter[], acc: StoreTotals, onCopied: () => void): Promise<void> {
  // Dead letters found by an attempt that then failed are found again by the retry: do not keep both.
  const before = deadLetters.length;
  try {
    await storeOrBisect(deps, rows, undefined, deadLetters, acc, write, onCopied);
  } catch (err) {
    deadLetters.length = before;
    throw err;
  }
}

/** The rows at `indices` (all when undefined; `write` is then their prepared batch) in one transaction. */
async function storeOrBisect(
  deps: BisectDeps,
  rows: BatchRows,
  indices: number[] | undefined,
  deadLetters: DeadLetter[],
  acc: StoreTotals,
  write?: PreparedBatch,
  onCopied?: () => void,
): Promise<void> {
  try {
    const r = await deps.store.writeBatch(write ?? assemble(rows, indices), onCopied);
    if (r.copyConflict) deps.metrics.storeWrites.inc({ path: "copy_conflict" });
    deps.metrics.storeWrites.inc({ path: r.path });
    acc.inserted += r.inserted;
    acc.rollups.push(...r.rollups);
  } catch (err) {
    if (!isPermanentDataError(err)) throw err;
    const all = indices ?? Array.from({ length: rows.length }, (_, i) => i);
    if (all.length === 1) {
      const i = all[0] as number;
      // The original bytes and headers go to the dead-letter topic; the record was not kept (batch-rows.ts).
      const message = await deps.fetcher.fetchRecord(rows.partitions[i] as number, BigInt(rows.offsets[i] as number));
      deadLetters.push({ message, reason: "store_rejected", error: `PostgreSQL rejected the event: ${(err as Error).message}` });
      return;
    }
    const half = Math.ceil(all.length / 2);
    await storeOrBisect(deps, rows, all.slice(0, half), deadLetters, acc);
    await storeOrBisect(deps, rows, all.slice(half), deadLetters, acc);
  }
}
