/**
 * `npm run bench:ingest`: throughput and latency of the ingest service against the real local broker, next to
 * the ceilings measured in the same run on the same broker:
 *
 *   producer-performance  Kafka's own ProducerPerformance (Java client), same record size, acks=all, idempotent
 *   bare-http             a Node HTTP server that answers 202 without doing anything (the HTTP ceiling)
 *   strimzi-bridge        the Strimzi Kafka Bridge (HTTP to Kafka peer), acks=all, idempotent, when resolvable
 *   ingest single/batch   this service, one event per request / BENCH_BATCH events per request
 *
 * Writes docs/bench-ingest.json and docs/bench-ingest.md. A script, not a test: it asserts nothing, it reports
 * what it measured, including missed targets. Bounded: each HTTP run lasts BENCH_DURATION_S seconds after a
 * short warm-up; ProducerPerformance sends BENCH_PP_RECORDS records.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import autocannon from "autocannon";
import { Admin, Consumer } from "@platformatic/kafka";
import { parseRequest } from "../src/http-binding.js";
import { toKafkaRecord } from "../src/kafka-record.js";

const SETTINGS = {
  durationS: Number(process.env.BENCH_DURATION_S ?? 10),
  warmupS: Number(process.env.BENCH_WARMUP_S ?? 2),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
  batch: Number(process.env.BENCH_BATCH ?? 100),
  dataBytes: Number(process.env.BENCH_DATA_BYTES ?? 256),
  ppRecords: Number(process.env.BENCH_PP_RECORDS ?? 1_000_000),
  bootstrap: process.env.KAFKA_BOOTSTRAP ?? "127.0.0.1:9092",
  bridgeVersion: process.env.BENCH_BRIDGE_VERSION ?? "0.33.1",
};
const TARGETS = { batchVsProducerPerformance: 0.6, singleVsBareHttp: 0.5 };

const root = path.resolve(process.cwd(), "../..");
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Services {
  up(): Promise<unknown>;
  kafkaClasspath(): string;
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
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function waitHttp(url: string, child: ChildProcess, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      http.get(url, (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 500);
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

async function load(url: string, body: string, headers: Record<string, string>, eventsPerRequest: number): Promise<HttpRun> {
  const options = { url, method: "POST", headers, body, connections: SETTINGS.connections, timeout: 30 };
  const warmup = await autocannon({ ...options, duration: SETTINGS.warmupS });
  const r = await autocannon({ ...options, duration: SETTINGS.durationS });
  const rps = r["2xx"] / r.duration;
  return {
    requestsPerSec: Math.round(rps),
    eventsPerSec: Math.round(rps * eventsPerRequest),
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    ok: r["2xx"],
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    durationS: r.duration,
    warmupOk: warmup["2xx"],
  };
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

/** Bytes of the Kafka record (value + key + headers) one benchmark event becomes, to size ProducerPerformance's. */
function recordBytes(body: string): number {
  const parsed = parseRequest({ "content-type": "application/cloudevents+json" }, Buffer.from(body), { maxBatchEvents: 1, maxEventDataBytes: 1 << 20 });
  if (!parsed.ok || !parsed.events[0]) throw new Error("the benchmark event is invalid");
  const r = toKafkaRecord(parsed.events[0], { requestId: "00000000-0000-4000-8000-000000000000", traceparent: undefined, tracestate: undefined });
  let bytes = r.key.length + (r.value?.length ?? 0);
  for (const [k, v] of r.headers) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  return bytes;
}

function producerPerformance(cp: string, topic: string, recordSize: number) {
  log(`ProducerPerformance: ${SETTINGS.ppRecords} records of ${recordSize} bytes, acks=all, idempotent`);
  const r = spawnSync(
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
    { encoding: "utf8", timeout: 180_000 },
  );
  // Last summary line: "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50 ms 50th, p95 ms 95th, p99 ms 99th, ..."
  const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/.exec(r.stdout);
  if (!m) throw new Error(`ProducerPerformance output not understood (exit ${r.status}):\n${(r.stdout + r.stderr).slice(-2000)}`);
  return {
    records: Number(m[1]),
    recordsPerSec: Math.round(Number(m[2])),
    mbPerSec: Number(m[3]),
    latencyP50Ms: Number(m[6]),
    latencyP99Ms: Number(m[8]),
    note: "latency here is per record inside the Java client's batches (send to ack), not per HTTP request",
  };
}

