/**
 * The fast way from a record read in place (record-batches.ts) to its COPY row (batch-rows.ts): for binary content
 * mode records whose headers are all ASCII and all known (ce_specversion, ce_id, ce_source, ce_type, ce_time,
 * ce_subject, ce_dataschema, content-type, W3C trace context; other names not starting with c or t are ignored, as
 * the decoder ignores them), the header bytes are copied from the response into the row as they are, with no Buffer
 * or CloudEvent object. What ingest produces takes this way; anything else is left to the full way (decodeCloudEvent),
 * and test/batch-rows.test.ts checks that both write the same bytes and accept the same records.
 */
import { attributeHeader, KAFKA_HEADERS, LIMITS } from "@eventstack/contract";
import { HEADER, type RecordCursor } from "./record-batches.js";
import type { RowTarget } from "./row-target.js";
import { emptyPgTime, PG_EPOCH_MS, pgTimeFromBytes, type PgTime } from "./timestamp.js";

/** Where each known header's value range is kept in FastRow's slot ranges, by the attribute it carries. */
const SLOT = { specversion: 0, id: 1, source: 2, type: 3, time: 4, subject: 5, dataschema: 6, contentType: 7, traceparent: 8, tracestate: 9, ceTraceparent: 10, ceTracestate: 11 } as const;
const SLOT_NAMES: [string, number][] = [
  [attributeHeader("specversion"), SLOT.specversion],
  [attributeHeader("id"), SLOT.id],
  [attributeHeader("source"), SLOT.source],
  [attributeHeader("type"), SLOT.type],
  [attributeHeader("time"), SLOT.time],
  [attributeHeader("subject"), SLOT.subject],
  [attributeHeader("dataschema"), SLOT.dataschema],
  [KAFKA_HEADERS.contentType, SLOT.contentType],
  [KAFKA_HEADERS.traceparent, SLOT.traceparent],
  [KAFKA_HEADERS.tracestate, SLOT.tracestate],
  [attributeHeader("traceparent"), SLOT.ceTraceparent],
  [attributeHeader("tracestate"), SLOT.ceTracestate],
];
/** Candidate names by length: their bytes and their slots, side by side (indexed loops, no destructuring per header). */
const NAMES_BY_LENGTH: { names: Buffer[]; slots: number[] }[] = [];
for (const [name, slot] of SLOT_NAMES) {
  const candidates = (NAMES_BY_LENGTH[name.length] ??= { names: [], slots: [] });
  candidates.names.push(Buffer.from(name, "latin1"));
  candidates.slots.push(slot);
}
const TRACE_SLOTS = [SLOT.traceparent, SLOT.tracestate, SLOT.ceTraceparent, SLOT.ceTracestate];
/** The bytes that start every header name the fast way knows: 'c' (ce_*, content-type) and 't' (trace context). */
const FIRST_C = 0x63;
const FIRST_T = 0x74;

/** Buffer's own Latin-1 decoder (no argument checks): the bytes it is given here are ASCII. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Buffer, s: number, e: number): string }).latin1Slice;

/** The slot of the header name at bytes[start, end), or -1 when it is none the fast way knows. */
function slotOf(bytes: Buffer, start: number, end: number): number {
  const candidates = NAMES_BY_LENGTH[end - start];
  if (candidates === undefined) return -1;
  const { names, slots } = candidates;
  outer: for (let k = 0; k < names.length; k++) {
    const name = names[k] as Buffer;
    for (let i = end - start - 1; i >= 0; i--) if (bytes[start + i] !== name[i]) continue outer;
    return slots[k] as number;
  }
  return -1;
}

/** ASCII without NUL: the bytes then mean the same in Latin-1 and UTF-8, and hold no NUL. */
function isPlainAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    if (c === 0 || c >= 0x80) return false;
  }
  return true;
}

/** The fast way of one batch: its scratch state (reused per record) is its own. */
export class FastRow {
  /** Header value ranges by slot: start at 2*slot, end at 2*slot+1; start -1 = absent. */
  readonly #slotRanges = new Int32Array(SLOT_NAMES.length * 2);
  /** The time of the record being written, when it has a ce_time header. */
  readonly #time: PgTime = emptyPgTime();

