// Records into COPY rows (src/wire/batch-rows.ts): the fast way (src/wire/fast-row.ts), which copies header bytes from the record read in
// place, against the full way, decodeCloudEvent then the event's encoding, on the same records: same row bytes, same keys, minutes and
// subjects, same rejections with the same texts. Then assemble: (source, id) order, repeated keys once, the
// rollup aggregates, and subsets. No services needed (the round trip through PostgreSQL is in store.test.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assemble, BatchRows, type RowSource } from "../src/wire/index.js";
import { decodeCloudEvent } from "../src/cloudevents.js";
import { inPlace, toHeaderMap } from "./helpers.js";

const RECORD_TS = BigInt(Date.UTC(2025, 0, 15, 10, 30, 15, 250));
const INGEST_SHAPE = {
  ce_specversion: "1.0",
  ce_id: "0b8a6c1e-1d6e-4f5e-9d0a-3f1c2b4a5d6e",
  ce_source: "/eventstack/ingest",
  ce_type: "com.example.order.created",
  ce_time: "2025-01-15T10:00:00.123456Z",
  ce_subject: "user-42",
  "content-type": "application/json",
  "x-request-id": "req-1",
};

function record(headers: Record<string, string | Buffer>, opts: { value?: Buffer | null; offset?: bigint; partition?: number } = {}): RowSource {
  return {
    value: opts.value === undefined ? Buffer.from('{"amount":12}') : opts.value,
    headers: toHeaderMap(headers),
    timestamp: RECORD_TS,
    partition: opts.partition ?? 2,
    offset: opts.offset ?? 77n,
  };
}

/** The record through BatchRows.addCursor, and the reference: decodeCloudEvent, then addEvent. */
function both(r: RowSource) {
  const fast = new BatchRows();
  const rejected = fast.addCursor(inPlace(r));
  const ref = new BatchRows();
  const d = decodeCloudEvent(r);
  if (d.ok) ref.addEvent(d.event, r.partition, r.offset, Number(r.timestamp));
  return { fast, ref, rejected, decoded: d };
}

function assertSameRow(fast: BatchRows, ref: BatchRows, label: string) {
  assert.equal(fast.length, 1, label);
  assert.equal(ref.length, 1, label);
  assert.deepEqual(fast.row(0), ref.row(0), `${label}: row bytes`);
  for (const k of ["keys", "types", "minutes", "subjects", "partitions", "offsets", "timestamps", "traces"] as const) {
    assert.deepEqual(fast[k], ref[k], `${label}: ${k}`);
  }
}