async function bareHttp(body: string) {
  const port = await freePort();
  const script = `require("node:http").createServer((q,s)=>{q.resume();q.on("end",()=>{s.writeHead(202,{"content-type":"application/json"});s.end('{"accepted":1}')})}).listen(${port},"127.0.0.1")`;
  const child = spawn(process.execPath, ["-e", script], { stdio: "ignore" });
  try {
    await waitHttp(`http://127.0.0.1:${port}/`, child, "bare HTTP server");
    log("bare HTTP server: single requests");
    return await load(`http://127.0.0.1:${port}/`, body, { "content-type": "application/cloudevents+json" }, 1);
  } finally {
    await stop(child);
  }
}

async function ingest(topic: string, single: string, batch: string) {
  const port = await freePort();
  const child = spawn(process.execPath, ["dist/src/server.js"], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), EVENTS_TOPIC: topic, KAFKA_BOOTSTRAP: SETTINGS.bootstrap, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    await waitHttp(`http://127.0.0.1:${port}/readyz`, child, "ingest service");
    const url = `http://127.0.0.1:${port}/v1/events`;
    log("ingest: single mode (structured, 1 event per request)");
    const singleRun = await load(url, single, { "content-type": "application/cloudevents+json" }, 1);
    log(`ingest: batch mode (${SETTINGS.batch} events per request)`);
    const batchRun = await load(url, batch, { "content-type": "application/cloudevents-batch+json" }, SETTINGS.batch);
    return { single: singleRun, batch: batchRun };
  } finally {
    await stop(child);
  }
}

/** The Strimzi Kafka Bridge, resolved with Maven from bench/strimzi/pom.xml; undefined with the reason if it cannot be. */
function bridgeClasspath(): { cp?: string; reason?: string } {
  const out = path.join(os.tmpdir(), `eventstack-bench-bridge-${SETTINGS.bridgeVersion}.classpath`);
  const r = spawnSync(
    "mvn",
    ["-q", "-B", "-f", path.resolve("bench/strimzi/pom.xml"), "dependency:build-classpath", `-Dbridge.version=${SETTINGS.bridgeVersion}`, `-Dmdep.outputFile=${out}`],
    { encoding: "utf8", timeout: 300_000 },
  );
  if (r.status !== 0 || !existsSync(out)) {
    const why = /Could not resolve dependencies[^\n]*|was not found in [^\n]*/.exec(r.stdout + r.stderr)?.[0] ?? `mvn exited ${r.status}`;
    return { reason: `io.strimzi:kafka-bridge:${SETTINGS.bridgeVersion} could not be resolved from Maven Central: ${why.slice(0, 300)}` };
  }
  return { cp: readFileSync(out, "utf8").trim() };
}

