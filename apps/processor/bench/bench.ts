/**
 * `npm run bench:processor`: the processor's sustained throughput into PostgreSQL and Redis, and its
 * produce→commit latency, against the real local broker, PostgreSQL and Redis, next to two ceilings measured
 * in the same run on the same data (bench/ceilings.ts): Kafka's ConsumerPerformance on the same topic, a raw
 * COPY of the drained backlog's rows into PostgreSQL, and the processor's own fetch path consuming the topic alone.
 *
 *   1. throughput: BENCH_EVENTS events are produced first, then the real processor (dist/src/server.js, a
 *      child process, as the least-privilege role) drains the backlog; the rate is read from the group's
 *      committed offsets, polled from outside (bench/measure.ts). Right after it, the raw COPY ceiling on the
 *      rows it stored (the figure the target compares it with, measured as close to it in time as possible).
 *   2. latency: events are produced at a steady BENCH_PACED_FRACTION of the measured rate for BENCH_PACED_S
 *      seconds; each record's latency runs from its send to the offset commit that covers it.
 *   3. integrity: PostgreSQL rows and rollups, every Redis cache entry and the read API are checked against
 *      totals computed independently from what was produced (bench/workload.ts); any difference is reported.
 *   4. the other ceilings;
 *   5. the consumer-group run: a second backlog of the same shape drained by BENCH_GROUP_PROCESSORS processes
 *      in one consumer group (how KEDA scales the processor), reported next to, not instead of, the single
 *      process;
 *   6. the batch transaction through a network's latency (bench/proxied-writes.ts): the one-round-trip
 *      transaction against BEGIN, COPY, statement, COMMIT, and one transaction at a time against two, directly
 *      and through a proxy that delays each direction by BENCH_PROXY_DELAY_MS; then docs/bench-processor.json and
 *      docs/bench-processor.md (bench/report.ts).
 *
 * BENCH_ONLY=proxied runs step 6 alone (PostgreSQL only: no broker, no processor process) and puts its result into
 * the existing docs/bench-processor.json and .md, leaving the other figures as they were measured.
 *
 * A script, not a test: it asserts nothing, it reports what it measured, missed targets included. Run it
 * under the shared services lock (it uses the machine's PostgreSQL and Redis).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Admin } from "@platformatic/kafka";
import { Redis } from "ioredis";
import pg from "pg";
import { DEFAULTS, loadConfig } from "../src/config.js";
import { createLogger } from "@eventstack/runtime";
import { migrate } from "../src/migrate.js";
import { consumerPerformance, copyCeiling, nodeClientCeiling } from "./ceilings.js";
import { BatchLog, CommitWatcher, CpuSampler, machine, percentiles } from "./measure.js";
import { freePort } from "../test/helpers.js";
import { proxiedWrites, type ProxiedWritesResult } from "./proxied-writes.js";
import { markdown, type BenchResult, type GroupResult } from "./report.js";
import { produce, Workload } from "./workload.js";

/** package.json's config.nodeFlags: what `npm start` and the image's CMD pass to node. */
const PROCESSOR_NODE_FLAGS: string[] = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { config: { nodeFlags: string } }).config.nodeFlags.split(" ").filter(Boolean);

