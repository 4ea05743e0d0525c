// One batch transaction in one round trip (src/wire/one-trip.ts) against the real server: COPY and the statement
// commit together; an error anywhere rolls back everything before it and leaves the connection usable; the named
// statement is parsed once per connection and again after a trip that failed; binary array parameters arrive as
// the values they were made from.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { binaryArray, oneTrip } from "../src/wire/index.js";
import { createTestEnv, servicesUp, type TestEnv } from "./helpers.js";

let t: TestEnv;
let pool: pg.Pool;

before(async () => {
  await servicesUp();
  t = await createTestEnv("one_trip");
  pool = new pg.Pool({ host: "127.0.0.1", port: 5432, user: "postgres", database: t.database, max: 1 });
  await pool.query("CREATE TABLE trip_rows (k text PRIMARY KEY, v int NOT NULL); CREATE TABLE trip_log (n int NOT NULL)");
});
after(async () => {
  await pool?.end();
  await t?.cleanup();
});

/** Text-format COPY rows (COPY data: oneTrip frames it as a CopyData message). */
function copyData(rows: [string, number][]): Buffer {
  return Buffer.from(rows.map(([k, v]) => `${k}\t${v}\n`).join(""));
}

const COPY = "COPY trip_rows (k, v) FROM STDIN";
/** Logs how many rows trip_rows holds, divided by $1 (0 makes it fail after the COPY). */
const STATEMENT = { name: "trip_log_count", text: "INSERT INTO trip_log SELECT count(*) / $1::int FROM trip_rows RETURNING n" };
const int4 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

async function trip(rows: [string, number][], divisor: number, client?: pg.ClientBase) {
  if (client) return oneTrip(client as pg.PoolClient, COPY, copyData(rows), { ...STATEMENT, values: [int4(divisor)] });
  const pooled = await pool.connect();
  try {
    return await oneTrip(pooled, COPY, copyData(rows), { ...STATEMENT, values: [int4(divisor)] });
  } finally {
    pooled.release();
  }
}

const state = async () => ({
  rows: (await pool.query<{ k: string }>("SELECT k FROM trip_rows ORDER BY k")).rows.map((r) => r.k),
  log: (await pool.query<{ n: number }>("SELECT n FROM trip_log ORDER BY n")).rows.map((r) => r.n),
});

describe("one trip", () => {
  test("the COPY and the statement commit together, and the statement's rows come back as text", async () => {
    assert.deepEqual(await trip([["a", 1], ["b", 2]], 1), [["2"]]);
    assert.deepEqual(await state(), { rows: ["a", "b"], log: [2] });
  });

  test("the statement failing after the COPY rolls the COPY back; the next trip on the connection works", async () => {
    // A connection of its own whose first trip fails in the statement: its Parse went through, so the statement
    // exists although the trip failed, and the next trip must close it before parsing it again.
    const client = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: t.database });
    await client.connect();
    try {
      await assert.rejects(trip([["c", 3]], 0, client), { code: "22012", message: "division by zero" });
      assert.deepEqual(await state(), { rows: ["a", "b"], log: [2] });
      assert.deepEqual(await trip([["c", 3]], 1, client), [["3"]]);
      assert.deepEqual(await state(), { rows: ["a", "b", "c"], log: [2, 3] });
      // Parsed once: the connection holds the statement now.
      assert.deepEqual((await client.query("SELECT name FROM pg_prepared_statements")).rows, [{ name: "trip_log_count" }]);
    } finally {
      await client.end();
    }
  });

  test("the COPY failing skips its data and the statement; nothing is written and the connection stays in step", async () => {
    // A duplicate key (as the copy path meets a stored event), then bad data that no later message may be read as.
    await assert.rejects(trip([["d", 4], ["a", 9]], 1), { code: "23505" });
    await assert.rejects(trip([["e", Number.NaN]], 1), { code: "22P02" });
    assert.deepEqual(await state(), { rows: ["a", "b", "c"], log: [2, 3] });
    assert.deepEqual(await trip([["d", 4]], 2), [["2"]]);
    assert.deepEqual((await pool.query("SELECT 1 AS one")).rows, [{ one: 1 }]);
    assert.deepEqual(await state(), { rows: ["a", "b", "c", "d"], log: [2, 2, 3] });
  });
});

describe("binary array parameters", () => {
  test("text, timestamptz and int8 arrays arrive as the values they were made from, empty ones too", async () => {
    const text = ["plain", "ünïcödé ✓", "", "comma,and\"quote\\"];
    const minutes = [Date.UTC(2025, 0, 15, 10, 30), Date.UTC(1999, 11, 31, 23, 59), Date.UTC(1970, 0, 1)];
    const ints = [0, 1, -1, 2 ** 53 - 1, -(2 ** 40)];
    const res = await pool.query({
      text: "SELECT $1::text[] AS text, $2::timestamptz[] AS minutes, $3::int8[]::text[] AS ints, $4::text[] AS none, cardinality($5::int8[]) AS no_ints",
      values: [binaryArray("text", text), binaryArray("timestamptz", minutes), binaryArray("int8", ints), binaryArray("text", []), binaryArray("int8", [])],
    });
    const row = res.rows[0] as { text: string[]; minutes: Date[]; ints: string[]; none: string[]; no_ints: number };
    assert.deepEqual(row.text, text);
    assert.deepEqual(row.minutes.map((d) => d.getTime()), minutes);
    assert.deepEqual(row.ints, ints.map(String));
    assert.deepEqual(row.none, []);
    assert.equal(row.no_ints, 0);
  });
});
