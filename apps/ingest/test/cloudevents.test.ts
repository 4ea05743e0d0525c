/**
 * Validation and decoding of CloudEvents in the three HTTP content modes, without Kafka: every rule of the spec
 * we enforce, with the exact problem the client receives. The HTTP tests (ingest.test.ts) check the same
 * problems end to end and that nothing reaches Kafka.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeHeaderValue, parseRequest, type ParseResult } from "../src/http-binding.js";
import { batchDataSpans, structuredDataSpan } from "../src/json-spans.js";
import { keyOf, toKafkaRecord } from "../src/kafka-record.js";

const LIMITS = { maxBatchEvents: 3, maxEventDataBytes: 16 };
const STRUCTURED = { "content-type": "application/cloudevents+json" };
const BATCH = { "content-type": "application/cloudevents-batch+json" };
const VALID = { specversion: "1.0", id: "e1", source: "/s", type: "t" };

const body = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));

function rejected(result: ParseResult) {
  assert.equal(result.ok, false, "expected a rejection");
  if (result.ok) throw new Error("unreachable");
  return result;
}

function accepted(result: ParseResult) {
  if (!result.ok) assert.fail(`expected the events to be accepted, got ${result.status}: ${JSON.stringify(result.errors)}`);
  return result.events;
}

/** The single problem of a structured-mode event with `overrides`. */
function problemsOf(overrides: Record<string, unknown>) {
  const r = rejected(parseRequest(STRUCTURED, body({ ...VALID, ...overrides }), LIMITS));
  return r.errors;
}