const SETTINGS = {
  events: Number(process.env.BENCH_EVENTS ?? 1_000_000),
  pacedSeconds: Number(process.env.BENCH_PACED_S ?? 20),
  pacedFraction: Number(process.env.BENCH_PACED_FRACTION ?? 0.25),
  types: Number(process.env.BENCH_TYPES ?? 8),
  subjects: Number(process.env.BENCH_SUBJECTS ?? 1000),
  dataBytes: Number(process.env.BENCH_DATA_BYTES ?? 256),
  partitions: Number(process.env.BENCH_PARTITIONS ?? DEFAULTS.KAFKA_TOPIC_PARTITIONS),
  batchMaxRecords: Number(process.env.BATCH_MAX_RECORDS ?? DEFAULTS.BATCH_MAX_RECORDS),
  fetchMaxBytes: Number(process.env.KAFKA_FETCH_MAX_BYTES ?? DEFAULTS.KAFKA_FETCH_MAX_BYTES),
  /** Commit polls during the latency phase: each record's latency is late by at most about this much. */
  pollMs: Number(process.env.BENCH_POLL_MS ?? 25),
  /**
   * Commit polls while a backlog drains: the drain's rate is taken from the first observed commit to the last, so
   * this bounds its error (100 ms in a drain of several seconds), and coarser polls take less CPU from the
   * machine the drain runs on (each poll is a request to the broker and its handling here).
   */
  drainPollMs: Number(process.env.BENCH_DRAIN_POLL_MS ?? 100),
  copyRepetitions: Number(process.env.BENCH_COPY_REPETITIONS ?? 5),
  // The broker scripts/services.mjs starts (KAFKA_PORT) unless KAFKA_BOOTSTRAP names another.
  bootstrap: process.env.KAFKA_BOOTSTRAP ?? (process.env.KAFKA_PORT ? `127.0.0.1:${process.env.KAFKA_PORT}` : DEFAULTS.KAFKA_BOOTSTRAP),
  /** A file to copy the processor's log to (its per-batch lines are the profile). */
  processorLog: process.env.BENCH_PROCESSOR_LOG,
  /** Processes in the consumer-group run (0 skips it): the same backlog drained by that many members. */
  groupProcessors: Number(process.env.BENCH_GROUP_PROCESSORS ?? 2),
  /** Extra Node.js arguments for the processor, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
  /** The flags the processor runs with everywhere (package.json config.nodeFlags), then BENCH_PROCESSOR_NODE_ARGS. */
  processorNodeArgs: [...PROCESSOR_NODE_FLAGS, ...(process.env.BENCH_PROCESSOR_NODE_ARGS ?? "").split(" ").filter(Boolean)],
  /** Milliseconds the proxy of step 6 holds each chunk, per direction (a writer in another availability zone: 1-2). */
  proxyDelayMs: Number(process.env.BENCH_PROXY_DELAY_MS ?? 1),
  /** Batches of BATCH_MAX_RECORDS events each way stores in one round of step 6. */
  proxyBatches: Number(process.env.BENCH_PROXY_BATCHES ?? 20),
  /** Rounds of step 6 (the ways take turns; the median round counts). */
  proxyRounds: Number(process.env.BENCH_PROXY_ROUNDS ?? 3),
  /** "proxied": step 6 alone, into the existing report. */
  only: process.env.BENCH_ONLY,
};
const TARGETS = { processorVsCopy: 0.5 };

const root = path.resolve(process.cwd(), "../..");
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Services {
  up(): Promise<unknown>;
  kafkaClasspath(): string;
}

async function pgAdmin<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  const code = await Promise.race([exited, sleep(30_000).then(() => undefined)]);
  if (code === undefined) {
    child.kill("SIGKILL");
    return null;
  }
  return code;
}

