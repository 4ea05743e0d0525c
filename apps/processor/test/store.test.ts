// The PostgreSQL write paths against the real server: COPY while batches are new, merge once a stored
// duplicate appears and until a batch holds none again; both store the same values byte for byte; two writers
// with overlapping batches (two consumers during a rebalance) neither deadlock nor count anything twice.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeCloudEvent } from "../src/cloudevents.js";
import { isPermanentDataError, Store, type StoredEvent } from "../src/store.js";
import { binaryRecord, createTestEnv, query, quietLog, servicesUp, toHeaderMap, totals, waitFor, type TestEnv, type TestEvent } from "./helpers.js";

let t: TestEnv;
let store: Store;

before(async () => {
  await servicesUp();
  t = await createTestEnv("store");
  store = new Store(t.config, quietLog);
});
after(async () => {
  await store?.close();
  await t?.cleanup();
});

let offset = 0n;
function stored(e: TestEvent): StoredEvent {
  const r = binaryRecord("t", e);
  const d = decodeCloudEvent({ ...r, timestamp: BigInt(Date.UTC(2025, 0, 15, 10)) });
  assert.ok(d.ok, `test event ${e.id} decodes`);
  return { event: d.event, partition: 0, offset: offset++ };
}
const batch = (prefix: string, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => stored({ id: `${prefix}-${from + i}`, type: `t${(from + i) % 3}`, time: `2025-01-15T10:0${(from + i) % 4}:00Z`, subject: `s${(from + i) % 5}` }));

/** Rollups recomputed from the events table itself, to compare with what the write paths maintained. */
async function rollupsMatchEvents(database: string): Promise<void> {
  const maintained = await query(database, "SELECT type, minute, count::int, subjects::int FROM rollup_minute ORDER BY 1, 2");
  const recomputed = await query(
    database,
    "SELECT type, date_trunc('minute', time, 'UTC') AS minute, count(*)::int AS count, count(DISTINCT subject)::int AS subjects FROM events GROUP BY 1, 2 ORDER BY 1, 2",
  );
  assert.deepEqual(maintained, recomputed);
}

