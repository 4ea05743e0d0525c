/**
 * Operations: liveness, readiness (it reflects Kafka and the topic), Prometheus metrics, request ids, and
 * OpenTelemetry traces exported over OTLP/HTTP with the trace context carried into the Kafka records.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { before, test } from "node:test";
import { Writable } from "node:stream";
import { createLogger } from "@eventstack/runtime";
import { decodeTraceExport } from "@eventstack/runtime/testing";
import { buildApp } from "../src/app.js";
import { STRUCTURED, createTopic, readTopic, sampleEvent, servicesUp, testApp, testConfig, uniqueTopic } from "./helpers.js";

before(servicesUp);

test("/healthz is 200 regardless of Kafka", async (t) => {
  const app = await testApp("events", { KAFKA_BOOTSTRAP: "127.0.0.1:1" });
  t.after(() => app.close());
  const res = await app.inject({ method: "GET", url: "/healthz" });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: "ok" });
});

test("/readyz: 200 when the topic has leaders, 503 naming a missing topic, 503 while draining", async (t) => {
  const topic = uniqueTopic("ready");
  await createTopic(topic, 2);
  const app = await testApp(topic);
  t.after(() => app.close());
  const ready = await app.inject({ method: "GET", url: "/readyz" });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: "ready", kafka: `topic ${topic} has 2 partitions` });

  app.ingest.draining = true;
  const draining = await app.inject({ method: "GET", url: "/readyz" });
  assert.equal(draining.statusCode, 503);
  assert.deepEqual(draining.json(), { status: "draining", kafka: "not checked: the service is shutting down" });

  const missing = await testApp("ingest-test-no-such-topic");
  t.after(() => missing.close());
  const res = await missing.inject({ method: "GET", url: "/readyz" });
  assert.equal(res.statusCode, 503);
  assert.deepEqual(res.json(), { status: "unavailable", kafka: "topic ingest-test-no-such-topic does not exist" });
});

test("/metrics: requests by route and status, latency, events produced, rejections, in-flight", async (t) => {
  const topic = uniqueTopic("metrics");
  await createTopic(topic);
  const app = await testApp(topic);
  t.after(() => app.close());
  await app.inject({ method: "POST", url: "/v1/events", headers: STRUCTURED, payload: JSON.stringify(sampleEvent()) });
  await app.inject({ method: "POST", url: "/v1/events", headers: STRUCTURED, payload: "{}" });
  await app.inject({ method: "GET", url: "/no/such/path" });
  const res = await app.inject({ method: "GET", url: "/metrics" });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  const body = res.body;
  assert.match(body, /^ingest_http_requests_total\{method="POST",route="\/v1\/events",status="202"\} 1$/m);
  assert.match(body, /^ingest_http_requests_total\{method="POST",route="\/v1\/events",status="400"\} 1$/m);
  assert.match(body, /^ingest_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m, "raw URLs never become labels");
  assert.match(body, /^ingest_http_request_duration_seconds_count\{method="POST",route="\/v1\/events",status="202"\} 1$/m);
  assert.match(body, /^ingest_events_produced_total 1$/m);
  assert.match(body, /^ingest_events_rejected_total\{reason="invalid"\} 1$/m);
  assert.match(body, /^ingest_events_pending 0$/m);
  assert.match(body, /^ingest_kafka_send_events_count 1$/m);
  // The /metrics request itself is the one in flight while the text is rendered.
  assert.match(body, /^ingest_http_requests_in_flight\{route="\/metrics"\} 1$/m);
  assert.match(body, /^ingest_http_requests_in_flight\{route="\/v1\/events"\} 0$/m);
  assert.match(body, /^process_cpu_seconds_total /m);
});

test("request ids: a caller's plain X-Request-Id is kept; an unsafe one is replaced by a UUID", async (t) => {
  const app = await testApp("events", { KAFKA_BOOTSTRAP: "127.0.0.1:1" });
  t.after(() => app.close());
  const kept = await app.inject({ method: "GET", url: "/healthz", headers: { "x-request-id": "abc-123_x.y" } });
  assert.equal(kept.headers["x-request-id"], "abc-123_x.y");
  const replaced = await app.inject({ method: "GET", url: "/healthz", headers: { "x-request-id": 'evil"\n{"level":60}' } });
  assert.match(String(replaced.headers["x-request-id"]), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const generated = await app.inject({ method: "GET", url: "/healthz" });
  assert.match(String(generated.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
});

/** An app whose log lines are kept, parsed, in `lines`. */
async function loggedApp(topic: string, env: Record<string, string> = {}) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const config = testConfig(topic, { REQUEST_LOG_EVERY: "1", ...env });
  const app = await buildApp(config, { logger: createLogger("info", config.serviceName, sink), env });
  await app.ready();
  return { app, lines };
}

