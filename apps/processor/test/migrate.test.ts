// `migrate` against the real PostgreSQL and Kafka: idempotent (a second run changes nothing), serialised when
// two run at once, refuses an applied migration that was edited, creates the topics, and leaves two roles
// that can do exactly what they need.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Admin } from "@platformatic/kafka";
import pg from "pg";
import { loadConfig } from "../src/config.js";
import { migrate, MIGRATIONS_DIR } from "../src/migrate.js";
import { createTestEnv, migrateJs, query, quietLog, servicesUp, spawnNode, unique, type TestEnv } from "./helpers.js";

let t: TestEnv;
before(async () => {
  await servicesUp();
  t = await createTestEnv("migrate"); // migrated once here
});
after(async () => t?.cleanup());

const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".sql")).sort();

/** Runs `sql` as `role` in the test database; resolves to "ok" or the error message. */
async function as(role: string, sql: string): Promise<string> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: role, database: t.database });
  await c.connect();
  try {
    await c.query(sql);
    return "ok";
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end();
  }
}

describe("migrate", () => {
  test("a second run applies nothing and creates nothing", async () => {
    const r = await migrate(loadConfig({ ...t.env, PGUSER: "postgres" }), quietLog);
    assert.deepEqual(r.applied, []);
    assert.deepEqual(r.alreadyApplied, files);
    assert.deepEqual(r.topics, { created: [], existing: [t.config.kafka.eventsTopic, t.config.kafka.dlqTopic] });
    assert.deepEqual(r.roles, { processor: "eventstack_processor", reader: "eventstack_reader", rdsIam: false });
  });

  test("the topics exist with the configured partition count", async () => {
    const admin = new Admin({ clientId: "test-migrate", bootstrapBrokers: t.config.kafka.brokers });
    try {
      const md = await admin.metadata({ topics: [t.config.kafka.eventsTopic, t.config.kafka.dlqTopic] });
      for (const topic of [t.config.kafka.eventsTopic, t.config.kafka.dlqTopic]) assert.equal(md.topics.get(topic)?.partitionsCount, 3, topic);
    } finally {
      await admin.close();
    }
  });

  test("the processor role may read, insert and update its tables, delete cache marks and use a temporary table, nothing more", async () => {
    const p = "eventstack_processor";
    assert.equal(await as(p, "INSERT INTO rollup_minute VALUES ('role-test', now(), 1, 0)"), "ok");
    assert.equal(await as(p, "UPDATE rollup_minute SET count = 2 WHERE type = 'role-test'"), "ok");
    assert.equal(await as(p, "SELECT count(*) FROM events"), "ok");
    assert.equal(await as(p, "CREATE TEMPORARY TABLE scratch (x int)"), "ok");
    assert.equal(await as(p, "DELETE FROM rollup_minute"), "permission denied for table rollup_minute");
    assert.equal(await as(p, "DELETE FROM events"), "permission denied for table events");
    // The cache marks are the one table it deletes from: a mark goes once Redis holds its count.
    assert.equal(await as(p, "INSERT INTO rollup_cache_pending VALUES ('role-test', now(), 1)"), "ok");
    assert.equal(await as(p, "DELETE FROM rollup_cache_pending WHERE type = 'role-test'"), "ok");
    assert.equal(await as(p, "TRUNCATE events"), "permission denied for table events");
    assert.equal(await as(p, "DROP TABLE events"), "must be owner of table events");
    assert.equal(await as(p, "CREATE TABLE mine (x int)"), "permission denied for schema public");
    assert.equal(await as(p, "SELECT * FROM schema_migrations"), "permission denied for table schema_migrations");
  });

  test("the reader role may only read", async () => {
    const r = "eventstack_reader";
    assert.equal(await as(r, "SELECT count(*) FROM rollup_minute_subjects"), "ok");
    assert.equal(await as(r, "INSERT INTO rollup_minute VALUES ('reader', now(), 1, 0)"), "permission denied for table rollup_minute");
    assert.equal(await as(r, "UPDATE events SET type = 'x'"), "permission denied for table events");
  });

  test("an applied migration that was edited stops the run with the two checksums", async () => {
    const [{ checksum }] = (await query<{ checksum: string }>(t.database, "SELECT checksum FROM schema_migrations WHERE version = $1", [files[0]])) as [{ checksum: string }];
    await query(t.database, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = $1", [files[0]]);
    try {
      await assert.rejects(migrate(loadConfig({ ...t.env, PGUSER: "postgres" }), quietLog, { topics: false }), (err: Error & { code?: string }) => {
        assert.equal(err.code, "PROCESSOR_MIGRATION");
        assert.match(err.message, new RegExp(`^migration ${files[0]} was changed after it was applied \\(recorded sha256 edited, file sha256 [0-9a-f]{64}\\); add a new migration instead$`));
        return true;
      });
    } finally {
      await query(t.database, "UPDATE schema_migrations SET checksum = $1 WHERE version = $2", [checksum, files[0]]);
    }
  });

  test("two runs at once on a fresh database: each migration applied exactly once", async () => {
    const database = `proc_${unique("migrate_race")}`;
    await query("postgres", `CREATE DATABASE ${database}`);
    try {
      const config = loadConfig({ ...t.env, PGUSER: "postgres", PGDATABASE: database });
      const [a, b] = await Promise.all([migrate(config, quietLog, { topics: false }), migrate(config, quietLog, { topics: false })]);
      assert.deepEqual([...a.applied, ...b.applied].sort(), files);
      assert.deepEqual([...a.alreadyApplied, ...b.alreadyApplied].sort(), files);
      assert.deepEqual(await query(database, "SELECT version FROM schema_migrations ORDER BY version"), files.map((version) => ({ version })));
    } finally {
      await query("postgres", `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  });

  test("`npm run migrate` (dist/src/migrate.js): JSON logs and exit 0", async () => {
    const p = spawnNode(migrateJs, { ...t.env, PGUSER: "postgres", LOG_LEVEL: "info" });
    assert.deepEqual(await p.exited, { code: 0, signal: null }, p.output());
    const lines = p.output().trim().split("\n").map((l) => JSON.parse(l) as { msg: string; command: string; applied?: string[] });
    const finished = lines.find((l) => l.msg === "migrate finished");
    assert.equal(finished?.command, "migrate");
    assert.deepEqual(finished?.applied, []);
  });
});
