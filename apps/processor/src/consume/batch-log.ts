import type { Logger } from "pino";
import type { InFlightBatch } from "./batch-filling.js";

/** When the commit stage's steps ended (performance.now()). */
export interface CommitTimes {
  offsetsStart: number;
  committed: number;
  finished: number;
}

/**
 * The debug line "batch committed": where a batch's time goes, for profiling (the benchmark reads these lines,
 * bench/measure.ts), with the batch span's trace_id and span_id, the field names of the request log lines
 * (@eventstack/runtime). Retries are inside store; waits are the time spent queued behind the previous batch
 * (before the transaction, before the offsets).
 */
export function logBatchCommitted(log: Logger, batch: InFlightBatch, { offsetsStart, committed, finished }: CommitTimes): void {
  if (!log.isLevelEnabled("debug")) return;
  const { records, rows, bad, result, batchSpan, t } = batch;
  const ms = (a: number, b: number) => Math.round((b - a) * 100) / 100;
  const stagesMs = {
    decode: Math.round(t.decodeMs * 100) / 100,
    store: ms(t.storeStart, t.stored),
    deadLetter: ms(t.stored, t.deadLettered),
    offsets: ms(offsetsStart, committed),
    cache: ms(committed, finished),
    waitStore: ms(t.prepared, t.storeStart),
    waitOffsets: ms(t.deadLettered, offsetsStart),
  };
  const { traceId, spanId } = batchSpan.spanContext();
  log.debug(
    { records, inserted: result.inserted, deadLetters: bad.length, slowDecodes: rows.slow, durationMs: ms(t.started, finished), stagesMs, trace_id: traceId, span_id: spanId },
    "batch committed",
  );
}