test("OpenTelemetry: spans go to the OTLP endpoint over http/protobuf; the record carries the PRODUCER span's context; log lines carry trace_id and span_id", async (t) => {
  // A stand-in OTLP/HTTP collector that keeps what it receives.
  const received: { url: string | undefined; contentType: string | undefined; body: Buffer }[] = [];
  const collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ url: req.url, contentType: req.headers["content-type"], body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => collector.close(() => resolve())));
  const { port } = collector.address() as { port: number };

  const topic = uniqueTopic("otel");
  await createTopic(topic);
  // The resource comes from the SDK's own environment detector, which reads process.env.
  process.env.OTEL_SERVICE_NAME = "ingest-under-test";
  process.env.OTEL_RESOURCE_ATTRIBUTES = "deployment.environment.name=test";
  let built: Awaited<ReturnType<typeof loggedApp>>;
  try {
    built = await loggedApp(topic, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
  } finally {
    delete process.env.OTEL_SERVICE_NAME;
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  }
  const { app, lines } = built;
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const callerSpan = "00f067aa0ba902b7";
  const res = await app.inject({
    method: "POST",
    url: "/v1/events",
    headers: { ...STRUCTURED, traceparent: `00-${traceId}-${callerSpan}-01`, "x-request-id": "req-traced" },
    payload: JSON.stringify(sampleEvent({ id: "traced" })),
  });
  assert.equal(res.statusCode, 202);
  await app.close(); // flushes the span processor

  const [record] = await readTopic(topic);
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(record?.headers.traceparent ?? "");
  assert.ok(m, `a sampled W3C traceparent on the record, got ${record?.headers.traceparent}`);
  assert.equal(m[1], traceId, "same trace as the caller");
  assert.notEqual(m[2], callerSpan, "the parent is our PRODUCER span, not the caller's span");

  assert.equal(received.length, 1);
  const exported = received[0] as (typeof received)[number];
  assert.equal(exported.url, "/v1/traces");
  assert.equal(exported.contentType, "application/x-protobuf");
  const [resource] = decodeTraceExport(exported.body);
  assert.equal(resource?.resource["service.name"], "ingest-under-test");
  assert.equal(resource?.resource["deployment.environment.name"], "test");
  const spans = resource?.spans ?? [];
  const server = spans.find((s) => s.name === "POST /v1/events");
  const producer = spans.find((s) => s.name === `send ${topic}`);
  assert.equal(server?.kind, 2, "SERVER");
  assert.equal(server?.traceId, traceId);
  assert.equal(server?.parentSpanId, callerSpan);
  assert.equal(producer?.kind, 4, "PRODUCER");
  assert.equal(producer?.parentSpanId, server?.spanId);
  assert.equal(producer?.spanId, m[2], "the record's parent span is the exported PRODUCER span");

  const line = lines.find((l) => l.msg === "request completed");
  assert.deepEqual(
    { requestId: line?.requestId, trace_id: line?.trace_id, span_id: line?.span_id, statusCode: line?.statusCode, events: line?.events },
    { requestId: "req-traced", trace_id: traceId, span_id: server?.spanId, statusCode: 202, events: 1 },
  );
});

test("tracing off: the caller's trace context goes onto the record unchanged and into the log lines", async (t) => {
  const topic = uniqueTopic("untraced");
  await createTopic(topic);
  const { app, lines } = await loggedApp(topic);
  t.after(() => app.close());
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const res = await app.inject({
    method: "POST",
    url: "/v1/events",
    headers: { ...STRUCTURED, traceparent, tracestate: "vendor=x", "x-request-id": "req-untraced" },
    payload: JSON.stringify(sampleEvent({ id: "untraced" })),
  });
  assert.equal(res.statusCode, 202);
  const [record] = await readTopic(topic);
  assert.equal(record?.headers.traceparent, traceparent);
  assert.equal(record?.headers.tracestate, "vendor=x");
  const bad = await app.inject({ method: "POST", url: "/v1/events", headers: { ...STRUCTURED, traceparent, "x-request-id": "req-bad" }, payload: "{" });
  assert.equal(bad.statusCode, 400);
  const completed = lines.filter((l) => l.msg === "request completed").map((l) => [l.requestId, l.trace_id, l.span_id, l.statusCode]);
  assert.deepEqual(completed, [
    ["req-untraced", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 202],
    ["req-bad", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 400],
  ]);
  // Without a traceparent there is no trace: neither field.
  const plain = await app.inject({ method: "GET", url: "/nope", headers: { "x-request-id": "req-plain" } });
  assert.equal(plain.statusCode, 404);
  const last = lines.filter((l) => l.msg === "request completed").at(-1);
  assert.deepEqual([last?.requestId, "trace_id" in (last ?? {}), "span_id" in (last ?? {})], ["req-plain", false, false]);
});

test("request log lines: one per REQUEST_LOG_EVERY successful requests (the first, then every n-th), every refused request", async (t) => {
  const topic = uniqueTopic("sampled-log");
  await createTopic(topic);
  const { app, lines } = await loggedApp(topic, { REQUEST_LOG_EVERY: "3" });
  t.after(() => app.close());
  const answers: number[] = [];
  for (let i = 0; i < 7; i++) {
    const ok = await app.inject({ method: "POST", url: "/v1/events", headers: { ...STRUCTURED, "x-request-id": `req-ok-${i}` }, payload: JSON.stringify(sampleEvent({ id: `sampled-${i}` })) });
    answers.push(ok.statusCode);
    if (i === 1) {
      const bad = await app.inject({ method: "POST", url: "/v1/events", headers: { ...STRUCTURED, "x-request-id": "req-refused" }, payload: "{" });
      answers.push(bad.statusCode);
    }
  }
  assert.deepEqual(answers, [202, 202, 400, 202, 202, 202, 202, 202]);
  const logged = lines.filter((l) => l.msg === "request completed").map((l) => [l.requestId, l.statusCode]);
  assert.deepEqual(logged, [
    ["req-ok-0", 202],
    ["req-refused", 400],
    ["req-ok-3", 202],
    ["req-ok-6", 202],
  ]);
});
