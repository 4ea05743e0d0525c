/**
 * Reading fetched records straight from the bytes of a Fetch response, without an object per record.
 *
 * The client parses every record of a response into an object with a Buffer view for its key, its value and
 * each header name and value (@platformatic/kafka protocol/records.js), a dozen or more allocations per record,
 * which the consumer then reads once and drops. Here a Fetch v17 response is parsed by the client's own Reader
 * except for each partition's records field, kept as one Buffer; `RecordCursor` walks it (the record batch format
 * v2, https://kafka.apache.org/documentation/#recordbatch) and exposes the current record as offsets into that
 * Buffer. Compressed batches are inflated with the client's own codecs. Only a record that needs it (the full
 * decoder, a dead letter) is turned into an object, by `toRecord`.
 *
 * Behaviour kept from the client's own parsing: control batches (transaction markers) are skipped; records before
 * the requested offset (a response may start at the batch holding it) are skipped; a batch cut off at the end of
 * the response (the broker fills up to the size limit) is left for the next fetch; aborted transactions are not
 * filtered (the client does not either; the producers here are idempotent, not transactional).
 */
import { compressionsAlgorithmsByBitmask, createAPI, fetchV17, ResponseError, type Reader } from "@platformatic/kafka";

/** One fetched record as an object: for the full decoder, dead letters and tests (see toRecord). */
export interface FetchedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** Record timestamp, epoch ms (CreateTime as the producer set it). */
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: [Buffer | null, Buffer | null][];
}

/** One partition of a raw Fetch response: its records field as it came. */
export interface RawFetchPartition {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  records: Buffer | null;
}

export interface RawFetchResponse {
  throttleTimeMs: number;
  errorCode: number;
  sessionId: number;
  responses: { topicId: string; partitions: RawFetchPartition[] }[];
}

/**
 * Fetch Response v17, as the client's fetch-v17.js reads it, but with each partition's records kept as bytes.
 * Errors are raised the same way (a ResponseError naming every failed partition), so the client's retry rules
 * (canRetry, stale metadata) apply to them unchanged.
 */
function parseRawFetchResponse(_correlationId: number, apiKey: number, apiVersion: number, reader: Reader): RawFetchResponse {
  const errors: [string, [number, null]][] = [];
  const throttleTimeMs = reader.readInt32();
  const errorCode = reader.readInt16();
  if (errorCode !== 0) errors.push(["", [errorCode, null]]);
  const response: RawFetchResponse = {
    throttleTimeMs,
    errorCode,
    sessionId: reader.readInt32(),
    responses: reader.readArray((r, i) => ({
      topicId: r.readUUID(),
      partitions: r.readArray((r, j) => {
        const partitionIndex = r.readInt32();
        const partitionError = r.readInt16();
        const highWatermark = r.readInt64();
        r.readInt64(); // last_stable_offset
        r.readInt64(); // log_start_offset
        r.readArray((r) => {
          r.readInt64(); // aborted transactions: producer_id, first_offset
          r.readInt64();
        });
        r.readInt32(); // preferred_read_replica
        if (partitionError !== 0) errors.push([`/responses/${i}/partitions/${j}`, [partitionError, null]]);
        // COMPACT_RECORDS: the length is stored plus one.
        const size = r.readUnsignedVarInt() - 1;
        let records: Buffer | null = null;
        if (size > 0) {
          // One contiguous Buffer (the response may span several socket chunks; then this copies once).
          records = r.buffer.slice(r.position, r.position + size);
          r.skip(size);
        }
        return { partitionIndex, errorCode: partitionError, highWatermark, records };
      }),
    })),
  };
  if (errors.length > 0) throw new ResponseError(apiKey, apiVersion, Object.fromEntries(errors), response);
  return response;
}

/** Fetch v17 (Kafka 3.9 and later, MSK 3.9.x): the client's request encoding, the parser above. */
export const rawFetchV17 = createAPI<Parameters<typeof fetchV17.createRequest>, RawFetchResponse>(1, 17, fetchV17.createRequest, parseRawFetchResponse);

/** Record batch v2 header: base offset (8), length (4), then 49 bytes up to and including the record count. */
const BATCH_OVERHEAD = 12;
const BATCH_HEADER = 61;
const CONTROL_BATCH = 0x20;
const COMPRESSION_MASK = 0x07;

