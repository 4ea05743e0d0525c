// In-process service against real Kafka, PostgreSQL and Redis: duplicates and replays are counted once,
// the read API answers exact totals from Redis and from PostgreSQL, bad parameters get exact 400s, and the
// trace context of each record is continued.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { startService, type Service } from "../src/service.js";
import {
  binaryRecord,
  createTestEnv,
  expectedByType,
  produce,
  query,
  quietLog,
  redis,
  sampleEvents,
  servicesUp,
  totals,
  waitFor,
  type TestEnv,
} from "./helpers.js";

const spans = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });

let t: TestEnv;
let service: Service;

before(async () => {
  await servicesUp();
  trace.setGlobalTracerProvider(provider);
  t = await createTestEnv("exactly_once");
  service = await startService(t.config, quietLog, { listen: false });
});

after(async () => {
  await service?.stop();
  await t?.cleanup();
  await provider.shutdown();
  trace.disable();
});

const get = (url: string) => service.app.inject({ method: "GET", url });

describe("exactly-once effect", () => {
  const events = sampleEvents(600, { prefix: "eo" });

  test("every event stored once although each was produced twice, and a replay changes nothing", async () => {
    // Each event twice in the same produce call: duplicates inside one batch and across batches.
    const records = events.flatMap((e) => [binaryRecord(t.config.kafka.eventsTopic, e), binaryRecord(t.config.kafka.eventsTopic, e)]);
    await produce(t.config, records);
    await waitFor("1200 records processed", async () => {
      const m = await service.metrics.events.get();
      const sum = m.values.reduce((a, v) => a + v.value, 0);
      return sum >= 1200 || undefined;
    });
    assert.deepEqual(await totals(t.database), { events: 600, rollup: 600 });

    // A full replay of the same 600 events (a producer retrying, a topic re-ingested).
    await produce(t.config, events.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
    await waitFor("1800 records processed", async () => {
      const m = await service.metrics.events.get();
      return m.values.reduce((a, v) => a + v.value, 0) >= 1800 || undefined;
    });
    assert.deepEqual(await totals(t.database), { events: 600, rollup: 600 });

    const metric = await service.metrics.events.get();
    const byOutcome = Object.fromEntries(metric.values.map((v) => [v.labels.outcome, v.value]));
    assert.equal(byOutcome.stored, 600);
    assert.equal(byOutcome.duplicate, 1200);
    // The new events went by COPY; the replay's first COPY met stored events, rolled back, and went by merge.
    const byPath = Object.fromEntries((await service.metrics.storeWrites.get()).values.map((v) => [v.labels.path, v.value]));
    assert.ok((byPath.copy ?? 0) >= 1, JSON.stringify(byPath));
    assert.ok((byPath.copy_conflict ?? 0) >= 1, JSON.stringify(byPath));
    assert.ok((byPath.merge ?? 0) >= 1, JSON.stringify(byPath));
  });

  test("rollups per type-minute match an independent count, distinct subjects included", async () => {
    const rows = await query<{ type: string; minute: Date; count: string; subjects: string }>(
      t.database,
      "SELECT type, minute, count, subjects FROM rollup_minute ORDER BY type, minute",
    );
    const expected = new Map<string, { count: number; subjects: Set<string> }>();
    for (const e of events) {
      const minute = new Date(Math.floor(Date.parse(e.time as string) / 60_000) * 60_000).toISOString();
      const key = `${e.type}|${minute}`;
      const v = expected.get(key) ?? { count: 0, subjects: new Set<string>() };
      v.count++;
      v.subjects.add(e.subject as string);
      expected.set(key, v);
    }
    assert.equal(rows.length, expected.size);
    for (const r of rows) {
      const exp = expected.get(`${r.type}|${r.minute.toISOString()}`);
      assert.ok(exp, `unexpected rollup ${r.type} ${r.minute.toISOString()}`);
      assert.equal(Number(r.count), exp.count);
      assert.equal(Number(r.subjects), exp.subjects.size);
    }
  });

  test("GET /v1/stats answers exact minute buckets, then the same from the cache", async () => {
    const url = "/v1/stats?type=com.example.t0&from=2025-01-15T10:00:00Z&to=2025-01-15T10:05:00Z";
    const first = await get(url);
    assert.equal(first.statusCode, 200);
    const body = first.json();
    const expected = events.filter((e) => e.type === "com.example.t0");
    assert.equal(body.type, "com.example.t0");
    assert.equal(body.granularity, "minute");
    assert.equal(body.total, expected.length);
    assert.equal(body.buckets.length, 5);
    for (const [i, b] of body.buckets.entries()) {
      assert.equal(b.start, new Date(Date.UTC(2025, 0, 15, 10, i)).toISOString());
      const inMinute = expected.filter((e) => Date.parse(e.time as string) - Date.UTC(2025, 0, 15, 10, i) < 60_000 && Date.parse(e.time as string) >= Date.UTC(2025, 0, 15, 10, i));
      assert.equal(b.count, inMinute.length);
      assert.equal(b.subjects, new Set(inMinute.map((e) => e.subject)).size);
    }
    // The consumer already wrote these minutes after commit, so this is a hit, and so is a second read.
    const hitsBefore = (await service.metrics.cacheRequests.get()).values.find((v) => v.labels.result === "hit")?.value ?? 0;
    const second = await get(url);
    assert.deepEqual(second.json(), body);
    const hitsAfter = (await service.metrics.cacheRequests.get()).values.find((v) => v.labels.result === "hit")?.value ?? 0;
    assert.equal(hitsAfter, hitsBefore + 1);
  });

  test("hour granularity sums the minutes; quiet ranges are zero buckets", async () => {
    const res = await get("/v1/stats?type=com.example.t1&from=2025-01-15T09:30:00Z&to=2025-01-15T11:00:00Z&granularity=hour");
    assert.equal(res.statusCode, 200);
    const expected = expectedByType(events).get("com.example.t1");
    assert.deepEqual(
      res.json().buckets.map((b: { start: string; count: number }) => [b.start, b.count]),
      [
        ["2025-01-15T09:00:00.000Z", 0],
        ["2025-01-15T10:00:00.000Z", expected],
      ],
    );
    assert.equal(res.json().total, expected);
  });

  test("Redis flushed: the read API falls back to PostgreSQL with exact totals and refills the cache", async () => {
    const r = redis();
    await r.flushdb();
    const missesBefore = (await service.metrics.cacheRequests.get()).values.find((v) => v.labels.result === "miss")?.value ?? 0;
    const res = await get("/v1/stats?type=com.example.t2&from=2025-01-15T10:00:00Z&to=2025-01-15T10:05:00Z");
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().total, expectedByType(events).get("com.example.t2"));
    const missesAfter = (await service.metrics.cacheRequests.get()).values.find((v) => v.labels.result === "miss")?.value ?? 0;
    assert.equal(missesAfter, missesBefore + 1);
    const keys = await r.keys(`${t.config.redis.keyPrefix}*`);
    assert.deepEqual(keys, [`${t.config.redis.keyPrefix}rollup:{com.example.t2}:2025-01-15`]);
    assert.equal(await r.hget(keys[0] as string, String(10 * 60)), `${events.filter((e) => e.type === "com.example.t2" && (e.time as string).startsWith("2025-01-15T10:00")).length}:${new Set(events.filter((e) => e.type === "com.example.t2" && (e.time as string).startsWith("2025-01-15T10:00")).map((e) => e.subject)).size}`);
    r.disconnect();
  });

  test("each record's W3C trace context is continued by a processing span", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentSpanId = "00f067aa0ba902b7";
    await produce(t.config, [binaryRecord(t.config.kafka.eventsTopic, { id: "traced-1", time: "2025-01-15T10:00:00Z", traceparent: `00-${traceId}-${parentSpanId}-01` })]);
    const span = await waitFor("the processing span of traced-1", () =>
      spans.getFinishedSpans().find((s) => s.attributes["cloudevents.event_id"] === "traced-1"),
    );
    assert.equal(span.spanContext().traceId, traceId);
    assert.equal(span.parentSpanContext?.spanId, parentSpanId);
    assert.equal(span.attributes["messaging.destination.name"], t.config.kafka.eventsTopic);
  });

  test("/healthz, /readyz and /metrics", async () => {
    assert.deepEqual((await get("/healthz")).json(), { status: "ok" });
    const ready = await get("/readyz");
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: "ready", checks: { consumer: "ok", postgres: "ok" } });
    const metrics = (await get("/metrics")).body;
    for (const name of [
      "processor_consumer_lag{",
      "processor_batch_size_bucket",
      "processor_batch_duration_seconds_bucket",
      "processor_event_latency_seconds_bucket",
      "processor_dead_letters_total",
      'processor_cache_requests_total{result="hit"}',
      'processor_cache_requests_total{result="miss"}',
      'processor_store_writes_total{path="copy"}',
    ]) {
      assert.ok(metrics.includes(name), `metrics lack ${name}`);
    }
    // All records are committed, so the lag of every assigned partition is 0.
    const lags = [...metrics.matchAll(/^processor_consumer_lag\{topic="[^"]+",partition="(\d)"\} (\d+)$/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(lags.sort(), [["0", "0"], ["1", "0"], ["2", "0"]]);
  });
});

