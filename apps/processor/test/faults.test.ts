// Faults against the real services: the processor killed between the PostgreSQL commit and the offset
// commit, PostgreSQL stopped and started mid-run, Redis stopped. Totals must be exact every time.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startService, type Service } from "../src/service.js";
import {
  binaryRecord,
  committedOffsets,
  createTestEnv,
  ensurePgRunning,
  ensureRedisRunning,
  expectedByType,
  freePort,
  httpJson,
  pgCluster,
  produce,
  query,
  quietLog,
  redis,
  redisStop,
  sampleEvents,
  serverJs,
  servicesUp,
  spawnNode,
  sumOffsets,
  totals,
  waitFor,
  type TestEnv,
  type TestEvent,
} from "./helpers.js";

before(servicesUp);

describe("SIGKILL between the PostgreSQL commit and the offset commit", () => {
  let t: TestEnv;
  after(async () => t?.cleanup());

  test("the restarted processor redelivers the batch and the totals are exact", async () => {
    // Runs as the least-privilege role migrate created: the grants are enough for the real workload.
    // Two transactions may run at once (the second starts once the first's COPY is done), so when the hook kills
    // the process after the first batch's commit, the second may have committed too: up to 2 × 200 events are in
    // PostgreSQL without a committed offset, and all of them come again.
    t = await createTestEnv("sigkill", { PGUSER: "eventstack_processor", BATCH_MAX_RECORDS: "200", BATCH_TRANSACTIONS: "2" });
    const events = sampleEvents(1000, { prefix: "k" });
    await produce(t.config, events.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));

    const port = await freePort();
    const crashing = spawnNode(serverJs, { ...t.env, PORT: String(port), PROCESSOR_FAULT_AFTER_DB_COMMIT: "exit" });
    const crash = await crashing.exited;
    assert.deepEqual(crash, { code: null, signal: "SIGKILL" }, crashing.output());

    // The first batch (and perhaps the second) is in PostgreSQL, but Kafka has no committed offset for the group.
    const afterCrash = await totals(t.database);
    assert.ok(afterCrash.events > 0 && afterCrash.events <= 400, `stored before the kill: ${afterCrash.events}`);
    assert.equal(afterCrash.rollup, afterCrash.events);
    assert.equal(sumOffsets(await committedOffsets(t.config)), 0);

    const restarted = spawnNode(serverJs, { ...t.env, PORT: String(port), LOG_LEVEL: "info" });
    try {
      await waitFor("all 1000 events stored", async () => (await totals(t.database)).events === 1000 || undefined, 60_000);
      await waitFor("all offsets committed", async () => sumOffsets(await committedOffsets(t.config)) === 1000 || undefined, 30_000);
      assert.deepEqual(await totals(t.database), { events: 1000, rollup: 1000 });
      // The read API (Redis written after commit, including the type-minutes of the redelivered batch).
      for (const [type, count] of expectedByType(events)) {
        const res = await httpJson(port, `/v1/stats?type=${type}&from=2025-01-15T10:00:00Z&to=2025-01-15T11:00:00Z&granularity=hour`);
        assert.equal(res.status, 200);
        assert.equal(res.body.total, count);
      }
    } finally {
      restarted.child.kill("SIGTERM");
    }
    const stopped = await restarted.exited;
    assert.deepEqual(stopped, { code: 0, signal: null }, restarted.output());
    assert.match(restarted.output(), /"msg":"shutting down: not ready, finishing in-flight work"/);
    assert.match(restarted.output(), /"msg":"shutdown complete"/);
  });
});

