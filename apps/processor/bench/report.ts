/** docs/bench-processor.md from the benchmark's result (the same object is written as the JSON). */
import type { ConsumerPerformanceResult, CopyResult, NodeClientResult } from "./ceilings.js";
import type { Percentiles } from "./measure.js";
import type { ConnectionResult, ProxiedWritesResult } from "./proxied-writes.js";

interface BatchSummary {
  batches: number;
  records: Percentiles;
  durationMs: Percentiles;
  meanStageMs: Record<"decode" | "store" | "deadLetter" | "offsets" | "cache", number>;
}

/** The consumer-group run: the same backlog drained by several processor processes in one group. */
/** Mean CPUs in use during a drain (1 = one core busy), from /proc. */
export type CpuUsage = { processes: number; postgres: number; machine: number; cpus: number; usPerEvent?: { processes: number; postgres: number; machine: number } } | undefined;

export interface GroupResult {
  members: number;
  throughput: { recordsPerSec: number; records: number; seconds: number };
  cpuDuringThroughput: CpuUsage;
  /** "joined consumer group" log lines during the drain (each member logs one per rebalance): 0 = stable group. */
  joinsDuringDrain: number;
  integrity: BenchResult["integrity"];
  counters: Record<string, number>;
  exitCodes: (number | null)[];
}

export interface BenchResult {
  date: string;
  machine: { cpus: number; cpuModel: string | undefined; memoryGiB: number; node: string; kafkaClient: string; platform: string; loadAverage1m: { before: number; after: number } };
  settings: { events: number; pacedSeconds: number; pacedFraction: number; types: number; subjects: number; dataBytes: number; partitions: number; batchMaxRecords: number; fetchMaxBytes: number; drainPollMs: number; recordBytes: number; pacedRatePerSec: number; pacedAchievedPerSec: number; copyRepetitions: number };
  processor: {
    throughput: { recordsPerSec: number; records: number; seconds: number };
    cpuDuringThroughput: CpuUsage;
    batchesDuringThroughput: BatchSummary;
    latency: Percentiles & { resolutionMs: { pollIntervalMs: number; pollRoundTripMs: number }; events: number; seconds: number };
    batchesDuringLatency: BatchSummary;
    counters: Record<string, number>;
    exitCode: number | null;
  };
  consumerPerformance: ConsumerPerformanceResult;
  nodeClient: NodeClientResult;
  copy: CopyResult;
  integrity: { events: number; rollupCount: number; committed: number; typeMinutes: number; cacheEntriesChecked: number; readApiTypesChecked: number; problems: string[]; exact: boolean };
  group: GroupResult | undefined;
  /** Step 6: the batch transaction directly and through the latency proxy (absent in reports from before it). */
  proxied?: ProxiedWritesResult;
  targets: { processorVsCopy: number };
  ratios: { processorVsCopy: number | null; groupVsCopy: number | null; processorVsConsumerPerformance: number | null; processorVsNodeClient: number | null };
  met: { processorVsCopy: boolean; groupVsCopy: boolean };
}

const n = (x: number) => x.toLocaleString("en-US");
const pct = (v: number | null) => (v === null ? "n/a" : `${Math.round(v * 1000) / 10}%`);

function batchRow(name: string, b: BatchSummary): string {
  const s = b.meanStageMs;
  return `| ${name} | ${n(b.batches)} | ${b.records.mean} (p50 ${b.records.p50}, max ${b.records.max}) | ${b.durationMs.p50} | ${b.durationMs.p90} | ${b.durationMs.p99} | ${s.decode} / ${s.store} / ${s.offsets} / ${s.cache} |`;
}

function cpuLine(what: string, c: CpuUsage): string {
  if (!c) return "";
  const perEvent = c.usPerEvent ? `; per event, in CPU-µs: the processor ${c.usPerEvent.processes}, PostgreSQL ${c.usPerEvent.postgres}, the machine ${c.usPerEvent.machine}` : "";
  return `CPU during ${what} (from /proc, in CPUs, 1 = one core busy): the processor process${what.includes("group") ? "es" : ""} ${c.processes}, PostgreSQL (server and backends) ${c.postgres}, the whole machine ${c.machine} of ${c.cpus}${perEvent}.\n`;
}