describe("write paths", () => {
  test("COPY for new batches; a stored duplicate switches to merge until a batch holds none; in-batch duplicates are dropped", async () => {
    const a = batch("a", 100);
    const steps = [
      { name: "new", events: a },
      { name: "half already stored", events: [...a.slice(0, 50), ...batch("b", 50)] },
      { name: "new, right after duplicates", events: batch("c", 100) },
      { name: "new again", events: batch("d", 100) },
      { name: "new, each twice in the batch", events: batch("e", 40).flatMap((e) => [e, { ...e, offset: offset++ }]) },
    ];
    const seen = [];
    for (const s of steps) {
      const r = await store.writeBatch(s.events);
      seen.push({ name: s.name, path: r.path, copyConflict: r.copyConflict, inserted: r.inserted });
    }
    assert.deepEqual(seen, [
      { name: "new", path: "copy", copyConflict: false, inserted: 100 },
      { name: "half already stored", path: "merge", copyConflict: true, inserted: 50 },
      { name: "new, right after duplicates", path: "merge", copyConflict: false, inserted: 100 },
      { name: "new again", path: "copy", copyConflict: false, inserted: 100 },
      { name: "new, each twice in the batch", path: "copy", copyConflict: false, inserted: 40 },
    ]);
    assert.deepEqual(await totals(t.database), { events: 390, rollup: 390 });
    await rollupsMatchEvents(t.database);
  });

  test("the returned rollups are the committed values (what the cache is given)", async () => {
    const r = await store.writeBatch(batch("f", 12));
    const inDb = await query<{ type: string; minute: Date; count: string; subjects: string }>(t.database, "SELECT type, minute, count, subjects FROM rollup_minute");
    for (const x of r.rollups) {
      const row = inDb.find((y) => y.type === x.type && y.minute.getTime() === x.minute.getTime());
      assert.deepEqual([Number(row?.count), Number(row?.subjects)], [x.count, x.subjects]);
    }
    assert.equal(r.rollups.length, 12); // 3 types x 4 minutes
  });

  test("every column round-trips exactly through both paths (binary COPY encoding)", async () => {
    const odd = (id: string) =>
      stored({ id, source: "/ünïcödé/🚀", type: "t.odd", time: "2024-02-29T23:59:59.123456+05:30", subject: "subject with\ttab, \"quotes\" and \\ backslash", data: { bytes: "x" } });
    const rec = (id: string) => {
      // No data at all (value-less record) and extensions of every kind.
      const headers = toHeaderMap({ ce_specversion: "1.0", ce_id: id, ce_source: "/s", ce_type: "t.ext", ce_time: "1969-12-31T23:59:59.9999995Z", ce_flag: "true", ce_count: "42" });
      const d = decodeCloudEvent({ value: null, headers, timestamp: 0n });
      assert.ok(d.ok);
      return { event: d.event, partition: 7, offset: 9_007_199_254_740_993n };
    };
    await store.writeBatch([odd("rt-copy"), rec("rt-copy-2")]); // copy path
    await store.writeBatch([odd("rt-copy"), odd("rt-merge"), rec("rt-merge-2")]); // merge path (rt-copy is stored)
    const rows = await query<Record<string, unknown>>(
      t.database,
      `SELECT id, source, type, (extract(epoch FROM time) * 1000000)::bigint::text AS micros, subject, datacontenttype, dataschema, data, extensions, kafka_partition, kafka_offset::text
       FROM events WHERE id LIKE 'rt-%' ORDER BY id`,
    );
    const [copy, copy2, merge, merge2] = rows;
    for (const [a, b] of [
      [copy, merge],
      [copy2, merge2],
    ]) {
      assert.deepEqual({ ...a, id: undefined, kafka_offset: undefined }, { ...b, id: undefined, kafka_offset: undefined });
    }
    assert.deepEqual(copy, {
      id: "rt-copy",
      source: "/ünïcödé/🚀",
      type: "t.odd",
      micros: String(Date.UTC(2024, 1, 29, 18, 29, 59) * 1000 + 123_456),
      subject: 'subject with\ttab, "quotes" and \\ backslash',
      datacontenttype: "application/json",
      dataschema: null,
      data: Buffer.from(JSON.stringify({ bytes: "x" })),
      extensions: {},
      kafka_partition: 0,
      kafka_offset: copy?.kafka_offset,
    });
    assert.deepEqual(copy2, {
      id: "rt-copy-2",
      source: "/s",
      type: "t.ext",
      micros: "0", // .9999995 rounds up to the next microsecond: the epoch itself
      subject: null,
      datacontenttype: null,
      dataschema: null,
      data: null,
      extensions: { flag: "true", count: "42" },
      kafka_partition: 7,
      kafka_offset: "9007199254740993",
    });
  });

  test("a row PostgreSQL refuses fails the whole transaction with a permanent error and leaves nothing behind", async () => {
    await query(t.database, "ALTER TABLE events ADD CONSTRAINT test_no_poison CHECK (id <> 'poison')");
    const before = await totals(t.database);
    const err = await store.writeBatch([...batch("g", 10), stored({ id: "poison", time: "2025-01-15T10:00:00Z" })]).catch((e: unknown) => e);
    assert.equal((err as { code?: string }).code, "23514");
    assert.equal(isPermanentDataError(err), true);
    assert.deepEqual(await totals(t.database), before);
    await query(t.database, "ALTER TABLE events DROP CONSTRAINT test_no_poison");
  });

  test("subjects already committed are left out of the statement, and those of a failed batch are not (distinct counts stay exact)", async () => {
    const at = (id: string, subject: string) => stored({ id, type: "t.known", time: "2025-01-15T11:00:00Z", subject });
    const subjects = async () =>
      (await query<{ subject: string }>(t.database, "SELECT subject FROM rollup_minute_subjects WHERE type = 't.known' ORDER BY 1")).map((r) => r.subject);
    await store.writeBatch([at("k1", "s1"), at("k2", "s2")]);
    // A batch with a new subject s3 that PostgreSQL refuses as a whole: s3 must not be taken as committed.
    await query(t.database, "ALTER TABLE events ADD CONSTRAINT test_no_poison CHECK (id <> 'poison')");
    await assert.rejects(store.writeBatch([at("k3", "s3"), at("poison", "s1")]), { code: "23514" });
    await query(t.database, "ALTER TABLE events DROP CONSTRAINT test_no_poison");
    assert.deepEqual(await subjects(), ["s1", "s2"]);
    // s1 and s2 are known (left out), s3 is not: it is counted now.
    await store.writeBatch([at("k4", "s1"), at("k5", "s3"), at("k6", "s2")]);
    assert.deepEqual(await subjects(), ["s1", "s2", "s3"]);
    const [rollup] = await query<{ count: string; subjects: string }>(t.database, "SELECT count, subjects FROM rollup_minute WHERE type = 't.known'");
    assert.deepEqual(rollup, { count: "5", subjects: "3" });
    await rollupsMatchEvents(t.database);
  });
});

