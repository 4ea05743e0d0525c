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
 * Builds one COPY ... FROM STDIN (FORMAT binary) payload. Rows are given as a callback that writes each
 * row's fields through the writer, so no intermediate object per field is allocated.
 */
export class BinaryCopyWriter {
  #buf: Buffer;
  #o = 0;

  constructor(rowsHint: number) {
    this.#buf = Buffer.allocUnsafe(SIGNATURE.length + 8 + 2 + rowsHint * ROW_ESTIMATE_BYTES);
    this.#o = SIGNATURE.copy(this.#buf, 0);
    this.#o = this.#buf.writeInt32BE(0, this.#o); // flags: no OIDs
    this.#o = this.#buf.writeInt32BE(0, this.#o); // header extension length
  }

  row(fields: number): this {
    this.#ensure(2);
    this.#o = this.#buf.writeInt16BE(fields, this.#o);
    return this;
  }

  /** A text (or jsonb, with `jsonb`) field; null is SQL NULL. */
  text(v: string | null, jsonb = false): this {
    if (v === null) return this.#null();
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so this much room is always enough.
    this.#ensure(4 + 1 + v.length * 3);
    const start = this.#o + 4;
    let o = start;
    const buf = this.#buf;
    if (jsonb) buf[o++] = 1; // jsonb binary format version 1, then the JSON text
    // Attribute values are short and nearly always ASCII: copying their code units in JS costs less than a
    // call into the UTF-8 encoder per field. Anything else goes through the encoder.
    const n = v.length;
    let i = 0;
    if (n <= ASCII_LOOP_MAX) {
      for (; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        buf[o + i] = c;
      }
    }
    o += i === n ? n : buf.write(v, o, "utf8");
    buf.writeInt32BE(o - start, this.#o);
    this.#o = o;
    return this;
  }

  /** A text or bytea field from `b[start, end)` (start -1 is SQL NULL); the bytes are copied as they are. */
  range(b: Buffer, start: number, end: number): this {
    if (start < 0) return this.#null();
    const n = end - start;
    this.#ensure(4 + n);
    const buf = this.#buf;
    let o = buf.writeInt32BE(n, this.#o);
    // Short fields by hand: Buffer.copy's fixed cost is higher than a loop over a few dozen bytes.
    if (n <= 64) for (let i = start; i < end; i++) buf[o++] = b[i] as number;
    else {
      buf.set(b.subarray(start, end), o);
      o += n;
    }
    this.#o = o;
    return this;
  }

  /** An int8 field from a number (exact below 2^53: Kafka offsets). */
  int8n(v: number): this {
    this.#ensure(12);
    const buf = this.#buf;
    let o = buf.writeInt32BE(8, this.#o);
    o = buf.writeInt32BE(Math.floor(v / 4294967296), o);
    this.#o = buf.writeUInt32BE(v >>> 0, o);
    return this;
  }

  /** Bytes written so far (the header included). */
  get offset(): number {
    return this.#o;
  }

  /** The buffer written so far, valid until the next write (a write may move it). */
  get buffer(): Buffer {
    return this.#buf;
  }

  bytea(v: Buffer | null): this {
    if (v === null) return this.#null();
    this.#ensure(4 + v.length);
    this.#o = this.#buf.writeInt32BE(v.length, this.#o);
    this.#o += v.copy(this.#buf, this.#o);
    return this;
  }

  int4(v: number): this {
    this.#ensure(8);
    this.#o = this.#buf.writeInt32BE(4, this.#o);
    this.#o = this.#buf.writeInt32BE(v, this.#o);
    return this;
  }

  int8(v: bigint): this {
    this.#ensure(12);
    this.#o = this.#buf.writeInt32BE(8, this.#o);
    this.#o = this.#buf.writeBigInt64BE(v, this.#o);
    return this;
  }

  /** A timestamptz field from epoch microseconds. */
  timestamptz(epochMicros: bigint): this {
    return this.int8(toPgTimestamp(epochMicros));
  }

  /** The finished payload (with the trailer); the writer must not be used afterwards. */
  finish(): Buffer {
    this.#ensure(2);
    this.#o = this.#buf.writeInt16BE(-1, this.#o);
    return this.#buf.subarray(0, this.#o);
  }

  #null(): this {
    this.#ensure(4);
    this.#o = this.#buf.writeInt32BE(-1, this.#o);
    return this;
  }

  #ensure(bytes: number): void {
    if (this.#o + bytes <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#o + bytes));
    this.#buf.copy(bigger, 0, 0, this.#o);
    this.#buf = bigger;
  }
}
