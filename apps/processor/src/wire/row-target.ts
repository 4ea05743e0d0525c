/**
 * What the fast way (fast-row.ts) writes a row into: the part of a batch's rows (BatchRows, batch-rows.ts) it uses,
 * named here so that the two files need not import each other.
 */
import type { BinaryCopyWriter } from "./copy-binary.js";

/** W3C trace context of a row, for its span (only rows that carry one). */
export interface RowTrace {
  row: number;
  traceparent: string;
  tracestate: string | null;
  id: string;
  source: string;
  type: string;
}

export interface RowTarget {
  /** The writer, for the row being added. */
  readonly writer: BinaryCopyWriter;
  /** Rows so far. */
  readonly length: number;
  readonly traces: RowTrace[];
  /** Starts a row at the writer's offset. */
  beginRow(): void;
  /** Takes back the row begun last. */
  drop(): void;
  /** The row's key and what the batch's rollups and spans need of it. */
  meta(source: string, id: string, type: string, minuteMs: number, subject: string | null, partition: number, offset: bigint | number, timestampMs: number): void;
}
