// Decoding CloudEvents from Kafka records (binary and structured content mode) and the strict RFC 3339
// times, with the exact texts that end up in dead-letter headers. No services needed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeCloudEvent, type DecodeResult, type RecordLike } from "../src/cloudevents.js";
import { parseRfc3339 } from "@eventstack/contract";
import { emptyPgTime, pgTimeFromBytes } from "../src/wire/index.js";
import { toHeaderMap } from "./helpers.js";

const RECORD_TS = BigInt(Date.UTC(2025, 0, 15, 10, 30, 15, 250));
const binary = (headers: Record<string, Buffer | string>, value: Buffer | null = Buffer.from('{"a":1}')): RecordLike => ({
  value,
  headers: toHeaderMap({ ce_specversion: "1.0", ce_id: "id-1", ce_source: "/src", ce_type: "com.example.t", ...headers }),
  timestamp: RECORD_TS,
});
const structured = (event: unknown): RecordLike => ({
  value: Buffer.from(typeof event === "string" ? event : JSON.stringify(event)),
  headers: toHeaderMap({ "content-type": "application/cloudevents+json; charset=utf-8" }),
  timestamp: RECORD_TS,
});
const error = (r: DecodeResult) => (r.ok ? assert.fail("expected a decode failure") : [r.reason, r.error]);
const event = (r: DecodeResult) => (r.ok ? r.event : assert.fail(`expected an event, got ${r.reason}: ${r.error}`));

describe("binary content mode", () => {
  test("attributes from ce_ headers, content-type as datacontenttype, the value as data, trace context kept apart", () => {
    const e = event(
      decodeCloudEvent(
        binary({
          ce_time: "2025-01-15T10:00:00.5+01:00",
          ce_subject: "user-1",
          ce_dataschema: "https://example.com/schema",
          ce_partitionkey: "k",
          "content-type": "application/json",
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          "x-request-id": "ignored",
        }),
      ),
    );
    assert.deepEqual(
      { ...e, data: e.data?.toString() },
      {
        id: "id-1",
        source: "/src",
        type: "com.example.t",
        specversion: "1.0",
        time: "2025-01-15T10:00:00.5+01:00",
        timeMicros: BigInt(Date.UTC(2025, 0, 15, 9, 0, 0, 500)) * 1000n,
        minuteMs: Date.UTC(2025, 0, 15, 9, 0),
        timeFromRecord: false,
        subject: "user-1",
        datacontenttype: "application/json",
        dataschema: "https://example.com/schema",
        data: '{"a":1}',
        extensions: { partitionkey: "k" },
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate: null,
      },
    );
  });

  test("without ce_time the record timestamp is the event time; without a value there is no data", () => {
    const e = event(decodeCloudEvent(binary({}, null)));
    assert.equal(e.time, "2025-01-15T10:30:15.250Z");
    assert.equal(e.timeFromRecord, true);
    assert.equal(e.timeMicros, RECORD_TS * 1000n);
    assert.equal(e.minuteMs, Date.UTC(2025, 0, 15, 10, 30));
    assert.equal(e.data, null);
  });

  test("invalid records: exact reasons", () => {
    const cases: [Record<string, Buffer | string>, string, string][] = [
      [{ ce_specversion: "0.3" }, "invalid_cloudevent", 'header ce_specversion is "0.3", expected "1.0"'],
      [{ ce_id: "" }, "invalid_cloudevent", "header ce_id is missing"],
      [{ ce_subject: "" }, "invalid_cloudevent", "header ce_subject must not be empty when present"],
      [{ ce_source: "/a\u0000b" }, "invalid_cloudevent", "header ce_source contains a NUL character"],
      [{ ce_type: "t".repeat(1025) }, "invalid_cloudevent", "header ce_type is longer than 1024 bytes"],
      [{ "ce_Bad-Name": "x" }, "invalid_cloudevent", "header ce_Bad-Name: extension names must be 1-20 lower-case letters or digits"],
      [{ ce_id: Buffer.from([0x69, 0xff, 0x64]) }, "undecodable", "header ce_id is not valid UTF-8"],
      [{ ce_time: "2025-01-15 10:00:00Z" }, "invalid_cloudevent", 'header ce_time is not an RFC 3339 timestamp (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM): "2025-01-15 10:00:00Z"'],
      [{ ce_time: "2025-02-30T10:00:00Z" }, "invalid_cloudevent", 'header ce_time is not an RFC 3339 timestamp (day 30 does not exist in 2025-02): "2025-02-30T10:00:00Z"'],
    ];
    for (const [headers, reason, text] of cases) assert.deepEqual(error(decodeCloudEvent(binary(headers))), [reason, text]);
  });

  test("a genuine U+FFFD in a header is valid UTF-8 and kept", () => {
    assert.equal(event(decodeCloudEvent(binary({ ce_subject: "a\uFFFDb" }))).subject, "a\uFFFDb");
  });
});

