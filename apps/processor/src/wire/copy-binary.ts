/**
 * PostgreSQL's binary COPY format, for the column types of the events table (text, bytea, jsonb, int4, int8,
 * timestamptz): https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 *
 * Why binary: a batch is thousands of rows with a payload of a few hundred bytes each; in the text format (or
 * as array parameters) every payload byte would be hex-encoded by us and parsed again by the server. Binary
 * bytea is copied as is, and the server does no parsing for bytea, integers and timestamps.
 */

import { toPgTimestamp } from "./timestamp.js";

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
/** Strings up to this length are copied byte by byte when ASCII (see text()). */
const ASCII_LOOP_MAX = 128;
/** Initial buffer size per row; the buffer grows when a row does not fit. */
const ROW_ESTIMATE_BYTES = 768;

/**
 * Writes a 32-bit integer big-endian (two's complement for negative values) and returns the offset after it.
 * By hand: Buffer#writeInt32BE checks its arguments on every call, and the fast way writes a dozen per row.
 */
function int32(buf: Buffer, at: number, v: number): number {
  buf[at] = v >>> 24;
  buf[at + 1] = (v >>> 16) & 0xff;
  buf[at + 2] = (v >>> 8) & 0xff;
  buf[at + 3] = v & 0xff;
  return at + 4;
}

/**
 * Reusable large buffers: the rows of a batch as they are encoded, and its COPY payload (batch-rows.ts), a few
 * megabytes each, about twenty batches a second under load. Every fresh Buffer of that size counts as external
 * memory to V8, and allocating them was what triggered most of the processor's garbage collections ("external
 * memory pressure": a scavenge every ~100 ms and a mark-compact every half second, measured with --trace-gc in
 * the benchmark). A batch hands its buffers back once it is stored (consumer.ts); a buffer never handed back is
 * simply collected.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #maxFree: number;

  constructor(maxFree: number) {
    this.#maxFree = maxFree;
  }

  /** A buffer of at least `bytes` (its contents are undefined). */
  take(bytes: number): Buffer {
    const i = this.#free.findIndex((b) => b.length >= bytes);
    if (i >= 0) return this.#free.splice(i, 1)[0] as Buffer;
    return Buffer.allocUnsafeSlow(bytes);
  }

  /** Takes `buf` back for reuse; the caller must not touch it afterwards. */
  give(buf: Buffer): void {
    if (buf.length === 0 || this.#free.length >= this.#maxFree || this.#free.includes(buf)) return;
    this.#free.push(buf);
  }

  /** Buffers waiting to be reused. */
  get free(): number {
    return this.#free.length;
  }
}

/** The process's pool for batch buffers: about two batches' worth of each kind (rows and payloads) in flight. */
export const batchBuffers = new BufferPool(8);

const EMPTY = Buffer.alloc(0);

/**
 * Builds one COPY ... FROM STDIN (FORMAT binary) payload. Rows are given as a callback that writes each
 * row's fields through the writer, so no intermediate object per field is allocated.
 */
export class BinaryCopyWriter {
  #buffer: Buffer;
  #written = 0;

  constructor(rowsHint: number) {
    this.#buffer = batchBuffers.take(SIGNATURE.length + 8 + 2 + rowsHint * ROW_ESTIMATE_BYTES);
    this.#written = SIGNATURE.copy(this.#buffer, 0);
    this.#written = this.#buffer.writeInt32BE(0, this.#written); // flags: no OIDs
    this.#written = this.#buffer.writeInt32BE(0, this.#written); // header extension length
  }

