// Fault injection: the processor killed with SIGKILL at random points, four times, while a load runs through
// ingest, and restarted each time (as Kubernetes would). Half of the kill points are a random time after the
// process was spawned (start-up, group join, first batches), half a random time after it reported ready
// (mid-stream, between a PostgreSQL commit and the offset commit at some point or other).
// Guarantee: whatever the kill point, the totals are exact at the end: every event that got a 202 is stored
// and counted once, none twice. E2E_SEED replays a run's kill points.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { startPipeline } from "../../scripts/local.mjs";
import { up } from "../../scripts/services.mjs";
import { Load, assertExactlyOnce, isolated, seededRandom, sleep, waitFor } from "./helpers.mjs";

before(() => up());

const KILLS = 4;

test("processor SIGKILLed at random points, 4 times, under load: exact totals, every 202 counted once", async (t) => {
  const seed = Number(process.env.E2E_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const random = seededRandom(seed);
  // Small batches: more commits, so more kill points fall between a PostgreSQL commit and an offset commit.
  const iso = await isolated("proc_kill", { BATCH_MAX_RECORDS: "50" });
  let pipeline;
  t.after(async () => {
    await pipeline?.stop();
    await iso.cleanup({ kafkaBootstrap: pipeline?.services.kafkaBootstrap });
  });
  pipeline = await startPipeline({ env: iso.env, restart: () => true });
  const { processor } = pipeline;
  const load = new Load(pipeline.urls.ingest).start();
  await load.waitAccepted(200);

  const points = [];
  for (let i = 0; i < KILLS; i++) {
    const afterReady = i % 2 === 1;
    if (afterReady) await waitFor("the processor ready", async () => (await fetch(`${pipeline.urls.processor}/readyz`).catch(() => ({}))).status === 200, 60_000, 100);
    const delay = Math.floor(random() * (afterReady ? 1_500 : 2_500));
    await sleep(delay);
    const starts = processor.starts;
    assert.ok(processor.running, "the processor is running before each kill");
    processor.kill("SIGKILL");
    points.push(`${delay} ms after ${afterReady ? "ready" : "spawn"}`);
    await waitFor("the processor restarted", () => processor.starts > starts && processor.running, 30_000, 50);
  }
  await load.waitAccepted(200);
  await load.stop();

  await assertExactlyOnce(assert, { processorUrl: pipeline.urls.processor, database: iso.database, load });
  assert.equal(processor.exits.filter((e) => e.signal === "SIGKILL").length, KILLS);
  const { exits } = await pipeline.stop();
  assert.deepEqual(exits.processor, { code: 0, signal: null });
  t.diagnostic(`seed ${seed}; kills at ${points.join(", ")}; ${load.accepted.size} events accepted, ${load.replays} replays`);
});
