/**
 * The ceilings the processor is compared with, measured in the same run on the same data:
 *
 *   ConsumerPerformance  Kafka's own consumer benchmark (org.apache.kafka.tools.ConsumerPerformance, Java
 *                        client, from the broker's Maven artifacts) reading the same topic: how fast records
 *                        can leave the broker at all.
 *   raw COPY             the same rows the processor stored, copied by PostgreSQL's COPY (binary format, from
 *                        memory) into an empty table of the same shape and primary key: how fast PostgreSQL
 *                        can take these rows at all, with no deduplication, rollups, cache or Kafka.
 *   Node client          the processor's own fetch path (@platformatic/kafka's Fetch through src/wire/fetcher.ts)
 *                        with the processor's fetch settings, reading the same topic and doing nothing with
 *                        the records: the most one processor process can consume, whatever it does with them.
 */
import { spawn } from "node:child_process";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Consumer } from "@platformatic/kafka";
import pg from "pg";
import copyStreams from "pg-copy-streams";
import type { Config } from "../src/config.js";
import { createFetcher } from "../src/consume/fetcher-setup.js";
import { postgresCpuS, processCpuS } from "./measure.js";

const round2 = (x: number) => Math.round(x * 100) / 100;

export interface ConsumerPerformanceResult {
  records: number;
  /** Records/s over the fetch time only (the tool's fetch.nMsg.sec: group join excluded). */
  recordsPerSec: number;
  /** Records/s over the whole run including the group join (nMsg.sec). */
  recordsPerSecWithJoin: number;
  mbPerSec: number;
  fetchTimeMs: number;
  rebalanceTimeMs: number;
  /** CPU-µs per record of the Java consumer process, read from /proc while it runs (JVM start-up and group join included). */
  cpuUsPerRecord: number | null;
}