  row(fields: number): this {
    this.#ensure(2);
    const buf = this.#buffer;
    buf[this.#written] = fields >>> 8;
    buf[this.#written + 1] = fields & 0xff;
    this.#written += 2;
    return this;
  }

  /** A text (or jsonb, with `jsonb`) field; null is SQL NULL. */
  text(v: string | null, jsonb = false): this {
    if (v === null) return this.#null();
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so this much room is always enough.
    this.#ensure(4 + 1 + v.length * 3);
    const start = this.#written + 4;
    let at = start;
    const buf = this.#buffer;
    if (jsonb) buf[at++] = 1; // jsonb binary format version 1, then the JSON text
    // Attribute values are short and nearly always ASCII: copying their code units in JS costs less than a
    // call into the UTF-8 encoder per field. Anything else goes through the encoder.
    const n = v.length;
    let i = 0;
    if (n <= ASCII_LOOP_MAX) {
      for (; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
    }
    at += i === n ? n : buf.write(v, at, "utf8");
    buf.writeInt32BE(at - start, this.#written);
    this.#written = at;
    return this;
  }

  /** A text or bytea field from `b[start, end)` (start -1 is SQL NULL); the bytes are copied as they are. */
  range(b: Buffer, start: number, end: number): this {
    if (start < 0) return this.#null();
    const n = end - start;
    this.#ensure(4 + n);
    const buf = this.#buffer;
    let at = int32(buf, this.#written, n);
    // Short fields by hand: Buffer.copy's fixed cost is higher than a loop over a few dozen bytes.
    if (n <= 64) for (let i = start; i < end; i++) buf[at++] = b[i] as number;
    else {
      buf.set(b.subarray(start, end), at);
      at += n;
    }
    this.#written = at;
    return this;
  }

  /**
   * range() for a text field that must be ASCII without NUL (the fast way, fast-row.ts): copies and checks in
   * one pass, and returns false at the first other byte, having written part of the field; the caller then drops
   * the row (BatchRows.drop).
   */
  rangeAscii(b: Buffer, start: number, end: number): boolean {
    if (start < 0) {
      this.#null();
      return true;
    }
    const n = end - start;
    this.#ensure(4 + n);
    const buf = this.#buffer;
    let at = int32(buf, this.#written, n);
    for (let i = start; i < end; i++) {
      const c = b[i] as number;
      if (c === 0 || c >= 0x80) return false;
      buf[at++] = c;
    }
    this.#written = at;
    return true;
  }

  /** An int8 field from a safe integer (Kafka offsets, timestamps in microseconds); negative values too. */
  int8n(v: number): this {
    this.#ensure(12);
    const buf = this.#buffer;
    let at = int32(buf, this.#written, 8);
    at = int32(buf, at, Math.floor(v / 4294967296));
    this.#written = int32(buf, at, v >>> 0);
    return this;
  }

  /** Moves the write position back to `offset` (an earlier `offset`), dropping what was written since. */
  rewind(offset: number): void {
    this.#written = offset;
  }

  /** Bytes written so far (the header included). */
  get offset(): number {
    return this.#written;
  }

  /** The buffer written so far, valid until the next write (a write may move it). */
  get buffer(): Buffer {
    return this.#buffer;
  }

  bytea(v: Buffer | null): this {
    if (v === null) return this.#null();
    this.#ensure(4 + v.length);
    this.#written = this.#buffer.writeInt32BE(v.length, this.#written);
    this.#written += v.copy(this.#buffer, this.#written);
    return this;
  }

  int4(v: number): this {
    this.#ensure(8);
    this.#written = int32(this.#buffer, int32(this.#buffer, this.#written, 4), v);
    return this;
  }

  int8(v: bigint): this {
    this.#ensure(12);
    this.#written = this.#buffer.writeInt32BE(8, this.#written);
    this.#written = this.#buffer.writeBigInt64BE(v, this.#written);
    return this;
  }

  /** A timestamptz field from epoch microseconds. */
  timestamptz(epochMicros: bigint): this {
    return this.int8(toPgTimestamp(epochMicros));
  }

  /** The finished payload (with the trailer); the writer must not be used afterwards. */
  finish(): Buffer {
    this.#ensure(2);
    this.#written = this.#buffer.writeInt16BE(-1, this.#written);
    return this.#buffer.subarray(0, this.#written);
  }

  #null(): this {
    this.#ensure(4);
    this.#written = int32(this.#buffer, this.#written, -1);
    return this;
  }

  /** Hands the buffer back to the pool; the writer and what it wrote are unusable afterwards. */
  release(): void {
    batchBuffers.give(this.#buffer);
    this.#buffer = EMPTY;
    this.#written = 0;
  }

  #ensure(bytes: number): void {
    if (this.#written + bytes <= this.#buffer.length) return;
    const bigger = batchBuffers.take(Math.max(this.#buffer.length * 2, this.#written + bytes));
    this.#buffer.copy(bigger, 0, 0, this.#written);
    batchBuffers.give(this.#buffer);
    this.#buffer = bigger;
  }
}
