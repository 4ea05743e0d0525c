// Shared by the *.test.ts files (this file is not a test itself: only dist/test/*.test.js are run).
// Every test gets its own database, topics, consumer group and Redis key prefix, so tests never see each
// other's data even though they share the local PostgreSQL, Redis and Kafka.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import net from "node:net";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Redis } from "ioredis";
import assert from "node:assert/strict";
import { Admin, Consumer, createRecordsBatch, MessagesStreamModes, ProduceAcks, Producer, type Message } from "@platformatic/kafka";
import { RecordCursor, type RowSource } from "../src/wire/index.js";
import { loadConfig, type Config } from "../src/config.js";
import { createLogger } from "@eventstack/runtime";
import { migrate } from "../src/migrate.js";

export const here = path.dirname(fileURLToPath(import.meta.url));
/** apps/processor, whatever the cwd (npm runs workspace scripts there, but be robust). */
export const packageDir = path.resolve(here, "../..");
export const serverJs = path.join(packageDir, "dist/src/server.js");
export const migrateJs = path.join(packageDir, "dist/src/migrate.js");

export const quietLog = createLogger(process.env.TEST_LOG_LEVEL ?? "silent", "eventstack-processor");

/** Brings up PostgreSQL, Redis and Kafka through the repository's scripts/services.mjs. */
export async function servicesUp(): Promise<void> {
  const services = (await import(path.resolve(packageDir, "../../scripts/services.mjs"))) as { up(): Promise<unknown> };
  await services.up();
}

