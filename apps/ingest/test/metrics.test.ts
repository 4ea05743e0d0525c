/**
 * The labelled counters alerts and dashboards read exist from start-up at 0 for every reason: Prometheus'
 * increase() and rate() need two samples of a series, so a series born at 1 (prom-client's default, on the first
 * increment) would hide a process's first producer reset from the IngestProducerResets alert and its first shed
 * request from the dashboards (observability/).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createMetrics } from "../src/metrics.js";

const series = (text: string, name: string) => [...text.matchAll(new RegExp(`^${name}\\{reason="([^"]+)"\\} (\\S+)$`, "gm"))].map((m) => `${m[1]} ${m[2]}`).sort();

test("every rejection, produce error and producer reset reason is exported at 0 before any request", async () => {
  const text = await createMetrics().registry.metrics();
  assert.deepEqual(series(text, "ingest_events_rejected_total"), ["invalid 0", "overloaded 0", "shutting_down 0", "too_large 0", "unsupported_media_type 0"]);
  assert.deepEqual(series(text, "ingest_produce_errors_total"), ["error 0", "timeout 0"]);
  assert.deepEqual(series(text, "ingest_kafka_producer_resets_total"), ["error 0", "timeout 0"]);
});

test("an increment counts on its zeroed series", async () => {
  const metrics = createMetrics();
  metrics.producerResets.inc({ reason: "timeout" });
  metrics.eventsRejected.inc({ reason: "overloaded" }, 3);
  const text = await metrics.registry.metrics();
  assert.deepEqual(series(text, "ingest_kafka_producer_resets_total"), ["error 0", "timeout 1"]);
  assert.match(text, /^ingest_events_rejected_total\{reason="overloaded"\} 3$/m);
});