const us = (v: number | null | undefined) => (v === null || v === undefined ? "—" : v.toFixed(1));
/** The processor's CPU-µs per event, and PostgreSQL's beside it, during a drain. */
const drainUs = (c: CpuUsage) => (c?.usPerEvent ? `processor ${us(c.usPerEvent.processes)} + PostgreSQL ${us(c.usPerEvent.postgres)}` : "—");

function groupRow(g: GroupResult | undefined): string {
  if (!g) return "";
  return `| ${g.members} processors, one consumer group (${g.members} processes, how KEDA scales the Deployment; not the single-process figure) | ${n(g.throughput.recordsPerSec)} | ${n(g.throughput.records)} events in ${g.throughput.seconds} s, a second backlog of the same shape, the group formed before it arrived, first offset commit to last; ${g.joinsDuringDrain} group joins during the drain; totals ${g.integrity.exact ? "exact" : "**NOT exact**"} (${n(g.counters.stored ?? 0)} stored, ${n(g.counters.duplicate ?? 0)} duplicates) |\n`;
}

function groupRatioRow(r: BenchResult): string {
  if (!r.group) return "";
  return `| ${r.group.members} processors in one group vs raw COPY | ${pct(r.ratios.groupVsCopy)} | ≥ ${pct(r.targets.processorVsCopy)} | ${r.met.groupVsCopy ? "yes" : "**no**"} | ${drainUs(r.group.cpuDuringThroughput)} vs PostgreSQL ${us(r.copy.cpuUsPerRow.postgres)} |\n`;
}

function groupProblems(g: GroupResult | undefined): string {
  if (!g || g.integrity.problems.length === 0) return "";
  return `\nProblems found in the consumer-group run:\n\n${g.integrity.problems.slice(0, 30).map((x) => `- ${x}`).join("\n")}\n`;
}

const WAY_NAMES = {
  "one trip": "one round trip (what the processor runs: no BEGIN/COMMIT, a Sync commits)",
  plain: "BEGIN; COPY (pg-copy-streams); rollup statement; COMMIT",
} as const;

function wayRows(direct: ConnectionResult, proxied: ConnectionResult): string {
  return direct.ways
    .map((w, i) => {
      const p = proxied.ways[i] as (typeof proxied.ways)[number];
      return `| ${WAY_NAMES[w.trip]}, ${w.transactions === 1 ? "one transaction at a time" : "two at once (BATCH_TRANSACTIONS=2)"} | ${n(w.eventsPerSec)} | ${w.msPerBatch} | ${n(p.eventsPerSec)} | ${p.msPerBatch} | ${w.rounds.map(n).join(" · ")} / ${p.rounds.map(n).join(" · ")} |`;
    })
    .join("\n");
}

const ratio = (x: number) => `${x.toFixed(3)}×`;