export function unique(label: string): string {
  return `${label}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
}

const admin = () => new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });

export interface TestEnv {
  env: Record<string, string>;
  config: Config;
  database: string;
  /** Drops the database and the topics. */
  cleanup(): Promise<void>;
}

/** A database and topic pair, migrated with the real `migrate` code. */
export async function createTestEnv(label: string, extra: Record<string, string> = {}): Promise<TestEnv> {
  const id = unique(label);
  const database = `proc_${id}`;
  const c = admin();
  await c.connect();
  await c.query(`CREATE DATABASE ${c.escapeIdentifier(database)}`);
  await c.end();
  const env: Record<string, string> = {
    KAFKA_BOOTSTRAP: process.env.KAFKA_BOOTSTRAP ?? "127.0.0.1:9092",
    EVENTS_TOPIC: `test.${id}.events`,
    DLQ_TOPIC: `test.${id}.dlq`,
    CONSUMER_GROUP: `test-${id}`,
    KAFKA_TOPIC_PARTITIONS: "3",
    PGHOST: "127.0.0.1",
    PGPORT: "5432",
    PGUSER: "postgres",
    PGDATABASE: database,
    REDIS_HOST: "127.0.0.1",
    REDIS_PORT: "6379",
    REDIS_KEY_PREFIX: `test:${id}:`,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    SHUTDOWN_TIMEOUT_MS: "20000",
    // The broker's minimum: a SIGKILLed member's partitions move on after 6 s instead of 30 s.
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    ...extra,
  };
  const config = loadConfig(env);
  // Migrations run as the admin user, like the pre-deploy Job; the service may run as a narrower role.
  await migrate(loadConfig({ ...env, PGUSER: "postgres" }), quietLog);
  return {
    env,
    config,
    database,
    async cleanup() {
      const k = new Admin({ clientId: "test-cleanup", bootstrapBrokers: config.kafka.brokers });
      await k.deleteTopics({ topics: [config.kafka.eventsTopic, config.kafka.dlqTopic] }).catch(() => undefined);
      await k.close();
      const c2 = admin();
      await c2.connect();
      await c2.query(`DROP DATABASE IF EXISTS ${c2.escapeIdentifier(database)} WITH (FORCE)`);
      await c2.end();
    },
  };
}

export interface TestEvent {
  id: string;
  source?: string;
  type?: string;
  time?: string;
  subject?: string;
  data?: unknown;
  traceparent?: string;
  partition?: number;
}

/** A binary-mode CloudEvents Kafka record (ce_* headers, JSON data as the value). */
export function binaryRecord(topic: string, e: TestEvent) {
  const headers: Record<string, Buffer> = {
    ce_specversion: Buffer.from("1.0"),
    ce_id: Buffer.from(e.id),
    ce_source: Buffer.from(e.source ?? "/test"),
    ce_type: Buffer.from(e.type ?? "com.example.test"),
    "content-type": Buffer.from("application/json"),
  };
  if (e.time) headers.ce_time = Buffer.from(e.time);
  if (e.subject) headers.ce_subject = Buffer.from(e.subject);
  if (e.traceparent) headers.traceparent = Buffer.from(e.traceparent);
  return {
    topic,
    key: Buffer.from(e.subject ?? e.id),
    value: Buffer.from(JSON.stringify(e.data ?? { n: e.id })),
    headers: toHeaderMap(headers),
    ...(e.partition !== undefined ? { partition: e.partition } : {}),
  };
}

/** The producer's default serializers want Buffer header names, so records carry a Map<Buffer, Buffer>. */
export function toHeaderMap(headers: Record<string, Buffer | string>): Map<Buffer, Buffer> {
  return new Map(Object.entries(headers).map(([k, v]) => [Buffer.from(k), Buffer.isBuffer(v) ? v : Buffer.from(v)]));
}

/** The record encoded by the client as a record batch and read in place, as the consumer reads it. */
export function inPlace(r: RowSource): RecordCursor {
  // A Map keeps headers whose names are equal but distinct Buffers apart, so repeated headers stay repeated.
  const headers = new Map(Array.from(r.headers, ([k, v]) => [typeof k === "string" ? Buffer.from(k) : k, v ?? null] as const));
  const bytes = Buffer.from(createRecordsBatch([{ topic: "t", partition: r.partition, value: r.value ?? undefined, headers, timestamp: r.timestamp } as never]).buffer);
  bytes.writeBigInt64BE(r.offset, 0); // the broker assigns the base offset
  const c = new RecordCursor();
  c.reset({ topic: "t", partition: r.partition, bytes, from: 0 });
  assert.ok(c.next());
  return c;
}

type Produceable = { topic: string; key?: Buffer; value?: Buffer; headers?: Map<Buffer, Buffer>; partition?: number };

export async function produce(config: Config, records: Produceable[], chunk = 1000): Promise<void> {
  const producer = new Producer({ clientId: "test-producer", bootstrapBrokers: config.kafka.brokers, acks: ProduceAcks.ALL, autocreateTopics: false });
  try {
    for (let i = 0; i < records.length; i += chunk) await producer.send({ messages: records.slice(i, i + chunk) });
  } finally {
    await producer.close();
  }
}

/** Reads exactly `count` records of a topic from the beginning (bounded: fails after timeoutMs). */
export async function readTopic(config: Config, topic: string, count: number, timeoutMs = 30_000): Promise<Message<Buffer, Buffer, Buffer, Buffer>[]> {
  const consumer = new Consumer({ clientId: "test-reader", groupId: unique("reader"), bootstrapBrokers: config.kafka.brokers, autocommit: false, maxWaitTime: 200 });
  const out: Message<Buffer, Buffer, Buffer, Buffer>[] = [];
  const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false });
  const timer = setTimeout(() => void stream.close(), timeoutMs);
  try {
    for await (const m of stream) {
      out.push(m);
      if (out.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    await consumer.close(true);
  }
  if (out.length < count) throw new Error(`read ${out.length} of ${count} records from ${topic} within ${timeoutMs} ms`);
  return out;
}

/** Committed offsets of the test's group for its events topic: partition → offset (-1 = none). */
export async function committedOffsets(config: Config): Promise<Map<number, bigint>> {
  const k = new Admin({ clientId: "test-admin", bootstrapBrokers: config.kafka.brokers });
  try {
    const groups = await k.listConsumerGroupOffsets({ groups: [config.kafka.groupId] });
    const out = new Map<number, bigint>();
    for (const t of groups[0]?.topics ?? []) if (t.name === config.kafka.eventsTopic) for (const p of t.partitions) out.set(p.partitionIndex, p.committedOffset);
    return out;
  } finally {
    await k.close();
  }
}

export async function query<T extends pg.QueryResultRow>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** Stored events and the sum of the rollup counts (which must agree: every stored event counted once). */
export async function totals(database: string): Promise<{ events: number; rollup: number }> {
  const [row] = await query<{ events: string; rollup: string | null }>(
    database,
    "SELECT (SELECT count(*) FROM events) AS events, (SELECT sum(count) FROM rollup_minute) AS rollup",
  );
  return { events: Number(row?.events ?? 0), rollup: Number(row?.rollup ?? 0) };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a compiled entry point (the real processor or migrate) as a child process with the given env. */
export function spawnNode(script: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

export function redis(): Redis {
  return new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Events spread over a few types, minutes and subjects, with deterministic ids. */
export function sampleEvents(n: number, opts: { prefix?: string; baseTime?: number; minutes?: number; types?: number; subjects?: number } = {}): TestEvent[] {
  const base = opts.baseTime ?? Date.UTC(2025, 0, 15, 10, 0, 0);
  const out: TestEvent[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      id: `${opts.prefix ?? "e"}-${i}`,
      type: `com.example.t${i % (opts.types ?? 3)}`,
      time: new Date(base + (i % (opts.minutes ?? 5)) * 60_000 + (i % 59) * 1000).toISOString(),
      subject: `user-${i % (opts.subjects ?? 7)}`,
    });
  }
  return out;
}

/** Expected per-type totals of sampleEvents-style data, computed independently of the processor. */
export function expectedByType(events: TestEvent[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) m.set(e.type ?? "com.example.test", (m.get(e.type ?? "com.example.test") ?? 0) + 1);
  return m;
}

/** A TCP port free right now on 127.0.0.1 (for a spawned processor's HTTP server). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** GET a spawned processor's read API. */
export async function httpJson(port: number, pathAndQuery: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${pathAndQuery}`);
  return { status: res.status, body: await res.json() };
}

