/**
 * `npm run bench:ingest`: throughput and latency of the ingest service against the real local broker, next to
 * the ceilings measured in the same run on the same broker:
 *
 *   producer-performance  Kafka's own ProducerPerformance (Java client), same record size, acks=all, idempotent
 *   node-client           the service's own producer (src/kafka.ts on @platformatic/kafka) without HTTP: batch
 *                         mode's produce() calls straight from the benchmark process
 *   bare-http             a Node HTTP server that answers 202 without doing anything (the HTTP ceiling)
 *   fastify               fastify configured like the service, answering 202 without decoding (bench/fastify-floor.ts)
 *   strimzi-bridge        the Strimzi Kafka Bridge (HTTP to Kafka peer), acks=all, idempotent, when
 *                         BENCH_STRIMZI_BRIDGE_HOME names a built bridge distribution (docs/ingest.md says how)
 *   ingest single/batch   this service, one event per request / BENCH_BATCH events per request, with the
 *                         KAFKA_PRODUCERS requests in flight it is configured with and, for comparison, with one
 *   half load             after the rounds, the service paced at BENCH_HALF_LOAD_FRACTION (0.5) of its median
 *                         single and batch request rates, for its p99 latency at that load
 *
 * The machine is shared (2 cores for the broker, the load generator and the server under test, plus whatever
 * else runs), so one run of each says little. The benchmark runs BENCH_ROUNDS rounds, alternating the order of
 * the runs from one round to the next so no run always goes first, and reports each figure's median with its
 * spread (min-max). A target's ratio is taken within each round (ingest and its ceiling measured minutes apart,
 * not a quarter of an hour) and the verdict uses the median of those per-round ratios. Each run also records how
 * the CPU time was split (service, broker, load generator, the rest of the machine, idle), from /proc, and the
 * CPU time per event of the process under test and of the broker (CPU-µs per event), which says whether a ratio
 * is bound by the process's own cost or by the machine it shares.
 *
 * Writes docs/bench-ingest.json and docs/bench-ingest.md. A script, not a test: it asserts nothing, it reports
 * what it measured, including missed targets. Bounded: each HTTP run lasts BENCH_DURATION_S seconds after a
 * short warm-up; ProducerPerformance sends BENCH_PP_RECORDS records per round.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import autocannon, { type Result as AutocannonResult } from "autocannon";
import { Admin, Consumer } from "@platformatic/kafka";
import type { FastifyBaseLogger } from "fastify";
import { loadConfig } from "../src/config.js";
import { parseRequest } from "../src/http-binding.js";
import { EventProducer } from "../src/kafka.js";
import { toKafkaRecord, type KafkaRecord } from "../src/kafka-record.js";
import { createMetrics } from "../src/metrics.js";
import { pacedLoad, quantileMs } from "./paced-load.js";

const SETTINGS = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  durationS: Number(process.env.BENCH_DURATION_S ?? 10),
  warmupS: Number(process.env.BENCH_WARMUP_S ?? 2),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
  batch: Number(process.env.BENCH_BATCH ?? 100),
  dataBytes: Number(process.env.BENCH_DATA_BYTES ?? 256),
  ppRecords: Number(process.env.BENCH_PP_RECORDS ?? 500_000),
  // The broker scripts/services.mjs starts (KAFKA_PORT, 9092 by default) unless KAFKA_BOOTSTRAP names another.
  bootstrap: process.env.KAFKA_BOOTSTRAP ?? `127.0.0.1:${process.env.KAFKA_PORT ?? 9092}`,
  // The service's own default unless the environment sets it, so the benchmark measures what is deployed.
  producers: loadConfig({ KAFKA_PRODUCERS: process.env.KAFKA_PRODUCERS }).kafka.producers,
  /** A built Strimzi Kafka Bridge distribution (the directory with bin/ and libs/); unset, the bridge is not run. */
  bridgeHome: process.env.BENCH_STRIMZI_BRIDGE_HOME,
  /** The java that runs the bridge: 1.x needs Java 21 or later. */
  bridgeJava: process.env.BENCH_STRIMZI_BRIDGE_JAVA ?? "java",
  halfLoadFraction: Number(process.env.BENCH_HALF_LOAD_FRACTION ?? 0.5),
  /** The bridge's warm-up, on the connections the timed run then uses (it opens a Kafka producer per connection). */
  bridgeWarmupS: Number(process.env.BENCH_BRIDGE_WARMUP_S ?? 10),
};
const TARGETS = { batchVsProducerPerformance: 0.6, singleVsBareHttp: 0.5, halfLoadP99Ms: 25 };

const root = path.resolve(process.cwd(), "../..");
const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Services {
  up(): Promise<unknown>;
  kafkaClasspath(): string;
  settings(): { stateDir: string };
}

/**
 * CPU used during a run, in cores (CPU seconds per wall second). `other` is the rest of this machine's processes;
 * `steal` is time the hypervisor gave to other virtual machines while this one wanted the CPU.
 */
interface CpuSplit {
  service: number | null;
  broker: number | null;
  loadGenerator: number | null;
  other: number;
  steal: number;
  idle: number;
}

/** CPU time per event (µs) during a run: the process under test's and the broker's; null where not measured. */
interface CpuPerEvent {
  service: number | null;
  broker: number | null;
}

interface HttpRun {
  requestsPerSec: number;
  eventsPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  ok: number;
  non2xx: number;
  errors: number;
  durationS: number;
  /** 2xx answers during the warm-up, which also wrote events. */
  warmupOk: number;
  cpu: CpuSplit;
  cpuUsPerEvent: CpuPerEvent;
}

// ---- CPU accounting from /proc (Linux) ----

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** utime + stime of a process in seconds, or undefined when it is gone. */
function procCpuS(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Busy, stolen and total CPU seconds of the whole machine since boot (/proc/stat, first line). */
function machineCpuS(): { busy: number; steal: number; total: number } {
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1, 9).map(Number);
  const at = (i: number) => f[i] ?? 0;
  const busy = at(0) + at(1) + at(2) + at(5) + at(6);
  return { busy: busy / CLK_TCK, steal: at(7) / CLK_TCK, total: f.reduce((a, b) => a + b, 0) / CLK_TCK };
}

interface CpuMark {
  at: number;
  service: number | undefined;
  broker: number | undefined;
  self: number;
  machine: { busy: number; steal: number; total: number };
}

