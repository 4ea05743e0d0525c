/**
 * Reading fetched records straight from the bytes of a partition's records field (fetch-response.ts), without an
 * object per record.
 *
 * `RecordCursor` walks the record batches (format v2, https://kafka.apache.org/documentation/#recordbatch) of one
 * record set and exposes the current record as offsets into a Buffer. Compressed batches are inflated with the
 * client's own codecs. Only a record that needs it (the full decoder, a dead letter) is turned into an object, by
 * `toRecord`.
 *
 * Behaviour kept from the client's own parsing: control batches (transaction markers) are skipped; records before
 * the requested offset (a response may start at the batch holding it) are skipped; a batch cut off at the end of
 * the response (the broker fills up to the size limit) is left for the next fetch; aborted transactions are not
 * filtered (the client does not either; the producers here are idempotent, not transactional).
 */
import { BATCH_HEAD, compressionsAlgorithmsByBitmask, CURRENT_RECORD_VERSION, IS_COMPRESSED, IS_CONTROL } from "@platformatic/kafka";

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

/**
 * Byte offsets of the fields of a record batch v2 header, from the start of the batch (the order in which the
 * client's readRecordsBatch reads them). `length` counts the bytes after itself, i.e. from `partitionLeaderEpoch`
 * (the client's BATCH_HEAD) to the end of the batch; the records start at `records`.
 */
export const BATCH = {
  baseOffset: 0, // int64
  length: 8, // int32
  partitionLeaderEpoch: 12, // int32
  magic: 16, // int8
  crc: 17, // uint32
  attributes: 21, // int16
  lastOffsetDelta: 23, // int32
  baseTimestamp: 27, // int64
  maxTimestamp: 35, // int64
  producerId: 43, // int64
  producerEpoch: 51, // int16
  baseSequence: 53, // int32
  count: 57, // int32
  records: 61,
} as const;

/** The smallest `length` a batch can have: its header after the length field, with no records. */
const MIN_BATCH_LENGTH = BATCH.records - BATCH_HEAD;

/** What the cursor reads of one record set (a partition's records field). */
export interface RecordChunk {
  topic: string;
  partition: number;
  bytes: Buffer;
  /** The offset requested: records before it are skipped. */
  from: number;
}

/** Where each header's byte ranges are in RecordCursor.headers: `size` numbers per header, start -1 = null. */
export const HEADER = { nameStart: 0, nameEnd: 1, valueStart: 2, valueEnd: 3, size: 4 } as const;

/**
 * Reads the varint-encoded fields of a record (its length, timestamp and offset deltas, key, value, headers) at
 * `position`, moving it on. A varint-prefixed byte field is read by `field()`, which returns where the field starts
 * (-1: null) and leaves `fieldEnd` where it ends. Owned by one cursor: nothing is shared between cursors.
 */
class RecordFieldReader {
  buf: Buffer = Buffer.alloc(0);
  position = 0;
  /** End of the field `field()` read last (-1 when it was null). */
  fieldEnd = -1;

  /** A zigzag varint (int32). */
  varint(): number {
    const b = this.buf;
    let p = this.position;
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = b[p++] as number;
      result |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 35);
    this.position = p;
    return (result >>> 1) ^ -(result & 1);
  }

  /** A zigzag varlong, as a number (timestamp deltas: exact within 2^53). */
  varlong(): number {
    const b = this.buf;
    let p = this.position;
    let result = 0;
    let mul = 1;
    let byte: number;
    do {
      byte = b[p++] as number;
      result += (byte & 0x7f) * mul;
      mul *= 128;
    } while (byte & 0x80 && mul < 2 ** 70);
    this.position = p;
    // zigzag: even → n/2, odd → -(n+1)/2
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  /** A varint-length-prefixed byte field (key, value, header name or value): its start, or -1 for null. */
  field(): number {
    const length = this.varint();
    if (length < 0) {
      this.fieldEnd = -1;
      return -1;
    }
    const start = this.position;
    this.position = this.fieldEnd = start + length;
    return start;
  }
}