/** Step 6's section: the batch transaction's ways, directly and through the proxy, and their ratios. */
function proxiedSection(x: ProxiedWritesResult | undefined): string {
  if (!x) return "";
  const d = x.direct;
  const p = x.proxied;
  return `
## The batch transaction through a network's latency

Measured ${x.date} (\`BENCH_ONLY=proxied\` runs this step alone), 1-minute load average ${x.loadAverage1m.before} before and
${x.loadAverage1m.after} after. The same batches (${x.batches} of ${n(x.batchRecords)} events of the workload's shape per way and round,
assembled before the clock starts) stored by the processor's copy path (\`writeByCopy\`: the same COPY payload and rollup
statement) through the consumer's pipeline, into emptied tables from a CHECKPOINT, directly and through a TCP proxy
that holds each chunk ${p.delayMs} ms per direction (bench/delay-proxy.ts), as a writer in another availability zone
answers. ${x.rounds} rounds, the ways taking turns; events/s is the median round, ms per batch is from that round.

| way | directly: events/s | ms/batch | proxy ${p.delayMs} ms each way: events/s | ms/batch | rounds: directly / proxied |
| --- | ---: | ---: | ---: | ---: | --- |
${wayRows(d, p)}

| ratio | directly | through the proxy |
| --- | ---: | ---: |
| one round trip vs BEGIN/COPY/COMMIT, one transaction at a time | ${ratio(d.ratios.oneTripVsPlain1)} | ${ratio(p.ratios.oneTripVsPlain1)} |
| one round trip vs BEGIN/COPY/COMMIT, two at once | ${ratio(d.ratios.oneTripVsPlain2)} | ${ratio(p.ratios.oneTripVsPlain2)} |
| two transactions at once vs one (one round trip) | ${ratio(d.ratios.twoVsOneOneTrip)} | ${ratio(p.ratios.twoVsOneOneTrip)} |
| two transactions at once vs one (BEGIN/COPY/COMMIT) | ${ratio(d.ratios.twoVsOnePlain)} | ${ratio(p.ratios.twoVsOnePlain)} |
`;
}

