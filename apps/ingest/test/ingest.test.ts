/**
 * POST /v1/events against the real local Kafka broker: what a 202 means (the records are on the topic, with the
 * binding's headers and key), and what every rejection means (the exact problem, and nothing on the topic).
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { murmur2 } from "@platformatic/kafka";
import type { FastifyInstance } from "fastify";
import { BATCH, STRUCTURED, createTopic, readTopic, recordCount, sampleEvent, servicesUp, testApp, uniqueTopic } from "./helpers.js";

before(servicesUp);

async function appFor(t: { after: (fn: () => Promise<void>) => void }, topic: string, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await testApp(topic, env);
  t.after(() => app.close());
  return app;
}

const post = (app: FastifyInstance, headers: Record<string, string>, payload: string | Buffer) =>
  app.inject({ method: "POST", url: "/v1/events", headers, payload });

describe("accepted events are on the topic, as the CloudEvents Kafka binding says", () => {
  test("structured mode: 202, then the record has the ce_ headers, content-type, key and exact data bytes", async (t) => {
    const topic = uniqueTopic("structured");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const raw = JSON.stringify(sampleEvent({ id: "s-1", subject: "order-42", tenant: "acme", retries: 3, data: undefined })).replace(/}$/, ',"data": {"n": 12345678901234567890, "f": 1.50}}');
    const res = await post(app, { ...STRUCTURED, "x-request-id": "req-structured-1" }, raw);
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), { accepted: 1 });
    assert.equal(res.headers["x-request-id"], "req-structured-1");

    const records = await readTopic(topic);
    assert.equal(records.length, 1);
    const [r] = records;
    assert.equal(r?.key, "order-42", "no partitionkey: the key is the subject");
    assert.equal(r?.value?.toString(), '{"n": 12345678901234567890, "f": 1.50}');
    assert.deepEqual(r?.headers, {
      ce_specversion: "1.0",
      ce_id: "s-1",
      ce_source: "/eventstack/tests",
      ce_type: "dev.eventstack.test.created",
      ce_subject: "order-42",
      ce_time: "2024-05-01T12:00:00Z",
      ce_tenant: "acme",
      ce_retries: "3",
      "content-type": "application/json",
      "x-request-id": "req-structured-1",
    });
  });

  test("batched mode: every event of the batch, each keyed by partitionkey, subject or source", async (t) => {
    const topic = uniqueTopic("batch");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const batch = [
      sampleEvent({ id: "b-0", partitionkey: "tenant-7", subject: "ignored-for-key" }),
      sampleEvent({ id: "b-1", subject: "order-1" }),
      sampleEvent({ id: "b-2", datacontenttype: "application/octet-stream", data: undefined, data_base64: "AAEC/w==" }),
      sampleEvent({ id: "b-3", data: undefined, datacontenttype: undefined }),
    ];
    const res = await post(app, BATCH, JSON.stringify(batch));
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), { accepted: 4 });

    const byId = new Map((await readTopic(topic)).map((r) => [r.headers.ce_id, r]));
    assert.equal(byId.size, 4);
    assert.equal(byId.get("b-0")?.key, "tenant-7");
    assert.equal(byId.get("b-0")?.headers.ce_partitionkey, "tenant-7", "the key mapper does not remove the attribute (binding §3.1)");
    assert.equal(byId.get("b-1")?.key, "order-1");
    assert.equal(byId.get("b-2")?.key, "/eventstack/tests");
    assert.deepEqual(byId.get("b-2")?.value, Buffer.from([0, 1, 2, 255]));
    assert.equal(byId.get("b-2")?.headers["content-type"], "application/octet-stream");
    // No data: a record without value (binding §3.2.2), and no content-type header.
    assert.ok(!byId.get("b-3")?.value?.length, "an event without data is a record without value");
    assert.equal(byId.get("b-3")?.headers["content-type"], undefined);
    // One request id for the whole batch: every record carries the request's.
    assert.equal(new Set([...byId.values()].map((r) => r.headers["x-request-id"])).size, 1);
  });

  test("binary mode: headers become ce_ headers, Content-Type becomes content-type, the body is the value", async (t) => {
    const topic = uniqueTopic("binary");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const res = await post(
      app,
      {
        "ce-specversion": "1.0",
        "ce-id": "bin-1",
        "ce-source": "/sensors/7",
        "ce-type": "dev.eventstack.reading",
        "ce-subject": "caf%C3%A9",
        "ce-time": "2024-05-01T12:00:00.5+02:00",
        "content-type": "text/csv; charset=utf-8",
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate: "vendor=x",
      },
      "a,b\n1,2\n",
    );
    assert.equal(res.statusCode, 202);
    const [r] = await readTopic(topic);
    assert.equal(r?.key, "café");
    assert.equal(r?.value?.toString(), "a,b\n1,2\n");
    assert.equal(r?.headers["content-type"], "text/csv; charset=utf-8");
    assert.equal(r?.headers.ce_subject, "café", "Kafka headers are UTF-8 strings, not percent-encoded");
    assert.equal(r?.headers.ce_time, "2024-05-01T12:00:00.5+02:00");
    assert.equal(r?.headers.ce_datacontenttype, undefined);
    // Tracing is off in this app: the caller's trace context is forwarded unchanged.
    assert.equal(r?.headers.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert.equal(r?.headers.tracestate, "vendor=x");
  });

  test("keys land on the partition Java clients choose: murmur2(key) & 0x7fffffff mod partitions", async (t) => {
    const topic = uniqueTopic("partitioner");
    await createTopic(topic, 3);
    const app = await appFor(t, topic);
    // Kafka's own UtilsTest vectors for murmur2 (Java's Utils.murmur2).
    const vectors: [string, number][] = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ];
    for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, `murmur2 of ${key}`);
    const res = await post(app, BATCH, JSON.stringify(vectors.map(([key]) => sampleEvent({ partitionkey: key }))));
    assert.equal(res.statusCode, 202);
    const records = await readTopic(topic);
    for (const [key, hash] of vectors) {
      const r = records.find((x) => x.key === key);
      assert.equal(r?.partition, (hash & 0x7fffffff) % 3, `partition of key ${key}`);
    }
  });

  test("concurrent requests are all written: 60 at once, 60 records with 60 distinct ids", async (t) => {
    // Regression test for platformatic/kafka#326 (concurrent idempotent sends acknowledged but dropped).
    const topic = uniqueTopic("concurrent");
    await createTopic(topic, 3);
    const app = await appFor(t, topic);
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => post(app, STRUCTURED, JSON.stringify(sampleEvent({ id: `c-${i}`, partitionkey: `k-${i % 4}` })))),
    );
    assert.deepEqual(new Set(responses.map((r) => r.statusCode)), new Set([202]));
    const records = await readTopic(topic);
    assert.equal(records.length, 60);
    assert.equal(new Set(records.map((r) => r.headers.ce_id)).size, 60);
    assert.equal(await recordCount(topic), 60, "exactly 60: nothing written twice");
  });

  test("several produce requests in flight: a burst of single and batch requests writes exactly the accepted events, each once", async (t) => {
    // One idempotent producer with up to 4 requests in flight, so concurrent requests to one partition must carry
    // distinct sequence numbers (platformatic/kafka#326). A small KAFKA_MAX_BATCH_BYTES splits the two large batches
    // into several produce requests; their parts must not overtake each other, so one key's events keep the batch's order.
    const topic = uniqueTopic("in-flight");
    await createTopic(topic, 3);
    const app = await appFor(t, topic, { KAFKA_PRODUCERS: "4", KAFKA_MAX_BATCH_BYTES: "65536", MAX_EVENT_DATA_BYTES: "60000" });
    const singles = Array.from({ length: 40 }, (_, i) => post(app, STRUCTURED, JSON.stringify(sampleEvent({ id: `s-${i}`, partitionkey: `k-${i % 4}` }))));
    const smallBatches = Array.from({ length: 8 }, (_, b) =>
      post(app, BATCH, JSON.stringify(Array.from({ length: 10 }, (_, i) => sampleEvent({ id: `b-${b}-${i}`, subject: `order-${i}` })))),
    );
    const bigBatches = Array.from({ length: 2 }, (_, b) =>
      post(app, BATCH, JSON.stringify(Array.from({ length: 20 }, (_, i) => sampleEvent({ id: `o-${b}-${i}`, partitionkey: `ordered-${b}`, data: "x".repeat(8000) })))),
    );
    const responses = await Promise.all([...singles, ...smallBatches, ...bigBatches]);
    assert.deepEqual(
      responses.map((r) => [r.statusCode, r.body]),
      [...singles.map(() => [202, '{"accepted":1}']), ...smallBatches.map(() => [202, '{"accepted":10}']), ...bigBatches.map(() => [202, '{"accepted":20}'])],
    );

    const records = await readTopic(topic);
    const expected = [
      ...Array.from({ length: 40 }, (_, i) => `s-${i}`),
      ...Array.from({ length: 80 }, (_, n) => `b-${Math.floor(n / 10)}-${n % 10}`),
      ...Array.from({ length: 40 }, (_, n) => `o-${Math.floor(n / 20)}-${n % 20}`),
    ].sort();
    assert.deepEqual(records.map((r) => r.headers.ce_id).sort(), expected);
    assert.equal(await recordCount(topic), 160, "exactly 160: nothing written twice");
    for (const b of [0, 1]) {
      const ordered = records.filter((r) => r.key === `ordered-${b}`).map((r) => r.headers.ce_id);
      assert.deepEqual(ordered, Array.from({ length: 20 }, (_, i) => `o-${b}-${i}`), `batch ${b} in order on its partition`);
    }
  });

  test("an empty batch is accepted with 0 and writes nothing", async (t) => {
    const topic = uniqueTopic("empty");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const res = await post(app, BATCH, "[]");
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), { accepted: 0 });
    assert.equal(await recordCount(topic), 0);
  });
});

describe("what the processor could not store is refused: 400 naming the attribute, nothing on the topic", () => {
  // Each of these was once answered 202 and then dead-lettered by the processor (PostgreSQL index keys are bounded,
  // its timestamptz has no year 0 and keeps at most nanoseconds of a time): the event contract now refuses them.
  const cases: { name: string; overrides: Record<string, string>; attribute: string; detail: string }[] = [
    { name: "an id of 1026 bytes (342 three-byte characters)", overrides: { id: "€".repeat(342) }, attribute: "id", detail: "id must be at most 1024 bytes of UTF-8, got 1026" },
    { name: "a source of 1025 bytes", overrides: { source: `/${"s".repeat(1024)}` }, attribute: "source", detail: "source must be at most 1024 bytes of UTF-8, got 1025" },
    { name: "a type of 1025 bytes", overrides: { type: "t".repeat(1025) }, attribute: "type", detail: "type must be at most 1024 bytes of UTF-8, got 1025" },
    { name: "a subject of 1026 bytes (513 two-byte characters)", overrides: { subject: "é".repeat(513) }, attribute: "subject", detail: "subject must be at most 1024 bytes of UTF-8, got 1026" },
    {
      name: "a time with 10 fractional digits",
      overrides: { time: "2025-01-01T00:00:00.1234567890Z" },
      attribute: "time",
      detail: 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (the fraction of a second has 10 digits, at most 9 are allowed), got "2025-01-01T00:00:00.1234567890Z"',
    },
    {
      name: "a time in year 0000",
      overrides: { time: "0000-12-31T23:59:59Z" },
      attribute: "time",
      detail: 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (year 0000 is out of range 0001-9999), got "0000-12-31T23:59:59Z"',
    },
  ];

  async function expectRefused(app: FastifyInstance, headers: Record<string, string>, payload: string, detail: string, errors: unknown[]) {
    const res = await post(app, { ...headers, "x-request-id": "req-contract" }, payload);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8");
    assert.deepEqual(res.json(), {
      type: "urn:eventstack:problem:invalid-events",
      title: "Invalid CloudEvents",
      status: 400,
      detail,
      instance: "/v1/events",
      code: "INGEST_INVALID_EVENTS",
      requestId: "req-contract",
      errors,
    });
  }

  for (const c of cases) {
    test(`${c.name}: structured and binary mode`, async (t) => {
      const topic = uniqueTopic("contract");
      await createTopic(topic);
      const app = await appFor(t, topic);
      const errors = [{ index: 0, attribute: c.attribute, detail: c.detail }];
      await expectRefused(app, STRUCTURED, JSON.stringify(sampleEvent(c.overrides)), "the event is invalid; nothing was produced", errors);
      const binary: Record<string, string> = { "ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/s", "ce-type": "t", "content-type": "application/json" };
      for (const [k, v] of Object.entries(c.overrides)) binary[`ce-${k}`] = encodeURIComponent(v);
      await expectRefused(app, binary, "{}", "the event is invalid; nothing was produced", errors);
      assert.equal(await recordCount(topic), 0, "nothing was produced");
    });
  }

  test("in a batch, every such event is named by its index, and the valid ones are not produced either", async (t) => {
    const topic = uniqueTopic("contract-batch");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const batch = [sampleEvent(), ...cases.map((c) => sampleEvent(c.overrides))];
    const errors = cases.map((c, i) => ({ index: i + 1, attribute: c.attribute, detail: c.detail }));
    await expectRefused(app, BATCH, JSON.stringify(batch), `${cases.length} of ${batch.length} events are invalid; nothing was produced`, errors);
    assert.equal(await recordCount(topic), 0, "nothing was produced");
  });

  test("at the limits: 1024 bytes per key attribute, 9 fractional digits, years 0001 and 9999, a leap second: 202 and on the topic", async (t) => {
    const topic = uniqueTopic("contract-edges");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const edges = [
      sampleEvent({ id: `${"€".repeat(341)}a`, source: `/${"s".repeat(1023)}`, type: "t".repeat(1024), subject: "é".repeat(512) }),
      sampleEvent({ time: "2025-01-01T00:00:00.123456789Z" }),
      sampleEvent({ time: "0001-01-01T00:00:00+23:59" }),
      sampleEvent({ time: "9999-12-31T23:59:60.999999999-23:59" }),
    ];
    const res = await post(app, BATCH, JSON.stringify(edges));
    assert.equal(res.statusCode, 202, res.body);
    const records = await readTopic(topic);
    assert.deepEqual(records.map((r) => r.headers.ce_id).sort(), edges.map((e) => e.id as string).sort());
  });
});

describe("rejected requests: the exact problem, and nothing on the topic", () => {
  const invalidEvent = sampleEvent({ id: "", time: "2024-13-01T00:00:00Z" });
  const cases: {
    name: string;
    headers: Record<string, string>;
    payload: string | Buffer;
    env?: Record<string, string>;
    status: number;
    code: string;
    detail: string;
    errors?: unknown[];
  }[] = [
    {
      name: "one invalid event in a batch of three rejects all three",
      headers: BATCH,
      payload: JSON.stringify([sampleEvent(), invalidEvent, sampleEvent()]),
      status: 400,
      code: "INGEST_INVALID_EVENTS",
      detail: "1 of 3 events is invalid; nothing was produced",
      errors: [
        { index: 1, attribute: "id", detail: "id must not be empty" },
        { index: 1, attribute: "time", detail: 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (month 13 does not exist), got "2024-13-01T00:00:00Z"' },
      ],
    },
    {
      name: "an invalid structured event",
      headers: STRUCTURED,
      payload: JSON.stringify(sampleEvent({ specversion: "0.3", source: undefined })),
      status: 400,
      code: "INGEST_INVALID_EVENTS",
      detail: "the event is invalid; nothing was produced",
      errors: [
        { index: 0, attribute: "specversion", detail: 'specversion must be "1.0", got "0.3"' },
        { index: 0, attribute: "source", detail: "source is required" },
      ],
    },
    {
      name: "an invalid binary event",
      headers: { "ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s", "content-type": "text/plain" },
      payload: "hi",
      status: 400,
      code: "INGEST_INVALID_EVENTS",
      detail: "the event is invalid; nothing was produced",
      errors: [{ index: 0, attribute: "type", detail: "type is required" }],
    },
    {
      name: "malformed JSON",
      headers: STRUCTURED,
      payload: '{"specversion": "1.0",',
      status: 400,
      code: "INGEST_MALFORMED_BODY",
      detail: "the body is not valid JSON",
      errors: [{ index: null, attribute: null, detail: "the body is not valid JSON" }],
    },
    {
      name: "a body over MAX_BODY_BYTES",
      headers: BATCH,
      payload: JSON.stringify([sampleEvent({ data: "x".repeat(3000) })]),
      env: { MAX_BODY_BYTES: "2048" },
      status: 413,
      code: "INGEST_BODY_TOO_LARGE",
      detail: "the body is larger than the 2048 bytes allowed",
    },
    {
      name: "a batch over MAX_BATCH_EVENTS",
      headers: BATCH,
      payload: JSON.stringify([sampleEvent(), sampleEvent(), sampleEvent()]),
      env: { MAX_BATCH_EVENTS: "2" },
      status: 413,
      code: "INGEST_BATCH_TOO_LARGE",
      detail: "the batch holds 3 events, more than the 2 allowed",
      errors: [{ index: null, attribute: null, detail: "the batch holds 3 events, more than the 2 allowed" }],
    },
    {
      name: "an event whose data is over MAX_EVENT_DATA_BYTES",
      headers: BATCH,
      payload: JSON.stringify([sampleEvent(), sampleEvent({ data: "x".repeat(100) })]),
      env: { MAX_EVENT_DATA_BYTES: "64" },
      status: 413,
      code: "INGEST_EVENT_TOO_LARGE",
      detail: "1 of 2 events is too large; nothing was produced",
      errors: [{ index: 1, attribute: "data", detail: "data is 102 bytes, more than the 64 allowed per event" }],
    },
    {
      name: "an event whose attributes make its record larger than KAFKA_MAX_BATCH_BYTES",
      headers: STRUCTURED,
      payload: JSON.stringify(sampleEvent({ id: "big", bigext: "y".repeat(70_000) })),
      env: { KAFKA_MAX_BATCH_BYTES: "65536", MAX_EVENT_DATA_BYTES: "1024" },
      status: 413,
      code: "INGEST_EVENT_TOO_LARGE",
      detail: "the event is too large; nothing was produced",
      errors: [{ index: 0, attribute: null, detail: "the event's Kafka record would be 70321 bytes, more than the 65536 allowed (KAFKA_MAX_BATCH_BYTES)" }],
    },
    {
      name: "plain JSON that is not a CloudEvent",
      headers: { "content-type": "application/json" },
      payload: "{}",
      status: 415,
      code: "INGEST_UNSUPPORTED_MEDIA_TYPE",
      detail: 'Content-Type "application/json" and no ce-specversion header: send application/cloudevents+json, application/cloudevents-batch+json, or a binary-mode event with ce-* headers',
    },
  ];

  for (const c of cases) {
    test(`${c.status} ${c.code}: ${c.name}`, async (t) => {
      const topic = uniqueTopic("reject");
      await createTopic(topic);
      const app = await appFor(t, topic, c.env);
      const res = await post(app, { ...c.headers, "x-request-id": "req-reject" }, c.payload);
      assert.equal(res.statusCode, c.status);
      assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8");
      const problem = res.json() as Record<string, unknown>;
      const expected: Record<string, unknown> = {
        type: `urn:eventstack:problem:${c.code.replace("INGEST_", "").toLowerCase().replace(/_/g, "-")}`,
        title: problem.title,
        status: c.status,
        detail: c.detail,
        instance: "/v1/events",
        code: c.code,
        requestId: "req-reject",
      };
      if (c.errors) expected.errors = c.errors;
      assert.deepEqual(problem, expected);
      assert.equal(typeof problem.title, "string");
      assert.equal(await recordCount(topic), 0, "nothing was produced");
    });
  }

  test("titles of problem types are stable", async (t) => {
    const topic = uniqueTopic("titles");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const invalid = await post(app, STRUCTURED, "{}");
    assert.equal(invalid.json().title, "Invalid CloudEvents");
    const unsupported = await post(app, { "content-type": "text/plain" }, "x");
    assert.equal(unsupported.json().title, "Unsupported media type");
    const notFound = await app.inject({ method: "GET", url: "/v1/nope?x=1" });
    assert.equal(notFound.statusCode, 404);
    assert.deepEqual(notFound.json(), {
      type: "urn:eventstack:problem:not-found",
      title: "Not found",
      status: 404,
      detail: "no route for GET /v1/nope",
      instance: "/v1/nope?x=1",
      code: "INGEST_NOT_FOUND",
      requestId: notFound.headers["x-request-id"],
    });
  });
});
