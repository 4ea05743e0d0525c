// Reading records in place from record set bytes (src/wire/record-batches.ts), against the client's own parser on
// the same bytes: batches the client encodes, plain and with each codec Node.js 20 has, with null keys and values, header
// edge cases, a cut-off batch, records before the requested offset; then the cursor's record made a row, against
// the same record as an object (batch-rows.ts). No services needed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BATCH_HEAD, createRecordsBatch, readRecordsBatches, Reader, type MessageRecord } from "@platformatic/kafka";
import { BATCH, BatchRows, RecordCursor, type RecordChunk } from "../src/wire/index.js";

const T0 = BigInt(Date.UTC(2025, 0, 15, 10, 30, 0));

function messages(n: number, from = 0): MessageRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const headers = new Map<Buffer, Buffer>([
      [Buffer.from("ce_specversion"), Buffer.from("1.0")],
      [Buffer.from("ce_id"), Buffer.from(`id-${i}`)],
      [Buffer.from("ce_source"), Buffer.from("/test")],
      [Buffer.from("ce_type"), Buffer.from(`type-${i % 3}`)],
      [Buffer.from("ce_subject"), Buffer.from(`subject-${i % 7}`)],
      [Buffer.from("content-type"), Buffer.from("application/json")],
      [Buffer.from("x-request-id"), Buffer.from("r".repeat(i % 40))],
    ]);
    if (i % 5 === 0) headers.set(Buffer.from("ce_time"), Buffer.from("2025-01-15T10:00:00.5Z"));
    return {
      topic: "t",
      partition: 0,
      key: i % 4 === 0 ? undefined : Buffer.from(`k${i}`),
      value: i % 6 === 0 ? undefined : Buffer.from(JSON.stringify({ i, pad: "p".repeat(i % 300) })),
      headers,
      timestamp: T0 + BigInt(i * 1000),
    } as MessageRecord;
  });
}

/** A record set: batches encoded by the client, each starting at `baseOffset`. */
function recordSet(batches: { base: number; count: number; compression?: "gzip" | "snappy" | "lz4" | "zstd" }[]): Buffer {
  const parts = batches.map(({ base, count, compression }) => {
    const b = Buffer.from(createRecordsBatch(messages(count, base), compression ? { compression } : {}).buffer);
    b.writeBigInt64BE(BigInt(base), 0); // the broker assigns the base offset
    return b;
  });
  return Buffer.concat(parts);
}

function readAll(chunk: RecordChunk): ReturnType<RecordCursor["toRecord"]>[] {
  const c = new RecordCursor();
  c.reset(chunk);
  const out = [];
  while (c.next()) out.push(c.toRecord());
  return out;
}

/** The client's parse of the same bytes, in the cursor's terms. */
function clientParse(bytes: Buffer, from: number) {
  const out = [];
  for (const batch of readRecordsBatches(Reader.from(bytes))) {
    for (const r of batch.records) {
      const offset = batch.firstOffset + BigInt(r.offsetDelta);
      if (offset < BigInt(from)) continue;
      out.push({ topic: "t", partition: 0, offset, timestamp: batch.firstTimestamp + r.timestampDelta, key: r.key, value: r.value, headers: r.headers });
    }
  }
  return out;
}

describe("RecordCursor reads what the client's parser reads", () => {
  test("BATCH names the byte offsets of the header fields the client's parser reads, in its order", () => {
    const bytes = recordSet([{ base: 7, count: 5, compression: "gzip" }]);
    const [batch, ...rest] = readRecordsBatches(Reader.from(bytes));
    assert.ok(batch);
    assert.equal(rest.length, 0);
    const { records, ...header } = batch;
    assert.deepEqual(
      {
        firstOffset: bytes.readBigInt64BE(BATCH.baseOffset),
        length: bytes.readInt32BE(BATCH.length),
        partitionLeaderEpoch: bytes.readInt32BE(BATCH.partitionLeaderEpoch),
        magic: bytes.readInt8(BATCH.magic),
        crc: bytes.readUInt32BE(BATCH.crc),
        attributes: bytes.readInt16BE(BATCH.attributes),
        lastOffsetDelta: bytes.readInt32BE(BATCH.lastOffsetDelta),
        firstTimestamp: bytes.readBigInt64BE(BATCH.baseTimestamp),
        maxTimestamp: bytes.readBigInt64BE(BATCH.maxTimestamp),
        producerId: bytes.readBigInt64BE(BATCH.producerId),
        producerEpoch: bytes.readInt16BE(BATCH.producerEpoch),
        firstSequence: bytes.readInt32BE(BATCH.baseSequence),
        count: bytes.readInt32BE(BATCH.count),
      },
      { ...header, count: records.length },
    );
    assert.equal(batch.firstOffset, 7n);
    assert.equal(batch.lastOffsetDelta, 4);
    assert.equal(batch.firstTimestamp, T0 + 7000n);
    // `length` counts from the end of the client's BATCH_HEAD to the end of the batch; the records follow the count.
    assert.equal(BATCH_HEAD + batch.length, bytes.length);
    assert.equal(BATCH.records, BATCH.count + 4);
  });

  // zstd too where the client supports it (it needs the zlib of Node.js 22): the cursor inflates with the client's codecs.
  for (const compression of [undefined, "gzip", "snappy", "lz4"] as const) {
    test(`three batches${compression ? `, ${compression}` : ", uncompressed"}`, () => {
      const bytes = recordSet([
        { base: 0, count: 40, compression },
        { base: 40, count: 1, compression },
        { base: 41, count: 25, compression },
      ]);
      const chunk: RecordChunk = { topic: "t", partition: 0, bytes, from: 0 };
      const mine = readAll(chunk);
      assert.equal(mine.length, 66);
      assert.deepEqual(mine, clientParse(bytes, 0));
      // Null keys and values come through as null, not empty.
      assert.equal(mine[0]?.key, null);
      assert.equal(mine[0]?.value, null);
      assert.equal(mine[1]?.key?.toString(), "k1");
    });
  }

  test("records before the requested offset are skipped; a batch cut off at the end is left for the next fetch", () => {
    const whole = recordSet([
      { base: 100, count: 10 },
      { base: 110, count: 10 },
    ]);
    const cut = whole.subarray(0, whole.length - 7);
    const c = new RecordCursor();
    c.reset({ topic: "t", partition: 0, bytes: cut, from: 104 });
    assert.equal(c.scanBatches(), 110, "the position moves past the last complete batch only");
    const mine = readAll({ topic: "t", partition: 0, bytes: cut, from: 104 });
    assert.deepEqual(
      mine.map((r) => r.offset),
      [104n, 105n, 106n, 107n, 108n, 109n],
    );
    const none = new RecordCursor();
    none.reset({ topic: "t", partition: 0, bytes: whole.subarray(0, 30), from: 0 });
    assert.equal(none.scanBatches(), -1);
    assert.equal(none.next(), false);
  });

  test("a control batch (transaction marker) yields no records but moves the position", () => {
    const bytes = recordSet([
      { base: 0, count: 3 },
      { base: 3, count: 1 },
    ]);
    // Mark the second batch as a control batch (attributes bit 5).
    const second = bytes.length - recordSet([{ base: 3, count: 1 }]).length;
    bytes.writeInt16BE(bytes.readInt16BE(second + 21) | 0x20, second + 21);
    const c = new RecordCursor();
    c.reset({ topic: "t", partition: 0, bytes, from: 0 });
    assert.equal(c.scanBatches(), 4);
    assert.deepEqual(
      readAll({ topic: "t", partition: 0, bytes, from: 0 }).map((r) => r.offset),
      [0n, 1n, 2n],
    );
  });
});