/** What the cursor reads of one record set (a partition's records field). */
export interface RecordChunk {
  topic: string;
  partition: number;
  bytes: Buffer;
  /** The offset requested: records before it are skipped. */
  from: number;
}

/**
 * Walks the records of record sets. After `next()` returns true, the fields describe the current record: byte
 * ranges into `buf` (start -1 = null), and header name/value ranges in `headers` (4 numbers per header).
 * Offsets are numbers (exact up to 2^53).
 */
export class RecordCursor {
  topic = "";
  partition = 0;
  offset = 0;
  timestamp = 0;
  buf: Buffer = Buffer.alloc(0);
  keyStart = -1;
  keyEnd = -1;
  valueStart = -1;
  valueEnd = -1;
  headerCount = 0;
  headers = new Int32Array(64);

  #chunk: RecordChunk | undefined;
  /** Position in the chunk's bytes of the next batch. */
  #next = 0;
  /** The batch being read: its bytes (the chunk's, or inflated), position, end, records left. */
  #batchBuf: Buffer = Buffer.alloc(0);
  #pos = 0;
  #end = 0;
  #left = 0;
  #baseOffset = 0;
  #baseTimestamp = 0;

  /** Starts reading a record set. */
  reset(chunk: RecordChunk): void {
    this.#chunk = chunk;
    this.topic = chunk.topic;
    this.partition = chunk.partition;
    this.#next = 0;
    this.#left = 0;
  }

  /**
   * The offset after the last complete batch of the record set just reset (control batches included), or -1
   * when it holds none; reads batch headers only.
   */
  scanBatches(): number {
    const b = this.#chunk?.bytes;
    if (b === undefined) return -1;
    let at = 0;
    let next = -1;
    while (b.length - at >= BATCH_OVERHEAD) {
      const length = b.readInt32BE(at + 8);
      const end = at + BATCH_OVERHEAD + length;
      if (end > b.length || length < BATCH_HEADER - BATCH_OVERHEAD) break;
      next = Number(b.readBigInt64BE(at)) + b.readInt32BE(at + 23) + 1;
      at = end;
    }
    return next;
  }

  get done(): boolean {
    return this.#chunk === undefined;
  }

  /** Bytes of the record set read so far, to the end of the batch being read (whole batches: a batch is read at once or inflated). */
  get consumed(): number {
    return this.#next;
  }

  /** Moves to the next record at or after the requested offset; false when the chunk is exhausted. */
  next(): boolean {
    const chunk = this.#chunk;
    if (chunk === undefined) return false;
    for (;;) {
      while (this.#left === 0) {
        if (!this.#nextBatch(chunk)) {
          this.#chunk = undefined;
          return false;
        }
      }
      this.#left--;
      this.#readRecord();
      if (this.offset >= chunk.from) return true;
    }
  }

  /** The current record as an object, for the full decoder and dead letters. */
  toRecord(): FetchedRecord {
    const b = this.buf;
    const range = (s: number, e: number) => (s < 0 ? null : Buffer.from(b.subarray(s, e)));
    const headers: [Buffer | null, Buffer | null][] = [];
    for (let h = 0; h < this.headerCount; h++) {
      const i = h * 4;
      headers.push([range(this.headers[i] as number, this.headers[i + 1] as number), range(this.headers[i + 2] as number, this.headers[i + 3] as number)]);
    }
    return {
      topic: this.topic,
      partition: this.partition,
      offset: BigInt(this.offset),
      timestamp: BigInt(this.timestamp),
      key: range(this.keyStart, this.keyEnd),
      value: range(this.valueStart, this.valueEnd),
      headers,
    };
  }