/**
 * Walks the records of record sets. After `next()` returns true, the fields describe the current record: byte
 * ranges into `buf` (start -1 = null), and header name/value ranges in `headers` (4 numbers per header, see
 * HEADER). Offsets are numbers (exact up to 2^53).
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
  #nextBatchAt = 0;
  /** The batch being read: its records' bytes (the chunk's, or inflated) with the read position, its end, records left. */
  readonly #reader = new RecordFieldReader();
  #batchEnd = 0;
  #recordsLeft = 0;
  #baseOffset = 0;
  #baseTimestamp = 0;

  /** Starts reading a record set. */
  reset(chunk: RecordChunk): void {
    this.#chunk = chunk;
    this.topic = chunk.topic;
    this.partition = chunk.partition;
    this.#nextBatchAt = 0;
    this.#recordsLeft = 0;
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
    for (let end = completeBatchEnd(b, at); end >= 0; end = completeBatchEnd(b, at)) {
      next = Number(b.readBigInt64BE(at + BATCH.baseOffset)) + b.readInt32BE(at + BATCH.lastOffsetDelta) + 1;
      at = end;
    }
    return next;
  }

  get done(): boolean {
    return this.#chunk === undefined;
  }

  /** Bytes of the record set read so far, to the end of the batch being read (whole batches: a batch is read at once or inflated). */
  get consumed(): number {
    return this.#nextBatchAt;
  }

  /** Moves to the next record at or after the requested offset; false when the chunk is exhausted. */
  next(): boolean {
    const chunk = this.#chunk;
    if (chunk === undefined) return false;
    for (;;) {
      while (this.#recordsLeft === 0) {
        if (!this.#nextBatch(chunk)) {
          this.#chunk = undefined;
          return false;
        }
      }
      this.#recordsLeft--;
      this.#readRecord();
      if (this.offset >= chunk.from) return true;
    }
  }

  /** The current record as an object, for the full decoder and dead letters. */
  toRecord(): FetchedRecord {
    const b = this.buf;
    const range = (s: number, e: number) => (s < 0 ? null : Buffer.from(b.subarray(s, e)));
    const h = this.headers;
    const headers: [Buffer | null, Buffer | null][] = [];
    for (let i = 0; i < this.headerCount; i++) {
      const at = i * HEADER.size;
      headers.push([range(h[at + HEADER.nameStart] as number, h[at + HEADER.nameEnd] as number), range(h[at + HEADER.valueStart] as number, h[at + HEADER.valueEnd] as number)]);
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
    const at = this.#nextBatchAt;
    const end = completeBatchEnd(b, at);
    if (end < 0) return false; // cut off: the next fetch gets it
    const baseOffset = Number(b.readBigInt64BE(at + BATCH.baseOffset));
    const magic = b[at + BATCH.magic];
    if (magic !== CURRENT_RECORD_VERSION) throw new Error(`record batch at offset ${baseOffset} of ${chunk.topic}[${chunk.partition}] has magic ${magic}; only v2 is read`);
    const attributes = b.readInt16BE(at + BATCH.attributes);
    this.#nextBatchAt = end;
    if ((attributes & IS_CONTROL) !== 0) return true; // no data records; #recordsLeft stays 0
    const count = b.readInt32BE(at + BATCH.count);
    this.#baseOffset = baseOffset;
    this.#baseTimestamp = Number(b.readBigInt64BE(at + BATCH.baseTimestamp));
    const codec = attributes & IS_COMPRESSED;
    const reader = this.#reader;
    if (codec === 0) {
      reader.buf = b;
      reader.position = at + BATCH.records;
      this.#batchEnd = end;
    } else {
      const algorithm = (compressionsAlgorithmsByBitmask as Record<number, { decompressSync(data: Buffer): Buffer } | undefined>)[codec];
      if (!algorithm) throw new Error(`record batch at offset ${baseOffset} of ${chunk.topic}[${chunk.partition}] uses unknown compression ${codec}`);
      const inflated = algorithm.decompressSync(b.subarray(at + BATCH.records, end));
      reader.buf = inflated;
      reader.position = 0;
      this.#batchEnd = inflated.length;
    }
    this.#recordsLeft = count;
    this.buf = reader.buf;
    return true;
  }

  /** A record: length (varint), attributes (int8), timestampDelta (varlong), offsetDelta (varint), key, value, headers. */
  #readRecord(): void {
    const r = this.#reader;
    this.buf = r.buf;
    const length = r.varint();
    const recordEnd = r.position + length;
    r.position++; // attributes: unused by record format v2
    this.timestamp = this.#baseTimestamp + r.varlong();
    this.offset = this.#baseOffset + r.varint();
    this.keyStart = r.field();
    this.keyEnd = r.fieldEnd;
    this.valueStart = r.field();
    this.valueEnd = r.fieldEnd;
    const count = r.varint();
    if (count * HEADER.size > this.headers.length) this.headers = new Int32Array(count * HEADER.size * 2);
    const h = this.headers;
    for (let i = 0, at = 0; i < count; i++, at += HEADER.size) {
      h[at + HEADER.nameStart] = r.field();
      h[at + HEADER.nameEnd] = r.fieldEnd;
      h[at + HEADER.valueStart] = r.field();
      h[at + HEADER.valueEnd] = r.fieldEnd;
    }
    this.headerCount = count;
    r.position = recordEnd;
  }
}

/** The end of the batch at `at` in `b` when it is complete there, or -1 (nothing left, or cut off). */
function completeBatchEnd(b: Buffer, at: number): number {
  if (b.length - at < BATCH_HEAD) return -1;
  const length = b.readInt32BE(at + BATCH.length);
  const end = at + BATCH_HEAD + length;
  return end > b.length || length < MIN_BATCH_LENGTH ? -1 : end;
}
