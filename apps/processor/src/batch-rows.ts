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
 *   fast  binary content mode whose headers are all ASCII and all known (ce_specversion, ce_id, ce_source,
 *         ce_type, ce_time, ce_subject, ce_dataschema, content-type, W3C trace context; other names not starting
 *         with c or t are ignored, as the decoder ignores them): the header bytes are copied from the response
 *         into the row as they are, with no Buffer or CloudEvent object. What ingest produces takes this way.
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
import { batchBuffers, BinaryCopyWriter } from "./copy-binary.js";
import type { SubjectTriples } from "./known-subjects.js";
import { copyDataMessage } from "./one-trip.js";
import { attributeHeader, KAFKA_HEADERS, LIMITS } from "@eventstack/contract";
import { decodeCloudEvent, type CloudEvent, type DecodeFailureReason, type RecordLike } from "./cloudevents.js";
import type { RecordCursor } from "./record-batches.js";
import { PG_EPOCH_MS, pgTime, pgTimeFromBytes } from "./timestamp.js";

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

/** W3C trace context of a row, for its span (only rows that carry one). */
export interface RowTrace {
  row: number;
  traceparent: string;
  tracestate: string | null;
  id: string;
  source: string;
  type: string;
}

/** The rows of a batch in arrival order; `assemble` makes them a payload. */
export class BatchRows {
  readonly #w: BinaryCopyWriter;
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
    this.#w = new BinaryCopyWriter(rowsHint);
    this.#end = this.#w.offset;
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
    if (fastRow(this, c)) return undefined;
    this.slow++;
    return this.addRecord(c.toRecord(), c.timestamp);
  }

  /** A decoded event as a row. */
  addEvent(e: CloudEvent, partition: number, offset: bigint, timestampMs: number): void {
    const w = this.#w;
    this.begin();
    w.row(FIELDS)
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

  /** The writer, for the row being added (addEvent, and the fast way below). */
  get writer(): BinaryCopyWriter {
    return this.#w;
  }

  /** Starts a row: call before writing its fields. */
  begin(): void {
    this.starts.push(this.#w.offset);
  }

  /** Drops the row begun last, before its meta(): what was written of it is discarded. */
  drop(): void {
    this.#w.rewind(this.starts.pop() as number);
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
    this.#end = this.#w.offset;
    this.#buf = undefined;
  }

  /** Row `i`'s bytes. */
  row(i: number): Buffer {
    this.#buf ??= this.#w.buffer;
    return this.#buf.subarray(this.starts[i] as number, this.#rowEnd(i));
  }

  /** Hands the rows' buffer back for reuse (copy-binary.ts, BufferPool): call once nothing reads the rows' bytes again. */
  release(): void {
    this.#w.release();
    this.#buf = undefined;
  }

  /** Row `i`'s length in bytes. */
  rowLength(i: number): number {
    return this.#rowEnd(i) - (this.starts[i] as number);
  }

  /** Copies row `i` into `target` at `offset`; returns the offset after it. */
  copyRow(i: number, target: Buffer, offset: number): number {
    this.#buf ??= this.#w.buffer;
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
   * The rows in (source, id) order as one binary COPY payload with the events table's columns, written as one
   * CopyData protocol message (its 5-byte header first), so it goes to the socket as it is (one-trip.ts).
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

/** Bytes in front of the COPY payload in PreparedBatch.copyData: the CopyData message header. */
export const COPY_DATA_HEADER_BYTES = 5;

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
  const size = COPY_DATA_HEADER_BYTES + COPY_HEADER.length + bytes + 2;
  const pooled = batchBuffers.take(size);
  const payload = pooled.subarray(0, size);
  let o = COPY_DATA_HEADER_BYTES + COPY_HEADER.copy(payload, COPY_DATA_HEADER_BYTES);
  for (const i of kept) o = rows.copyRow(i, payload, o);
  payload.writeInt16BE(-1, o);

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
  const { subjects: s, counts: c } = agg;
  for (const [type, minutes] of byType) {
    for (const [minute, m] of minutes) {
      c.type.push(type);
      c.minute.push(minute);
      c.n.push(m.n);
      for (const subject of m.subjects) {
        s.type.push(type);
        s.minute.push(minute);
        s.subject.push(subject);
      }
    }
  }
  return { count: kept.length, copyData: copyDataMessage(payload), aggregates: agg, pooled };
}

/** The COPY binary header (signature, flags, extension length), as BinaryCopyWriter writes it. */
const COPY_HEADER = ((w) => w.buffer.subarray(0, w.offset))(new BinaryCopyWriter(0));

/** The extensions as JSON; most events have none, and "{}" needs no serializer. */
function extensionsJson(extensions: Record<string, unknown>): string {
  for (const _ in extensions) return JSON.stringify(extensions);
  return "{}";
}

// ------------------------------------------------------------------------------------------------ the fast way

/** Header slots of the fast way, by name. */
const H = { specversion: 0, id: 1, source: 2, type: 3, time: 4, subject: 5, dataschema: 6, contentType: 7, traceparent: 8, tracestate: 9, ceTraceparent: 10, ceTracestate: 11 } as const;
const NAMES: [string, number][] = [
  [attributeHeader("specversion"), H.specversion],
  [attributeHeader("id"), H.id],
  [attributeHeader("source"), H.source],
  [attributeHeader("type"), H.type],
  [attributeHeader("time"), H.time],
  [attributeHeader("subject"), H.subject],
  [attributeHeader("dataschema"), H.dataschema],
  [KAFKA_HEADERS.contentType, H.contentType],
  [KAFKA_HEADERS.traceparent, H.traceparent],
  [KAFKA_HEADERS.tracestate, H.tracestate],
  [attributeHeader("traceparent"), H.ceTraceparent],
  [attributeHeader("tracestate"), H.ceTracestate],
];
/** Candidate names by length: their bytes and their slots, side by side (indexed loops, no destructuring per header). */
const BY_LENGTH: { names: Buffer[]; slots: number[] }[] = [];
for (const [name, slot] of NAMES) {
  const c = (BY_LENGTH[name.length] ??= { names: [], slots: [] });
  c.names.push(Buffer.from(name, "latin1"));
  c.slots.push(slot);
}

/** Buffer's own Latin-1 decoder (no argument checks): the bytes it is given here are ASCII. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Buffer, s: number, e: number): string }).latin1Slice;

function slotOf(b: Buffer, s: number, e: number): number {
  const candidates = BY_LENGTH[e - s];
  if (candidates === undefined) return -1;
  const { names, slots } = candidates;
  outer: for (let k = 0; k < names.length; k++) {
    const bytes = names[k] as Buffer;
    for (let i = e - s - 1; i >= 0; i--) if (b[s + i] !== bytes[i]) continue outer;
    return slots[k] as number;
  }
  return -1;
}

/** ASCII without NUL: the bytes then mean the same in Latin-1 and UTF-8, and hold no NUL. */
function isPlainAscii(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i] as number;
    if (c === 0 || c >= 0x80) return false;
  }
  return true;
}