describe("the fast way and the full way give the same rows", () => {
  const cases: [string, Record<string, string | Buffer>, { value?: Buffer | null }?][] = [
    ["ingest's record shape", INGEST_SHAPE],
    ["no ce_time: the record timestamp", { ...INGEST_SHAPE, ce_time: undefined as unknown as string }],
    ["no subject, a dataschema, no content-type", { ce_specversion: "1.0", ce_id: "a", ce_source: "/s", ce_type: "t", ce_dataschema: "https://example.com/s.json" }],
    ["a null value", INGEST_SHAPE, { value: null }],
    ["an empty value", INGEST_SHAPE, { value: Buffer.alloc(0) }],
    ["W3C trace context in traceparent and tracestate", { ...INGEST_SHAPE, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "k=v" }],
    ["trace context in the CloudEvents extension headers", { ...INGEST_SHAPE, ce_traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }],
    ["an offset time", { ...INGEST_SHAPE, ce_time: "2025-01-15T11:59:59.999+01:00" }],
  ];
  for (const [label, rawHeaders, opts] of cases) {
    test(`${label}: fast way taken`, () => {
      const headers = Object.fromEntries(Object.entries(rawHeaders).filter(([, v]) => v !== undefined));
      const { fast, ref, rejected, decoded } = both(record(headers, opts));
      assert.equal(rejected, undefined);
      assert.ok(decoded.ok);
      assert.equal(fast.slow, 0, "took the fast way");
      assertSameRow(fast, ref, label);
    });
  }

  const slow: [string, Record<string, string | Buffer>][] = [
    ["a non-ASCII subject", { ...INGEST_SHAPE, ce_subject: "Zürich" }],
    ["an extension attribute", { ...INGEST_SHAPE, ce_tenant: "acme" }],
    ["another header starting with t (ignored by the decoder)", { ...INGEST_SHAPE, tenant: "acme" }],
    ["a non-ASCII source", { ...INGEST_SHAPE, ce_time: "2025-01-15T10:00:00Z", ce_source: "/ünï" }],
  ];
  for (const [label, headers] of slow) {
    test(`${label}: full way taken, same row as the decoder's`, () => {
      const { fast, ref, rejected } = both(record(headers));
      assert.equal(rejected, undefined);
      assert.equal(fast.slow, 1, "took the full way");
      assertSameRow(fast, ref, label);
    });
  }

  test("a record the fast way gives up on after writing part of its row leaves nothing of it behind", () => {
    // Each bad field comes later in the row than the one before: the fast way has written source, id, type and
    // time (a non-ASCII subject), more (a non-ASCII content-type), or everything but data (a NUL in the
    // dataschema, which the decoder then rejects) when it drops the row and the full way takes over.
    const records = [
      record(INGEST_SHAPE, { offset: 1n }),
      record({ ...INGEST_SHAPE, ce_id: "b", ce_subject: "Zürich" }, { offset: 2n }),
      record({ ...INGEST_SHAPE, ce_id: "c", "content-type": "text/plain; charset=ü" }, { offset: 3n }),
      record({ ...INGEST_SHAPE, ce_id: "d", ce_dataschema: "https://example.com/\u0000" }, { offset: 4n }),
      record({ ...INGEST_SHAPE, ce_id: "e" }, { offset: 5n }),
    ];
    const fast = new BatchRows();
    const rejected = records.map((r) => fast.addCursor(inPlace(r))?.reason);
    assert.deepEqual(rejected, [undefined, undefined, undefined, "invalid_cloudevent", undefined]);
    assert.equal(fast.slow, 3);
    const ref = new BatchRows();
    for (const r of records) {
      const d = decodeCloudEvent(r);
      if (d.ok) ref.addEvent(d.event, r.partition, r.offset, Number(r.timestamp));
    }
    assert.equal(fast.length, 4);
    for (let i = 0; i < 4; i++) assert.deepEqual(fast.row(i), ref.row(i), `row ${i}`);
    for (const k of ["keys", "types", "minutes", "subjects", "partitions", "offsets", "timestamps"] as const) assert.deepEqual(fast[k], ref[k], k);
  });

  test("the last of a repeated header counts, on both ways", () => {
    const r: RowSource = {
      value: null,
      headers: [
        [Buffer.from("ce_specversion"), Buffer.from("1.0")],
        [Buffer.from("ce_id"), Buffer.from("first")],
        [Buffer.from("ce_source"), Buffer.from("/s")],
        [Buffer.from("ce_type"), Buffer.from("t")],
        [Buffer.from("ce_id"), Buffer.from("second")],
        [null, Buffer.from("a null header name is skipped")],
      ],
      timestamp: RECORD_TS,
      partition: 0,
      offset: 1n,
    };
    const { fast, ref } = both(r);
    assert.equal(fast.slow, 0);
    assert.equal(fast.keys[0], "/s\u0000second");
    assertSameRow(fast, ref, "repeated header");
  });
});

describe("records the decoder rejects are rejected with its reason and text", () => {
  const cases: [string, Record<string, string | Buffer>, string, string][] = [
    ["specversion 0.3", { ...INGEST_SHAPE, ce_specversion: "0.3" }, "invalid_cloudevent", 'header ce_specversion is "0.3", expected "1.0"'],
    ["no ce_id", { ...INGEST_SHAPE, ce_id: "" }, "invalid_cloudevent", "header ce_id is missing"],
    ["an empty subject", { ...INGEST_SHAPE, ce_subject: "" }, "invalid_cloudevent", "header ce_subject must not be empty when present"],
    ["a NUL in the source", { ...INGEST_SHAPE, ce_source: "/a\u0000b" }, "invalid_cloudevent", "header ce_source contains a NUL character"],
    ["a time that is not RFC 3339", { ...INGEST_SHAPE, ce_time: "2025-01-15 10:00:00" }, "invalid_cloudevent", 'header ce_time is not an RFC 3339 timestamp (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM): "2025-01-15 10:00:00"'],
    ["an id over 1024 bytes", { ...INGEST_SHAPE, ce_id: "i".repeat(1025) }, "invalid_cloudevent", "header ce_id is longer than 1024 bytes"],
    ["invalid UTF-8 in the type", { ...INGEST_SHAPE, ce_type: Buffer.from([0x74, 0xff]) }, "undecodable", "header ce_type is not valid UTF-8"],
    ["no CloudEvent at all", { "content-type": "text/plain" }, "undecodable", 'not a CloudEvent: no ce_specversion header (binary mode) and content-type is "text/plain", not application/cloudevents+json (structured mode)'],
  ];
  for (const [label, headers, reason, error] of cases) {
    test(label, () => {
      const { fast, rejected, decoded } = both(record(headers));
      assert.ok(!decoded.ok);
      assert.deepEqual(rejected, { reason, error });
      assert.deepEqual([decoded.reason, decoded.error], [reason, error]);
      assert.equal(fast.length, 0, "no row for a rejected record");
    });
  }
});