export function sumOffsets(offsets: Map<number, bigint>): number {
  let sum = 0;
  for (const v of offsets.values()) if (v > 0n) sum += Number(v);
  return sum;
}

// ---------------------------------------------------------------- machine services, for the fault tests

const pgVersion = () => readdirSync("/etc/postgresql").sort().at(-1) as string;

/** pg_ctlcluster on the machine's cluster; `action` is stop, start or restart. */
export function pgCluster(action: "stop" | "start" | "restart"): void {
  execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", pgVersion(), "main", action, ...(action === "stop" ? ["-m", "fast"] : [])], { stdio: "ignore" });
}

export function pgRunning(): boolean {
  try {
    execFileSync("pg_isready", ["-h", "127.0.0.1", "-p", "5432"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Starts PostgreSQL again if a test left it stopped (used in finally blocks). */
export async function ensurePgRunning(): Promise<void> {
  if (!pgRunning()) {
    try {
      pgCluster("start");
    } catch {
      // "already running" races are fine; the wait below is what matters.
    }
  }
  await waitFor("PostgreSQL accepting connections", () => pgRunning(), 60_000, 250);
}

export function redisStop(): void {
  execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], { stdio: "ignore" });
}

export function redisRunning(): boolean {
  try {
    return execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", "6379", "ping"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() === "PONG";
  } catch {
    return false;
  }
}

export async function ensureRedisRunning(): Promise<void> {
  if (!redisRunning()) {
    execFileSync(
      "redis-server",
      ["--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
      { stdio: "ignore" },
    );
  }
  await waitFor("Redis answering PING", () => redisRunning(), 30_000, 200);
}