  #nextBatch(chunk: RecordChunk): boolean {
    const b = chunk.bytes;
    const at = this.#next;
    if (b.length - at < BATCH_OVERHEAD) return false;
    const length = b.readInt32BE(at + 8);
    const end = at + BATCH_OVERHEAD + length;
    if (end > b.length || length < BATCH_HEADER - BATCH_OVERHEAD) return false; // cut off: the next fetch gets it
    const baseOffset = Number(b.readBigInt64BE(at));
    const magic = b[at + 16];
    if (magic !== 2) throw new Error(`record batch at offset ${baseOffset} of ${chunk.topic}[${chunk.partition}] has magic ${magic}; only v2 is read`);
    const attributes = b.readInt16BE(at + 21);
    this.#next = end;
    if ((attributes & CONTROL_BATCH) !== 0) return true; // no data records; #left stays 0
    const count = b.readInt32BE(at + 57);
    this.#baseOffset = baseOffset;
    this.#baseTimestamp = Number(b.readBigInt64BE(at + 27));
    const codec = attributes & COMPRESSION_MASK;
    if (codec === 0) {
      this.#batchBuf = b;
      this.#pos = at + BATCH_HEADER;
      this.#end = end;
    } else {
      const algorithm = (compressionsAlgorithmsByBitmask as Record<number, { decompressSync(data: Buffer): Buffer } | undefined>)[codec];
      if (!algorithm) throw new Error(`record batch at offset ${baseOffset} of ${chunk.topic}[${chunk.partition}] uses unknown compression ${codec}`);
      const inflated = algorithm.decompressSync(b.subarray(at + BATCH_HEADER, end));
      this.#batchBuf = inflated;
      this.#pos = 0;
      this.#end = inflated.length;
    }
    this.#left = count;
    this.buf = this.#batchBuf;
    return true;
  }

  #readRecord(): void {
    const b = this.#batchBuf;
    this.buf = b;
    let p = this.#pos;
    // length (varint), attributes (int8), timestampDelta (varlong), offsetDelta (varint), key, value, headers.
    let v = readVarint(b, p);
    const recordEnd = VARINT.at + v;
    p = VARINT.at + 1;
    v = readVarlong(b, p);
    p = VARINT.at;
    this.timestamp = this.#baseTimestamp + v;
    v = readVarint(b, p);
    p = VARINT.at;
    this.offset = this.#baseOffset + v;
    p = readBytes(b, p);
    this.keyStart = RANGE.start;
    this.keyEnd = RANGE.end;
    p = readBytes(b, p);
    this.valueStart = RANGE.start;
    this.valueEnd = RANGE.end;
    const n = readVarint(b, p);
    p = VARINT.at;
    if (n * 4 > this.headers.length) this.headers = new Int32Array(n * 8);
    const h = this.headers;
    for (let i = 0; i < n; i++) {
      p = readBytes(b, p);
      h[i * 4] = RANGE.start;
      h[i * 4 + 1] = RANGE.end;
      p = readBytes(b, p);
      h[i * 4 + 2] = RANGE.start;
      h[i * 4 + 3] = RANGE.end;
    }
    this.headerCount = n;
    this.#pos = recordEnd;
  }
}

/** Where the last varint read ended (one shared slot instead of a tuple per call). */
const VARINT = { at: 0 };
/** The byte range readBytes found (start -1: null). */
const RANGE = { start: -1, end: -1 };

/** A varint-length-prefixed byte field at `p` (key, value, header name or value): sets RANGE, returns its end. */
function readBytes(b: Buffer, p: number): number {
  const n = readVarint(b, p);
  const at = VARINT.at;
  if (n < 0) {
    RANGE.start = RANGE.end = -1;
    return at;
  }
  RANGE.start = at;
  RANGE.end = at + n;
  return at + n;
}

/** A zigzag varint (int32) at `p`. */
function readVarint(b: Buffer, p: number): number {
  let result = 0;
  let shift = 0;
  let byte: number;
  do {
    byte = b[p++] as number;
    result |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80 && shift < 35);
  VARINT.at = p;
  return (result >>> 1) ^ -(result & 1);
}

/** A zigzag varlong at `p`, as a number (timestamp deltas: exact within 2^53). */
function readVarlong(b: Buffer, p: number): number {
  let result = 0;
  let mul = 1;
  let byte: number;
  do {
    byte = b[p++] as number;
    result += (byte & 0x7f) * mul;
    mul *= 128;
  } while (byte & 0x80 && mul < 2 ** 70);
  VARINT.at = p;
  // zigzag: even → n/2, odd → -(n+1)/2
  return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
}