export function markdown(r: BenchResult): string {
  const p = r.processor;
  const i = r.integrity;
  return `# Processor benchmark

Generated by \`npm run bench:processor\` (apps/processor/bench/bench.ts) on ${r.date}. Do not edit by hand; the
analysis is in [processor.md](processor.md#benchmark).

Machine: ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.machine.kafkaClient}, ${r.machine.platform};
1-minute load average ${r.machine.loadAverage1m.before} before the run and ${r.machine.loadAverage1m.after} after (other work shares the CPUs).
Everything ran on this one machine: the broker (single node, KRaft), PostgreSQL, Redis, the load generator and
the processor (one process, \`dist/src/server.js\`, as the least-privilege role, BATCH_MAX_RECORDS=${r.settings.batchMaxRecords},
KAFKA_FETCH_MAX_BYTES=${r.settings.fetchMaxBytes})${r.group ? `; in the consumer-group run, ${r.group.members} such processes in one group on a second backlog of the same shape` : ""}.

Workload: ${n(r.settings.events)} binary-mode CloudEvents (the ingest service's record shape, ${r.settings.recordBytes} bytes
each, ${r.settings.dataBytes} bytes of JSON data) over ${r.settings.types} types and ${n(r.settings.subjects)} subjects, produced into
${r.settings.partitions} partitions before the processor starts; the processor drains that backlog. Then
${n(r.settings.pacedRatePerSec)} events/s (${Math.round(r.settings.pacedFraction * 100)}% of the drain rate) for ${r.settings.pacedSeconds} s for the latency.

| run | events/s | notes |
| --- | ---: | --- |
| **processor** (Kafka → PostgreSQL + Redis, offsets committed) | **${n(p.throughput.recordsPerSec)}** | ${n(p.throughput.records)} events in ${p.throughput.seconds} s, from the first offset commit to the last (commits polled every ${r.settings.drainPollMs} ms) |
${groupRow(r.group)}| Kafka ConsumerPerformance (Java client, same topic) | ${n(r.consumerPerformance.recordsPerSec)} | ${n(r.consumerPerformance.records)} records, ${r.consumerPerformance.mbPerSec} MB/s, fetch time only (${n(r.consumerPerformance.recordsPerSecWithJoin)}/s with the group join) |
| raw \`COPY\` of the same rows into PostgreSQL | ${n(r.copy.rowsPerSec)} | the ${n(r.copy.rows)} rows of the drained backlog (${Math.round(r.copy.bytes / 2 ** 20)} MiB, binary format) in ${r.copy.seconds} s into an empty table, one transaction, same primary key; median of ${r.copy.repetitions.map(n).join(", ")} rows/s |
| the processor's Kafka fetch path alone (@platformatic/kafka Fetch through src/wire/fetcher.ts, records dropped) | ${n(r.nodeClient.recordsPerSec)} | ${n(r.nodeClient.records)} records in ${r.nodeClient.seconds} s, the processor's fetch settings, one Node.js thread |

| ratio | value | target | met | CPU µs/event: under test vs ceiling |
| --- | ---: | ---: | --- | ---: |
| processor vs raw COPY | ${pct(r.ratios.processorVsCopy)} | ≥ ${pct(r.targets.processorVsCopy)} | ${r.met.processorVsCopy ? "yes" : "**no**"} | ${drainUs(p.cpuDuringThroughput)} vs PostgreSQL ${us(r.copy.cpuUsPerRow.postgres)} (its COPY backend ${us(r.copy.cpuUsPerRow.backend)}) |
${groupRatioRow(r)}| processor vs ConsumerPerformance | ${pct(r.ratios.processorVsConsumerPerformance)} | | | processor ${us(p.cpuDuringThroughput?.usPerEvent?.processes)} vs Java consumer ${us(r.consumerPerformance.cpuUsPerRecord)} |
| processor vs its fetch path alone | ${pct(r.ratios.processorVsNodeClient)} | | | processor ${us(p.cpuDuringThroughput?.usPerEvent?.processes)} vs fetch path ${us(r.nodeClient.cpuUsPerRecord)} |

CPU µs/event is CPU time (user + system) divided by the events carried: the processor process and every PostgreSQL
process (other clients of the shared server included) during the drain, from /proc; for the COPY, every PostgreSQL
process and the COPY's own backend during the COPY; the Java consumer's process over its whole run (JVM start-up and
group join included); the fetch path's (this benchmark's) process from its first record to its last (process.cpuUsage).

${cpuLine("the single-process drain", p.cpuDuringThroughput)}${r.group ? cpuLine("the consumer-group drain", r.group.cpuDuringThroughput) : ""}
End-to-end latency at ${n(r.settings.pacedAchievedPerSec)} events/s (the producer's achieved rate; ${n(r.settings.pacedRatePerSec)} asked), from the producer's send to the Kafka offset commit
(which follows the PostgreSQL commit), over ${n(p.latency.count)} events: p50 **${p.latency.p50} ms**, p90 ${p.latency.p90} ms,
p99 **${p.latency.p99} ms**, max ${p.latency.max} ms. Commits are observed by polling the group's offsets every
${p.latency.resolutionMs.pollIntervalMs} ms (median poll round trip ${p.latency.resolutionMs.pollRoundTripMs} ms), so each figure is late by at most about that much.

Batches, from the processor's own per-batch log lines (stages: decode and COPY encoding / PostgreSQL transaction / offset commit / Redis write, mean ms; the batches are pipelined, so one batch's decoding and offset commit overlap its neighbours' transactions and a batch's duration includes its waits):

| phase | batches | records per batch: mean | p50 ms | p90 ms | p99 ms | stages ms |
| --- | ---: | --- | ---: | ---: | ---: | --- |
${batchRow("throughput (backlog)", p.batchesDuringThroughput)}
${batchRow("latency (steady rate)", p.batchesDuringLatency)}

Integrity: ${i.exact ? "**exact**" : "**NOT exact**"}. PostgreSQL holds ${n(i.events)} events (${n(i.events)} produced) and the rollups
count ${n(i.rollupCount)}; ${n(i.committed)} offsets are committed; all ${n(i.typeMinutes)} type-minute rollups (count and distinct
subjects) match an independent count in PostgreSQL and in Redis (${n(i.cacheEntriesChecked)} cache entries read); the read API
total of each of the ${i.readApiTypesChecked} types matches. The processor counted ${n(p.counters.stored ?? 0)} stored, ${n(p.counters.duplicate ?? 0)} duplicates,
${n(p.counters.deadLettered ?? 0)} dead letters, ${n(p.counters.batchRetries ?? 0)} batch retries; it exited with code ${p.exitCode} on SIGTERM.
${i.problems.length > 0 ? `\nProblems found:\n\n${i.problems.slice(0, 30).map((x) => `- ${x}`).join("\n")}\n` : ""}${groupProblems(r.group)}${proxiedSection(r.proxied)}`;
}