/** Every check of the end state against the independently computed expectation; each failure is listed. */
async function verify(database: string, workload: Workload, keyPrefix: string, httpPort: number, produced: number, committed: number) {
  const problems: string[] = [];
  const [row] = await pgAdmin(database, async (c) =>
    (await c.query<{ events: string; rollup: string }>("SELECT (SELECT count(*) FROM events) AS events, (SELECT coalesce(sum(count), 0) FROM rollup_minute) AS rollup")).rows,
  );
  const events = Number(row?.events);
  const rollup = Number(row?.rollup);
  if (events !== produced) problems.push(`events table holds ${events} rows, ${produced} were produced`);
  if (rollup !== produced) problems.push(`rollups count ${rollup} events, ${produced} were produced`);
  if (committed !== produced) problems.push(`${committed} offsets committed, ${produced} records produced`);

  const rollups = await pgAdmin(database, async (c) => (await c.query<{ type: string; minute: Date; count: string; subjects: string }>("SELECT type, minute, count, subjects FROM rollup_minute")).rows);
  const inPg = new Map(rollups.map((r) => [`${r.type}|${r.minute.toISOString()}`, r]));
  const redis = new Redis({ host: "127.0.0.1", port: 6379, maxRetriesPerRequest: 1 });
  let cacheChecked = 0;
  try {
    for (const [key, e] of workload.expected) {
      const p = inPg.get(key);
      if (!p || Number(p.count) !== e.count || Number(p.subjects) !== e.subjects.size) {
        problems.push(`PostgreSQL rollup ${key} is ${p ? `${p.count}:${p.subjects}` : "missing"}, expected ${e.count}:${e.subjects.size}`);
      }
      const minute = new Date(e.minute);
      const cached = await redis.hget(`${keyPrefix}rollup:{${e.type}}:${minute.toISOString().slice(0, 10)}`, String(minute.getUTCHours() * 60 + minute.getUTCMinutes()));
      if (cached !== `${e.count}:${e.subjects.size}`) problems.push(`Redis rollup ${key} is ${cached ?? "missing"}, expected ${e.count}:${e.subjects.size}`);
      cacheChecked++;
    }
    if (inPg.size !== workload.expected.size) problems.push(`PostgreSQL holds ${inPg.size} type-minutes, ${workload.expected.size} expected`);
  } finally {
    redis.disconnect();
  }

  const minutes = [...workload.expected.values()].map((e) => e.minute);
  const from = new Date(Math.min(...minutes)).toISOString();
  const to = new Date(Math.max(...minutes) + 60_000).toISOString();
  let apiChecked = 0;
  for (const [type, count] of workload.totalsByType()) {
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/stats?type=${encodeURIComponent(type)}&from=${from}&to=${to}&granularity=hour`);
    const body = (await res.json()) as { total?: number };
    if (res.status !== 200 || body.total !== count) problems.push(`read API total for ${type} is ${res.status} ${body.total}, expected ${count}`);
    apiChecked++;
  }
  return { events, rollupCount: rollup, committed, typeMinutes: workload.expected.size, cacheEntriesChecked: cacheChecked, readApiTypesChecked: apiChecked, problems, exact: problems.length === 0 };
}

/** The processor's own counters at the end (dead letters and duplicates must both be zero here). */
async function scrape(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const pick = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    stored: pick(/^processor_events_total\{outcome="stored"\} (\d+)/m),
    duplicate: pick(/^processor_events_total\{outcome="duplicate"\} (\d+)/m),
    deadLettered: pick(/^processor_events_total\{outcome="dead_lettered"\} (\d+)/m),
    batchRetries: [...text.matchAll(/^processor_batch_retries_total\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0),
    cacheWriteErrors: pick(/^processor_cache_write_errors_total (\d+)/m),
  };
}

async function cleanup(database: string, topics: string[], keyPrefix: string) {
  const admin = new Admin({ clientId: "bench-cleanup", bootstrapBrokers: loadConfig({ KAFKA_BOOTSTRAP: SETTINGS.bootstrap }).kafka.brokers });
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.close();
  await pgAdmin("postgres", (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)} WITH (FORCE)`));
  const redis = new Redis({ host: "127.0.0.1", port: 6379, maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

function spawnProcessor(env: Record<string, string>, port: number, onStdout: (d: Buffer) => void): ChildProcess {
  const child = spawn(process.execPath, [...SETTINGS.processorNodeArgs, "dist/src/server.js"], { env: { PATH: process.env.PATH ?? "", ...env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
  child.stdout?.on("data", onStdout);
  return child;
}

/**
 * The consumer-group run: a fresh backlog of the same shape (own topic, group, database and key prefix),
 * drained by `members` processor processes in one consumer group, as KEDA scales the Deployment, measured
 * like the main run (first offset commit to last) with the group formed before the backlog arrives; totals
 * are verified as in the main run.
 */
async function groupRun(stamp: string, members: number): Promise<GroupResult> {
  const database = `bench_processor_${stamp}_group`;
  const keyPrefix = `bench:${stamp}:group:`;
  const env: Record<string, string> = {
    ...processorEnv(stamp, database, keyPrefix),
    EVENTS_TOPIC: `bench.${stamp}.group.events`,
    DLQ_TOPIC: `bench.${stamp}.group.dlq`,
    CONSUMER_GROUP: `bench-processor-${stamp}-group`,
    // The members stay suspended while the backlog is produced (below), which takes longer than the default
    // 30 s session for a backlog of a million events; a session this long keeps them in the group meanwhile.
    KAFKA_SESSION_TIMEOUT_MS: "180000",
  };
  const config = loadConfig(env);
  await pgAdmin("postgres", (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(database)}`));
  const children: ChildProcess[] = [];
  try {
    await migrate(loadConfig({ ...env, PGUSER: "postgres" }), createLogger("warn", "eventstack-processor"));
    const workload = new Workload({ types: SETTINGS.types, subjects: SETTINGS.subjects, dataBytes: SETTINGS.dataBytes }, `bench-${stamp}-group`);
    // The members join the group on the empty topic first and settle, then are suspended (SIGSTOP) while the
    // backlog is produced, and resumed together: the drain then starts with the group already stable, as it
    // is when a scaled-out Deployment meets a burst. The suspension is below the members' session timeout (set
    // above), so the broker keeps both members; their Fetch long polls time out meanwhile and are tried again.
    const joins: number[] = [];
    const ports: number[] = [];
    const cpu = new CpuSampler([]);
    let joinedMembers = 0;
    for (let m = 0; m < members; m++) {
      const port = await freePort();
      ports.push(port);
      let partial = "";
      let joined = false;
      children.push(
        spawnProcessor(env, port, (d) => {
          const lines = (partial + d.toString()).split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) {
            if (!line.includes('"joined consumer group"')) continue;
            joins.push(Date.now());
            if (!joined) {
              joined = true;
              joinedMembers++;
            }
          }
        }),
      );
      const pid = children.at(-1)?.pid;
      if (pid !== undefined) cpu.watch(pid);
    }
    const settleDeadline = Date.now() + 120_000;
    // Settled: every member has joined and no rebalance for 5 s (longer than a heartbeat interval).
    while (joinedMembers < members || Date.now() - Math.max(...joins) < 5_000) {
      if (Date.now() > settleDeadline) throw new Error(`group run: the ${members} members did not settle in the group`);
      await sleep(100);
    }
    const settledJoins = joins.length;
    for (const child of children) child.kill("SIGSTOP");
    log(`group run: ${members} members settled (${settledJoins} joins); producing ${SETTINGS.events} events while they are suspended`);
    try {
      await produce(workload, config.kafka.brokers, config.kafka.eventsTopic, SETTINGS.partitions, { count: SETTINGS.events });
    } finally {
      for (const child of children) child.kill("SIGCONT");
    }
    const drainStart = Date.now();
    const watcher = new CommitWatcher(config.kafka.brokers, config.kafka.groupId, config.kafka.eventsTopic, SETTINGS.drainPollMs);
    watcher.start();
    const drainEnd = await watcher.waitFor(SETTINGS.events, 600_000);
    const drain = watcher.throughput(drainStart, drainEnd + 1);
    cpu.stop();
    const drainCpu = cpu.usage(drainEnd - drain.seconds * 1000, drainEnd, drain.records);
    const rebalances = joins.length - settledJoins;
    log(`group run: drained ${SETTINGS.events} in ${drain.seconds} s after the first commit: ${drain.recordsPerSec} events/s (${rebalances} group joins during the drain)`);
    const integrity = await verify(database, workload, keyPrefix, ports[0] as number, SETTINGS.events, watcher.total);
    const counters = { stored: 0, duplicate: 0, deadLettered: 0, batchRetries: 0, cacheWriteErrors: 0 };
    for (const port of ports) for (const [k, v] of Object.entries(await scrape(port))) counters[k as keyof typeof counters] += v;
    // A rebalance may redeliver a few records to the new owner: duplicates are allowed here, but every
    // event must be stored exactly once across the members, and nothing dead-lettered.
    if (counters.stored !== SETTINGS.events) integrity.problems.push(`the members counted ${counters.stored} stored events, ${SETTINGS.events} expected`);
    if (counters.deadLettered !== 0) integrity.problems.push(`${counters.deadLettered} dead letters, 0 expected`);
    integrity.exact = integrity.problems.length === 0;
    log(integrity.exact ? "group run: totals exact" : `group run: totals NOT exact:\n  ${integrity.problems.slice(0, 20).join("\n  ")}`);
    const exitCodes: (number | null)[] = [];
    for (const child of children) exitCodes.push(await stopChild(child));
    await watcher.stop();
    return { members, throughput: drain, cpuDuringThroughput: drainCpu, joinsDuringDrain: rebalances, integrity, counters, exitCodes };
  } finally {
    for (const child of children) await stopChild(child);
    await cleanup(database, [config.kafka.eventsTopic, config.kafka.dlqTopic], keyPrefix).catch((err) => log(`cleanup failed: ${(err as Error).message}`));
  }
}

/** Step 6 (bench/proxied-writes.ts) in a database of its own, dropped afterwards. */
async function proxiedRun(stamp: string): Promise<ProxiedWritesResult> {
  const database = `bench_processor_${stamp}_proxied`;
  await pgAdmin("postgres", (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(database)}`));
  try {
    await migrate(loadConfig({ PGHOST: "127.0.0.1", PGDATABASE: database, PGUSER: "postgres" }), createLogger("warn", "eventstack-processor"), { topics: false });
    log(`batch transactions directly and through a ${SETTINGS.proxyDelayMs} ms proxy: ${SETTINGS.proxyRounds} rounds of ${SETTINGS.proxyBatches} batches of ${SETTINGS.batchMaxRecords} events per way`);
    const result = await proxiedWrites({
      database,
      delayMs: SETTINGS.proxyDelayMs,
      batches: SETTINGS.proxyBatches,
      batchRecords: SETTINGS.batchMaxRecords,
      rounds: SETTINGS.proxyRounds,
      workload: { types: SETTINGS.types, subjects: SETTINGS.subjects, dataBytes: SETTINGS.dataBytes },
    });
    for (const c of [result.direct, result.proxied]) log(`${c.delayMs} ms: ${c.ways.map((w) => `${w.trip} x${w.transactions} ${w.eventsPerSec}/s`).join(", ")}`);
    return result;
  } finally {
    await pgAdmin("postgres", (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(database)} WITH (FORCE)`));
  }
}

/** BENCH_ONLY=proxied: step 6 alone, its result put into the report of the last whole run. */
async function proxiedOnly(): Promise<void> {
  const json = path.join(root, "docs", "bench-processor.json");
  const result = JSON.parse(readFileSync(json, "utf8")) as BenchResult;
  result.proxied = await proxiedRun(Date.now().toString(36));
  writeReport(result);
}

function writeReport(result: BenchResult): void {
  const docs = path.join(root, "docs");
  mkdirSync(docs, { recursive: true });
  writeFileSync(path.join(docs, "bench-processor.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(path.join(docs, "bench-processor.md"), markdown(result));
  log("wrote docs/bench-processor.json and docs/bench-processor.md");
}

/** The processor's environment in the benchmark: its own topics, group, database and key prefix. */
function processorEnv(stamp: string, database: string, keyPrefix: string): Record<string, string> {
  return {
    KAFKA_BOOTSTRAP: SETTINGS.bootstrap,
    EVENTS_TOPIC: `bench.${stamp}.events`,
    DLQ_TOPIC: `bench.${stamp}.dlq`,
    CONSUMER_GROUP: `bench-processor-${stamp}`,
    KAFKA_TOPIC_PARTITIONS: String(SETTINGS.partitions),
    BATCH_MAX_RECORDS: String(SETTINGS.batchMaxRecords),
    KAFKA_FETCH_MAX_BYTES: String(SETTINGS.fetchMaxBytes),
    PGHOST: "127.0.0.1",
    PGDATABASE: database,
    PGUSER: DEFAULTS.DB_PROCESSOR_ROLE,
    REDIS_HOST: "127.0.0.1",
    REDIS_KEY_PREFIX: keyPrefix,
    HOST: "127.0.0.1",
    LOG_LEVEL: "debug",
  };
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0] ?? 0;
  const services = (await import(pathToFileURL(path.join(root, "scripts/services.mjs")).href)) as Services;
  await services.up();
  const stamp = `${Date.now().toString(36)}`;
  const database = `bench_processor_${stamp}`;
  const keyPrefix = `bench:${stamp}:`;
  const env = processorEnv(stamp, database, keyPrefix);
  const config = loadConfig(env);
  await pgAdmin("postgres", (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(database)}`));
  const topics = [config.kafka.eventsTopic, config.kafka.dlqTopic];
  let child: ChildProcess | undefined;
  try {
    // The pre-deploy step as in production: schema, roles, topics (run as the admin user).
    await migrate(loadConfig({ ...env, PGUSER: "postgres" }), createLogger("warn", "eventstack-processor"));
    const workload = new Workload({ types: SETTINGS.types, subjects: SETTINGS.subjects, dataBytes: SETTINGS.dataBytes }, `bench-${stamp}`);
    const recordBytes = workload.recordBytes(config.kafka.eventsTopic);

    log(`producing the backlog: ${SETTINGS.events} events of ${recordBytes} bytes into ${SETTINGS.partitions} partitions`);
    const backlog = await produce(workload, config.kafka.brokers, config.kafka.eventsTopic, SETTINGS.partitions, { count: SETTINGS.events });
    log(`backlog produced in ${backlog.seconds} s`);

    // Both the drain and each COPY of the ceiling start from a checkpoint, so neither pays for the other's (or the
    // producing's) dirty pages being written back meanwhile.
    await pgAdmin(database, (c) => c.query("CHECKPOINT"));
    const watcher = new CommitWatcher(config.kafka.brokers, config.kafka.groupId, config.kafka.eventsTopic, SETTINGS.drainPollMs);
    watcher.start();
    const batchLog = new BatchLog();
    const port = await freePort();
    const logCopy = SETTINGS.processorLog ? createWriteStream(SETTINGS.processorLog) : undefined;
    child = spawnProcessor(env, port, (d) => {
      batchLog.feed(d);
      logCopy?.write(d);
    });
    const cpu = new CpuSampler(child.pid === undefined ? [] : [child.pid]);
    const drainStart = Date.now();
    const drainEnd = await watcher.waitFor(SETTINGS.events, 600_000);
    const drain = watcher.throughput(drainStart, drainEnd + 1);
    cpu.stop();
    const drainCpu = cpu.usage(drainEnd - drain.seconds * 1000, drainEnd, drain.records);
    log(`drained ${SETTINGS.events} in ${drain.seconds} s after the first commit: ${drain.recordsPerSec} events/s`);
    // The raw COPY ceiling right after the drain, on the rows it stored: the two figures the target compares are
    // measured minutes apart at most, on a machine whose speed drifts.
    log(`raw COPY of the backlog's rows (${SETTINGS.copyRepetitions} times)`);
    const copy = await copyCeiling(database, SETTINGS.copyRepetitions, SETTINGS.events);
    log(`COPY: ${copy.rowsPerSec} rows/s (median of ${copy.repetitions.join(", ")})`);

    watcher.intervalMs = SETTINGS.pollMs;
    const rate = Math.max(100, Math.round(drain.recordsPerSec * SETTINGS.pacedFraction));
    log(`latency phase: ${rate} events/s for ${SETTINGS.pacedSeconds} s`);
    const pacedStart = Date.now();
    const paced = await produce(workload, config.kafka.brokers, config.kafka.eventsTopic, SETTINGS.partitions, { ratePerSec: rate, seconds: SETTINGS.pacedSeconds });
    const total = SETTINGS.events + paced.records;
    const pacedEnd = await watcher.waitFor(total, 120_000);
    const latency = percentiles(watcher.latencies(paced));
    log(`latency p50 ${latency.p50} ms, p99 ${latency.p99} ms over ${latency.count} events`);

    log("verifying totals in PostgreSQL, Redis and the read API");
    const integrity = await verify(database, workload, keyPrefix, port, total, watcher.total);
    const counters = await scrape(port);
    if (counters.stored !== total) integrity.problems.push(`the processor counted ${counters.stored} stored events, ${total} expected`);
    if (counters.duplicate !== 0 || counters.deadLettered !== 0) integrity.problems.push(`${counters.duplicate} duplicates and ${counters.deadLettered} dead letters, 0 expected`);
    integrity.exact = integrity.problems.length === 0;
    log(integrity.exact ? "totals exact" : `totals NOT exact:\n  ${integrity.problems.slice(0, 20).join("\n  ")}`);
    const exitCode = await stopChild(child);
    await watcher.stop();

    log(`ConsumerPerformance on ${config.kafka.eventsTopic} (${total} records)`);
    const cp = await consumerPerformance(services.kafkaClasspath(), SETTINGS.bootstrap, config.kafka.eventsTopic, total);
    log(`ConsumerPerformance: ${cp.recordsPerSec} records/s`);
    const nodeClient = await nodeClientCeiling(config, total);
    log(`fetch path alone: ${nodeClient.recordsPerSec} records/s`);

    const group = SETTINGS.groupProcessors > 0 ? await groupRun(stamp, SETTINGS.groupProcessors) : undefined;
    const proxied = await proxiedRun(stamp);

    const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);
    const ratios = {
      processorVsCopy: ratio(drain.recordsPerSec, copy.rowsPerSec),
      groupVsCopy: group ? ratio(group.throughput.recordsPerSec, copy.rowsPerSec) : null,
      processorVsConsumerPerformance: ratio(drain.recordsPerSec, cp.recordsPerSec),
      processorVsNodeClient: ratio(drain.recordsPerSec, nodeClient.recordsPerSec),
    };
    const result: BenchResult = {
      date: new Date().toISOString(),
      machine: machine(loadBefore),
      settings: { ...SETTINGS, recordBytes, pacedRatePerSec: rate, pacedAchievedPerSec: Math.round(paced.records / paced.seconds) },
      processor: {
        throughput: drain,
        cpuDuringThroughput: drainCpu,
        batchesDuringThroughput: batchLog.summary(drainStart, drainEnd + 1),
        latency: { ...latency, resolutionMs: { pollIntervalMs: watcher.intervalMs, pollRoundTripMs: watcher.roundTripMs }, events: paced.records, seconds: paced.seconds },
        batchesDuringLatency: batchLog.summary(pacedStart, pacedEnd + 1),
        counters,
        exitCode,
      },
      consumerPerformance: cp,
      nodeClient,
      copy,
      integrity,
      group,
      proxied,
      targets: TARGETS,
      ratios,
      met: {
        processorVsCopy: ratios.processorVsCopy !== null && ratios.processorVsCopy >= TARGETS.processorVsCopy,
        groupVsCopy: ratios.groupVsCopy !== null && ratios.groupVsCopy >= TARGETS.processorVsCopy,
      },
    };
    writeReport(result);
  } finally {
    if (child) await stopChild(child);
    await cleanup(database, topics, keyPrefix).catch((err) => log(`cleanup failed: ${(err as Error).message}`));
  }
}

if (SETTINGS.only === "proxied") await proxiedOnly();
else if (SETTINGS.only !== undefined) throw new Error(`BENCH_ONLY must be "proxied" or unset, got ${JSON.stringify(SETTINGS.only)}`);
else await main();