describe("structured mode: each attribute rule, with the exact problem", () => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    ["specversion missing", { specversion: undefined }, "specversion", "specversion is required"],
    ["specversion null", { specversion: null }, "specversion", "specversion is required"],
    ["specversion 0.3", { specversion: "0.3" }, "specversion", 'specversion must be "1.0", got "0.3"'],
    ["specversion a number", { specversion: 1 }, "specversion", "specversion must be a string, got number"],
    ["id empty", { id: "" }, "id", "id must not be empty"],
    ["id a number", { id: 7 }, "id", "id must be a string, got number"],
    ["id with a control character", { id: "a\u0007b" }, "id", "id must not contain control characters, lone surrogates or non-characters"],
    ["id with a lone surrogate", { id: "a\ud800" }, "id", "id must not contain control characters, lone surrogates or non-characters"],
    ["source missing", { source: undefined }, "source", "source is required"],
    ["source with a space", { source: "not a uri" }, "source", 'source must be a URI-reference (RFC 3986), got "not a uri"'],
    ["source with a bad percent-encoding", { source: "/a%zz" }, "source", 'source must be a URI-reference (RFC 3986), got "/a%zz"'],
    ["type missing", { type: undefined }, "type", "type is required"],
    ["type an object", { type: {} }, "type", "type must be a string, got object"],
    ["time not a timestamp", { time: "yesterday" }, "time", 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM), got "yesterday"'],
    ["time without offset", { time: "2024-05-01T12:00:00" }, "time", 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM), got "2024-05-01T12:00:00"'],
    ["time on 30 February", { time: "2024-02-30T12:00:00Z" }, "time", 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (day 30 does not exist in 2024-02), got "2024-02-30T12:00:00Z"'],
    ["datacontenttype not a media type", { datacontenttype: "json" }, "datacontenttype", 'datacontenttype must be a media type such as application/json (RFC 2046), got "json"'],
    ["dataschema relative", { dataschema: "schema.json" }, "dataschema", 'dataschema must be an absolute URI (RFC 3986), got "schema.json"'],
    ["subject empty", { subject: "" }, "subject", "subject must not be empty"],
    ["extension name with upper case", { myExt: "v" }, "myExt", 'attribute names must be 1-20 lower-case letters (a-z) or digits (0-9), got "myExt"'],
    ["extension name with underscore", { my_ext: "v" }, "my_ext", 'attribute names must be 1-20 lower-case letters (a-z) or digits (0-9), got "my_ext"'],
    ["extension name of 21 characters", { abcdefghijklmnopqrstu: "v" }, "abcdefghijklmnopqrstu", 'attribute names must be 1-20 lower-case letters (a-z) or digits (0-9), got "abcdefghijklmnopqrstu"'],
    ["extension value an object", { myext: { a: 1 } }, "myext", "myext must be a string, an integer or a boolean, got object"],
    ["extension value an array", { myext: [1] }, "myext", "myext must be a string, an integer or a boolean, got array"],
    ["extension value a fraction", { myext: 1.5 }, "myext", "myext must be an integer from -2147483648 to 2147483647, got 1.5"],
    ["extension value beyond int32", { myext: 2147483648 }, "myext", "myext must be an integer from -2147483648 to 2147483647, got 2147483648"],
    ["partitionkey empty", { partitionkey: "" }, "partitionkey", "partitionkey must not be empty"],
    ["partitionkey a number", { partitionkey: 5 }, "partitionkey", "partitionkey must be a string, got number"],
    ["data and data_base64", { data: 1, data_base64: "AA==" }, "data", "data and data_base64 are mutually exclusive"],
    ["data_base64 not base64", { data_base64: "***" }, "data_base64", "data_base64 must be base64 (RFC 4648 §4, with padding)"],
    ["data_base64 a number", { data_base64: 5 }, "data_base64", "data_base64 must be a string, got number"],
    [
      "non-string data with a non-JSON content type",
      { datacontenttype: "text/plain", data: { a: 1 } },
      "data",
      "data must be a string when datacontenttype (text/plain) is not JSON; send binary data as data_base64",
    ],
  ];
  for (const [name, overrides, attribute, detail] of cases) {
    test(name, () => {
      assert.deepEqual(problemsOf(overrides), [{ index: 0, attribute, detail }]);
    });
  }

  test("a structured event that is an array points at the batch media type", () => {
    const r = rejected(parseRequest(STRUCTURED, body([VALID]), LIMITS));
    assert.equal(r.status, 400);
    assert.equal(r.code, "INGEST_INVALID_EVENTS");
    assert.equal(r.detail, "the event is invalid; nothing was produced");
    assert.deepEqual(r.errors, [
      { index: 0, attribute: null, detail: "the body must be a JSON object (a CloudEvent), got array; send batches as application/cloudevents-batch+json" },
    ]);
  });

  test("several problems of one event are all reported, in attribute order", () => {
    assert.deepEqual(problemsOf({ specversion: "2.0", id: "", time: "x", BAD: 1 }), [
      { index: 0, attribute: "specversion", detail: 'specversion must be "1.0", got "2.0"' },
      { index: 0, attribute: "id", detail: "id must not be empty" },
      { index: 0, attribute: "time", detail: 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM), got "x"' },
      { index: 0, attribute: "BAD", detail: 'attribute names must be 1-20 lower-case letters (a-z) or digits (0-9), got "BAD"' },
    ]);
  });

  test("null optional attributes and null extensions count as absent (JSON format §2.2)", () => {
    const [event] = accepted(parseRequest(STRUCTURED, body({ ...VALID, subject: null, time: null, myext: null }), LIMITS));
    assert.equal(event?.subject, undefined);
    assert.equal(event?.time, undefined);
    assert.equal(event?.extensions.has("myext"), false);
  });

  test("valid edge values are accepted: leap second, offsets, fractions, empty extension string, int32 bounds", () => {
    const events = accepted(
      parseRequest(
        STRUCTURED,
        body({ ...VALID, time: "2016-12-31T23:59:60.123456+05:30", dataschema: "urn:x:y", myext: "", min: -2147483648, max: 2147483647, flag: false }),
        LIMITS,
      ),
    );
    assert.deepEqual([...(events[0]?.extensions ?? [])], [["myext", ""], ["min", -2147483648], ["max", 2147483647], ["flag", false]]);
  });
});