function cpuMark(servicePid: number | undefined, brokerPid: number | undefined): CpuMark {
  const u = process.cpuUsage();
  return { at: performance.now(), service: procCpuS(servicePid), broker: procCpuS(brokerPid), self: (u.user + u.system) / 1e6, machine: machineCpuS() };
}

/** The split between two marks; `selfIsLoad` says whether this process generated the load (autocannon runs in it). */
function cpuSplit(a: CpuMark, b: CpuMark, selfIsLoad: boolean): CpuSplit {
  const wall = (b.at - a.at) / 1000;
  const cores = (x: number) => Math.round((x / wall) * 100) / 100;
  const diff = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : y - x);
  const service = diff(a.service, b.service);
  const broker = diff(a.broker, b.broker);
  const self = b.self - a.self;
  const busy = b.machine.busy - a.machine.busy;
  const steal = b.machine.steal - a.machine.steal;
  const total = b.machine.total - a.machine.total;
  const accounted = (service ?? 0) + (broker ?? 0) + self;
  return {
    service: service === undefined ? (selfIsLoad ? null : cores(self)) : cores(service),
    broker: broker === undefined ? null : cores(broker),
    loadGenerator: selfIsLoad ? cores(self) : null,
    other: cores(Math.max(0, busy - accounted)),
    steal: cores(steal),
    // /proc/stat counts CPU seconds of all cores together: per wall second it sums to the number of cores.
    idle: cores(Math.max(0, total - busy - steal)),
  };
}

/** CPU-µs per event between two marks; `selfIsService` for in-process runs (the service is this process). */
function cpuPerEvent(a: CpuMark, b: CpuMark, events: number, selfIsService: boolean): CpuPerEvent {
  const us = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined || events <= 0 ? null : Math.round(((y - x) / events) * 1e6 * 100) / 100);
  return { service: selfIsService ? us(a.self, b.self) : us(a.service, b.service), broker: us(a.broker, b.broker) };
}