async function strimziBridge(cp: string, topic: string, eventSingle: Record<string, unknown>, batchEvents: Record<string, unknown>[]) {
  const port = await freePort();
  const dir = path.join(os.tmpdir(), "eventstack-bench-bridge");
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, "application.properties");
  writeFileSync(
    config,
    [
      "bridge.id=eventstack-bench",
      `kafka.bootstrap.servers=${SETTINGS.bootstrap}`,
      "kafka.producer.acks=all",
      "kafka.producer.enable.idempotence=true",
      "http.enabled=true",
      "http.host=127.0.0.1",
      `http.port=${port}`,
      "http.consumer.enabled=false",
      "http.producer.enabled=true",
    ].join("\n") + "\n",
  );
  const child = spawn("java", ["-Xmx1g", `-Dvertx.cacheDirBase=${dir}`, "-cp", cp, "io.strimzi.kafka.bridge.Application", `--config-file=${config}`], { stdio: "ignore" });
  try {
    await waitHttp(`http://127.0.0.1:${port}/healthy`, child, "Strimzi Kafka Bridge");
    const url = `http://127.0.0.1:${port}/topics/${topic}`;
    const headers = { "content-type": "application/vnd.kafka.json.v2+json" };
    const rec = (e: Record<string, unknown>) => ({ key: e.subject, value: e });
    log("Strimzi bridge: single");
    const single = await load(url, JSON.stringify({ records: [rec(eventSingle)] }), headers, 1);
    log("Strimzi bridge: batch");
    const batch = await load(url, JSON.stringify({ records: batchEvents.map(rec) }), headers, SETTINGS.batch);
    return { single, batch };
  } finally {
    await stop(child);
  }
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0] ?? 0;
  const services = (await import(pathToFileURL(path.join(root, "scripts/services.mjs")).href)) as Services;
  await services.up();
  const stamp = Date.now();
  const topics = { ingest: `bench-ingest-${stamp}`, pp: `bench-pp-${stamp}`, bridge: `bench-bridge-${stamp}` };
  await createTopics(Object.values(topics));

  const single = JSON.stringify(sampleEvent(0));
  const batchEvents = Array.from({ length: SETTINGS.batch }, (_, i) => sampleEvent(i));
  const batch = JSON.stringify(batchEvents);
  const recordSize = recordBytes(single);

  const pp = producerPerformance(services.kafkaClasspath(), topics.pp, recordSize);
  log(`ProducerPerformance: ${pp.recordsPerSec} records/s`);
  const bare = await bareHttp(single);
  log(`bare HTTP: ${bare.requestsPerSec} req/s`);
  const ing = await ingest(topics.ingest, single, batch);
  log(`ingest: single ${ing.single.eventsPerSec} events/s, batch ${ing.batch.eventsPerSec} events/s`);
  const written = await recordCount(topics.ingest);

  const bridgeCp = bridgeClasspath();
  let bridge: { single: HttpRun; batch: HttpRun } | { status: "not run"; reason: string };
  if (bridgeCp.cp) {
    try {
      bridge = await strimziBridge(bridgeCp.cp, topics.bridge, sampleEvent(0), batchEvents);
    } catch (err) {
      bridge = { status: "not run", reason: `the bridge failed: ${(err as Error).message}` };
    }
  } else {
    bridge = { status: "not run", reason: bridgeCp.reason ?? "unknown" };
  }
  log("status" in bridge ? `Strimzi bridge not run: ${bridge.reason}` : `Strimzi bridge: single ${bridge.single.eventsPerSec}, batch ${bridge.batch.eventsPerSec} events/s`);

  const ratios = {
    batchVsProducerPerformance: ratio(ing.batch.eventsPerSec, pp.recordsPerSec),
    singleVsBareHttp: ratio(ing.single.requestsPerSec, bare.requestsPerSec),
    singleVsBridge: "status" in bridge ? null : ratio(ing.single.eventsPerSec, bridge.single.eventsPerSec),
    batchVsBridge: "status" in bridge ? null : ratio(ing.batch.eventsPerSec, bridge.batch.eventsPerSec),
  };
  const result = {
    date: new Date().toISOString(),
    machine: {
      // Other work on the machine skews every number; the 1-minute load average before and after says how much.
      loadAverage1m: { before: Math.round(loadBefore * 100) / 100, after: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
      cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    settings: { ...SETTINGS, recordBytes: recordSize, eventBodyBytes: Buffer.byteLength(single), batchBodyBytes: Buffer.byteLength(batch) },
    producerPerformance: pp,
    bareHttp: bare,
    ingest: {
      ...ing,
      recordsOnTopic: written,
      acceptedEvents: ing.single.ok + ing.single.warmupOk + (ing.batch.ok + ing.batch.warmupOk) * SETTINGS.batch,
      // When a timed run ends, the load generator drops the requests still in flight; the service completes them
      // (they are written) but nobody reads their 202. At most one request per connection, per run (4 runs).
      cutOffAtMost: 2 * SETTINGS.connections * (1 + SETTINGS.batch),
    },
    strimziBridge: bridge,
    targets: TARGETS,
    ratios,
    met: {
      batchVsProducerPerformance: ratios.batchVsProducerPerformance !== null && ratios.batchVsProducerPerformance >= TARGETS.batchVsProducerPerformance,
      singleVsBareHttp: ratios.singleVsBareHttp !== null && ratios.singleVsBareHttp >= TARGETS.singleVsBareHttp,
      aheadOfBridge: ratios.singleVsBridge === null ? null : ratios.singleVsBridge > 1 && (ratios.batchVsBridge ?? 0) > 1,
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
  const row = (name: string, x: HttpRun | undefined, unit = "events/s") =>
    x ? `| ${name} | ${x.eventsPerSec.toLocaleString("en-US")} ${unit} | ${x.requestsPerSec.toLocaleString("en-US")} | ${x.latencyP50Ms} | ${x.latencyP99Ms} | ${x.non2xx + x.errors} |` : `| ${name} | not run | | | | |`;
  const pct = (v: number | null) => (v === null ? "n/a" : `${Math.round(v * 1000) / 10}%`);
  const b = r.strimziBridge;
  return `# Ingest benchmark

Generated by \`npm run bench:ingest\` (apps/ingest/bench/ingest.ts) on ${r.date}. Do not edit by hand; the
analysis is in [ingest.md](ingest.md#benchmark).

Machine: ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.machine.platform};
1-minute load average ${r.machine.loadAverage1m.before} before the run and ${r.machine.loadAverage1m.after} after (other work shares the CPUs).
Everything ran on this one machine: the broker (single node, KRaft), the load generator (autocannon, ${r.settings.connections}
connections, ${r.settings.durationS} s per run after ${r.settings.warmupS} s warm-up) and the server under test.

Event: structured CloudEvent of ${r.settings.eventBodyBytes} bytes with ${r.settings.dataBytes} bytes of data; it becomes a Kafka record of
${r.settings.recordBytes} bytes (key + value + headers), the record size given to ProducerPerformance. Batch mode sends
${r.settings.batch} events per request (${r.settings.batchBodyBytes} bytes). All producers use acks=all and idempotence.

| run | throughput | requests/s | p50 ms | p99 ms | non-2xx + errors |
| --- | ---: | ---: | ---: | ---: | ---: |
| Kafka ProducerPerformance (Java client) | ${r.producerPerformance.recordsPerSec.toLocaleString("en-US")} records/s | | ${r.producerPerformance.latencyP50Ms} | ${r.producerPerformance.latencyP99Ms} | |
${row("bare Node HTTP server (202, no work)", r.bareHttp)}
${row("ingest, single (1 event/request)", r.ingest.single)}
${row(`ingest, batch (${r.settings.batch} events/request)`, r.ingest.batch)}
${"status" in b ? `| Strimzi Kafka Bridge | not run: ${b.reason} | | | | |` : `${row("Strimzi bridge, single", b.single)}\n${row(`Strimzi bridge, batch (${r.settings.batch} records/request)`, b.batch)}`}

ProducerPerformance latencies are per record inside the Java client's own batches, not per HTTP request.

Integrity: the load generator received 202 for ${r.ingest.acceptedEvents.toLocaleString("en-US")} events (warm-ups included); the topic holds
${r.ingest.recordsOnTopic.toLocaleString("en-US")} records. The difference, ${(r.ingest.recordsOnTopic - r.ingest.acceptedEvents).toLocaleString("en-US")}, is the requests in flight when each timed
run stopped (dropped by the load generator, completed and written by the service): at most ${r.ingest.cutOffAtMost.toLocaleString("en-US")}
(one request per connection per run)${r.ingest.recordsOnTopic - r.ingest.acceptedEvents >= 0 && r.ingest.recordsOnTopic - r.ingest.acceptedEvents <= r.ingest.cutOffAtMost ? ", so no event was lost or written twice" : " — **outside that bound: investigate**"}.

| target | ratio | target | met |
| --- | ---: | ---: | --- |
| batch events/s vs ProducerPerformance records/s | ${pct(r.ratios.batchVsProducerPerformance)} | ≥ ${pct(r.targets.batchVsProducerPerformance)} | ${r.met.batchVsProducerPerformance ? "yes" : "**no**"} |
| single requests/s vs bare HTTP requests/s | ${pct(r.ratios.singleVsBareHttp)} | ≥ ${pct(r.targets.singleVsBareHttp)} | ${r.met.singleVsBareHttp ? "yes" : "**no**"} |
| ahead of the Strimzi bridge (single, batch) | ${pct(r.ratios.singleVsBridge)}, ${pct(r.ratios.batchVsBridge)} | > 100% | ${r.met.aheadOfBridge === null ? "not measured" : r.met.aheadOfBridge ? "yes" : "**no**"} |
`;
}

await main();