export async function consumerPerformance(classpath: string, bootstrap: string, topic: string, records: number): Promise<ConsumerPerformanceResult> {
  const child = spawn(
    "java",
    ["-Xmx512m", "-cp", classpath, "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap, "--topic", topic, "--messages", String(records), "--group", `bench-cp-${Date.now()}`, "--timeout", "30000"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  // The process's CPU can only be read while it exists: the last reading before it exits is its total.
  let cpuS: number | undefined;
  const sampler = setInterval(() => (cpuS = processCpuS(child.pid) ?? cpuS), 100);
  const timeout = setTimeout(() => child.kill("SIGKILL"), 300_000);
  const status = await new Promise<number | null>((r) => child.once("exit", r));
  clearInterval(sampler);
  clearTimeout(timeout);
  // Header then one line: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  // rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = stdout.trim().split("\n");
  const header = lines.findIndex((l) => l.includes("fetch.nMsg.sec"));
  const values = header >= 0 ? (lines[header + 1] ?? "").split(",").map((s) => s.trim()) : [];
  if (values.length < 10) throw new Error(`ConsumerPerformance output not understood (exit ${status}):\n${(stdout + stderr).slice(-2000)}`);
  const n = (i: number) => Number(values[i]);
  return {
    records: n(4),
    recordsPerSecWithJoin: Math.round(n(5)),
    mbPerSec: Math.round(n(8) * 10) / 10,
    rebalanceTimeMs: n(6),
    fetchTimeMs: n(7),
    recordsPerSec: Math.round(n(9)),
    cpuUsPerRecord: cpuS === undefined || n(4) <= 0 ? null : round2((cpuS / n(4)) * 1e6),
  };
}

export interface CopyResult {
  rows: number;
  bytes: number;
  /** Median of the repetitions. */
  seconds: number;
  rowsPerSec: number;
  /** Rows/s of every repetition, in order. */
  repetitions: number[];
  /**
   * CPU-µs per row during the COPY (median of the repetitions): the backend that ran it, and every PostgreSQL
   * process (server and backends, as in the drain's figure; other clients of the shared server included).
   */
  cpuUsPerRow: { backend: number | null; postgres: number };
}

const COLUMNS = "source, id, type, time, subject, datacontenttype, dataschema, data, extensions, kafka_partition, kafka_offset";

/**
 * COPY of the first `rows` rows of `events` by time (the backlog the processor drained in the throughput phase;
 * bench.ts measures this right after the drain, before any other row is produced) into a fresh table like it,
 * `repetitions` times, each from a checkpoint; only the COPY FROM is timed. The same number of rows into an empty table as the processor's drain: COPY slows down as the table
 * and its index grow, so copying every row of the run would lower the ceiling the faster the processor was.
 */
export async function copyCeiling(database: string, repetitions: number, rows: number): Promise<CopyResult> {
  const client = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await client.connect();
  try {
    const chunks: Buffer[] = [];
    await pipeline(client.query(copyStreams.to(`COPY (SELECT ${COLUMNS} FROM events ORDER BY time, kafka_partition, kafka_offset LIMIT ${Math.floor(rows)}) TO STDOUT (FORMAT binary)`)), async function* (source) {
      for await (const c of source) chunks.push(c as Buffer);
    });
    const bytes = chunks.reduce((s, c) => s + c.length, 0);
    const runs: { seconds: number; rows: number; backendCpuS: number | undefined; postgresCpuS: number }[] = [];
    const backendPid = Number((await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid);
    for (let i = 0; i < repetitions; i++) {
      await client.query("DROP TABLE IF EXISTS copy_ceiling");
      await client.query("CREATE TABLE copy_ceiling (LIKE events INCLUDING ALL)");
      // From a checkpoint, as the processor's drain starts (bench.ts).
      await client.query("CHECKPOINT");
      const backendBefore = processCpuS(backendPid);
      const postgresBefore = postgresCpuS();
      const started = performance.now();
      await client.query("BEGIN");
      await pipeline(Readable.from(chunks), client.query(copyStreams.from(`COPY copy_ceiling (${COLUMNS}) FROM STDIN (FORMAT binary)`)));
      await client.query("COMMIT");
      const seconds = (performance.now() - started) / 1000;
      const backendAfter = processCpuS(backendPid);
      const postgresAfter = postgresCpuS();
      const rows = Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM copy_ceiling")).rows[0]?.n);
      runs.push({ seconds, rows, backendCpuS: backendBefore === undefined || backendAfter === undefined ? undefined : backendAfter - backendBefore, postgresCpuS: postgresAfter - postgresBefore });
    }
    await client.query("DROP TABLE copy_ceiling");
    const median = [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)] as (typeof runs)[number];
    const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const backend = runs.filter((r) => r.backendCpuS !== undefined).map((r) => ((r.backendCpuS as number) / r.rows) * 1e6);
    return {
      rows: median.rows,
      bytes,
      seconds: Math.round(median.seconds * 1000) / 1000,
      rowsPerSec: Math.round(median.rows / median.seconds),
      repetitions: runs.map((r) => Math.round(r.rows / r.seconds)),
      cpuUsPerRow: { backend: backend.length > 0 ? round2(medianOf(backend)) : null, postgres: round2(medianOf(runs.map((r) => (r.postgresCpuS / r.rows) * 1e6))) },
    };
  } finally {
    await client.end();
  }
}

export interface NodeClientResult {
  records: number;
  /** From the first record received to the last (the group join excluded). */
  recordsPerSec: number;
  seconds: number;
  /** CPU-µs per record of this (the benchmark's) process over the same span, from process.cpuUsage. */
  cpuUsPerRecord: number;
}

/** Consumes `records` records with the processor's fetch path and settings, and drops them. */
export async function nodeClientCeiling(config: Config, records: number): Promise<NodeClientResult> {
  // A group of its own, with no commits: it starts at the earliest offset, like a new processor group.
  const consumer = new Consumer({ clientId: "bench-node-client", groupId: `bench-node-client-${Date.now()}`, bootstrapBrokers: config.kafka.brokers, autocommit: false });
  const fetcher = createFetcher(consumer, config);
  try {
    await fetcher.start();
    let n = 0;
    let first = 0;
    let firstBatch = 0;
    let cpuAtFirst = process.cpuUsage();
    const timer = setTimeout(() => void fetcher.close(), 300_000);
    while (n < records && !fetcher.closed) {
      const got = fetcher.take(config.kafka.batchMaxRecords, () => undefined);
      if (got === 0) {
        await fetcher.wait();
        continue;
      }
      if (n === 0) [first, firstBatch, cpuAtFirst] = [performance.now(), got, process.cpuUsage()];
      n += got;
    }
    clearTimeout(timer);
    const seconds = (performance.now() - first) / 1000;
    const cpu = process.cpuUsage(cpuAtFirst);
    return {
      records: n,
      recordsPerSec: Math.round((n - firstBatch) / seconds),
      seconds: Math.round(seconds * 100) / 100,
      cpuUsPerRecord: n > firstBatch ? round2((cpu.user + cpu.system) / (n - firstBatch)) : 0,
    };
  } finally {
    await fetcher.close();
    await consumer.close(true);
  }
}