describe("SIGKILL between the offset commit and the cache write", () => {
  let t: TestEnv;
  after(async () => t?.cleanup());

  test("nothing is redelivered, yet Redis catches up with PostgreSQL: the next processor syncs the durable marks", async () => {
    t = await createTestEnv("cachekill", { PGUSER: "eventstack_processor" });
    const r = redis();
    const port = await freePort();
    const hour = (type: string) => `/v1/stats?type=${type}&from=2025-01-15T10:00:00Z&to=2025-01-15T11:00:00Z&granularity=hour`;
    const readApiExact = async (events: TestEvent[]) => {
      for (const [type, count] of expectedByType(events)) if ((await httpJson(port, hour(type))).body.total !== count) return false;
      return true;
    };
    /** Type-minutes whose cached count differs from PostgreSQL's. */
    const behind = async () => {
      const out: string[] = [];
      for (const row of await query<{ type: string; minute: Date; count: number }>(t.database, "SELECT type, minute, count::int FROM rollup_minute ORDER BY 1, 2")) {
        const field = String(row.minute.getUTCHours() * 60 + row.minute.getUTCMinutes());
        const cached = await r.hget(`${t.config.redis.keyPrefix}rollup:{${row.type}}:${row.minute.toISOString().slice(0, 10)}`, field);
        if (cached === null || Number(cached.split(":")[0]) !== row.count) out.push(`${row.type}@${row.minute.toISOString()}: PostgreSQL ${row.count}, Redis ${cached}`);
      }
      return out;
    };
    try {
      // 1. A normal run stores 300 events; reading the hour caches every minute of it.
      const first = sampleEvents(300, { prefix: "c1" });
      await produce(t.config, first.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
      const normal = spawnNode(serverJs, { ...t.env, PORT: String(port) });
      try {
        await waitFor("300 committed", async () => sumOffsets(await committedOffsets(t.config)) === 300 || undefined);
        await waitFor("the read API exact and cached", () => readApiExact(first));
      } finally {
        normal.child.kill("SIGTERM");
      }
      assert.deepEqual(await normal.exited, { code: 0, signal: null }, normal.output());

      // 2. 60 more events for the same type-minutes, one partition and one produce request, hence one batch:
      //    this processor commits them in PostgreSQL, commits their offsets, and dies before writing Redis.
      const second = sampleEvents(60, { prefix: "c2" }).map((e) => ({ ...e, partition: 0 }));
      await produce(t.config, second.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
      const crashing = spawnNode(serverJs, { ...t.env, PORT: String(port), PROCESSOR_FAULT_BEFORE_CACHE_WRITE: "exit" });
      assert.deepEqual(await crashing.exited, { code: null, signal: "SIGKILL" }, crashing.output());
      assert.equal(sumOffsets(await committedOffsets(t.config)), 360);
      assert.deepEqual(await totals(t.database), { events: 360, rollup: 360 });
      // The window was hit: Redis holds the old counts of the batch's type-minutes (a read now would serve them)
      // and no record will be redelivered to rewrite them; the marks are what is left.
      const stale = await behind();
      assert.equal(stale.length, 15, stale.join("\n"));
      assert.deepEqual(await query(t.database, "SELECT count(*)::int AS n FROM rollup_cache_pending"), [{ n: 15 }]);

      // 3. The next processor has nothing to consume; its cache sync writes the committed values.
      const restarted = spawnNode(serverJs, { ...t.env, PORT: String(port) });
      try {
        await waitFor("Redis caught up with PostgreSQL", async () => (await behind()).length === 0 || undefined, 30_000);
        assert.equal(await readApiExact([...first, ...second]), true);
        await waitFor("every mark cleared", async () => (await query<{ n: number }>(t.database, "SELECT count(*)::int AS n FROM rollup_cache_pending"))[0]?.n === 0 || undefined);
        assert.equal(sumOffsets(await committedOffsets(t.config)), 360);
      } finally {
        restarted.child.kill("SIGTERM");
      }
      assert.deepEqual(await restarted.exited, { code: 0, signal: null }, restarted.output());
    } finally {
      r.disconnect();
    }
  });
});

describe("the processor suspended past its Kafka request timeout", () => {
  let t: TestEnv;
  after(async () => t?.cleanup());

  test("it goes on when resumed (the timed-out Fetch is tried again) and the totals are exact", async () => {
    // A paused VM or a long stop-the-world pause: the Fetch long poll in flight (held up to 1 s by the broker)
    // is overdue when the process runs again, and its timer fires before its response is read.
    t = await createTestEnv("suspended", { KAFKA_REQUEST_TIMEOUT_MS: "1500" });
    await produce(t.config, sampleEvents(300, { prefix: "s1" }).map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
    const p = spawnNode(serverJs, { ...t.env, PORT: String(await freePort()), LOG_LEVEL: "info" });
    try {
      await waitFor("the first 300 committed", async () => sumOffsets(await committedOffsets(t.config)) === 300 || undefined, 30_000);
      // Idle now: a Fetch long poll is in flight. Suspended for longer than the request timeout, less than the
      // session timeout (6 s), so the group keeps the member.
      p.child.kill("SIGSTOP");
      await new Promise((r) => setTimeout(r, 3_000));
      p.child.kill("SIGCONT");
      await produce(t.config, sampleEvents(300, { prefix: "s2" }).map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
      await waitFor("all 600 committed", async () => sumOffsets(await committedOffsets(t.config)) === 600 || undefined, 30_000);
      assert.equal(p.child.exitCode, null, p.output());
      assert.deepEqual(await totals(t.database), { events: 600, rollup: 600 });
      assert.doesNotMatch(p.output(), /"level":60/, "nothing fatal was logged");
    } finally {
      p.child.kill("SIGTERM");
      await p.exited;
    }
  });
});

describe("PostgreSQL stopped mid-run", () => {
  let t: TestEnv;
  let service: Service | undefined;
  after(async () => {
    await ensurePgRunning();
    await service?.stop();
    await t?.cleanup();
  });

  test("consumption pauses, nothing is committed, and it resumes with exact totals", async () => {
    t = await createTestEnv("pg_outage", { BATCH_MAX_RECORDS: "250" });
    service = await startService(t.config, quietLog, { listen: false });
    const first = sampleEvents(500, { prefix: "before" });
    const second = sampleEvents(700, { prefix: "during" });
    await produce(t.config, first.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
    await waitFor("first 500 committed", async () => sumOffsets(await committedOffsets(t.config)) === 500 || undefined);

    pgCluster("stop");
    try {
      await produce(t.config, second.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
      await waitFor("consumption paused on the outage", async () => ((await service!.metrics.paused.get()).values[0]?.value === 1 ? true : undefined));
      await waitFor("at least two failed attempts", async () => {
        const v = (await service!.metrics.retries.get()).values.find((x) => x.labels.stage === "store")?.value ?? 0;
        return v >= 2 || undefined;
      });
      assert.equal(sumOffsets(await committedOffsets(t.config)), 500, "no offset committed during the outage");
      const ready = await service.app.inject({ method: "GET", url: "/readyz" });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json(), { status: "not ready", checks: { consumer: "failing", postgres: "failing" } });
    } finally {
      await ensurePgRunning();
    }

    await waitFor("all 1200 stored", async () => (await totals(t.database)).events === 1200 || undefined, 60_000);
    await waitFor("all offsets committed", async () => sumOffsets(await committedOffsets(t.config)) === 1200 || undefined);
    assert.deepEqual(await totals(t.database), { events: 1200, rollup: 1200 });
    assert.equal((await service.metrics.paused.get()).values[0]?.value, 0);
    const res = await service.app.inject({ method: "GET", url: "/v1/stats?type=com.example.t0&from=2025-01-15T10:00:00Z&to=2025-01-15T11:00:00Z&granularity=hour" });
    assert.equal(res.json().total, (expectedByType(first).get("com.example.t0") ?? 0) + (expectedByType(second).get("com.example.t0") ?? 0));
  });
});

describe("Redis stopped", () => {
  let t: TestEnv;
  let service: Service | undefined;
  after(async () => {
    await ensureRedisRunning();
    await service?.stop();
    await t?.cleanup();
  });

  test("processing goes on, the read API answers exact totals from PostgreSQL, and the cache recovers", async () => {
    t = await createTestEnv("redis_outage");
    service = await startService(t.config, quietLog, { listen: false });
    const first = sampleEvents(300, { prefix: "r1" });
    await produce(t.config, first.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
    await waitFor("first 300 stored", async () => (await totals(t.database)).events === 300 || undefined);
    const url = "/v1/stats?type=com.example.t1&from=2025-01-15T10:00:00Z&to=2025-01-15T10:05:00Z";
    const count = (evts: typeof first) => evts.filter((e) => e.type === "com.example.t1").length;
    const errorsOf = async () => (await service!.metrics.cacheRequests.get()).values.find((v) => v.labels.result === "error")?.value ?? 0;

    const second = sampleEvents(400, { prefix: "r2" });
    redisStop();
    try {
      await waitFor("the cache client noticing", () => !service!.cache.ready || undefined);
      await produce(t.config, second.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
      await waitFor("700 stored with Redis down", async () => (await totals(t.database)).events === 700 || undefined);
      await waitFor("700 committed with Redis down", async () => sumOffsets(await committedOffsets(t.config)) === 700 || undefined);
      const before = await errorsOf();
      const res = await service.app.inject({ method: "GET", url });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().total, count(first) + count(second));
      assert.equal(await errorsOf(), before + 1);
      assert.ok(((await service.metrics.cacheWriteErrors.get()).values[0]?.value ?? 0) >= 1);
    } finally {
      await ensureRedisRunning();
    }
    // Back: the consumer repairs the entries it could not write; the read API is exact and served by Redis.
    await waitFor("cache client ready again", () => service!.cache.ready || undefined, 30_000);
    const third = sampleEvents(100, { prefix: "r3" });
    await produce(t.config, third.map((e) => binaryRecord(t.config.kafka.eventsTopic, e)));
    await waitFor("800 stored", async () => (await totals(t.database)).events === 800 || undefined);
    const expected = count(first) + count(second) + count(third);
    await waitFor("the read API exact again", async () => {
      const res = await service!.app.inject({ method: "GET", url });
      return res.json().total === expected || undefined;
    });
    const hitsBefore = (await service.metrics.cacheRequests.get()).values.find((v) => v.labels.result === "hit")?.value ?? 0;
    const res = await service.app.inject({ method: "GET", url });
    assert.equal(res.json().total, expected);
    assert.equal((await service.metrics.cacheRequests.get()).values.find((v) => v.labels.result === "hit")?.value, hitsBefore + 1);
  });
});
