/**
 * Tracing and request logs: the OTLP endpoint from the standard variables, W3C context in and out, and the
 * same `requestId`, `trace_id` and `span_id` on a request's log lines, read back from a real fastify server's log.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { Writable } from "node:stream";
import { test } from "node:test";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { createLogger, injectTraceContext, installRequestLog, contextFromTraceHeaders, requestIdOptions, startTracing, traceLogFields, tracesUrl } from "../src/index.js";
import { decodeTraceExport } from "../testing/index.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER = "00f067aa0ba902b7";

test("the traces URL: the traces endpoint as given, else the base endpoint + /v1/traces; off when disabled", () => {
  assert.equal(tracesUrl({}), undefined);
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }), "http://collector:4318/v1/traces");
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:4318/custom" }), "http://t:4318/custom");
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }), undefined);
  assert.equal(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }), undefined);
});

test("W3C context: a valid traceparent is extracted and injected unchanged; a malformed one is dropped", () => {
  const ctx = contextFromTraceHeaders(`00-${TRACE}-${CALLER}-01`, "v=1");
  assert.deepEqual(injectTraceContext(ctx), { traceparent: `00-${TRACE}-${CALLER}-01`, tracestate: "v=1" });
  assert.deepEqual(traceLogFields(ctx), { trace_id: TRACE, span_id: CALLER });
  for (const bad of [`00-${"0".repeat(32)}-${CALLER}-01`, `00-${TRACE.toUpperCase()}-${CALLER}-01`, "garbage", null]) {
    assert.deepEqual(traceLogFields(contextFromTraceHeaders(bad, null)), {}, String(bad));
  }
});

async function server(tracingEnv: Record<string, string>) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const tracing = startTracing({ serviceName: "runtime-test", env: tracingEnv });
  const app = Fastify({ loggerInstance: createLogger("debug", "runtime-test", sink) as FastifyBaseLogger, ...requestIdOptions() });
  installRequestLog(app, { tracing, probes: new Set(["/healthz"]), fields: () => ({ extra: 1 }) });
  app.get("/work", async (request) => {
    request.log.info("working");
    return { ok: true };
  });
  app.get("/healthz", async () => ({ ok: true }));
  await app.ready();
  return { app, lines, tracing };
}

test("tracing off: every line of a request carries requestId and the caller's trace_id and span_id; probes log at debug", async () => {
  const { app, lines } = await server({});
  const res = await app.inject({ method: "GET", url: "/work?x=1", headers: { traceparent: `00-${TRACE}-${CALLER}-01`, "x-request-id": "req-1" } });
  assert.equal(res.headers["x-request-id"], "req-1");
  await app.inject({ method: "GET", url: "/healthz" });
  await app.close();
  const pick = (l: Record<string, unknown> | undefined) => l && { msg: l.msg, level: l.level, service: l.service, requestId: l.requestId, trace_id: l.trace_id, span_id: l.span_id };
  assert.deepEqual(lines.slice(0, 2).map(pick), [
    { msg: "working", level: "info", service: "runtime-test", requestId: "req-1", trace_id: TRACE, span_id: CALLER },
    { msg: "request completed", level: "info", service: "runtime-test", requestId: "req-1", trace_id: TRACE, span_id: CALLER },
  ]);
  assert.deepEqual([lines[1]?.method, lines[1]?.url, lines[1]?.statusCode, lines[1]?.extra, typeof lines[1]?.responseTimeMs], ["GET", "/work?x=1", 200, 1, "number"]);
  const probe = lines.find((l) => l.url === "/healthz");
  assert.equal(probe?.level, "debug");
  assert.match(String(probe?.requestId), /^[0-9a-f-]{36}$/);
  assert.equal("trace_id" in (probe ?? {}), false);
});

test("tracing on: OTLP http/protobuf to the endpoint, a SERVER span child of the caller, its ids on the log lines", async (t) => {
  const received: { url?: string; contentType?: string; body: Buffer }[] = [];
  const collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ url: req.url, contentType: req.headers["content-type"], body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => collector.close(() => resolve())));
  const { port } = collector.address() as { port: number };

  process.env.OTEL_RESOURCE_ATTRIBUTES = "deployment.environment.name=unit";
  let built: Awaited<ReturnType<typeof server>>;
  try {
    built = await server({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
  } finally {
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  }
  const { app, lines, tracing } = built;
  assert.equal(tracing.enabled, true);
  await app.inject({ method: "GET", url: "/work", headers: { traceparent: `00-${TRACE}-${CALLER}-01`, "x-request-id": "req-2" } });
  await app.close();
  await tracing.shutdown();

  assert.equal(received.length, 1);
  assert.equal(received[0]?.url, "/v1/traces");
  assert.equal(received[0]?.contentType, "application/x-protobuf");
  const [rs] = decodeTraceExport(received[0]?.body as Buffer);
  assert.equal(rs?.resource["service.name"], "runtime-test");
  assert.equal(rs?.resource["deployment.environment.name"], "unit");
  assert.deepEqual(rs?.spans.map((s) => ({ name: s.name, kind: s.kind, traceId: s.traceId, parent: s.parentSpanId })), [{ name: "GET /work", kind: 2, traceId: TRACE, parent: CALLER }]);
  const spanId = rs?.spans[0]?.spanId;
  assert.deepEqual(
    lines.filter((l) => l.requestId === "req-2").map((l) => [l.msg, l.trace_id, l.span_id]),
    [
      ["working", TRACE, spanId],
      ["request completed", TRACE, spanId],
    ],
  );
});