describe("structured mode: data", () => {
  test("JSON data goes to Kafka as the exact bytes sent: big integers and formatting survive", () => {
    const raw = '{"specversion":"1.0","id":"e1","source":"/s","type":"t","data": {"n": 12345678901234567890, "f": 1.50} }';
    const [event] = accepted(parseRequest(STRUCTURED, Buffer.from(raw), { ...LIMITS, maxEventDataBytes: 1024 }));
    assert.equal(event?.data?.toString(), '{"n": 12345678901234567890, "f": 1.50}');
    assert.equal(event?.datacontenttype, "application/json", "the implied JSON content type is made explicit (JSON format §3.1.2)");
  });

  test("a JSON string as data stays a JSON string; a null data is the JSON null", () => {
    const [a] = accepted(parseRequest(STRUCTURED, body({ ...VALID, data: "hi" }), LIMITS));
    assert.equal(a?.data?.toString(), '"hi"');
    const [b] = accepted(parseRequest(STRUCTURED, body({ ...VALID, data: null }), LIMITS));
    assert.equal(b?.data?.toString(), "null");
  });

  test("text data with a non-JSON content type is the string's UTF-8 bytes", () => {
    const [event] = accepted(parseRequest(STRUCTURED, body({ ...VALID, datacontenttype: "text/plain; charset=utf-8", data: "héllo\n" }), LIMITS));
    assert.deepEqual(event?.data, Buffer.from("héllo\n", "utf8"));
  });

  test("data_base64 is decoded to bytes", () => {
    const [event] = accepted(parseRequest(STRUCTURED, body({ ...VALID, datacontenttype: "application/octet-stream", data_base64: "AAEC/w==" }), LIMITS));
    assert.deepEqual(event?.data, Buffer.from([0, 1, 2, 255]));
  });

  test("an event without data has no data and no implied content type", () => {
    const [event] = accepted(parseRequest(STRUCTURED, body(VALID), LIMITS));
    assert.equal(event?.data, undefined);
    assert.equal(event?.datacontenttype, undefined);
  });

  test("data over MAX_EVENT_DATA_BYTES is 413 with the sizes", () => {
    const r = rejected(parseRequest(STRUCTURED, body({ ...VALID, data: "x".repeat(20) }), LIMITS));
    assert.equal(r.status, 413);
    assert.equal(r.code, "INGEST_EVENT_TOO_LARGE");
    assert.equal(r.detail, "the event is too large; nothing was produced");
    assert.deepEqual(r.errors, [{ index: 0, attribute: "data", detail: "data is 22 bytes, more than the 16 allowed per event" }]);
  });
});

describe("body-level problems", () => {
  const cases: [string, Record<string, string>, Buffer | undefined, number, string, string][] = [
    ["empty structured body", STRUCTURED, undefined, 400, "INGEST_MALFORMED_BODY", "the body is empty; expected JSON"],
    ["invalid JSON", STRUCTURED, Buffer.from("{nope"), 400, "INGEST_MALFORMED_BODY", "the body is not valid JSON"],
    ["invalid UTF-8", STRUCTURED, Buffer.from([0x7b, 0xff, 0x7d]), 400, "INGEST_MALFORMED_BODY", "the body is not valid UTF-8"],
    ["a batch that is an object", BATCH, body(VALID), 400, "INGEST_MALFORMED_BODY", "the body must be a JSON array of CloudEvents, got object"],
    ["a batch over MAX_BATCH_EVENTS", BATCH, body([VALID, VALID, VALID, VALID]), 413, "INGEST_BATCH_TOO_LARGE", "the batch holds 4 events, more than the 3 allowed"],
  ];
  for (const [name, headers, payload, status, code, detail] of cases) {
    test(name, () => {
      const r = rejected(parseRequest(headers, payload, LIMITS));
      assert.equal(r.status, status);
      assert.equal(r.code, code);
      assert.equal(r.detail, detail);
      assert.deepEqual(r.errors, [{ index: null, attribute: null, detail }]);
    });
  }

  const unsupported: [string, Record<string, string>, string][] = [
    ["plain JSON without ce- headers", { "content-type": "application/json" }, 'Content-Type "application/json" and no ce-specversion header: send application/cloudevents+json, application/cloudevents-batch+json, or a binary-mode event with ce-* headers'],
    ["no Content-Type at all", {}, "no Content-Type and no ce-specversion header: send application/cloudevents+json, application/cloudevents-batch+json, or a binary-mode event with ce-* headers"],
    ["another event format", { "content-type": "application/cloudevents+avro" }, 'event format "application/cloudevents+avro" is not supported; use application/cloudevents+json or application/cloudevents-batch+json'],
    ["JSON in latin1", { "content-type": "application/cloudevents+json; charset=ISO-8859-1" }, 'charset "iso-8859-1" is not supported; CloudEvents JSON is UTF-8'],
  ];
  for (const [name, headers, detail] of unsupported) {
    test(`415: ${name}`, () => {
      const r = rejected(parseRequest(headers, body(VALID), LIMITS));
      assert.equal(r.status, 415);
      assert.equal(r.code, "INGEST_UNSUPPORTED_MEDIA_TYPE");
      assert.equal(r.detail, detail);
      assert.equal(r.errors, undefined);
    });
  }
});