  /**
   * Writes the cursor's current record as its row and returns true, or returns false having written nothing (the
   * full way then decides). Every check here either accepts exactly what decodeCloudEvent accepts or sends the
   * record on.
   */
  write(rows: RowTarget, record: RecordCursor): boolean {
    const ranges = this.#slotRanges;
    ranges.fill(-1);
    const bytes = record.buf;
    const headers = record.headers;
    for (let i = 0, at = 0; i < record.headerCount; i++, at += HEADER.size) {
      const nameStart = headers[at + HEADER.nameStart] as number;
      if (nameStart < 0) continue; // a null header name: skipped, as by the decoder
      const nameEnd = headers[at + HEADER.nameEnd] as number;
      const first = bytes[nameStart];
      if (nameEnd === nameStart || (first !== FIRST_C && first !== FIRST_T)) continue;
      const slot = slotOf(bytes, nameStart, nameEnd);
      if (slot < 0) return false;
      const valueStart = headers[at + HEADER.valueStart] as number;
      if (valueStart < 0) return false;
      // Whether the value is plain ASCII is checked where it is used: the time by its parser, the attributes as
      // they are copied into the row, the trace context below.
      ranges[slot * 2] = valueStart;
      ranges[slot * 2 + 1] = headers[at + HEADER.valueEnd] as number;
    }
    // Slot starts and ends read once; no closure or array per record (this runs for every record).
    const specversionStart = ranges[SLOT.specversion * 2] as number;
    if (specversionStart < 0 || (ranges[SLOT.specversion * 2 + 1] as number) - specversionStart !== 3) return false;
    if (bytes[specversionStart] !== 0x31 || bytes[specversionStart + 1] !== 0x2e || bytes[specversionStart + 2] !== 0x30) return false; // "1.0"
    const maxBytes = LIMITS.keyAttributeBytes;
    const idStart = ranges[SLOT.id * 2] as number;
    const idEnd = ranges[SLOT.id * 2 + 1] as number;
    const sourceStart = ranges[SLOT.source * 2] as number;
    const sourceEnd = ranges[SLOT.source * 2 + 1] as number;
    const typeStart = ranges[SLOT.type * 2] as number;
    const typeEnd = ranges[SLOT.type * 2 + 1] as number;
    const subjectStart = ranges[SLOT.subject * 2] as number;
    const subjectEnd = ranges[SLOT.subject * 2 + 1] as number;
    if (idStart < 0 || sourceStart < 0 || typeStart < 0) return false;
    if (idEnd === idStart || sourceEnd === sourceStart || typeEnd === typeStart) return false;
    if (idEnd - idStart > maxBytes || sourceEnd - sourceStart > maxBytes || typeEnd - typeStart > maxBytes) return false;
    if (subjectStart >= 0 && (subjectEnd === subjectStart || subjectEnd - subjectStart > maxBytes)) return false;

    let pgMicros: number;
    let minuteMs: number;
    const timeStart = ranges[SLOT.time * 2] as number;
    if (timeStart >= 0) {
      const time = this.#time;
      if (!pgTimeFromBytes(bytes, timeStart, ranges[SLOT.time * 2 + 1] as number, time)) return false;
      pgMicros = time.pgMicros;
      minuteMs = time.minuteMs;
    } else {
      pgMicros = (record.timestamp - PG_EPOCH_MS) * 1000;
      if (!Number.isSafeInteger(pgMicros)) return false;
      minuteMs = Math.floor(record.timestamp / 60_000) * 60_000;
    }
    // The trace context, when there is any, is checked here; the attributes are checked as they are copied.
    for (const slot of TRACE_SLOTS) {
      const valueStart = ranges[slot * 2] as number;
      if (valueStart >= 0 && !isPlainAscii(bytes, valueStart, ranges[slot * 2 + 1] as number)) return false;
    }
    const writer = rows.writer;
    rows.beginRow();
    if (
      !writer.rangeAscii(bytes, sourceStart, sourceEnd) ||
      !writer.rangeAscii(bytes, idStart, idEnd) ||
      !writer.rangeAscii(bytes, typeStart, typeEnd) ||
      !(writer.int8n(pgMicros), writer.rangeAscii(bytes, subjectStart, subjectEnd)) ||
      !writer.rangeAscii(bytes, ranges[SLOT.contentType * 2] as number, ranges[SLOT.contentType * 2 + 1] as number) ||
      !writer.rangeAscii(bytes, ranges[SLOT.dataschema * 2] as number, ranges[SLOT.dataschema * 2 + 1] as number)
    ) {
      rows.drop();
      return false;
    }
    writer.range(bytes, record.valueStart, record.valueEnd).text("{}", true).int4(record.partition).int8n(record.offset);
    const source = latin1Slice.call(bytes, sourceStart, sourceEnd);
    const id = latin1Slice.call(bytes, idStart, idEnd);
    const type = latin1Slice.call(bytes, typeStart, typeEnd);
    const subject = subjectStart >= 0 ? latin1Slice.call(bytes, subjectStart, subjectEnd) : null;
    rows.meta(source, id, type, minuteMs, subject, record.partition, record.offset, record.timestamp);
    const traceparentSlot = (ranges[SLOT.traceparent * 2] as number) >= 0 ? SLOT.traceparent : (ranges[SLOT.ceTraceparent * 2] as number) >= 0 ? SLOT.ceTraceparent : -1;
    if (traceparentSlot >= 0) {
      const tracestateSlot = (ranges[SLOT.tracestate * 2] as number) >= 0 ? SLOT.tracestate : (ranges[SLOT.ceTracestate * 2] as number) >= 0 ? SLOT.ceTracestate : -1;
      const text = (slot: number) => latin1Slice.call(bytes, ranges[slot * 2] as number, ranges[slot * 2 + 1] as number);
      rows.traces.push({ row: rows.length - 1, traceparent: text(traceparentSlot), tracestate: tracestateSlot < 0 ? null : text(tracestateSlot), id, source, type });
    }
    return true;
  }
}
