/**
 * What the benchmark measures from outside the processor: the consumer group's committed offsets (polled),
 * from which it derives throughput and each record's produce→commit latency, and the processor's own
 * per-batch debug lines (exact batch durations and where the time went).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Admin } from "@platformatic/kafka";
import type { Broker } from "@eventstack/runtime";
import type { Produced } from "./workload.js";

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Exact percentiles (nearest rank) of a sample. */
export function percentiles(values: number[]): Percentiles {
  const v = Float64Array.from(values).sort();
  const at = (q: number) => (v.length === 0 ? 0 : (v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)] as number));
  const round = (x: number) => Math.round(x * 10) / 10;
  const sum = v.reduce((a, b) => a + b, 0);
  return { count: v.length, p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(at(1)), mean: round(v.length ? sum / v.length : 0) };
}

interface Advance {
  at: number;
  partition: number;
  from: bigint;
  to: bigint;
}

/**
 * Polls the group's committed offsets every `intervalMs`. Each advance of a partition's offset from a to b
 * means records a..b-1 are in PostgreSQL and committed; the poll time is their commit time, late by at most
 * one interval plus the request's round trip (reported as the resolution).
 */
export class CommitWatcher {
  readonly advances: Advance[] = [];
  readonly #admin: Admin;
  readonly #group: string;
  readonly #topic: string;
  readonly #committed = new Map<number, bigint>();
  #intervalMs: number;
  #running = false;
  #loop: Promise<void> | undefined;
  #roundTrips: number[] = [];

  constructor(brokers: Broker[], group: string, topic: string, intervalMs: number) {
    this.#admin = new Admin({ clientId: "bench-commit-watcher", bootstrapBrokers: brokers });
    this.#group = group;
    this.#topic = topic;
    this.#intervalMs = intervalMs;
  }