describe("assemble", () => {
  const add = (rows: BatchRows, source: string, id: string, type: string, minute: string, subject: string | null, offset: bigint) => {
    const h: Record<string, string> = { ce_specversion: "1.0", ce_id: id, ce_source: source, ce_type: type, ce_time: `2025-01-15T10:${minute}:30Z` };
    if (subject !== null) h.ce_subject = subject;
    assert.equal(rows.addRecord(record(h, { offset }), Number(RECORD_TS)), undefined);
  };

  test("rows in (source, id) order, a repeated key once (the first), aggregates per type-minute with distinct subjects", () => {
    const rows = new BatchRows();
    add(rows, "/b", "2", "t1", "00", "s1", 0n);
    add(rows, "/a", "9", "t1", "00", "s1", 1n);
    add(rows, "/a", "10", "t2", "01", null, 2n);
    add(rows, "/b", "2", "t1", "05", "s9", 3n); // the same key again: dropped, and not counted
    add(rows, "/ab", "1", "t1", "00", "s2", 4n);
    const batch = assemble(rows);
    assert.equal(batch.count, 4);

    // COPY data only, no protocol framing (src/wire/one-trip.ts adds it where it is sent).
    const payload = batch.copyData;
    // Cut the payload back into rows: header, then rows in the expected order, then the -1 trailer.
    const header = payload.subarray(0, 19);
    assert.equal(header.subarray(0, 11).toString("latin1"), "PGCOPY\n\xff\r\n\0");
    // "/a" "10" < "/a" "9" < "/ab" "1" < "/b" "2": source first, then id, as strings.
    assert.deepEqual(payload.subarray(19, payload.length - 2), Buffer.concat([rows.row(2), rows.row(1), rows.row(4), rows.row(0)]));
    assert.equal(payload.readInt16BE(payload.length - 2), -1);

    const { type: sType, minute: sMinute, subject: sSubject } = batch.aggregates.subjects;
    const { type: cType, minute: cMinute, n: cN } = batch.aggregates.counts;
    const iso = (ms: number | undefined) => new Date(ms as number).toISOString();
    const counts = cType.map((t, i) => `${t} ${iso(cMinute[i])} ${cN[i]}`).sort();
    assert.deepEqual(counts, ["t1 2025-01-15T10:00:00.000Z 3", "t2 2025-01-15T10:01:00.000Z 1"]);
    const subjects = sType.map((t, i) => `${t} ${iso(sMinute[i])} ${sSubject[i]}`).sort();
    assert.deepEqual(subjects, ["t1 2025-01-15T10:00:00.000Z s1", "t1 2025-01-15T10:00:00.000Z s2"]);
  });

  test("a subset of the rows is assembled the same way (the halves of a bisection)", () => {
    const rows = new BatchRows();
    add(rows, "/s", "c", "t", "00", "x", 0n);
    add(rows, "/s", "a", "t", "00", "y", 1n);
    add(rows, "/s", "b", "t", "02", "x", 2n);
    const half = assemble(rows, [0, 2]);
    assert.equal(half.count, 2);
    const payload = half.copyData;
    assert.deepEqual(payload.subarray(19, payload.length - 2), Buffer.concat([rows.row(2), rows.row(0)]));
    assert.deepEqual(half.aggregates.counts.type, ["t", "t"]);
    assert.deepEqual(half.aggregates.counts.n, [1, 1]);
    const none = assemble(rows, []);
    assert.equal(none.count, 0);
    assert.deepEqual(none.copyData, Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8), Buffer.from([0xff, 0xff])]));
  });
});