describe("structured content mode", () => {
  const base = { specversion: "1.0", id: "s-1", source: "/src", type: "com.example.t" };

  test("JSON data is kept as its JSON bytes (application/json implied), data_base64 as the decoded bytes", () => {
    const j = event(decodeCloudEvent(structured({ ...base, time: "2025-01-15T10:00:00Z", data: { x: [1, 2] }, level: 3, flag: true })));
    assert.equal(j.data?.toString(), '{"x":[1,2]}');
    assert.equal(j.datacontenttype, "application/json");
    assert.deepEqual(j.extensions, { level: 3, flag: true });
    const b = event(decodeCloudEvent(structured({ ...base, datacontenttype: "application/octet-stream", data_base64: Buffer.from([0, 255, 1]).toString("base64") })));
    assert.deepEqual(b.data, Buffer.from([0, 255, 1]));
    assert.equal(b.datacontenttype, "application/octet-stream");
  });

  test("invalid records: exact reasons", () => {
    const cases: [unknown, string, string][] = [
      ["{not json", "undecodable", "value is not valid JSON: "],
      ["[1,2]", "undecodable", "value is not a JSON object"],
      [{ ...base, specversion: undefined }, "invalid_cloudevent", "attribute specversion is missing"],
      [{ ...base, id: 7 }, "invalid_cloudevent", "attribute id must be a string"],
      [{ ...base, data: 1, data_base64: "AA==" }, "invalid_cloudevent", "attributes data and data_base64 are mutually exclusive"],
      [{ ...base, data_base64: "not base64!" }, "undecodable", "attribute data_base64 is not valid base64"],
      [{ ...base, nested: { a: 1 } }, "invalid_cloudevent", "attribute nested: extension values must be strings, numbers or booleans"],
    ];
    for (const [value, reason, text] of cases) {
      const [r, e] = error(decodeCloudEvent(structured(value)));
      assert.equal(r, reason);
      if (text.endsWith(": ")) assert.ok((e as string).startsWith(text), e as string);
      else assert.equal(e, text);
    }
  });

  test("neither binary nor structured: undecodable, saying what was found", () => {
    const r = decodeCloudEvent({ value: Buffer.from("x"), headers: toHeaderMap({ "content-type": "text/plain" }), timestamp: 0n });
    assert.deepEqual(error(r), ["undecodable", 'not a CloudEvent: no ce_specversion header (binary mode) and content-type is "text/plain", not application/cloudevents+json (structured mode)']);
  });
});

describe("RFC 3339 times", () => {
  // The rule itself (what a `time` may be, and why one is refused) is tested where it lives:
  // packages/contract/test/rfc3339.test.ts. Here: the processor's PostgreSQL-epoch entry point agrees with it.
  test("the byte parser of the fast way accepts exactly what parseRfc3339 accepts, with the same instant", () => {
    const PG_EPOCH_US = 946_684_800_000_000n;
    const seen = { accepted: 0, refused: 0, unsafe: 0 };
    const same = (text: string) => {
      const bytes = Buffer.from(`xx${text}yy`, "latin1"); // parsed in the middle of a buffer, as in a record
      const pgTime = emptyPgTime();
      const fast = pgTimeFromBytes(bytes, 2, 2 + Buffer.byteLength(text, "latin1"), pgTime);
      const ref = parseRfc3339(text);
      if (!ref.ok) {
        assert.equal(fast, false, `${JSON.stringify(text)} accepted by the byte parser only`);
        seen.refused++;
        return;
      }
      const pg = ref.micros - PG_EPOCH_US;
      if (pg > BigInt(Number.MAX_SAFE_INTEGER) || pg < BigInt(Number.MIN_SAFE_INTEGER)) {
        // Valid, but beyond a safe integer in microseconds: the fast way leaves it to the full way.
        assert.equal(fast, false, text);
        seen.unsafe++;
        return;
      }
      assert.equal(fast, true, `${JSON.stringify(text)} refused by the byte parser only`);
      assert.equal(BigInt(pgTime.pgMicros), pg, text);
      assert.equal(pgTime.minuteMs, ref.minuteMs, text);
      seen.accepted++;
    };
    const fixed = [
      "2025-01-01T00:00:00.1234564Z", "2025-01-01T00:00:00.1234565Z", "2025-01-01T00:00:00.999999999Z", "2025-01-01T00:00:00.9999995+01:30",
      "2025-01-01t00:00:01z", "2024-12-31T23:59:60Z", "2024-02-29T12:00:00-00:00", "2023-02-29T00:00:00Z", "0000-06-01T00:00:00Z",
      "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z", "1715-06-01T00:00:00Z", "2286-01-01T00:00:00Z", "2025-01-01T00:00:00.Z",
      "2025-01-01T00:00:00.1234567890Z", "2025-01-01T00:00:00+24:00", "2025-01-01T00:00:00+23:59", "2025-01-01T00:00:00+2359",
      "2025-01-01T00:00:00Zx", "2025-01-01T00:00:00", "2025-01-01 00:00:00Z", "2025-1-01T00:00:00Z", "２025-01-01T00:00:00Z",
      "2025-01-01T00:00:00.5-09:30", "2025-01-01T00:00:00z ", "-025-01-01T00:00:00Z", "+2025-01-01T00:00:00Z", "",
    ];
    for (const text of fixed) same(text);
    // Mutations of valid times: every character replaced by one of a set that includes the separators.
    const alphabet = "0123456789-:.TtZz+ \u00e9";
    for (let k = 0; k < 3_000; k++) {
      // Mostly 1970-2100, every fourth over the whole range 0001-9999 (where most are beyond a safe integer).
      const [lo, hi] = k % 4 === 0 ? [-62_135_596_800_000, 253_402_300_799_999] : [0, 4_102_444_800_000];
      const ms = Math.floor(lo + Math.random() * (hi - lo));
      let text = new Date(ms).toISOString();
      if (k % 3 === 1) text = text.replace("Z", k % 2 ? "+05:45" : "-11:00");
      if (k % 5 === 2) text = text.replace(/\.\d+/, `.${String(k).padEnd(1 + (k % 9), "7")}`);
      same(text);
      const i = k % text.length;
      same(text.slice(0, i) + (alphabet[k % alphabet.length] as string) + text.slice(i + 1));
    }
    assert.ok(seen.accepted > 2_000 && seen.refused > 300 && seen.unsafe > 100, JSON.stringify(seen));
  });
});
