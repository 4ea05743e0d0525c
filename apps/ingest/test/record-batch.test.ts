/**
 * The in-place record batch encoder (src/wire/record-batch.ts) against the Kafka client library's own encoder and
 * decoder (@platformatic/kafka 2.12.1 `createRecordsBatch`, `readRecordsBatches`): byte for byte the same batch,
 * apart from the partition leader epoch, which Kafka's producers leave unset (-1) and the library writes as 0.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createRecordsBatch, NumericMap, readRecordsBatches, Reader } from "@platformatic/kafka";
import { toKafkaRecord, type KafkaRecord } from "../src/kafka-record.js";
import { BATCH, chooseProduceVersion, encodeRecordBatch, nextSequence } from "../src/wire/index.js";
import { parseRequest } from "../src/http-binding.js";
import { sampleEvent, STRUCTURED } from "./helpers.js";

function serviceRecord(): KafkaRecord {
  const parsed = parseRequest(STRUCTURED, Buffer.from(JSON.stringify(sampleEvent())), { maxBatchEvents: 1, maxEventDataBytes: 1 << 20 });
  if (!parsed.ok) throw new Error("the sample event is invalid");
  return toKafkaRecord(parsed.events[0] as never, { requestId: "r-1", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "k=v" });
}

const IDENTITY = { producerId: 4711n, producerEpoch: 3, baseSequence: 12_345, timestamp: 1_764_979_200_123 };

function record(key: string, value: Buffer | null, headers: [string, string][]): KafkaRecord {
  const h = new Map(headers);
  let size = 36 + Buffer.byteLength(key) + (value?.length ?? 0);
  for (const [k, v] of h) size += 10 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return { key: Buffer.from(key), value, headers: h, size };
}

/** The library's encoding of the same records, as one batch with the same identity. */
function libraryBatch(records: KafkaRecord[]): Buffer {
  const sequences = new NumericMap();
  sequences.set("t:0", IDENTITY.baseSequence);
  const messages = records.map((r) => ({
    topic: "t",
    partition: 0,
    key: r.key,
    value: r.value as Buffer,
    headers: new Map([...r.headers].map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
    timestamp: BigInt(IDENTITY.timestamp),
  }));
  return createRecordsBatch(messages, { producerId: IDENTITY.producerId, producerEpoch: IDENTITY.producerEpoch, sequences }).buffer;
}

function withoutLeaderEpoch(batch: Buffer): Buffer {
  const copy = Buffer.from(batch);
  copy.writeInt32BE(0, BATCH.partitionLeaderEpoch);
  return copy;
}

const CASES: [string, KafkaRecord[]][] = [
  ["one event as the service makes it", [serviceRecord()]],
  ["a record without value, one without headers", [record("k", null, [["ce_id", "1"]]), record("k2", Buffer.from("v"), [])]],
  ["multi-byte UTF-8 in keys and header values", [record("schlüssel-😀", Buffer.from("wert"), [["ce_subject", "größe/日本"], ["ce_ä", "€"]])]],
  ["lengths whose varints take two and three bytes", [record("k".repeat(200), Buffer.alloc(20_000, 7), [["h", "v".repeat(70)]])]],
  ["300 records: offset deltas past one varint byte", Array.from({ length: 300 }, (_, i) => record(`key-${i}`, Buffer.from(`value-${i}`), [["ce_id", String(i)]]))],
];

for (const [name, records] of CASES) {
  test(`the batch is the library's, byte for byte: ${name}`, () => {
    const ours = encodeRecordBatch(records, IDENTITY);
    assert.equal(ours.readInt32BE(BATCH.partitionLeaderEpoch), -1);
    assert.deepEqual(withoutLeaderEpoch(ours), libraryBatch(records));
    assert.ok(ours.length <= BATCH.records + records.reduce((n, r) => n + r.size, 0), "within the size the records promise");
  });

  test(`the library reads the batch back: ${name}`, () => {
    const [batch] = readRecordsBatches(Reader.from(encodeRecordBatch(records, IDENTITY)));
    assert.ok(batch);
    assert.equal(batch.producerId, IDENTITY.producerId);
    assert.equal(batch.producerEpoch, IDENTITY.producerEpoch);
    assert.equal(batch.firstSequence, IDENTITY.baseSequence);
    assert.equal(batch.firstTimestamp, BigInt(IDENTITY.timestamp));
    assert.equal(batch.records.length, records.length);
    batch.records.forEach((read, i) => {
      const r = records[i] as KafkaRecord;
      assert.equal(read.offsetDelta, i);
      assert.deepEqual(read.key, r.key);
      assert.deepEqual(read.value, r.value);
      assert.deepEqual(read.headers.map(([k, v]) => [String(k), String(v)]), [...r.headers]);
    });
  });
}

test("a null value is written as length -1, not as an empty value", () => {
  const batch = encodeRecordBatch([record("k", null, [])], IDENTITY);
  // length, attributes, timestamp delta, offset delta, key length 1 (zigzag 2), "k", value length -1 (zigzag 1), 0 headers
  // length 7 (zigzag 14), attributes, timestamp delta, offset delta, key length 1 (zigzag 2), "k",
  // value length -1 (zigzag 1), no headers
  assert.deepEqual([...batch.subarray(BATCH.records)], [14, 0, 0, 0, 2, 0x6b, 1, 0]);
});

test("sequences wrap to 0 after 2^31 - 1, as Kafka's do", () => {
  assert.equal(nextSequence(0, 100), 100);
  assert.equal(nextSequence(2_147_483_647 - 100, 100), 2_147_483_647);
  assert.equal(nextSequence(2_147_483_647 - 2, 5), 2);
  assert.equal(nextSequence(2_147_483_647, 1), 0);
});

test("the Produce version: the newest both speak, v9 read as v8, none below v3", () => {
  assert.equal(chooseProduceVersion(3, 12), 11);
  assert.equal(chooseProduceVersion(0, 11), 11);
  assert.equal(chooseProduceVersion(0, 10), 10);
  assert.equal(chooseProduceVersion(0, 9), 8);
  assert.equal(chooseProduceVersion(0, 5), 5);
  assert.equal(chooseProduceVersion(0, 2), undefined);
});