describe("batched mode", () => {
  test("every invalid event is listed with its index; valid ones do not hide them", () => {
    const r = rejected(parseRequest(BATCH, body([VALID, { ...VALID, id: 1 }, "x"]), LIMITS));
    assert.equal(r.status, 400);
    assert.equal(r.detail, "2 of 3 events are invalid; nothing was produced");
    assert.deepEqual(r.errors, [
      { index: 1, attribute: "id", detail: "id must be a string, got number" },
      { index: 2, attribute: null, detail: "each batch element must be a JSON object (a CloudEvent), got string" },
    ]);
  });

  test("size problems mixed with other problems are 400 listing both", () => {
    const r = rejected(parseRequest(BATCH, body([{ ...VALID, data: "x".repeat(20) }, { ...VALID, type: "" }]), LIMITS));
    assert.equal(r.status, 400);
    assert.deepEqual(r.errors, [
      { index: 0, attribute: "data", detail: "data is 22 bytes, more than the 16 allowed per event" },
      { index: 1, attribute: "type", detail: "type must not be empty" },
    ]);
  });

  test("each element keeps its own raw data", () => {
    const raw = '[{"specversion":"1.0","id":"a","source":"/s","type":"t","data":[1, 2.0]},{"data":"\\u0022q","specversion":"1.0","id":"b","source":"/s","type":"t"}]';
    const events = accepted(parseRequest(BATCH, Buffer.from(raw), LIMITS));
    assert.deepEqual(events.map((e) => e.data?.toString()), ["[1, 2.0]", '"\\u0022q"']);
  });

  test("an empty batch is valid (JSON batch format §4.3) and holds no events", () => {
    assert.deepEqual(accepted(parseRequest(BATCH, body([]), LIMITS)), []);
  });
});

describe("binary mode", () => {
  const headers = (extra: Record<string, string>) => ({ "ce-specversion": "1.0", "ce-id": "b1", "ce-source": "/s", "ce-type": "t", ...extra });

  test("headers are attributes, Content-Type is datacontenttype, the body is data", () => {
    const [event] = accepted(parseRequest(headers({ "content-type": "application/xml", "ce-subject": "order-1", "ce-tenant": "acme" }), Buffer.from("<a/>"), LIMITS));
    assert.equal(event?.datacontenttype, "application/xml");
    assert.equal(event?.subject, "order-1");
    assert.deepEqual([...(event?.extensions ?? [])], [["tenant", "acme"]]);
    assert.equal(event?.data?.toString(), "<a/>");
  });

  test("values are percent-decoded and quoted strings unquoted (HTTP binding §3.1.3.2)", () => {
    const [event] = accepted(parseRequest(headers({ "ce-subject": "Euro%20%E2%82%AC%20%F0%9F%98%80", "ce-tenant": '"a b"' }), undefined, LIMITS));
    assert.equal(event?.subject, "Euro € 😀");
    assert.equal(event?.extensions.get("tenant"), "a b");
    assert.equal(event?.data, undefined, "an empty body is an event without data");
  });

  test("an overlong UTF-8 encoding is rejected", () => {
    const r = rejected(parseRequest(headers({ "ce-subject": "%C0%A0" }), undefined, LIMITS));
    assert.deepEqual(r.errors, [{ index: 0, attribute: "subject", detail: "the ce-subject header is not valid percent-encoded UTF-8" }]);
  });

  test("ce-datacontenttype must not be sent, and binary attributes are validated like JSON ones", () => {
    const r = rejected(parseRequest(headers({ "ce-datacontenttype": "text/plain", "ce-time": "now", "ce-bad_name": "x" }), undefined, LIMITS));
    assert.equal(r.status, 400);
    assert.deepEqual(r.errors, [
      { index: 0, attribute: "datacontenttype", detail: "the ce-datacontenttype header must not be sent in binary mode; Content-Type carries datacontenttype" },
      { index: 0, attribute: "time", detail: 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM), got "now"' },
      { index: 0, attribute: "bad_name", detail: 'attribute names must be 1-20 lower-case letters (a-z) or digits (0-9), got "bad_name"' },
    ]);
  });

  test("a missing required attribute and an oversized body", () => {
    const r = rejected(parseRequest({ "ce-specversion": "1.0", "ce-id": "b1", "ce-type": "t", "content-type": "text/plain" }, Buffer.alloc(17), LIMITS));
    assert.equal(r.status, 400);
    assert.deepEqual(r.errors, [
      { index: 0, attribute: "source", detail: "source is required" },
      { index: 0, attribute: "data", detail: "data is 17 bytes, more than the 16 allowed per event" },
    ]);
  });

  test("decodeHeaderValue accepts lower-case hex and rejects a truncated escape", () => {
    assert.equal(decodeHeaderValue("a%2fb"), "a/b");
    assert.equal(decodeHeaderValue("a%2"), undefined);
  });
});

