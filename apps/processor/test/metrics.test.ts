/**
 * The labelled counters alerts and dashboards read exist from start-up at 0 for every label value: Prometheus'
 * increase() needs two samples of a series, so a series born at 1 (prom-client's default, on the first increment)
 * would hide a process's first dead letter from the ProcessorDeadLetters alert (observability/rules/pipeline.rules.yaml).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Metrics } from "../src/metrics.js";

test("every outcome, dead-letter reason, retry stage and cache result is exported at 0 before anything happened", async () => {
  const text = await new Metrics().registry.metrics();
  const series = (name: string) => [...text.matchAll(new RegExp(`^${name}\\{(\\w+)="([^"]+)"\\} (\\S+)$`, "gm"))].map((m) => `${m[1]}=${m[2]} ${m[3]}`).sort();
  assert.deepEqual(series("processor_events_total"), ["outcome=dead_lettered 0", "outcome=duplicate 0", "outcome=stored 0"]);
  assert.deepEqual(series("processor_dead_letters_total"), ["reason=invalid_cloudevent 0", "reason=store_rejected 0", "reason=undecodable 0"]);
  assert.deepEqual(series("processor_batch_retries_total"), ["stage=dead_letter 0", "stage=store 0"]);
  assert.deepEqual(series("processor_cache_requests_total"), ["result=error 0", "result=hit 0", "result=miss 0"]);
});

test("a dead letter counts on its zeroed series", async () => {
  const metrics = new Metrics();
  metrics.deadLetters.inc({ reason: "store_rejected" });
  const text = await metrics.registry.metrics();
  assert.match(text, /^processor_dead_letters_total\{reason="store_rejected"\} 1$/m);
  assert.match(text, /^processor_dead_letters_total\{reason="undecodable"\} 0$/m);
});