describe("cache marks (rollup_cache_pending)", () => {
  const marks = (database: string) => query(database, "SELECT type, minute, count::int FROM rollup_cache_pending ORDER BY 1, 2");
  const rollupCounts = (database: string) => query(database, "SELECT type, minute, count::int FROM rollup_minute ORDER BY 1, 2");

  test("every moved type-minute is marked with its committed count; a mark goes only once Redis holds that count", async () => {
    const env = await createTestEnv("store_marks");
    const s = new Store(env.config, quietLog);
    try {
      // a: types t0-t2 over minutes 10:00-10:03 (copy path).
      await s.writeBatch(batch("m", 24));
      assert.deepEqual(await marks(env.database), await rollupCounts(env.database));
      const synced = await s.readCachePending(1000);
      assert.equal(synced.length, 12);

      // b: more of type t0 at 10:00, half of them already stored (merge path): only that mark rises.
      const t0 = (id: string) => stored({ id, type: "t0", time: "2025-01-15T10:00:00Z", subject: "s9" });
      const r = await s.writeBatch([t0("m-0"), t0("m-extra-1"), t0("m-extra-2")]);
      assert.equal(r.path, "merge");
      assert.equal(r.inserted, 2);
      const raised = (await marks(env.database)).find((m) => m.type === "t0" && (m.minute as Date).toISOString() === "2025-01-15T10:00:00.000Z");
      assert.equal(raised?.count, synced.find((x) => x.type === "t0" && x.minute.toISOString() === "2025-01-15T10:00:00.000Z")!.count + 2);

      // Clearing with the values read before b: eleven marks go, the raised one stays (its count is higher).
      assert.equal(await s.clearCachePending(synced), 11);
      assert.deepEqual(
        (await marks(env.database)).map((m) => [m.type, (m.minute as Date).toISOString(), m.count]),
        [["t0", "2025-01-15T10:00:00.000Z", raised!.count]],
      );
      // The next sync reads it with its committed value and clears it.
      const next = await s.readCachePending(1000);
      assert.deepEqual(next.map((x) => [x.type, x.minute.toISOString(), x.count]), [["t0", "2025-01-15T10:00:00.000Z", raised!.count]]);
      assert.equal(await s.clearCachePending(next), 1);
      assert.deepEqual(await marks(env.database), []);
      // A batch of nothing but duplicates moves no rollup and marks nothing.
      await s.writeBatch(batch("m", 24));
      assert.deepEqual(await marks(env.database), []);
    } finally {
      await s.close();
      await env.cleanup();
    }
  });
});

describe("two writers with overlapping batches", () => {
  test("one store with two transactions at once, as the consumer runs them, the second started once the first has copied", async () => {
    const env = await createTestEnv("store_two");
    const s = new Store(env.config, quietLog);
    try {
      const all = batch("two", 2000);
      let copiedFirst = false;
      const paths: string[] = [];
      for (let k = 0; k < 8; k++) {
        // Batches share a third of their rows with the one beside them (a redelivery overlapping new records).
        const first = s.writeBatch(all.slice(k * 240, k * 240 + 300), () => (copiedFirst = true));
        await waitFor("the first batch's COPY done", () => copiedFirst, 10_000, 5);
        copiedFirst = false;
        const second = s.writeBatch(all.slice(k * 240 + 200, k * 240 + 480));
        for (const r of await Promise.all([first, second])) paths.push(r.path);
      }
      assert.ok(paths.includes("merge"), "overlapping batches went through the merge path");
      assert.deepEqual(await totals(env.database), { events: 2000, rollup: 2000 });
      await rollupsMatchEvents(env.database);
    } finally {
      await s.close();
      await env.cleanup();
    }
  });

  test("no deadlock, no error, and every event counted once, with a cache sync clearing marks meanwhile", async () => {
    const env = await createTestEnv("store_race");
    const one = new Store(env.config, quietLog);
    const two = new Store(env.config, quietLog);
    const sync = new Store(env.config, quietLog);
    try {
      const all = batch("race", 2800);
      // Round k: writer one takes events [k*200, k*200+300), writer two [k*200+100, k*200+400): every batch
      // shares a third of its rows with the other writer's batch of the same round, written at the same time,
      // while a third connection syncs the marks as the consumer does (it must skip locked marks, not wait).
      for (let k = 0; k < 13; k++) {
        await Promise.all([
          one.writeBatch(all.slice(k * 200, k * 200 + 300)),
          two.writeBatch(all.slice(k * 200 + 100, k * 200 + 400).reverse()),
          sync.readCachePending(1000).then((p) => sync.clearCachePending(p)),
        ]);
      }
      assert.deepEqual(await totals(env.database), { events: 2800, rollup: 2800 });
      await rollupsMatchEvents(env.database);
      // Whatever the sync cleared while the writers ran, the marks left are exactly the values not yet synced.
      await sync.clearCachePending(await sync.readCachePending(1000));
      assert.deepEqual(await query(env.database, "SELECT count(*)::int AS n FROM rollup_cache_pending"), [{ n: 0 }]);
    } finally {
      await sync.close();
      await Promise.all([one.close(), two.close()]);
      await env.cleanup();
    }
  });
});