const TRACE_SLOTS = [H.traceparent, H.tracestate, H.ceTraceparent, H.ceTracestate];

/** Header value ranges by slot: start at 2*slot, end at 2*slot+1; start -1 = absent. Reused per record. */
const ranges = new Int32Array(NAMES.length * 2);

/**
 * Writes the cursor's current record as its row the fast way and returns true, or returns false having written
 * nothing (the full way then decides). Every check here either accepts exactly what decodeCloudEvent accepts or
 * sends the record on.
 */
function fastRow(rows: BatchRows, c: RecordCursor): boolean {
  ranges.fill(-1);
  const b = c.buf;
  const h = c.headers;
  for (let i = 0; i < c.headerCount; i++) {
    const ks = h[i * 4] as number;
    if (ks < 0) continue; // a null header name: skipped, as by the decoder
    const ke = h[i * 4 + 1] as number;
    const first = b[ks];
    if (ke === ks || (first !== 0x63 && first !== 0x74)) continue;
    const slot = slotOf(b, ks, ke);
    if (slot < 0) return false;
    const vs = h[i * 4 + 2] as number;
    if (vs < 0) return false;
    // Whether the value is plain ASCII is checked where it is used: the time by its parser, the attributes as
    // they are copied into the row, the trace context below.
    ranges[slot * 2] = vs;
    ranges[slot * 2 + 1] = h[i * 4 + 3] as number;
  }
  // Slot starts and ends read once; no closure or array per record (this runs for every record).
  const sv = ranges[H.specversion * 2] as number;
  if (sv < 0 || (ranges[H.specversion * 2 + 1] as number) - sv !== 3 || b[sv] !== 0x31 || b[sv + 1] !== 0x2e || b[sv + 2] !== 0x30) return false;
  const max = LIMITS.keyAttributeBytes;
  const idS = ranges[H.id * 2] as number;
  const idE = ranges[H.id * 2 + 1] as number;
  const srcS = ranges[H.source * 2] as number;
  const srcE = ranges[H.source * 2 + 1] as number;
  const typS = ranges[H.type * 2] as number;
  const typE = ranges[H.type * 2 + 1] as number;
  const subS = ranges[H.subject * 2] as number;
  const subE = ranges[H.subject * 2 + 1] as number;
  if (idS < 0 || srcS < 0 || typS < 0) return false;
  if (idE === idS || srcE === srcS || typE === typS || idE - idS > max || srcE - srcS > max || typE - typS > max) return false;
  if (subS >= 0 && (subE === subS || subE - subS > max)) return false;

  let pgMicros: number;
  let minuteMs: number;
  const timeS = ranges[H.time * 2] as number;
  if (timeS >= 0) {
    if (!pgTimeFromBytes(b, timeS, ranges[H.time * 2 + 1] as number)) return false;
    pgMicros = pgTime.pgMicros;
    minuteMs = pgTime.minuteMs;
  } else {
    pgMicros = (c.timestamp - PG_EPOCH_MS) * 1000;
    if (!Number.isSafeInteger(pgMicros)) return false;
    minuteMs = Math.floor(c.timestamp / 60_000) * 60_000;
  }
  // The trace context, when there is any, is checked here; the attributes are checked as they are copied.
  for (const slot of TRACE_SLOTS) {
    const vs = ranges[slot * 2] as number;
    if (vs >= 0 && !isPlainAscii(b, vs, ranges[slot * 2 + 1] as number)) return false;
  }
  const tpS = ranges[H.traceparent * 2] as number;
  const ctpS = ranges[H.ceTraceparent * 2] as number;
  const w = rows.writer;
  rows.begin();
  w.row(FIELDS);
  if (
    !w.rangeAscii(b, srcS, srcE) ||
    !w.rangeAscii(b, idS, idE) ||
    !w.rangeAscii(b, typS, typE) ||
    !(w.int8n(pgMicros), w.rangeAscii(b, subS, subE)) ||
    !w.rangeAscii(b, ranges[H.contentType * 2] as number, ranges[H.contentType * 2 + 1] as number) ||
    !w.rangeAscii(b, ranges[H.dataschema * 2] as number, ranges[H.dataschema * 2 + 1] as number)
  ) {
    rows.drop();
    return false;
  }
  w.range(b, c.valueStart, c.valueEnd).text("{}", true).int4(c.partition).int8n(c.offset);
  const source = latin1Slice.call(b, srcS, srcE);
  const id = latin1Slice.call(b, idS, idE);
  const type = latin1Slice.call(b, typS, typE);
  const subject = subS >= 0 ? latin1Slice.call(b, subS, subE) : null;
  rows.meta(source, id, type, minuteMs, subject, c.partition, c.offset, c.timestamp);
  const tp = tpS >= 0 ? H.traceparent : ctpS >= 0 ? H.ceTraceparent : -1;
  if (tp >= 0) {
    const ts = (ranges[H.tracestate * 2] as number) >= 0 ? H.tracestate : (ranges[H.ceTracestate * 2] as number) >= 0 ? H.ceTracestate : -1;
    const text = (slot: number) => latin1Slice.call(b, ranges[slot * 2] as number, ranges[slot * 2 + 1] as number);
    rows.traces.push({ row: rows.length - 1, traceparent: text(tp), tracestate: ts < 0 ? null : text(ts), id, source, type });
  }
  return true;
}
