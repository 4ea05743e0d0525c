/**
 * Kafka's record batch (format v2, "magic" 2), written in place: the records of one partition straight into one
 * buffer, without the per-record writers, serializers and buffer lists the client library builds (its
 * `createRecordsBatch` made the service's producer cost about 13 µs of CPU per record, mostly allocation, garbage
 * collection and `Buffer.concat`; docs/ingest.md). Uncompressed, not transactional, every record with the batch's
 * own timestamp (timestamp delta 0), as the library writes them.
 *
 * Layout (Kafka's DefaultRecordBatch; the protocol guide's "Record Batch"):
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32 |
 *   attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
 *   producerEpoch int16 | baseSequence int32 | recordCount int32 | records
 * and each record:
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint | keyLength varint | key |
 *   valueLength varint (-1: null) | value | headerCount varint | (keyLength varint | key | valueLength varint | value)*
 * where varints are zigzag-encoded. The CRC (CRC-32C) covers everything from attributes to the end.
 *
 * Pinned by test/record-batch.test.ts against the library's own encoder and decoder.
 */
import { crc32c } from "@platformatic/kafka";
import type { KafkaRecord } from "../kafka-record.js";

/** Byte offsets in a batch's header. */
export const BATCH = {
  length: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  records: 61,
} as const;

/** The fields of a batch that are not its records. */
export interface BatchIdentity {
  producerId: bigint;
  producerEpoch: number;
  /** The sequence number of the batch's first record for this partition and producer id. */
  baseSequence: number;
  /** The batch's create time, in ms since the epoch; every record carries it. */
  timestamp: number;
}

// Kafka's producers leave the leader epoch unset; the broker writes its own on append.
const NO_PARTITION_LEADER_EPOCH = -1;
const MAGIC = 2;
// The most bytes a zigzag varint of an int32 takes.
const MAX_VARINT = 5;

/** Encodes `records` as one record batch. Its size never exceeds BATCH.records + the sum of the records' `size`. */
export function encodeRecordBatch(records: readonly KafkaRecord[], identity: BatchIdentity): Buffer {
  let bound: number = BATCH.records;
  for (const r of records) bound += r.size;
  const buf = Buffer.allocUnsafe(bound);

  let pos: number = BATCH.records;
  for (let i = 0; i < records.length; i++) pos = writeRecord(buf, pos, records[i] as KafkaRecord, i);

  buf.writeBigInt64BE(0n, 0);
  buf.writeInt32BE(pos - BATCH.partitionLeaderEpoch, BATCH.length);
  buf.writeInt32BE(NO_PARTITION_LEADER_EPOCH, BATCH.partitionLeaderEpoch);
  buf.writeInt8(MAGIC, BATCH.magic);
  buf.writeInt16BE(0, BATCH.attributes);
  buf.writeInt32BE(records.length - 1, BATCH.lastOffsetDelta);
  const timestamp = BigInt(identity.timestamp);
  buf.writeBigInt64BE(timestamp, BATCH.baseTimestamp);
  buf.writeBigInt64BE(timestamp, BATCH.maxTimestamp);
  buf.writeBigInt64BE(identity.producerId, BATCH.producerId);
  buf.writeInt16BE(identity.producerEpoch, BATCH.producerEpoch);
  buf.writeInt32BE(identity.baseSequence, BATCH.baseSequence);
  buf.writeInt32BE(records.length, BATCH.recordCount);
  const batch = buf.subarray(0, pos);
  batch.writeUInt32BE(crc32c(batch.subarray(BATCH.attributes)), BATCH.crc);
  return batch;
}

/**
 * Writes one record at `start` and returns where the next begins. The record's body is written MAX_VARINT bytes
 * further on, then moved back next to its length once that length is known.
 */
function writeRecord(buf: Buffer, start: number, record: KafkaRecord, offsetDelta: number): number {
  const bodyStart = start + MAX_VARINT;
  let pos = bodyStart;
  buf[pos++] = 0; // attributes
  buf[pos++] = 0; // timestamp delta: every record has the batch's timestamp
  pos = writeVarInt(buf, pos, offsetDelta);
  pos = writeVarInt(buf, pos, record.key.length);
  pos += record.key.copy(buf, pos);
  if (record.value === null) {
    pos = writeVarInt(buf, pos, -1);
  } else {
    pos = writeVarInt(buf, pos, record.value.length);
    pos += record.value.copy(buf, pos);
  }
  pos = writeVarInt(buf, pos, record.headers.size);
  for (const [key, value] of record.headers) {
    pos = writeString(buf, pos, key);
    pos = writeString(buf, pos, value);
  }
  const bodyLength = pos - bodyStart;
  const lengthEnd = writeVarInt(buf, start, bodyLength);
  if (lengthEnd < bodyStart) buf.copyWithin(lengthEnd, bodyStart, pos);
  return lengthEnd + bodyLength;
}

function writeString(buf: Buffer, pos: number, s: string): number {
  const length = Buffer.byteLength(s, "utf8");
  pos = writeVarInt(buf, pos, length);
  return pos + buf.write(s, pos, length, "utf8");
}

/** A zigzag varint (Kafka's ByteUtils.writeVarint). */
export function writeVarInt(buf: Buffer, pos: number, n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}
