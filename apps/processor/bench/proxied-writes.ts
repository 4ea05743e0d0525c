/**
 * The batch transaction's round trips, measured through a connection with a network's latency (bench/delay-proxy.ts):
 * what the one-round-trip transaction (src/wire/one-trip.ts) and a second transaction at once (BATCH_TRANSACTIONS=2)
 * are kept for. On this machine PostgreSQL answers within microseconds, so neither could be told apart from the
 * plain way (docs/processor.md#changes-and-their-effect); a writer in another availability zone answers a
 * millisecond or two later per direction, which is what the proxy adds.
 *
 * Four ways of storing the same batches, each through the processor's own copy path (writeByCopy: the same COPY
 * payload, the same rollup statement and parameters) and its own pipeline (BatchPipeline, as the consumer runs it):
 *
 *   one trip, 1 or 2 transactions   oneTrip, what the processor runs (no BEGIN/COMMIT; a Sync commits)
 *   plain, 1 or 2 transactions      BEGIN; COPY (pg-copy-streams); the rollup statement; COMMIT: five round trips
 *
 * Each way stores `batches` batches of `batchRecords` new events (the benchmark's record shape, assembled before the
 * clock starts) into emptied tables, from a CHECKPOINT; the ways take turns, `rounds` times, so drift on the shared
 * machine falls on all of them alike, and the median round counts. Once directly and once through the proxy.
 */
import os from "node:os";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import copyStreams from "pg-copy-streams";
import { KnownSubjects } from "../src/known-subjects.js";
import { BatchPipeline } from "../src/pipeline.js";
import { assemble, BatchRows, oneTrip, releasePrepared, writeByCopy, type BatchTrip, type PreparedBatch } from "../src/wire/index.js";
import { startDelayProxy } from "./delay-proxy.js";
import { Workload } from "./workload.js";

export interface ProxiedWritesSettings {
  database: string;
  /** Milliseconds the proxy holds each chunk, per direction. */
  delayMs: number;
  batches: number;
  batchRecords: number;
  rounds: number;
  workload: { types: number; subjects: number; dataBytes: number };
}

type Way = { trip: "one trip" | "plain"; transactions: 1 | 2 };
const WAYS: Way[] = [
  { trip: "one trip", transactions: 1 },
  { trip: "plain", transactions: 1 },
  { trip: "one trip", transactions: 2 },
  { trip: "plain", transactions: 2 },
];

export interface WayResult extends Way {
  /** Events/s of each round, in order. */
  rounds: number[];
  /** Median of the rounds. */
  eventsPerSec: number;
  /** Mean milliseconds per batch in the median round. */
  msPerBatch: number;
}

export interface ConnectionResult {
  /** 0: directly to PostgreSQL. */
  delayMs: number;
  ways: WayResult[];
  ratios: { oneTripVsPlain1: number; oneTripVsPlain2: number; twoVsOneOneTrip: number; twoVsOnePlain: number };
}

export interface ProxiedWritesResult {
  date: string;
  loadAverage1m: { before: number; after: number };
  batches: number;
  batchRecords: number;
  rounds: number;
  direct: ConnectionResult;
  proxied: ConnectionResult;
}

