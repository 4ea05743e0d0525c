/**
 * The processor's per-batch log line ("batch committed", at debug) carries the trace_id and span_id of its batch
 * span, the field names of the request log lines (@eventstack/runtime), so a batch's line and its trace are found
 * from each other. In-process service against real Kafka, PostgreSQL and Redis, with an in-memory span exporter.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { createLogger } from "@eventstack/runtime";
import { startService, type Service } from "../src/service.js";
import { binaryRecord, createTestEnv, produce, servicesUp, waitFor, type TestEnv } from "./helpers.js";

const spans = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString("utf8").split("\n")) if (l !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
});

let t: TestEnv;
let service: Service;

before(async () => {
  await servicesUp();
  trace.setGlobalTracerProvider(provider);
  t = await createTestEnv("batch_log");
  service = await startService(t.config, createLogger("debug", "eventstack-processor", sink), { listen: false });
});

after(async () => {
  await service?.stop();
  await t?.cleanup();
  await provider.shutdown();
  trace.disable();
});

test('the "batch committed" line carries the trace_id and span_id of the batch\'s "events process" span', async () => {
  await produce(t.config, [binaryRecord(t.config.kafka.eventsTopic, { id: "logged-1", time: "2025-01-15T10:00:00Z" })]);
  const line = await waitFor("the batch committed line", () => lines.find((l) => l.msg === "batch committed"));
  const batchSpans = await waitFor("the batch span", () => {
    const found = spans.getFinishedSpans().filter((s) => s.name === "events process");
    return found.length > 0 && found;
  });
  assert.equal(batchSpans.length, 1);
  const { traceId, spanId } = batchSpans[0]!.spanContext();
  assert.deepEqual(
    { component: line.component, records: line.records, inserted: line.inserted, trace_id: line.trace_id, span_id: line.span_id },
    { component: "consumer", records: 1, inserted: 1, trace_id: traceId, span_id: spanId },
  );
});