/** Records of every kind the two ways tell apart: fast, full (extension, non-ASCII), rejected, trace context. */
function variedSet(count: number): Buffer {
  const msgs = messages(count).map((m, i) => {
    const h = m.headers as Map<Buffer, Buffer>;
    const set = (k: string, v: string | Buffer) => h.set(Buffer.from(k), Buffer.isBuffer(v) ? v : Buffer.from(v));
    if (i % 9 === 1) for (const k of [...h.keys()]) if (k.toString() === "ce_subject") h.delete(k);
    if (i % 9 === 2) set("ce_dataschema", "https://example.com/s.json");
    if (i % 9 === 3) set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    if (i % 9 === 4) set("ce_tenant", "acme"); // an extension: the full way
    if (i % 9 === 5) set("ce_subject", "Zürich"); // non-ASCII: the full way
    if (i % 9 === 6) set("ce_specversion", "0.3"); // rejected
    if (i % 9 === 7) set("ce_time", "yesterday"); // rejected
    if (i % 9 === 8) set("ce_type", Buffer.from([0x74, 0xff])); // rejected: not UTF-8
    return m;
  });
  const b = Buffer.from(createRecordsBatch(msgs).buffer);
  b.writeBigInt64BE(0n, 0);
  return b;
}

test("records of every kind: in place and as objects give the same rows and the same rejections", () => {
  const inPlace = new BatchRows();
  const asObjects = new BatchRows();
  const c = new RecordCursor();
  c.reset({ topic: "t", partition: 1, bytes: variedSet(90), from: 0 });
  const rejected: [unknown, unknown][] = [];
  while (c.next()) {
    const r = c.toRecord();
    rejected.push([inPlace.addCursor(c), asObjects.addRecord(r, Number(r.timestamp))]);
  }
  assert.equal(rejected.length, 90);
  for (const [a, b] of rejected) assert.deepEqual(a, b);
  assert.equal(rejected.filter(([a]) => a !== undefined).length, 30, "three kinds of rejection, ten each");
  assert.equal(inPlace.length, 60);
  assert.equal(inPlace.slow, 50, "extensions, non-ASCII and the rejected ones go the full way");
  for (let i = 0; i < inPlace.length; i++) assert.deepEqual(inPlace.row(i), asObjects.row(i), `row ${i}`);
  for (const k of ["keys", "types", "minutes", "subjects", "partitions", "offsets", "timestamps", "traces"] as const) assert.deepEqual(inPlace[k], asObjects[k], k);
  assert.equal(inPlace.traces.length, 10);
});

test("a record read in place becomes the same row as the same record as an object", () => {
  const bytes = recordSet([{ base: 7, count: 60 }]);
  const inPlace = new BatchRows();
  const asObjects = new BatchRows();
  const c = new RecordCursor();
  c.reset({ topic: "t", partition: 3, bytes, from: 0 });
  while (c.next()) {
    assert.equal(inPlace.addCursor(c), undefined);
    const r = c.toRecord();
    assert.equal(asObjects.addRecord(r, Number(r.timestamp)), undefined);
  }
  assert.equal(inPlace.length, 60);
  assert.equal(inPlace.slow, 0, "every record took the fast way");
  for (let i = 0; i < 60; i++) assert.deepEqual(inPlace.row(i), asObjects.row(i), `row ${i}`);
  for (const k of ["keys", "types", "minutes", "subjects", "partitions", "offsets", "timestamps", "traces"] as const) assert.deepEqual(inPlace[k], asObjects[k], k);
});