  get total(): number {
    let sum = 0;
    for (const v of this.#committed.values()) sum += Number(v);
    return sum;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Changes the poll interval from the next poll on (coarse while throughput is measured, fine for latency). */
  set intervalMs(ms: number) {
    this.#intervalMs = ms;
  }

  /** Median time one poll took (request round trip), the other half of the latency resolution. */
  get roundTripMs(): number {
    return percentiles(this.#roundTrips).p50;
  }

  start(): void {
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        const t0 = Date.now();
        const groups = await this.#admin.listConsumerGroupOffsets({ groups: [this.#group] }).catch(() => []);
        const at = Date.now();
        this.#roundTrips.push(at - t0);
        for (const t of groups[0]?.topics ?? []) {
          if (t.name !== this.#topic) continue;
          for (const p of t.partitions) {
            const prev = this.#committed.get(p.partitionIndex) ?? 0n;
            if (p.committedOffset > prev) {
              this.advances.push({ at, partition: p.partitionIndex, from: prev, to: p.committedOffset });
              this.#committed.set(p.partitionIndex, p.committedOffset);
            }
          }
        }
        await new Promise((r) => setTimeout(r, Math.max(0, this.#intervalMs - (Date.now() - t0))));
      }
    })();
  }

  /** Resolves when `total` committed offsets reach `target`, or rejects after `timeoutMs`. */
  async waitFor(target: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.total < target) {
      if (Date.now() > deadline) throw new Error(`only ${this.total} of ${target} records committed after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return Date.now();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await this.#admin.close();
  }

  /**
   * Sustained throughput over the advances seen in [from, to): records committed after the first advance
   * of the window divided by the time from that advance to the last (the first advance only marks the start,
   * so the processor's start-up and group join are not counted against it).
   */
  throughput(fromMs = 0, toMs = Number.POSITIVE_INFINITY): { recordsPerSec: number; records: number; seconds: number } {
    const window = this.advances.filter((a) => a.at >= fromMs && a.at < toMs);
    const first = window[0];
    const last = window.at(-1);
    if (!first || !last || last.at === first.at) return { recordsPerSec: 0, records: 0, seconds: 0 };
    const records = window.filter((a) => a.at !== first.at).reduce((s, a) => s + Number(a.to - a.from), 0);
    const seconds = (last.at - first.at) / 1000;
    return { recordsPerSec: Math.round(records / seconds), records, seconds: Math.round(seconds * 100) / 100 };
  }

  /** Produce→commit latency (ms) of every record of `produced` whose commit was observed. */
  latencies(produced: Produced): number[] {
    const out: number[] = [];
    for (const a of this.advances) {
      const sent = produced.sentAt.get(a.partition);
      if (!sent) continue;
      for (let o = a.from; o < a.to; o++) {
        const t = sent.get(o);
        if (t !== undefined) out.push(a.at - t);
      }
    }
    return out;
  }
}

export interface BatchLine {
  time: number;
  records: number;
  durationMs: number;
  stagesMs: { decode: number; store: number; deadLetter: number; offsets: number; cache: number };
}

/** Collects the processor's "batch committed" debug lines from its stdout. */
export class BatchLog {
  readonly batches: BatchLine[] = [];
  #partial = "";

  feed(chunk: Buffer | string): void {
    const text = this.#partial + chunk.toString();
    const lines = text.split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.includes('"batch committed"')) continue;
      try {
        const j = JSON.parse(line) as { time: string; records: number; durationMs: number; stagesMs: BatchLine["stagesMs"] };
        this.batches.push({ time: Date.parse(j.time), records: j.records, durationMs: j.durationMs, stagesMs: j.stagesMs });
      } catch {
        // Not a JSON line: ignore.
      }
    }
  }

  /** Batch sizes, durations and the mean time per stage, over batches logged in [from, to). */
  summary(fromMs = 0, toMs = Number.POSITIVE_INFINITY) {
    const b = this.batches.filter((x) => x.time >= fromMs && x.time < toMs);
    const mean = (f: (x: BatchLine) => number) => (b.length ? Math.round((b.reduce((s, x) => s + f(x), 0) / b.length) * 10) / 10 : 0);
    return {
      batches: b.length,
      records: percentiles(b.map((x) => x.records)),
      durationMs: percentiles(b.map((x) => x.durationMs)),
      meanStageMs: {
        decode: mean((x) => x.stagesMs.decode),
        store: mean((x) => x.stagesMs.store),
        deadLetter: mean((x) => x.stagesMs.deadLetter),
        offsets: mean((x) => x.stagesMs.offsets),
        cache: mean((x) => x.stagesMs.cache),
      },
    };
  }
}

/** The installed version of a package, looked up from the working directory up to the repository root. */
function packageVersion(name: string): string {
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const file = path.join(dir, "node_modules", name, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    if (path.dirname(dir) === dir) return "unknown";
  }
}

/** The facts that make a number comparable: the machine and how busy it was. */
export function machine(loadBefore: number) {
  const cpu = os.cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kafkaClient: `@platformatic/kafka ${packageVersion("@platformatic/kafka")}`,
    platform: `${os.platform()} ${os.release()}`,
    // Other work on the machine skews every number; the 1-minute load average before and after says how much.
    loadAverage1m: { before: Math.round(loadBefore * 100) / 100, after: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
  };
}

/** utime + stime of one process in seconds (/proc/<pid>/stat), or undefined when it is gone or there is no /proc. */
export function processCpuS(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the command name; USER_HZ is 100.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by every PostgreSQL process of the machine (server and backends), from /proc. */
export function postgresCpuS(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    if (stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) !== "postgres") continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    total += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return total;
}

interface CpuSample {
  at: number;
  /** CPU seconds used so far by the watched processes, by PostgreSQL's processes, and by the whole machine. */
  processes: number;
  postgres: number;
  busy: number;
  total: number;
}

/**
 * Samples CPU time from /proc (Linux) while a run goes on, so that a report can say what was busy during its
 * measured window: the processor process(es), PostgreSQL (server and backends) and the machine as a whole.
 * Without /proc it reports nothing rather than guessing.
 */
export class CpuSampler {
  readonly #samples: CpuSample[] = [];
  readonly #pids: number[];
  readonly #tick: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(pids: number[], intervalMs = 250) {
    this.#pids = pids;
    // USER_HZ is 100 on every Linux architecture Node supports.
    this.#tick = 100;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  watch(pid: number): void {
    this.#pids.push(pid);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sample();
  }

  /**
   * Mean use over [fromMs, toMs], in CPUs (1 = one core fully busy): the watched processes, PostgreSQL, the
   * machine, and the machine's CPU count; undefined without samples on both sides of the window. With `events`
   * (those completed in the window), also the CPU-µs per event of each.
   */
  usage(
    fromMs: number,
    toMs: number,
    events?: number,
  ): { processes: number; postgres: number; machine: number; cpus: number; usPerEvent?: { processes: number; postgres: number; machine: number } } | undefined {
    const a = [...this.#samples].reverse().find((s) => s.at <= fromMs) ?? this.#samples[0];
    const b = this.#samples.find((s) => s.at >= toMs) ?? this.#samples.at(-1);
    if (!a || !b || b.at <= a.at) return undefined;
    const seconds = (b.at - a.at) / 1000;
    const r = (x: number) => Math.round((x / seconds) * 100) / 100;
    // The samples bracket the window, so the CPU is over a slightly longer time than the events: scaled to the window.
    const window = Math.max(1, toMs - fromMs) / 1000;
    const us = (x: number) => Math.round(((x / seconds) * window * 1e6 * 100) / (events ?? 1)) / 100;
    const d = { processes: b.processes - a.processes, postgres: b.postgres - a.postgres, machine: b.busy - a.busy };
    return {
      processes: r(d.processes),
      postgres: r(d.postgres),
      machine: r(d.machine),
      cpus: os.cpus().length,
      ...(events ? { usPerEvent: { processes: us(d.processes), postgres: us(d.postgres), machine: us(d.machine) } } : {}),
    };
  }

  #sample(): void {
    try {
      const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
      // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
      const total = cpu.slice(0, 8).reduce((s, x) => s + x, 0);
      const busy = total - (cpu[3] ?? 0) - (cpu[4] ?? 0);
      let processes = 0;
      let postgres = 0;
      for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const pid = Number(entry);
        const watched = this.#pids.includes(pid);
        let stat: string;
        try {
          stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        } catch {
          continue; // exited meanwhile
        }
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        if (!watched && comm !== "postgres") continue;
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the command name.
        const seconds = (Number(fields[11]) + Number(fields[12])) / this.#tick;
        if (watched) processes += seconds;
        else postgres += seconds;
      }
      this.#samples.push({ at: Date.now(), processes, postgres, busy: busy / this.#tick, total: total / this.#tick });
    } catch {
      // No /proc: no samples, usage() is undefined.
    }
  }
}
