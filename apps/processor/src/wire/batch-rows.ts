/**
 * A batch as the consumer builds it: every good event becomes its COPY row (binary format) at once, the moment its
 * record is taken from the fetcher, and what the batch keeps of it afterwards is that row's bytes plus three short
 * strings (the (source, id) key, the type and the subject). The records and the decoded events die young.
 *
 * Why: a batch lives across three pipeline stages (src/pipeline.ts), so whatever it holds survives several young-
 * generation collections and is copied by each of them, then promoted and collected again. Holding decoded
 * events cost the processor more in the garbage collector than the decoding itself (docs/processor.md#benchmark).
 *
 * Two ways from a fetched record (read in place, record-batches.ts) to a row, with the same result:
 *   fast  binary content mode whose headers are all ASCII and all known: the header bytes are copied from the
 *         response into the row as they are (fast-row.ts). What ingest produces takes this way.
 *   full  anything else (structured mode, extensions, non-ASCII text, and every record the fast way would have
 *         to reject): the record as an object, decodeCloudEvent with its exact error texts, and the row encoded
 *         from the event (addRecord).
 * The fast way only accepts records the full way accepts, and writes the bytes it would write; test/batch-rows.test.ts
 * checks both on the same records.
 *
 * At the end of a batch, `assemble` orders the rows by (source, id), drops repeated keys (the first one stays),
 * and builds the COPY payload and the rollup aggregates from them; any subset of the rows can be assembled the
 * same way (the bisection of a batch PostgreSQL refuses).
 */
import { decodeCloudEvent, type CloudEvent, type DecodeFailureReason, type RecordLike } from "../cloudevents.js";
import type { SubjectTriples } from "../known-subjects.js";
import { batchBuffers, BinaryCopyWriter } from "./copy-binary.js";
import { FastRow } from "./fast-row.js";
import type { RecordCursor } from "./record-batches.js";
import type { RowTarget, RowTrace } from "./row-target.js";

export type { RowTrace };

/** Columns of the events table, in the order every row is written. */
export const EVENT_COLUMNS = "source, id, type, time, subject, datacontenttype, dataschema, data, extensions, kafka_partition, kafka_offset";
const FIELDS = 11;

/** A record as the fetcher hands it over (a FetchedRecord), or a test's. */
export interface RowSource extends RecordLike {
  partition: number;
  offset: bigint;
}

export interface Rejected {
  reason: DecodeFailureReason;
  error: string;
}

/** The rows of a batch in arrival order; `assemble` makes them a payload. */
export class BatchRows implements RowTarget {
  readonly #writer: BinaryCopyWriter;
  readonly #fast = new FastRow();
  /** Where each row starts in the writer's buffer; a row ends where the next starts (the last at `#end`). */
  readonly starts: number[] = [];
  readonly keys: string[] = [];
  readonly types: string[] = [];
  readonly minutes: number[] = [];
  readonly subjects: (string | null)[] = [];
  readonly partitions: number[] = [];
  /** Kafka offsets as numbers (exact below 2^53, i.e. always in practice). */
  readonly offsets: number[] = [];
  /** Record timestamps, epoch ms (the produce-to-commit latency). */
  readonly timestamps: number[] = [];
  readonly traces: RowTrace[] = [];
  /** Records that took the full way (a metric: ingest's records should all take the fast one). */
  slow = 0;
  #end = 0;
  #buf: Buffer | undefined;

  constructor(rowsHint = 64) {
    this.#writer = new BinaryCopyWriter(rowsHint);
    this.#end = this.#writer.offset;
  }

  get length(): number {
    return this.starts.length;
  }

  /** The full way: decodes a record into a row; one that is not a valid CloudEvent is returned as rejected. */
  addRecord(r: RowSource, timestampMs: number): Rejected | undefined {
    const d = decodeCloudEvent(r);
    if (!d.ok) return { reason: d.reason, error: d.error };
    this.addEvent(d.event, r.partition, r.offset, timestampMs);
    return undefined;
  }

