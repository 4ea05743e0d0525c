import type { Span } from "@opentelemetry/api";
import { assemble, BatchRows, type PreparedBatch } from "../wire/index.js";
import type { Config } from "../config.js";
import type { RecordFetcher } from "../wire/index.js";
import { startBatchSpan, startEventSpans } from "./batch-spans.js";
import type { StoreTotals } from "./bisect.js";
import type { NextOffset } from "./commits.js";
import type { DeadLetter } from "./dead-letters.js";
import { CONSUMER_DEFAULTS } from "./defaults.js";

/** A batch being filled: each record becomes its row as it is taken (batch-rows.ts). */
export interface OpenBatch {
  rows: BatchRows;
  bad: DeadLetter[];
  /** Per partition, the offset after its last record in the batch. */
  next: Map<number, number>;
  records: number;
  started: number;
  /** Time spent decoding and encoding its records so far, ms. */
  decodeMs: number;
}

/** A filled batch from its hand-over to the pipeline to its cache write, with the times of its stages (batch-log.ts). */
export interface InFlightBatch {
  /** Records in the batch, good and bad. */
  records: number;
  nextOffsets: NextOffset[];
  /** The good records as rows; the records themselves are not kept (batch-rows.ts says why). */
  rows: BatchRows;
  bad: DeadLetter[];
  /** The rows ready for the copy path (dedup, COPY payload, rollup aggregates). */
  write: PreparedBatch;
  batchSpan: Span;
  eventSpans: Span[];
  result: StoreTotals;
  t: { started: number; decodeMs: number; prepared: number; storeStart: number; stored: number; deadLettered: number };
}

export function openBatch(maxRecords: number): OpenBatch {
  return { rows: new BatchRows(maxRecords), bad: [], next: new Map(), records: 0, started: 0, decodeMs: 0 };
}

/**
 * Takes up to a slice of what the fetcher holds (never past a full batch of `max`) into the open batch: each
 * record is decoded into its row in place (failures become dead letters, as objects); returns how many records.
 * Slices keep the thread free for the transactions' round trips (loop.ts).
 */
export function takeInto(fetcher: RecordFetcher, open: OpenBatch, max: number): number {
  const t0 = performance.now();
  if (open.records === 0) open.started = t0;
  const { rows, bad, next } = open;
  const n = fetcher.take(Math.min(CONSUMER_DEFAULTS.decodeSliceRecords, max - open.records), (c) => {
    const rejected = rows.addCursor(c);
    if (rejected) bad.push({ message: c.toRecord(), reason: rejected.reason, error: rejected.error });
    const after = c.offset + 1;
    if ((next.get(c.partition) ?? -1) < after) next.set(c.partition, after);
  });
  open.records += n;
  open.decodeMs += performance.now() - t0;
  return n;
}

/** Closes a filled batch: its trace spans and its COPY payload. CPU work, no I/O. */
export function closeBatch(open: OpenBatch, kafka: Pick<Config["kafka"], "eventsTopic" | "groupId">): InFlightBatch {
  const t0 = performance.now();
  const { rows, bad } = open;
  const batchSpan = startBatchSpan(kafka, open.records);
  const eventSpans = startEventSpans(rows, batchSpan, kafka.eventsTopic);
  const write = assemble(rows);
  const prepared = performance.now();
  return {
    records: open.records,
    nextOffsets: [...open.next].map(([partition, offset]) => ({ topic: kafka.eventsTopic, partition, offset: BigInt(offset) })),
    rows,
    bad,
    write,
    batchSpan,
    eventSpans,
    result: { inserted: 0, rollups: [] },
    t: { started: open.started, decodeMs: open.decodeMs + (prepared - t0), prepared, storeStart: 0, stored: 0, deadLettered: 0 },
  };
}
