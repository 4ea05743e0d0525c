// Fault injection: the Kafka broker killed with SIGKILL and started again while a load runs through ingest.
// Guarantee: an event answered 202 is never lost and never counted twice; while the broker is down, requests
// are answered 503 (retry), never 202. The broker is one of the test's own (own port, own state directory),
// started by `npm run local`'s startPipeline, so the run's shared broker is not disturbed.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { before, test } from "node:test";
import { startPipeline } from "../../scripts/local.mjs";
import { kafkaClasspath, settings, startKafka, stopKafka, up } from "../../scripts/services.mjs";
import { Load, assertExactlyOnce, freePort, isolated, waitFor } from "./helpers.mjs";

before(() => up());

test("Kafka broker SIGKILLed and restarted under load: every 202 counted exactly once; 503, never 202, while it is down", async (t) => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "e2e-kafka-"));
  const iso = await isolated("kafka_kill", {
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    EVENTSTACK_STATE_DIR: stateDir,
    // Short, so requests during the outage are answered quickly; a slow first write after the restart is
    // answered 503 too, and retried like any other.
    KAFKA_ACK_TIMEOUT_MS: "3000",
    RETRY_AFTER_SECONDS: "1",
  });
  const broker = settings(iso.env);
  // The jars are resolved already (the run's broker uses them): reuse the classpath rather than ask Maven again.
  writeFileSync(path.join(stateDir, "classpath.txt"), kafkaClasspath());
  let pipeline;
  t.after(async () => {
    await pipeline?.stop();
    await stopKafka(broker, { signal: "SIGKILL" });
    rmSync(stateDir, { recursive: true, force: true });
    await iso.cleanup();
  });

  // Restart like Kubernetes would: a processor whose Kafka fetching failed exits 1 on purpose.
  pipeline = await startPipeline({ env: iso.env, restart: () => true });
  assert.equal(pipeline.services.kafka, "started");
  const load = new Load(pipeline.urls.ingest).start();
  await load.waitAccepted(300);

  assert.equal(await stopKafka(broker, { signal: "SIGKILL" }), "stopped");
  const killedAt = Date.now();
  await waitFor("5 requests sent and answered with the broker down", () => load.ledger.filter((r) => r.sentAt >= killedAt).length >= 5, 60_000, 50);
  const restartedAt = Date.now();
  assert.equal(await startKafka(broker), "started");
  await load.waitAccepted(300);
  await load.stop();

  const outage = load.ledger.filter((r) => r.sentAt >= killedAt && r.answeredAt <= restartedAt);
  assert.ok(outage.length >= 5, `${outage.length} requests during the outage`);
  assert.deepEqual([...new Set(outage.map((r) => r.status))], [503], "while the broker is down nothing is 202");
  for (const { code } of outage) assert.ok(code === "INGEST_KAFKA_UNAVAILABLE" || code === "INGEST_KAFKA_TIMEOUT", `problem code ${code}`);

  await assertExactlyOnce(assert, { processorUrl: pipeline.urls.processor, database: iso.database, load });
  const processorStarts = pipeline.processor.starts;
  const { exits, servers } = await pipeline.stop();
  pipeline = undefined;
  assert.deepEqual(exits, { ingest: { code: 0, signal: null }, processor: { code: 0, signal: null } });
  // The broker this pipeline started is stopped with it; the machine's Redis and PostgreSQL, found running, stay up.
  assert.deepEqual(servers, { kafka: "stopped", redis: "left running", postgres: "left running" });
  t.diagnostic(
    `${load.accepted.size} events accepted, ${load.replays} replays, ${outage.length} requests answered 503 during the outage, ` +
      `${load.ledger.filter((r) => r.status === 503).length} in all; processor started ${processorStarts} time(s)`,
  );
});