  /** The cursor's current record as a row: the fast way when it can, addRecord otherwise. */
  addCursor(c: RecordCursor): Rejected | undefined {
    if (this.#fast.write(this, c)) return undefined;
    this.slow++;
    return this.addRecord(c.toRecord(), c.timestamp);
  }

  /** A decoded event as a row. */
  addEvent(e: CloudEvent, partition: number, offset: bigint, timestampMs: number): void {
    this.beginRow();
    this.#writer
      .text(e.source)
      .text(e.id)
      .text(e.type)
      .timestamptz(e.timeMicros)
      .text(e.subject)
      .text(e.datacontenttype)
      .text(e.dataschema)
      .bytea(e.data)
      .text(extensionsJson(e.extensions), true)
      .int4(partition)
      .int8(offset);
    this.meta(e.source, e.id, e.type, e.minuteMs, e.subject, partition, offset, timestampMs);
    if (e.traceparent) this.traces.push({ row: this.length - 1, traceparent: e.traceparent, tracestate: e.tracestate, id: e.id, source: e.source, type: e.type });
  }

  /** The writer, for the row being added (addEvent, and the fast way: fast-row.ts). */
  get writer(): BinaryCopyWriter {
    return this.#writer;
  }

  /** Starts a row (its field count): call before writing its fields. */
  beginRow(): void {
    this.starts.push(this.#writer.offset);
    this.#writer.row(FIELDS);
  }

  /** Drops the row begun last, before its meta(): what was written of it is discarded. */
  drop(): void {
    this.#writer.rewind(this.starts.pop() as number);
  }

  /** Ends the row begun last: what the batch keeps of it besides its bytes. */
  meta(source: string, id: string, type: string, minuteMs: number, subject: string | null, partition: number, offset: bigint | number, timestampMs: number): void {
    // NUL cannot occur in source (validated), so this key orders like (source, id).
    this.keys.push(`${source}\u0000${id}`);
    this.types.push(type);
    this.minutes.push(minuteMs);
    this.subjects.push(subject);
    this.partitions.push(partition);
    this.offsets.push(Number(offset));
    this.timestamps.push(timestampMs);
    this.#end = this.#writer.offset;
    this.#buf = undefined;
  }

  /** Row `i`'s bytes. */
  row(i: number): Buffer {
    this.#buf ??= this.#writer.buffer;
    return this.#buf.subarray(this.starts[i] as number, this.#rowEnd(i));
  }

  /** Hands the rows' buffer back for reuse (copy-binary.ts, BufferPool): call once nothing reads the rows' bytes again. */
  release(): void {
    this.#writer.release();
    this.#buf = undefined;
  }

  /** Row `i`'s length in bytes. */
  rowLength(i: number): number {
    return this.#rowEnd(i) - (this.starts[i] as number);
  }

  /** Copies row `i` into `target` at `offset`; returns the offset after it. */
  copyRow(i: number, target: Buffer, offset: number): number {
    this.#buf ??= this.#writer.buffer;
    return offset + this.#buf.copy(target, offset, this.starts[i] as number, this.#rowEnd(i));
  }

  #rowEnd(i: number): number {
    return i + 1 < this.starts.length ? (this.starts[i + 1] as number) : this.#end;
  }
}

/** A batch (or part of one) ready for PostgreSQL: see write-batch.ts. */
export interface PreparedBatch {
  /** Distinct events, i.e. rows in the payload. */
  count: number;
  /**
   * The rows in (source, id) order as one binary COPY payload with the events table's columns: COPY data only,
   * the protocol framing is added where it is sent (one-trip.ts).
   */
  copyData: Buffer;
  /** The rollup aggregates: the distinct (type, minute, subject) and the count per (type, minute). */
  aggregates: RollupAggregates;
  /** The pooled buffer copyData lies in (releasePrepared hands it back). */
  pooled: Buffer;
}

/** Hands a prepared batch's payload buffer back for reuse, once its transaction is over and it will not be sent again. */
export function releasePrepared(batch: PreparedBatch): void {
  batchBuffers.give(batch.pooled);
  batch.pooled = Buffer.alloc(0);
  batch.copyData = batch.pooled;
}

/** Column arrays; minutes are UTC minute starts in epoch ms. */
export interface RollupAggregates {
  subjects: SubjectTriples;
  counts: { type: string[]; minute: number[]; n: number[] };
}

/**
 * The payload and aggregates of `rows` (all of them, or the rows at `indices`): ordered by (source, id), the
 * first row of each key kept, so a key repeated within the batch is one event.
 */
export function assemble(rows: BatchRows, indices?: number[]): PreparedBatch {
  const order = indices ? [...indices] : Array.from({ length: rows.length }, (_, i) => i);
  const keys = rows.keys;
  order.sort((a, b) => {
    const x = keys[a] as string;
    const y = keys[b] as string;
    return x < y ? -1 : x > y ? 1 : a - b;
  });
  const kept: number[] = [];
  let bytes = 0;
  for (let j = 0; j < order.length; j++) {
    const i = order[j] as number;
    if (j > 0 && keys[order[j - 1] as number] === keys[i]) continue;
    kept.push(i);
    bytes += rows.rowLength(i);
  }
  const size = COPY_HEADER.length + bytes + COPY_TRAILER_BYTES;
  const pooled = batchBuffers.take(size);
  const payload = pooled.subarray(0, size);
  let at = COPY_HEADER.copy(payload, 0);
  for (const i of kept) at = rows.copyRow(i, payload, at);
  payload.writeInt16BE(COPY_TRAILER, at);

  // type → minute → events and distinct subjects; nested maps, so no composite key string per event.
  const byType = new Map<string, Map<number, { n: number; subjects: Set<string> }>>();
  for (const i of kept) {
    const type = rows.types[i] as string;
    const minuteMs = rows.minutes[i] as number;
    let minutes = byType.get(type);
    if (!minutes) byType.set(type, (minutes = new Map()));
    let m = minutes.get(minuteMs);
    if (!m) minutes.set(minuteMs, (m = { n: 0, subjects: new Set() }));
    m.n++;
    const subject = rows.subjects[i] as string | null;
    if (subject !== null) m.subjects.add(subject);
  }
  const agg: RollupAggregates = { subjects: { type: [], minute: [], subject: [] }, counts: { type: [], minute: [], n: [] } };
  const { subjects, counts } = agg;
  for (const [type, minutes] of byType) {
    for (const [minute, m] of minutes) {
      counts.type.push(type);
      counts.minute.push(minute);
      counts.n.push(m.n);
      for (const subject of m.subjects) {
        subjects.type.push(type);
        subjects.minute.push(minute);
        subjects.subject.push(subject);
      }
    }
  }
  return { count: kept.length, copyData: payload, aggregates: agg, pooled };
}

/** The COPY binary header (signature, flags, extension length), as BinaryCopyWriter writes it. */
const COPY_HEADER = ((w) => w.buffer.subarray(0, w.offset))(new BinaryCopyWriter(0));
/** The file trailer of the binary COPY format: a field count of -1, two bytes. */
const COPY_TRAILER = -1;
const COPY_TRAILER_BYTES = 2;

/** The extensions as JSON; most events have none, and "{}" needs no serializer. */
function extensionsJson(extensions: Record<string, unknown>): string {
  for (const _ in extensions) return JSON.stringify(extensions);
  return "{}";
}