// ---- processes and load ----

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Waits until `url` answers with a status below 500 (or exactly 200 with `exact200`, for a readiness endpoint). */
async function waitHttp(url: string, child: ChildProcess, what: string, timeoutMs = 120_000, exact200 = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      http.get(url, (res) => {
        res.resume();
        resolve(exact200 ? res.statusCode === 200 : (res.statusCode ?? 500) < 500);
      }).on("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`${what} did not answer ${url} within ${timeoutMs / 1000} s`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(30_000)]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

/** What one timed HTTP run counted, whatever generated its load. */
interface HttpOutcome {
  ok: number;
  non2xx: number;
  errors: number;
  durationS: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  warmupOk: number;
}

/** The run as the report takes it: rates from the 2xx answers, CPU between the two marks. */
function httpRun(o: HttpOutcome, eventsPerRequest: number, before: CpuMark, after: CpuMark): HttpRun {
  return {
    ...o,
    requestsPerSec: Math.round(o.ok / o.durationS),
    eventsPerSec: Math.round((o.ok * eventsPerRequest) / o.durationS),
    cpu: cpuSplit(before, after, true),
    cpuUsPerEvent: cpuPerEvent(before, after, o.ok * eventsPerRequest, false),
  };
}

async function load(
  url: string,
  body: string,
  headers: Record<string, string>,
  eventsPerRequest: number,
  servicePid: number | undefined,
  brokerPid: number | undefined,
): Promise<HttpRun> {
  const options = { url, method: "POST", headers, body, connections: SETTINGS.connections, timeout: 30 };
  const warmup = await autocannon({ ...options, duration: SETTINGS.warmupS });
  const before = cpuMark(servicePid, brokerPid);
  const r = await autocannon({ ...options, duration: SETTINGS.durationS });
  const after = cpuMark(servicePid, brokerPid);
  const outcome = { ok: r["2xx"], non2xx: r.non2xx, errors: r.errors + r.timeouts, durationS: r.duration, latencyP50Ms: r.latency.p50, latencyP99Ms: r.latency.p99, warmupOk: warmup["2xx"] };
  return httpRun(outcome, eventsPerRequest, before, after);
}

/**
 * Like load(), but open-loop at `ratePerSec` requests evenly spaced (bench/paced-load.ts says why not autocannon's
 * own pacing), latency counted from each request's due moment.
 */
async function loadPaced(
  url: string,
  body: string,
  headers: Record<string, string>,
  eventsPerRequest: number,
  servicePid: number | undefined,
  brokerPid: number | undefined,
  ratePerSec: number,
): Promise<HttpRun> {
  const options = { url, body, headers, ratePerSec, connections: SETTINGS.connections };
  const warmup = await pacedLoad({ ...options, durationS: SETTINGS.warmupS });
  const before = cpuMark(servicePid, brokerPid);
  const r = await pacedLoad({ ...options, durationS: SETTINGS.durationS });
  const after = cpuMark(servicePid, brokerPid);
  const outcome = {
    ok: r.ok,
    non2xx: r.non2xx,
    errors: r.errors,
    durationS: Math.round(r.durationS * 100) / 100,
    latencyP50Ms: quantileMs(r.latenciesMs, 0.5),
    latencyP99Ms: quantileMs(r.latenciesMs, 0.99),
    warmupOk: warmup.ok,
  };
  return httpRun(outcome, eventsPerRequest, before, after);
}

/**
 * Like load(), but the warm-up and the timed run share one set of connections: one autocannon run of both, the
 * answers counted from the end of the warm-up on. For the Strimzi bridge, which opens a Kafka producer (with its
 * idempotent producer id) for each new HTTP connection and closes it with the connection: with fresh connections
 * the timed run would measure 32 producers starting up.
 */
async function loadOnWarmConnections(
  url: string,
  body: string,
  headers: Record<string, string>,
  eventsPerRequest: number,
  servicePid: number | undefined,
  brokerPid: number | undefined,
  warmupS: number,
): Promise<HttpRun> {
  let before: CpuMark | undefined;
  let started = 0;
  let ok = 0;
  let non2xx = 0;
  let warmupOk = 0;
  const latencies: number[] = [];
  const timer = setTimeout(() => {
    before = cpuMark(servicePid, brokerPid);
    started = performance.now();
  }, warmupS * 1000);
  const r = await new Promise<AutocannonResult>((resolve, reject) => {
    autocannon({ url, method: "POST", headers, body, connections: SETTINGS.connections, timeout: 30, duration: warmupS + SETTINGS.durationS }, (err, res) =>
      err ? reject(err) : resolve(res),
    ).on("response", (_client, status, _bytes, ms) => {
      const success = status >= 200 && status < 300;
      if (!before) warmupOk += success ? 1 : 0;
      else if (success) (ok++, latencies.push(ms));
      else non2xx++;
    });
  });
  clearTimeout(timer);
  const after = cpuMark(servicePid, brokerPid);
  if (!before) throw new Error("the run ended before its warm-up did");
  const durationS = Math.round(((performance.now() - started) / 1000) * 100) / 100;
  const outcome = { ok, non2xx, errors: r.errors + r.timeouts, durationS, latencyP50Ms: quantileMs(latencies, 0.5), latencyP99Ms: quantileMs(latencies, 0.99), warmupOk };
  return httpRun(outcome, eventsPerRequest, before, after);
}

async function createTopics(topics: string[]): Promise<void> {
  const admin = new Admin({ clientId: "bench-admin", bootstrapBrokers: [SETTINGS.bootstrap] });
  try {
    await admin.createTopics({ topics, partitions: 3, replicas: 1 });
  } finally {
    await admin.close();
  }
}

async function recordCount(topic: string): Promise<number> {
  const consumer = new Consumer({ clientId: "bench-offsets", groupId: `bench-${Date.now()}`, bootstrapBrokers: [SETTINGS.bootstrap] });
  try {
    return ((await consumer.listOffsets({ topics: [topic] })).get(topic) ?? []).reduce((s, o) => s + Number(o), 0);
  } finally {
    await consumer.close();
  }
}

function sampleEvent(i: number): Record<string, unknown> {
  return {
    specversion: "1.0",
    id: `bench-${i}`,
    source: "/eventstack/bench",
    type: "dev.eventstack.bench.measured",
    subject: `entity-${i % 1000}`,
    time: "2024-05-01T12:00:00Z",
    datacontenttype: "application/json",
    data: { payload: "x".repeat(Math.max(0, SETTINGS.dataBytes - 14)) },
  };
}

/** The Kafka records the service makes of a body, as it makes them (same decoding, same record builder). */
function recordsOf(body: string, contentType: string): KafkaRecord[] {
  const parsed = parseRequest({ "content-type": contentType }, Buffer.from(body), { maxBatchEvents: 100_000, maxEventDataBytes: 1 << 20 });
  if (!parsed.ok) throw new Error("the benchmark events are invalid");
  return parsed.events.map((e) => toKafkaRecord(e, { requestId: "00000000-0000-4000-8000-000000000000", traceparent: undefined, tracestate: undefined }));
}

/** Bytes of the Kafka record (value + key + headers) one benchmark event becomes, to size ProducerPerformance's. */
function recordBytes(body: string): number {
  const r = recordsOf(body, "application/cloudevents+json")[0] as KafkaRecord;
  let bytes = r.key.length + (r.value?.length ?? 0);
  for (const [k, v] of r.headers) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  return bytes;
}

interface PpRun {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  cpu: CpuSplit;
  /** service: the Java producer process, JVM start-up included. */
  cpuUsPerEvent: CpuPerEvent;
}

async function producerPerformance(cp: string, topic: string, recordSize: number, brokerPid: number | undefined): Promise<PpRun> {
  const child = spawn(
    "java",
    [
      "-Xmx1g",
      "-cp",
      cp,
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic",
      topic,
      "--num-records",
      String(SETTINGS.ppRecords),
      "--record-size",
      String(recordSize),
      "--throughput",
      "-1",
      "--producer-props",
      `bootstrap.servers=${SETTINGS.bootstrap}`,
      "acks=all",
      "enable.idempotence=true",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
  // The Java process's own CPU is read while it runs (it is gone once it exits); JVM start-up included.
  const before = cpuMark(child.pid, brokerPid);
  let last = before;
  const sampler = setInterval(() => {
    const m = cpuMark(child.pid, brokerPid);
    if (m.service !== undefined) last = m;
  }, 200);
  const code = await Promise.race([new Promise<number | null>((r) => child.once("exit", r)), sleep(180_000).then(() => "timeout" as const)]);
  clearInterval(sampler);
  if (code === "timeout") child.kill("SIGKILL");
  // Last summary line: "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50 ms 50th, p95 ms 95th, p99 ms 99th, ..."
  const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/.exec(out);
  if (!m) throw new Error(`ProducerPerformance output not understood (exit ${code}):\n${out.slice(-2000)}`);
  const split = cpuSplit(before, last, false);
  return {
    records: Number(m[1]),
    recordsPerSec: Math.round(Number(m[2])),
    mbPerSec: Number(m[3]),
    latencyP50Ms: Number(m[6]),
    latencyP99Ms: Number(m[8]),
    // Here "service" is the Java producer process itself.
    cpu: split,
    cpuUsPerEvent: cpuPerEvent(before, last, Number(m[1]), false),
  };
}

interface ClientRun {
  recordsPerSec: number;
  produceCalls: number;
  cpu: CpuSplit;
  /** service: this benchmark process, which calls the producer (process.cpuUsage). */
  cpuUsPerEvent: CpuPerEvent;
}

/**
 * The service's producer without HTTP: SETTINGS.connections concurrent produce() calls of one batch's records each,
 * each call reissued when it resolves (what batch mode's connections do), for the warm-up and then the timed run.
 */
async function nodeClient(topic: string, records: KafkaRecord[], brokerPid: number | undefined): Promise<ClientRun> {
  const config = loadConfig({ KAFKA_BOOTSTRAP: SETTINGS.bootstrap, EVENTS_TOPIC: topic, KAFKA_PRODUCERS: String(SETTINGS.producers) });
  const silent = { warn() {}, debug() {}, info() {}, error() {}, fatal() {}, trace() {} } as unknown as FastifyBaseLogger;
  const producer = new EventProducer({ kafka: config.kafka, awsRegion: undefined, maxPendingEvents: 10_000_000, metrics: createMetrics(), logger: silent });
  try {
    const drive = async (seconds: number) => {
      const end = performance.now() + seconds * 1000;
      let calls = 0;
      await Promise.all(
        Array.from({ length: SETTINGS.connections }, async () => {
          while (performance.now() < end) {
            await producer.produce(records);
            calls++;
          }
        }),
      );
      return calls;
    };
    await drive(SETTINGS.warmupS);
    const before = cpuMark(undefined, brokerPid);
    const started = performance.now();
    const calls = await drive(SETTINGS.durationS);
    const seconds = (performance.now() - started) / 1000;
    const after = cpuMark(undefined, brokerPid);
    return {
      recordsPerSec: Math.round((calls * records.length) / seconds),
      produceCalls: calls,
      cpu: cpuSplit(before, after, false),
      cpuUsPerEvent: cpuPerEvent(before, after, calls * records.length, true),
    };
  } finally {
    await producer.close(30_000);
  }
}

/** Starts a server on a free port, given to it as its last argument, or as PORT when `env` is set (the service). */
async function startServer(args: string[], env: NodeJS.ProcessEnv | undefined, readyPath: string, what: string): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, env ? args : [...args, String(port)], {
    env: { ...process.env, ...env, ...(env ? { PORT: String(port) } : {}) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitHttp(`http://127.0.0.1:${port}${readyPath}`, child, what);
  return { child, port };
}

/**
 * The Strimzi Kafka Bridge distribution named by BENCH_STRIMZI_BRIDGE_HOME (the directory its Maven build leaves in
 * target/kafka-bridge-<version>/kafka-bridge-<version>/, with libs/, bin/ and config/); the reason it cannot be run
 * otherwise. The bridge is not on Maven Central, so it is built from its source outside this repository
 * (docs/ingest.md#strimzi-kafka-bridge).
 */
function bridgeDistribution(): { cp: string; version: string } | { reason: string } {
  const home = SETTINGS.bridgeHome;
  if (!home) return { reason: "set BENCH_STRIMZI_BRIDGE_HOME to a built bridge (see docs/ingest.md)" };
  const libs = path.join(path.resolve(home), "libs");
  // The distribution names its jars groupId.artifactId-version.jar: io.strimzi.kafka-bridge-1.1.0.jar.
  const version = (existsSync(libs) ? readdirSync(libs) : []).map((f) => /^io\.strimzi\.kafka-bridge-(.+)\.jar$/.exec(f)?.[1]).find((v) => v !== undefined);
  if (!version) return { reason: `BENCH_STRIMZI_BRIDGE_HOME=${home} has no libs/io.strimzi.kafka-bridge-*.jar: it must be a built bridge distribution (see docs/ingest.md)` };
  return { cp: `${libs}/*`, version };
}

interface BridgeRun {
  version: string;
  single: HttpRun;
  batch: HttpRun;
}

async function strimziBridge(cp: string, version: string, topic: string, eventSingle: Record<string, unknown>, batchEvents: Record<string, unknown>[], brokerPid: number | undefined): Promise<BridgeRun> {
  const port = await freePort();
  const managementPort = await freePort();
  const dir = path.join(os.tmpdir(), `eventstack-bench-bridge-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "application.properties");
  writeFileSync(
    config,
    [
      "bridge.id=eventstack-bench",
      `kafka.bootstrap.servers=${SETTINGS.bootstrap}`,
      // Like every other producer in this benchmark.
      "kafka.producer.acks=all",
      "kafka.producer.enable.idempotence=true",
      "http.enabled=true",
      "http.host=127.0.0.1",
      `http.port=${port}`,
      // Since bridge 1.0, /healthy and /ready are served on the management port only (8081 by default); checked in
      // the 1.1.0 source (HttpConfig.MANAGEMENT_PORT, HttpBridge.bindHttpServers) on 2026-12-06.
      `http.management.port=${managementPort}`,
      "http.consumer.enabled=false",
      "http.producer.enabled=true",
    ].join("\n") + "\n",
  );
  const log4j = path.join(path.resolve(SETTINGS.bridgeHome ?? "."), "config", "log4j2.properties");
  const child = spawn(
    SETTINGS.bridgeJava,
    ["-Xmx1g", `-Dvertx.cacheDirBase=${dir}`, ...(existsSync(log4j) ? [`-Dlog4j2.configurationFile=file:${log4j}`] : []), "-cp", cp, "io.strimzi.kafka.bridge.Application", `--config-file=${config}`],
    { stdio: "ignore" },
  );
  try {
    await waitHttp(`http://127.0.0.1:${managementPort}/ready`, child, "Strimzi Kafka Bridge", 120_000, true);
    const url = `http://127.0.0.1:${port}/topics/${topic}`;
    const headers = { "content-type": "application/vnd.kafka.json.v2+json" };
    const rec = (e: Record<string, unknown>) => ({ key: e.subject, value: e });
    log("Strimzi bridge: single");
    const single = await loadOnWarmConnections(url, JSON.stringify({ records: [rec(eventSingle)] }), headers, 1, child.pid, brokerPid, SETTINGS.bridgeWarmupS);
    log("Strimzi bridge: batch");
    const batch = await loadOnWarmConnections(url, JSON.stringify({ records: batchEvents.map(rec) }), headers, SETTINGS.batch, child.pid, brokerPid, SETTINGS.bridgeWarmupS);
    for (const [mode, run] of [["single", single], ["batch", batch]] as const) {
      if (run.ok === 0) throw new Error(`no 2xx answer in the ${mode} run (${run.non2xx} non-2xx, ${run.errors} errors)`);
    }
    return { version, single, batch };
  } finally {
    await stop(child);
  }
}

// ---- summaries ----

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

interface Stat {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

function stat(xs: number[]): Stat {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { median: r(median(xs)), min: r(Math.min(...xs)), max: r(Math.max(...xs)), rounds: xs };
}

function cpuMedian(splits: CpuSplit[]): CpuSplit {
  const m = (pick: (c: CpuSplit) => number | null) => {
    const xs = splits.map(pick).filter((x): x is number => x !== null);
    return xs.length === 0 ? null : Math.round(median(xs) * 100) / 100;
  };
  return {
    service: m((c) => c.service),
    broker: m((c) => c.broker),
    loadGenerator: m((c) => c.loadGenerator),
    other: m((c) => c.other) ?? 0,
    steal: m((c) => c.steal) ?? 0,
    idle: m((c) => c.idle) ?? 0,
  };
}

function cpuPerEventMedian(xs: CpuPerEvent[]): CpuPerEvent {
  const m = (pick: (c: CpuPerEvent) => number | null) => {
    const v = xs.map(pick).filter((x): x is number => x !== null);
    return v.length === 0 ? null : Math.round(median(v) * 100) / 100;
  };
  return { service: m((c) => c.service), broker: m((c) => c.broker) };
}

function httpSummary(runs: HttpRun[]) {
  return {
    eventsPerSec: stat(runs.map((r) => r.eventsPerSec)),
    requestsPerSec: stat(runs.map((r) => r.requestsPerSec)),
    latencyP50Ms: median(runs.map((r) => r.latencyP50Ms)),
    latencyP99Ms: median(runs.map((r) => r.latencyP99Ms)),
    non2xxAndErrors: runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
    cpu: cpuMedian(runs.map((r) => r.cpu)),
    cpuUsPerEvent: cpuPerEventMedian(runs.map((r) => r.cpuUsPerEvent)),
    runs,
  };
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0] ?? 0;
  const services = (await import(pathToFileURL(path.join(root, "scripts/services.mjs")).href)) as Services;
  await services.up();
  const pidFile = path.join(services.settings().stateDir, "kafka.pid");
  const brokerPid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : undefined;
  const stamp = Date.now();
  const topics = { ingest: `bench-ingest-${stamp}`, pp: `bench-pp-${stamp}`, client: `bench-client-${stamp}`, bridge: `bench-bridge-${stamp}` };
  await createTopics(Object.values(topics));

  const single = JSON.stringify(sampleEvent(0));
  const batchEvents = Array.from({ length: SETTINGS.batch }, (_, i) => sampleEvent(i));
  const batch = JSON.stringify(batchEvents);
  const recordSize = recordBytes(single);
  const batchRecords = recordsOf(batch, "application/cloudevents-batch+json");
  const cp = services.kafkaClasspath();

  const bare = await startServer(
    ["-e", `require("node:http").createServer((q,s)=>{q.resume();q.on("end",()=>{s.writeHead(202,{"content-type":"application/json"});s.end('{"accepted":1}')})}).listen(Number(process.argv[1]),"127.0.0.1")`],
    undefined,
    "/",
    "bare HTTP server",
  );
  const fastify = await startServer(["dist/bench/fastify-floor.js"], undefined, "/", "fastify floor");
  const ingest = await startServer(
    ["dist/src/server.js"],
    { HOST: "127.0.0.1", EVENTS_TOPIC: topics.ingest, KAFKA_BOOTSTRAP: SETTINGS.bootstrap, KAFKA_PRODUCERS: String(SETTINGS.producers), LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info" },
    "/readyz",
    "ingest service",
  );
  // The same service with one produce request in flight (KAFKA_PRODUCERS=1), writing to the same topic: what overlapping requests change here.
  const ingestOne = await startServer(
    ["dist/src/server.js"],
    { HOST: "127.0.0.1", EVENTS_TOPIC: topics.ingest, KAFKA_BOOTSTRAP: SETTINGS.bootstrap, KAFKA_PRODUCERS: "1", LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info" },
    "/readyz",
    "ingest service (one request in flight)",
  );

  const pp: PpRun[] = [];
  const client: ClientRun[] = [];
  const runs = { bare: [] as HttpRun[], fastify: [] as HttpRun[], single: [] as HttpRun[], batch: [] as HttpRun[], singleOne: [] as HttpRun[], batchOne: [] as HttpRun[] };
  const batchHeaders = { "content-type": "application/cloudevents-batch+json" };
  const structured = { "content-type": "application/cloudevents+json" };
  const steps: [string, () => Promise<void>][] = [
    ["ProducerPerformance", async () => void pp.push(await producerPerformance(cp, topics.pp, recordSize, brokerPid))],
    ["node client", async () => void client.push(await nodeClient(topics.client, batchRecords, brokerPid))],
    ["bare HTTP", async () => void runs.bare.push(await load(`http://127.0.0.1:${bare.port}/`, single, structured, 1, bare.child.pid, brokerPid))],
    ["fastify", async () => void runs.fastify.push(await load(`http://127.0.0.1:${fastify.port}/v1/events`, single, structured, 1, fastify.child.pid, brokerPid))],
    ["ingest single", async () => void runs.single.push(await load(`http://127.0.0.1:${ingest.port}/v1/events`, single, structured, 1, ingest.child.pid, brokerPid))],
    [
      "ingest batch",
      async () => void runs.batch.push(await load(`http://127.0.0.1:${ingest.port}/v1/events`, batch, batchHeaders, SETTINGS.batch, ingest.child.pid, brokerPid)),
    ],
    ["ingest single, one request in flight", async () => void runs.singleOne.push(await load(`http://127.0.0.1:${ingestOne.port}/v1/events`, single, structured, 1, ingestOne.child.pid, brokerPid))],
    ["ingest batch, one request in flight", async () => void runs.batchOne.push(await load(`http://127.0.0.1:${ingestOne.port}/v1/events`, batch, batchHeaders, SETTINGS.batch, ingestOne.child.pid, brokerPid))],
  ];
  const loadByRound: number[] = [];
  let halfLoad:
    | { fraction: number; single: { askedRequestsPerSec: number; run: HttpRun }; batch: { askedRequestsPerSec: number; run: HttpRun }; bareFloor: HttpRun }
    | undefined;
  try {
    for (let round = 0; round < SETTINGS.rounds; round++) {
      loadByRound.push(Math.round((os.loadavg()[0] ?? 0) * 100) / 100);
      const order = round % 2 === 0 ? steps : [...steps].reverse();
      for (const [name, run] of order) {
        log(`round ${round + 1}/${SETTINGS.rounds}: ${name}`);
        await run();
      }
      log(
        `round ${round + 1}: PP ${pp.at(-1)?.recordsPerSec} records/s, node client ${client.at(-1)?.recordsPerSec} records/s, bare ${runs.bare.at(-1)?.requestsPerSec} req/s, fastify ${runs.fastify.at(-1)?.requestsPerSec} req/s, single ${runs.single.at(-1)?.requestsPerSec} req/s, batch ${runs.batch.at(-1)?.eventsPerSec} events/s; one request in flight: single ${runs.singleOne.at(-1)?.requestsPerSec} req/s, batch ${runs.batchOne.at(-1)?.eventsPerSec} events/s`,
      );
    }
    // Latency at half load: the service paced at a fraction of the median request rates it just reached, where a
    // deployment runs with headroom (the p99 target is about this load, not about saturation). Requests come evenly
    // spaced (bench/paced-load.ts); their latency runs from the moment each was due to its answer.
    const asked = (xs: HttpRun[]) => Math.max(1, Math.round(median(xs.map((r) => r.requestsPerSec)) * SETTINGS.halfLoadFraction));
    const halfSingle = asked(runs.single);
    const halfBatch = asked(runs.batch);
    log(`half load: single at ${halfSingle} requests/s`);
    const hs = await loadPaced(`http://127.0.0.1:${ingest.port}/v1/events`, single, structured, 1, ingest.child.pid, brokerPid, halfSingle);
    log(`half load: batch at ${halfBatch} requests/s`);
    const hb = await loadPaced(`http://127.0.0.1:${ingest.port}/v1/events`, batch, batchHeaders, SETTINGS.batch, ingest.child.pid, brokerPid, halfBatch);
    // The load generator's own share of those latencies: the bare server paced the same way at the single rate.
    log(`half load: bare HTTP server at ${halfSingle} requests/s`);
    const floor = await loadPaced(`http://127.0.0.1:${bare.port}/`, single, structured, 1, bare.child.pid, brokerPid, halfSingle);
    halfLoad = { fraction: SETTINGS.halfLoadFraction, single: { askedRequestsPerSec: halfSingle, run: hs }, batch: { askedRequestsPerSec: halfBatch, run: hb }, bareFloor: floor };
    log(`half load: single p99 ${hs.latencyP99Ms} ms at ${hs.requestsPerSec} req/s, batch p99 ${hb.latencyP99Ms} ms at ${hb.requestsPerSec} req/s`);
  } finally {
    await Promise.all([stop(bare.child), stop(fastify.child), stop(ingest.child), stop(ingestOne.child)]);
  }
  const written = await recordCount(topics.ingest);

  if (!halfLoad) throw new Error("the half-load runs did not complete");
  const distribution = bridgeDistribution();
  let bridge: BridgeRun | { status: "not run"; reason: string };
  if ("cp" in distribution) {
    try {
      bridge = await strimziBridge(distribution.cp, distribution.version, topics.bridge, sampleEvent(0), batchEvents, brokerPid);
    } catch (err) {
      bridge = { status: "not run", reason: `the bridge failed: ${(err as Error).message}` };
    }
  } else {
    bridge = { status: "not run", reason: distribution.reason };
  }
  log("status" in bridge ? `Strimzi bridge not run: ${bridge.reason}` : `Strimzi bridge: single ${bridge.single.eventsPerSec}, batch ${bridge.batch.eventsPerSec} events/s`);

  const perRound = {
    batchVsProducerPerformance: runs.batch.map((r, i) => ratio(r.eventsPerSec, pp[i]?.recordsPerSec ?? 0) ?? 0),
    singleVsBareHttp: runs.single.map((r, i) => ratio(r.requestsPerSec, runs.bare[i]?.requestsPerSec ?? 0) ?? 0),
    batchVsNodeClient: runs.batch.map((r, i) => ratio(r.eventsPerSec, client[i]?.recordsPerSec ?? 0) ?? 0),
    singleVsFastify: runs.single.map((r, i) => ratio(r.requestsPerSec, runs.fastify[i]?.requestsPerSec ?? 0) ?? 0),
    fastifyVsBareHttp: runs.fastify.map((r, i) => ratio(r.requestsPerSec, runs.bare[i]?.requestsPerSec ?? 0) ?? 0),
    nodeClientVsProducerPerformance: client.map((c, i) => ratio(c.recordsPerSec, pp[i]?.recordsPerSec ?? 0) ?? 0),
  };
  const ratios = {
    batchVsProducerPerformance: stat(perRound.batchVsProducerPerformance),
    singleVsBareHttp: stat(perRound.singleVsBareHttp),
    batchVsNodeClient: stat(perRound.batchVsNodeClient),
    singleVsFastify: stat(perRound.singleVsFastify),
    fastifyVsBareHttp: stat(perRound.fastifyVsBareHttp),
    nodeClientVsProducerPerformance: stat(perRound.nodeClientVsProducerPerformance),
    singleVsBridge: "status" in bridge ? null : ratio(median(runs.single.map((r) => r.eventsPerSec)), bridge.single.eventsPerSec),
    batchVsBridge: "status" in bridge ? null : ratio(median(runs.batch.map((r) => r.eventsPerSec)), bridge.batch.eventsPerSec),
  };
  const pkgVersion = (name: string) => {
    for (const dir of [process.cwd(), root]) {
      const file = path.join(dir, "node_modules", name, "package.json");
      if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    }
    return "unknown";
  };
  const result = {
    date: new Date().toISOString(),
    machine: {
      // Other work on the machine skews every number; the 1-minute load average before, per round and after says how much.
      loadAverage1m: { before: Math.round(loadBefore * 100) / 100, atRoundStart: loadByRound, after: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      kafkaClient: `@platformatic/kafka ${pkgVersion("@platformatic/kafka")}`,
      platform: `${os.platform()} ${os.release()}`,
    },
    settings: { ...SETTINGS, recordBytes: recordSize, eventBodyBytes: Buffer.byteLength(single), batchBodyBytes: Buffer.byteLength(batch) },
    producerPerformance: {
      recordsPerSec: stat(pp.map((r) => r.recordsPerSec)),
      latencyP50Ms: median(pp.map((r) => r.latencyP50Ms)),
      latencyP99Ms: median(pp.map((r) => r.latencyP99Ms)),
      cpu: cpuMedian(pp.map((r) => r.cpu)),
      cpuUsPerEvent: cpuPerEventMedian(pp.map((r) => r.cpuUsPerEvent)),
      note: "latency here is per record inside the Java client's batches (send to ack), not per HTTP request; cpu.service is the Java producer process, JVM start-up included",
      runs: pp,
    },
    nodeClient: {
      recordsPerSec: stat(client.map((r) => r.recordsPerSec)),
      cpu: cpuMedian(client.map((r) => r.cpu)),
      cpuUsPerEvent: cpuPerEventMedian(client.map((r) => r.cpuUsPerEvent)),
      note: `src/kafka.ts with ${SETTINGS.producers} requests in flight, ${SETTINGS.connections} concurrent produce() calls of ${SETTINGS.batch} records, no HTTP; cpu.service is the benchmark process that calls it`,
      runs: client,
    },
    bareHttp: httpSummary(runs.bare),
    fastify: httpSummary(runs.fastify),
    ingest: {
      single: httpSummary(runs.single),
      batch: httpSummary(runs.batch),
      singleOneSession: httpSummary(runs.singleOne),
      batchOneSession: httpSummary(runs.batchOne),
      halfLoad,
      recordsOnTopic: written,
      acceptedEvents:
        [...runs.single, ...runs.singleOne, halfLoad.single.run].reduce((n, r) => n + r.ok + r.warmupOk, 0) +
        [...runs.batch, ...runs.batchOne, halfLoad.batch.run].reduce((n, r) => n + r.ok + r.warmupOk, 0) * SETTINGS.batch,
      // When a timed run ends, the load generator drops the requests still in flight; the service completes them
      // (they are written) but nobody reads their 202. At most one request per connection, per run (warm-up and
      // timed run, single and batch, both services, every round, and the two half-load runs).
      cutOffAtMost: (SETTINGS.rounds * 2 + 1) * 2 * SETTINGS.connections * (1 + SETTINGS.batch),
    },
    strimziBridge: bridge,
    targets: TARGETS,
    ratios,
    met: {
      batchVsProducerPerformance: ratios.batchVsProducerPerformance.median >= TARGETS.batchVsProducerPerformance,
      singleVsBareHttp: ratios.singleVsBareHttp.median >= TARGETS.singleVsBareHttp,
      aheadOfBridge: ratios.singleVsBridge === null ? null : ratios.singleVsBridge > 1 && (ratios.batchVsBridge ?? 0) > 1,
      halfLoadSingleP99: halfLoad.single.run.latencyP99Ms <= TARGETS.halfLoadP99Ms,
      halfLoadBatchP99: halfLoad.batch.run.latencyP99Ms <= TARGETS.halfLoadP99Ms,
    },
  };
  const docs = path.join(root, "docs");
  mkdirSync(docs, { recursive: true });
  writeFileSync(path.join(docs, "bench-ingest.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(path.join(docs, "bench-ingest.md"), markdown(result));
  log(`wrote docs/bench-ingest.json and docs/bench-ingest.md`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the result object built just above
function markdown(r: any): string {
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  const spread = (s: Stat) => `${n(s.min)}–${n(s.max)}`;
  const pct = (v: number | null) => (v === null ? "n/a" : `${Math.round(v * 1000) / 10}%`);
  const pctStat = (s: Stat) => `${pct(s.median)} (${pct(s.min)}–${pct(s.max)})`;
  // CPU-µs per event of the process under test, then of the broker.
  const us = (v: number | null | undefined) => (v === null || v === undefined ? "—" : v.toFixed(1));
  const usPair = (x: CpuPerEvent) => `${us(x.service)} / ${us(x.broker)}`;
  const httpRow = (name: string, x: ReturnType<typeof httpSummary>) =>
    `| ${name} | ${n(x.eventsPerSec.median)} events/s | ${spread(x.eventsPerSec)} | ${n(x.requestsPerSec.median)} | ${x.latencyP50Ms} | ${x.latencyP99Ms} | ${x.non2xxAndErrors} | ${usPair(x.cpuUsPerEvent)} |`;
  // A ratio's CPU-µs per event: the service under test against the ceiling or peer it is compared with.
  const usVs = (a: number | null | undefined, b: number | null | undefined) => `${us(a)} vs ${us(b)}`;
  const c = (v: number | null) => (v === null ? "—" : v.toFixed(2));
  const cpuRow = (name: string, x: CpuSplit, service: string) => `| ${name} | ${service}: ${c(x.service)} | ${c(x.broker)} | ${c(x.loadGenerator)} | ${c(x.other)} | ${c(x.steal)} | ${c(x.idle)} |`;
  const b = r.strimziBridge;
  const h = r.ingest.halfLoad;
  const diff = r.ingest.recordsOnTopic - r.ingest.acceptedEvents;
  return `# Ingest benchmark

Generated by \`npm run bench:ingest\` (apps/ingest/bench/ingest.ts) on ${r.date}. Do not edit by hand; the
analysis is in [ingest.md](ingest.md#benchmark).

Machine: ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.machine.kafkaClient}, ${r.machine.platform};
1-minute load average ${r.machine.loadAverage1m.before} before the run, ${r.machine.loadAverage1m.atRoundStart.join(", ")} at the start of each round and ${r.machine.loadAverage1m.after} after
(other work shares the CPUs). Everything ran on this one machine: the broker (single node, KRaft), the load generator
(autocannon, ${r.settings.connections} connections, ${r.settings.durationS} s per run after ${r.settings.warmupS} s warm-up) and the server under test.
${r.settings.rounds} rounds, the order of the runs reversed every other round; each figure is the median of the rounds, with
the range over the rounds. The service ran with KAFKA_PRODUCERS=${r.settings.producers}.

Event: structured CloudEvent of ${r.settings.eventBodyBytes} bytes with ${r.settings.dataBytes} bytes of data; it becomes a Kafka record of
${r.settings.recordBytes} bytes (key + value + headers), the record size given to ProducerPerformance. Batch mode sends
${r.settings.batch} events per request (${r.settings.batchBodyBytes} bytes). All producers use acks=all and idempotence.

| run | throughput (median) | range over rounds | requests/s | p50 ms | p99 ms | non-2xx + errors | CPU µs/event: process / broker |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| Kafka ProducerPerformance (Java client, ${n(r.settings.ppRecords)} records) | ${n(r.producerPerformance.recordsPerSec.median)} records/s | ${spread(r.producerPerformance.recordsPerSec)} | | ${r.producerPerformance.latencyP50Ms} | ${r.producerPerformance.latencyP99Ms} | | ${usPair(r.producerPerformance.cpuUsPerEvent)} |
| the service's producer without HTTP (src/kafka.ts) | ${n(r.nodeClient.recordsPerSec.median)} records/s | ${spread(r.nodeClient.recordsPerSec)} | | | | | ${usPair(r.nodeClient.cpuUsPerEvent)} |
${httpRow("bare Node HTTP server (202, no work)", r.bareHttp)}
${httpRow("fastify as configured by the service (202, no work)", r.fastify)}
${httpRow("ingest, single (1 event/request)", r.ingest.single)}
${httpRow(`ingest, batch (${r.settings.batch} events/request)`, r.ingest.batch)}
${httpRow("ingest with one produce request in flight, single", r.ingest.singleOneSession)}
${httpRow(`ingest with one produce request in flight, batch`, r.ingest.batchOneSession)}
${"status" in b ? `| Strimzi Kafka Bridge | not run: ${b.reason} | | | | | | |` : `${httpRow(`Strimzi bridge ${b.version}, single (one round)`, httpSummary([b.single]))}\n${httpRow(`Strimzi bridge ${b.version}, batch (${r.settings.batch} records/request, one round)`, httpSummary([b.batch]))}`}
${httpRow(`ingest, single, paced at ${pct(h.fraction)} load (${n(h.single.askedRequestsPerSec)} requests/s asked)`, httpSummary([h.single.run]))}
${httpRow(`ingest, batch, paced at ${pct(h.fraction)} load (${n(h.batch.askedRequestsPerSec)} requests/s asked)`, httpSummary([h.batch.run]))}
${httpRow(`bare Node HTTP server, paced like the single run (${n(h.single.askedRequestsPerSec)} requests/s asked): the load generator's floor`, httpSummary([h.bareFloor]))}

ProducerPerformance latencies are per record inside the Java client's own batches, not per HTTP request. CPU µs/event is
the CPU time (user + system, from /proc, or process.cpuUsage for the in-process producer) of the process under test and
of the broker during the timed run, divided by the events it carried; for ProducerPerformance, JVM start-up included.
The paced runs are the service with KAFKA_PRODUCERS=${r.settings.producers} at ${pct(h.fraction)} of its median request rates above, the requests
evenly spaced whatever the answers do (open loop, bench/paced-load.ts), each latency counted from the moment its request was due.

| target | ratio: median of the rounds (range) | target | met | CPU µs/event: service vs ceiling |
| --- | ---: | ---: | --- | ---: |
| batch events/s vs ProducerPerformance records/s | ${pctStat(r.ratios.batchVsProducerPerformance)} | ≥ ${pct(r.targets.batchVsProducerPerformance)} | ${r.met.batchVsProducerPerformance ? "yes" : "**no**"} | ${usVs(r.ingest.batch.cpuUsPerEvent.service, r.producerPerformance.cpuUsPerEvent.service)} |
| single requests/s vs bare HTTP requests/s | ${pctStat(r.ratios.singleVsBareHttp)} | ≥ ${pct(r.targets.singleVsBareHttp)} | ${r.met.singleVsBareHttp ? "yes" : "**no**"} | ${usVs(r.ingest.single.cpuUsPerEvent.service, r.bareHttp.cpuUsPerEvent.service)} |
| p99 latency at half load, single | ${h.single.run.latencyP99Ms} ms | ≤ ${r.targets.halfLoadP99Ms} ms | ${r.met.halfLoadSingleP99 ? "yes" : "**no**"} | ${us(h.single.run.cpuUsPerEvent.service)} |
| p99 latency at half load, batch (per request of ${r.settings.batch} events) | ${h.batch.run.latencyP99Ms} ms | ≤ ${r.targets.halfLoadP99Ms} ms | ${r.met.halfLoadBatchP99 ? "yes" : "**no**"} | ${us(h.batch.run.cpuUsPerEvent.service)} |
| ahead of the Strimzi bridge (single, batch) | ${pct(r.ratios.singleVsBridge)}, ${pct(r.ratios.batchVsBridge)} | > 100% | ${r.met.aheadOfBridge === null ? "not measured" : r.met.aheadOfBridge ? "yes" : "**no**"} | ${"status" in b ? "—" : `${usVs(r.ingest.single.cpuUsPerEvent.service, b.single.cpuUsPerEvent.service)}, ${usVs(r.ingest.batch.cpuUsPerEvent.service, b.batch.cpuUsPerEvent.service)}`} |

| other ratio (median of the rounds, range) | value | CPU µs/event: first vs second |
| --- | ---: | ---: |
| the service's producer without HTTP vs ProducerPerformance | ${pctStat(r.ratios.nodeClientVsProducerPerformance)} | ${usVs(r.nodeClient.cpuUsPerEvent.service, r.producerPerformance.cpuUsPerEvent.service)} |
| ingest batch vs the service's producer without HTTP | ${pctStat(r.ratios.batchVsNodeClient)} | ${usVs(r.ingest.batch.cpuUsPerEvent.service, r.nodeClient.cpuUsPerEvent.service)} |
| fastify (no work) vs bare HTTP | ${pctStat(r.ratios.fastifyVsBareHttp)} | ${usVs(r.fastify.cpuUsPerEvent.service, r.bareHttp.cpuUsPerEvent.service)} |
| ingest single vs fastify (no work) | ${pctStat(r.ratios.singleVsFastify)} | ${usVs(r.ingest.single.cpuUsPerEvent.service, r.fastify.cpuUsPerEvent.service)} |

CPU during the timed runs, in cores (CPU seconds per second, medians of the rounds; ${r.machine.cpus} cores in all, from /proc).
"other" is the rest of this machine's processes, "steal" the time the hypervisor ran other virtual machines instead; for
ProducerPerformance the first column is the Java producer, JVM start-up included.

| run | process under test | broker | load generator | other | steal | idle |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${cpuRow("ProducerPerformance", r.producerPerformance.cpu, "Java producer")}
${cpuRow("service's producer without HTTP", r.nodeClient.cpu, "Node producer")}
${cpuRow("bare Node HTTP server", r.bareHttp.cpu, "server")}
${cpuRow("fastify (no work)", r.fastify.cpu, "server")}
${cpuRow("ingest, single", r.ingest.single.cpu, "service")}
${cpuRow("ingest, batch", r.ingest.batch.cpu, "service")}
${cpuRow("ingest, one request in flight, single", r.ingest.singleOneSession.cpu, "service")}
${cpuRow("ingest, one request in flight, batch", r.ingest.batchOneSession.cpu, "service")}
${cpuRow(`ingest, single at ${pct(h.fraction)} load`, h.single.run.cpu, "service")}
${cpuRow(`ingest, batch at ${pct(h.fraction)} load`, h.batch.run.cpu, "service")}
${"status" in b ? "" : `${cpuRow("Strimzi bridge, single", b.single.cpu, "bridge")}\n${cpuRow("Strimzi bridge, batch", b.batch.cpu, "bridge")}\n`}
Integrity (both services wrote to one topic): the load generator received 202 for ${n(r.ingest.acceptedEvents)} events (warm-ups included); the topic holds
${n(r.ingest.recordsOnTopic)} records. The difference, ${n(diff)}, is the requests in flight when each timed
run stopped (dropped by the load generator, completed and written by the service): at most ${n(r.ingest.cutOffAtMost)}
(one request per connection per run)${diff >= 0 && diff <= r.ingest.cutOffAtMost ? ": consistent with no event lost and none written twice" : " — **outside that bound: investigate**"}.
`;
}

await main();