/** BEGIN; COPY ... FROM STDIN through pg-copy-streams; the statement; COMMIT (ROLLBACK on an error). */
const plainTrip: BatchTrip = async (client, copySql, copyData, statement, onCopied) => {
  await client.query("BEGIN");
  try {
    await pipeline(Readable.from([copyData]), client.query(copyStreams.from(copySql)));
    onCopied?.();
    const res = await client.query<unknown[]>({ name: statement.name, text: statement.text, values: statement.values, rowMode: "array" });
    await client.query("COMMIT");
    return res.rows.map((row) => row.map((v) => (v === null ? null : String(v))));
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
};

const TRIPS: Record<Way["trip"], BatchTrip> = { "one trip": oneTrip, plain: plainTrip };

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function proxiedWrites(s: ProxiedWritesSettings): Promise<ProxiedWritesResult> {
  const loadAverage = () => os.loadavg()[0] ?? 0;
  const loadBefore = loadAverage();
  const target = { host: "127.0.0.1", port: 5432 };
  const admin = new pg.Client({ ...target, user: "postgres", database: s.database });
  await admin.connect();
  const proxy = await startDelayProxy(target, s.delayMs);
  const workload = new Workload(s.workload, `bench-proxied-${Date.now().toString(36)}`);
  try {
    const direct = await measure(s, admin, target.port, 0, workload);
    const proxied = await measure(s, admin, proxy.port, s.delayMs, workload);
    return { date: new Date().toISOString(), loadAverage1m: { before: loadBefore, after: loadAverage() }, batches: s.batches, batchRecords: s.batchRecords, rounds: s.rounds, direct, proxied };
  } finally {
    await proxy.close();
    await admin.end();
  }
}

async function measure(s: ProxiedWritesSettings, admin: pg.Client, port: number, delayMs: number, workload: Workload): Promise<ConnectionResult> {
  const perWay = WAYS.map(() => ({ rounds: [] as number[], msPerBatch: [] as number[] }));
  for (let round = 0; round < s.rounds; round++) {
    // Turns rotate each round, so no way always runs first (on the freshest machine) or last.
    for (let k = 0; k < WAYS.length; k++) {
      const w = (k + round) % WAYS.length;
      const way = WAYS[w] as Way;
      const batches = Array.from({ length: s.batches }, () => batchOf(workload, s.batchRecords));
      await admin.query("TRUNCATE events, rollup_minute, rollup_minute_subjects, rollup_cache_pending");
      await admin.query("CHECKPOINT");
      // A pool per run: the two trips prepare the same statement name, each by its own bookkeeping. Its connections
      // are open before the clock starts, as the processor's are.
      const pool = new pg.Pool({ host: "127.0.0.1", port, user: "postgres", database: s.database, max: way.transactions });
      try {
        const warm = await Promise.all(Array.from({ length: way.transactions }, () => pool.connect()));
        for (const client of warm) client.release();
        const seconds = await run(pool, way, batches);
        perWay[w]?.rounds.push(Math.round((s.batches * s.batchRecords) / seconds));
        perWay[w]?.msPerBatch.push(Math.round((seconds * 1000 * 10) / s.batches) / 10);
      } finally {
        await pool.end();
      }
    }
  }
  const ways: WayResult[] = WAYS.map((way, w) => {
    const { rounds, msPerBatch } = perWay[w] as { rounds: number[]; msPerBatch: number[] };
    const eventsPerSec = median(rounds);
    return { ...way, rounds, eventsPerSec, msPerBatch: msPerBatch[rounds.indexOf(eventsPerSec)] as number };
  });
  const rate = (trip: Way["trip"], transactions: number) => ways.find((x) => x.trip === trip && x.transactions === transactions)?.eventsPerSec ?? Number.NaN;
  return {
    delayMs,
    ways,
    ratios: {
      oneTripVsPlain1: round3(rate("one trip", 1) / rate("plain", 1)),
      oneTripVsPlain2: round3(rate("one trip", 2) / rate("plain", 2)),
      twoVsOneOneTrip: round3(rate("one trip", 2) / rate("one trip", 1)),
      twoVsOnePlain: round3(rate("plain", 2) / rate("plain", 1)),
    },
  };
}

/** `records` new events of the benchmark's shape, assembled as the consumer assembles a batch. */
function batchOf(workload: Workload, records: number): PreparedBatch {
  const rows = new BatchRows(records);
  const now = Date.now();
  for (let i = 0; i < records; i++) {
    const r = workload.record("bench", now);
    const rejected = rows.addRecord({ value: r.value, headers: r.headers, timestamp: BigInt(now), partition: i % 6, offset: BigInt(workload.count) }, now);
    if (rejected) throw new Error(`the benchmark's own event was refused: ${rejected.error}`);
  }
  const batch = assemble(rows);
  rows.release();
  return batch;
}

/** Stores `batches` one way, through the consumer's pipeline; returns the seconds from the first to the last commit. */
async function run(pool: pg.Pool, way: Way, batches: PreparedBatch[]): Promise<number> {
  const trip = TRIPS[way.trip];
  // As Store does: triples of stored batches are left out of the next batches' statements.
  const known = new KnownSubjects();
  const stages = {
    async store(batch: PreparedBatch, release: () => void) {
      const client = await pool.connect();
      try {
        await writeByCopy(client, batch, known.unknown(batch.aggregates.subjects), release, trip);
        known.add(batch.aggregates.subjects);
      } finally {
        client.release();
      }
    },
    commit: async () => undefined,
  };
  const batchPipeline = new BatchPipeline<PreparedBatch>(stages, { stores: way.transactions });
  const started = performance.now();
  for (const batch of batches) await batchPipeline.push(batch);
  await batchPipeline.drained();
  const seconds = (performance.now() - started) / 1000;
  for (const batch of batches) releasePrepared(batch);
  return seconds;
}