describe("read API parameters", () => {
  const problem = async (qs: string) => {
    const res = await get(`/v1/stats?${qs}`);
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8");
    return res.json();
  };
  const ok = "type=a&from=2025-01-15T10:00:00Z&to=2025-01-15T11:00:00Z";

  test("missing type", async () => {
    const body = await problem("from=2025-01-15T10:00:00Z&to=2025-01-15T11:00:00Z");
    assert.deepEqual(body, {
      type: "urn:eventstack:problem:invalid-query-parameter",
      title: "Invalid query parameter",
      status: 400,
      detail: 'query parameter "type" is required',
      instance: "/v1/stats?from=2025-01-15T10:00:00Z&to=2025-01-15T11:00:00Z",
      code: "PROCESSOR_INVALID_QUERY_PARAMETER",
      requestId: body.requestId,
      "invalid-params": [{ name: "type", reason: 'query parameter "type" is required' }],
    });
    assert.match(body.requestId, /^[0-9a-f-]{36}$/);
  });

  test("malformed from, missing to, bad granularity, inverted and oversized ranges, repeated parameter", async () => {
    assert.equal((await problem("type=a&from=yesterday&to=2025-01-15T11:00:00Z")).detail, 'query parameter "from" must be an ISO 8601 timestamp with a time zone, e.g. 2025-01-31T10:00:00Z, got "yesterday"');
    assert.equal((await problem("type=a&from=2025-01-15T10:00:00&to=2025-01-15T11:00:00Z"))["invalid-params"][0].name, "from");
    assert.equal((await problem("type=a&from=2025-01-15T10:00:00Z")).detail, 'query parameter "to" is required');
    assert.equal((await problem(`${ok}&granularity=day`)).detail, 'query parameter "granularity" must be "minute" or "hour", got "day"');
    assert.equal((await problem("type=a&from=2025-01-15T11:00:00Z&to=2025-01-15T10:00:00Z")).detail, 'query parameter "to" must be later than "from"');
    assert.equal(
      (await problem("type=a&from=2025-01-01T00:00:00Z&to=2025-01-03T00:00:00Z")).detail,
      'query parameter "to" is too far from "from": the range spans 2880 minute buckets, at most 1440 are allowed',
    );
    assert.equal((await problem(`${ok}&type=b`)).detail, 'query parameter "type" must be given once');
  });

  test("a type never seen: zero buckets, not an error", async () => {
    const res = await get(`${"/v1/stats?"}${ok}&granularity=hour`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { type: "a", granularity: "hour", buckets: [{ start: "2025-01-15T10:00:00.000Z", count: 0, subjects: 0 }], total: 0 });
  });
});
