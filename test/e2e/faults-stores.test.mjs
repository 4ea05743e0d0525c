// Fault injection on the processor's stores while a load runs through ingest: the machine's PostgreSQL
// restarted (sessions cut), and Redis flushed three times while the read API is being queried.
// Guarantees: a PostgreSQL restart pauses the processor and loses or doubles nothing; the cache is only a
// cache: flushed, the read API answers exact totals from PostgreSQL and refills it, racing the consumer's writes.
// Both tests share one pipeline and one load (its accepted events accumulate), which saves a start-up.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startPipeline } from "../../scripts/local.mjs";
import { up } from "../../scripts/services.mjs";
import { Load, assertExactlyOnce, isolated, metric, redis, restartPostgres, total, waitFor } from "./helpers.mjs";

describe("the processor's stores failing under load", () => {
  let iso;
  let pipeline;
  let load;
  before(async () => {
    await up();
    iso = await isolated("stores");
    pipeline = await startPipeline({ env: iso.env, restart: () => true });
    load = new Load(pipeline.urls.ingest);
  });
  after(async () => {
    await pipeline?.stop();
    await iso?.cleanup({ kafkaBootstrap: pipeline?.services.kafkaBootstrap });
  });

  test("PostgreSQL restarted under load: the processor pauses and resumes, exact totals, every 202 counted once", async () => {
    load.start();
    await load.waitAccepted(300);
    await restartPostgres();
    await load.waitAccepted(300);
    await load.stop();
    await assertExactlyOnce(assert, { processorUrl: pipeline.urls.processor, database: iso.database, load });
    // The restart did reach the processor: its pooled connections were cut (idle ones, a batch's, or the one the
    // cache sync held).
    assert.ok(
      pipeline.processor.lines.some((l) => /"msg":"(idle PostgreSQL connection lost|batch failed; nothing committed, retrying|cache sync failed; retrying at the next tick)"/.test(l)),
      "the processor saw the restart",
    );
    assert.equal(pipeline.processor.starts, 1, "a PostgreSQL outage is ridden out, not crashed on");
  });

  test("Redis flushed 3 times under load while the read API is queried: exact totals, and the refilled cache is exact", async (t) => {
    const url = pipeline.urls.processor;
    load.start();
    // A reader throughout: its cache fills (max-merge) race the consumer's writes after every flush.
    let reading = true;
    const reads = [];
    const reader = (async () => {
      while (reading) {
        const startedAt = Date.now();
        await total(url, "com.example.e2e.created");
        reads.push(startedAt);
      }
    })();
    const r = await redis();
    t.after(() => r.disconnect());
    await load.waitAccepted(100);
    const missesBefore = await metric(url, "processor_cache_requests_total", 'result="miss"');
    for (let i = 0; i < 3; i++) {
      await load.waitAccepted(150);
      const flushedAt = Date.now();
      assert.equal(await r.flushdb(), "OK");
      await waitFor("a read after the flush", () => reads.some((at) => at > flushedAt), 30_000, 20);
    }
    await load.stop();
    reading = false;
    await reader;
    // The first read after each flush found the cache empty and went to PostgreSQL.
    assert.ok((await metric(url, "processor_cache_requests_total", 'result="miss"')) >= missesBefore + 3);

    await assertExactlyOnce(assert, { processorUrl: url, database: iso.database, load });
    const expected = load.expectedByType().get("com.example.e2e.created");
    const hits = await metric(url, "processor_cache_requests_total", 'result="hit"');
    assert.equal(await total(url, "com.example.e2e.created"), expected);
    assert.equal(await metric(url, "processor_cache_requests_total", 'result="hit"'), hits + 1, "the exact answer came from the cache");
  });
});