describe("Kafka record mapping (binding §3.2)", () => {
  test("key: partitionkey, else subject, else source", () => {
    const [event] = accepted(parseRequest(STRUCTURED, body({ ...VALID, subject: "sub" }), LIMITS));
    assert.ok(event);
    assert.equal(keyOf(event), "sub");
    event.extensions.set("partitionkey", "pk");
    assert.equal(keyOf(event), "pk");
    event.extensions.delete("partitionkey");
    event.subject = undefined;
    assert.equal(keyOf(event), "/s");
  });

  test("headers: ce_ attributes in canonical string form, content-type, transport headers; no ce_datacontenttype", () => {
    const [event] = accepted(parseRequest(STRUCTURED, body({ ...VALID, time: "2024-05-01T12:00:00Z", count: 3, flag: true, data: {} }), LIMITS));
    assert.ok(event);
    const record = toKafkaRecord(event, { requestId: "r1", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: undefined });
    assert.deepEqual(Object.fromEntries(record.headers), {
      ce_specversion: "1.0",
      ce_id: "e1",
      ce_source: "/s",
      ce_type: "t",
      ce_time: "2024-05-01T12:00:00Z",
      ce_count: "3",
      ce_flag: "true",
      "content-type": "application/json",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "x-request-id": "r1",
    });
    assert.equal(record.value?.toString(), "{}");
    assert.equal(record.key.toString(), "/s");
  });
});

describe("helpers", () => {
  test("json-spans returns what JSON.parse sees, for many generated documents", () => {
    // A deterministic generator (no dependency): nested values with escapes, unicode and numbers.
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const leaf = () => [() => rand(1000) - 500, () => rand(1000) / 7, () => `s"\\${"é😀{}[],:".slice(0, rand(10))}`, () => true, () => null][rand(5)]!();
    const value = (depth: number): unknown => {
      if (depth === 0 || rand(3) === 0) return leaf();
      if (rand(2) === 0) return Array.from({ length: rand(4) }, () => value(depth - 1));
      return Object.fromEntries(Array.from({ length: rand(4) }, (_, i) => [`k${i}"}`, value(depth - 1)]));
    };
    for (let i = 0; i < 300; i++) {
      const events = Array.from({ length: rand(4) }, () => {
        const e: Record<string, unknown> = { before: value(2) };
        if (rand(4) > 0) e.data = value(4);
        e.after = value(2);
        return e;
      });
      const text = rand(2) === 0 ? JSON.stringify(events) : JSON.stringify(events, null, 2);
      const spans = batchDataSpans(Buffer.from(text));
      assert.equal(spans.length, events.length);
      events.forEach((e, j) => {
        const span = spans[j];
        if (!("data" in e)) assert.equal(span, undefined);
        else assert.deepEqual(JSON.parse(span?.toString() ?? "undefined"), e.data);
      });
      const first = events[0];
      if (first) {
        const single = structuredDataSpan(Buffer.from(JSON.stringify(first)));
        assert.deepEqual(single === undefined ? undefined : JSON.parse(single.toString()), first.data);
      }
    }
  });

  test("json-spans: a duplicate data member resolves to the last, like JSON.parse; an escaped key still counts", () => {
    assert.equal(structuredDataSpan(Buffer.from('{"data":1,"data":[2]}'))?.toString(), "[2]");
    assert.equal(structuredDataSpan(Buffer.from('{"\\u0064ata":"x"}'))?.toString(), '"x"');
  });
});
