/**
 * The two ways a batch reaches PostgreSQL. Both run in one transaction that stores the new events and moves
 * the rollups by exactly those events, so either gives the exactly-once effect on its own; Store picks one.
 *
 *   copy   the events are COPYed straight into `events`. COPY has no ON CONFLICT: if any event of the batch
 *          is already stored, the COPY fails with unique_violation and the transaction rolls back having
 *          changed nothing. When it succeeds, every event of the batch was new, so the rollups are moved by
 *          aggregates computed here from the whole batch. This is the normal case and costs about what a raw
 *          COPY costs.
 *   merge  the events are COPYed into a temporary staging table, and one INSERT ... SELECT ... ON CONFLICT
 *          DO NOTHING RETURNING moves them on: the rollups are computed in the same statement from the rows
 *          that insert returned (the new ones only). Used after `copy` met a stored duplicate, i.e. while a
 *          redelivery (a restart, a rebalance, a replay) is being worked through.
 *
 * Both lock rows in one global order (events by source then id as sorted here; subjects and rollups by
 * COLLATE "C"), so two consumers writing overlapping batches during a rebalance wait for each other instead
 * of deadlocking.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { BinaryCopyWriter } from "./copy-binary.js";
import type { MinuteRollup, StoredEvent } from "./store.js";

const EVENT_COLUMNS = "source, id, type, time, subject, datacontenttype, dataschema, data, extensions, kafka_partition, kafka_offset";
const COPY_EVENTS = `COPY events (${EVENT_COLUMNS}) FROM STDIN (FORMAT binary)`;

/**
 * The last two CTEs of both paths' statements: the rollups move by `deltas`, and each moved type-minute is marked
 * in rollup_cache_pending with its new count, in the same transaction. The mark is what makes the cache write
 * survive a crash: it is deleted only once Redis holds at least that count (Store.clearCachePending), so a process
 * that dies after this COMMIT and before its Redis write leaves the mark for any member's cache sync to finish.
 * Batches lock a mark only while they hold the same type-minute's rollup row, so two batches never wait on each
 * other for a mark; the sync skips marks a batch has locked (SKIP LOCKED) instead of waiting, so no cycle forms.
 */
const MOVE_ROLLUPS_AND_MARK = `,
moved AS (
  INSERT INTO rollup_minute AS r (type, minute, count, subjects)
  SELECT type, minute, n, s FROM deltas ORDER BY type COLLATE "C", minute
  ON CONFLICT (type, minute) DO UPDATE SET count = r.count + EXCLUDED.count, subjects = r.subjects + EXCLUDED.subjects
  RETURNING type, minute, count, subjects
),
marked AS (
  INSERT INTO rollup_cache_pending AS p (type, minute, count)
  SELECT type, minute, count FROM moved
  ON CONFLICT (type, minute) DO UPDATE SET count = GREATEST(p.count, EXCLUDED.count)
)`;

/** Moves the rollups by aggregates of a batch whose events were all new (the copy path). */
const ROLLUPS_FROM_AGGREGATES = `
WITH new_subjects AS (
  INSERT INTO rollup_minute_subjects (type, minute, subject)
  SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS s(type, minute, subject)
  ORDER BY type COLLATE "C", minute, subject COLLATE "C"
  ON CONFLICT DO NOTHING
  RETURNING type, minute
),
deltas AS (
  SELECT c.type, c.minute, c.n, COALESCE(s.n, 0) AS s
  FROM unnest($4::text[], $5::timestamptz[], $6::bigint[]) AS c(type, minute, n)
  LEFT JOIN (SELECT type, minute, count(*) AS n FROM new_subjects GROUP BY 1, 2) s USING (type, minute)
)
${MOVE_ROLLUPS_AND_MARK}
SELECT type, minute, count, subjects FROM moved`;

/** Per connection, created outside any transaction (so a rolled-back batch does not drop it); emptied at commit. */
export const CREATE_STAGING = `
CREATE TEMPORARY TABLE IF NOT EXISTS events_batch (
  ord int4, source text, id text, type text, time timestamptz, subject text, datacontenttype text, dataschema text,
  data bytea, extensions jsonb, kafka_partition int4, kafka_offset int8
) ON COMMIT DELETE ROWS`;
const COPY_STAGING = "COPY events_batch FROM STDIN (FORMAT binary)";

/** The merge path's statement: data-modifying CTEs of one INSERT, so they commit or roll back together. */
const MERGE_FROM_STAGING = `
WITH inserted AS (
  INSERT INTO events (${EVENT_COLUMNS})
  SELECT ${EVENT_COLUMNS} FROM events_batch ORDER BY ord
  ON CONFLICT (source, id) DO NOTHING
  RETURNING type, date_trunc('minute', time, 'UTC') AS minute, subject
),
new_subjects AS (
  INSERT INTO rollup_minute_subjects (type, minute, subject)
  SELECT DISTINCT type COLLATE "C", minute, subject COLLATE "C" FROM inserted WHERE subject IS NOT NULL ORDER BY 1, 2, 3
  ON CONFLICT DO NOTHING
  RETURNING type, minute
),
deltas AS (
  SELECT e.type, e.minute, e.n, COALESCE(s.n, 0) AS s
  FROM (SELECT type, minute, count(*) AS n FROM inserted GROUP BY 1, 2) e
  LEFT JOIN (SELECT type, minute, count(*) AS n FROM new_subjects GROUP BY 1, 2) s USING (type, minute)
)
${MOVE_ROLLUPS_AND_MARK}
SELECT type, minute, count, subjects, (SELECT count(*) FROM inserted) AS inserted FROM moved`;

/**
 * The batch's distinct events in (source, id) order: the first occurrence of each key is kept (the sort is
 * stable), later ones in the same batch are duplicates whatever the database holds.
 */
export function uniqueInKeyOrder(events: StoredEvent[]): StoredEvent[] {
  const sorted = [...events].sort((x, y) => {
    const a = x.event;
    const b = y.event;
    if (a.source !== b.source) return a.source < b.source ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return sorted.filter((e, i) => i === 0 || e.event.source !== sorted[i - 1]?.event.source || e.event.id !== sorted[i - 1]?.event.id);
}

/** The extensions as JSON; most events have none, and "{}" needs no serializer. */
function extensionsJson(extensions: Record<string, unknown>): string {
  for (const _ in extensions) return JSON.stringify(extensions);
  return "{}";
}

function encode(rows: StoredEvent[], withOrd: boolean): Buffer {
  const w = new BinaryCopyWriter(rows.length);
  rows.forEach(({ event: e, partition, offset }, i) => {
    w.row(withOrd ? 12 : 11);
    if (withOrd) w.int4(i);
    w.text(e.source)
      .text(e.id)
      .text(e.type)
      .timestamptz(e.timeMicros)
      .text(e.subject)
      .text(e.datacontenttype)
      .text(e.dataschema)
      .bytea(e.data)
      .text(extensionsJson(e.extensions), true)
      .int4(partition)
      .int8(offset);
  });
  return w.finish();
}

async function copyIn(client: pg.PoolClient, sql: string, payload: Buffer): Promise<void> {
  await pipeline(Readable.from([payload]), client.query(copyFrom(sql)));
}

type RollupRow = { type: string; minute: Date; count: string; subjects: string };
/** What a path stored: the new events, and every rollup they changed with its value after the statement. */
export interface PathResult {
  inserted: number;
  rollups: MinuteRollup[];
}
const toRollup = (r: RollupRow): MinuteRollup => ({ type: r.type, minute: r.minute, count: Number(r.count), subjects: Number(r.subjects) });

/**
 * A batch made ready for the copy path before its transaction starts: the distinct events in key order, their
 * COPY payload and the rollup aggregates. Everything here is CPU work in the processor, so the consumer does
 * it for the next batch while the current one's transaction runs in PostgreSQL (consumer.ts).
 */
export interface PreparedBatch {
  /** The batch's distinct events in (source, id) order (uniqueInKeyOrder). */
  rows: StoredEvent[];
  /** The rows as one binary COPY payload for `events`. */
  copyPayload: Buffer;
  /** Parameters of ROLLUPS_FROM_AGGREGATES: the distinct (type, minute, subject) and the count per (type, minute). */
  rollupParams: [string[], string[], string[], string[], string[], number[]];
}

export function prepareBatch(events: StoredEvent[]): PreparedBatch {
  const rows = uniqueInKeyOrder(events);
  // type → minute → events and distinct subjects; nested maps, so no composite key string per event.
  const byType = new Map<string, Map<number, { n: number; subjects: Set<string> }>>();
  for (const { event } of rows) {
    let minutes = byType.get(event.type);
    if (!minutes) byType.set(event.type, (minutes = new Map()));
    let m = minutes.get(event.minuteMs);
    if (!m) minutes.set(event.minuteMs, (m = { n: 0, subjects: new Set() }));
    m.n++;
    if (event.subject !== null) m.subjects.add(event.subject);
  }
  const s: { type: string[]; minute: string[]; subject: string[] } = { type: [], minute: [], subject: [] };
  const c: { type: string[]; minute: string[]; n: number[] } = { type: [], minute: [], n: [] };
  for (const [type, minutes] of byType) {
    for (const [minuteMs, m] of minutes) {
      const minute = new Date(minuteMs).toISOString();
      c.type.push(type);
      c.minute.push(minute);
      c.n.push(m.n);
      for (const subject of m.subjects) {
        s.type.push(type);
        s.minute.push(minute);
        s.subject.push(subject);
      }
    }
  }
  return { rows, copyPayload: encode(rows, false), rollupParams: [s.type, s.minute, s.subject, c.type, c.minute, c.n] };
}

/** The copy path, inside the caller's transaction. Rejects with unique_violation if any event is stored already. */
export async function writeByCopy(client: pg.PoolClient, batch: PreparedBatch): Promise<PathResult> {
  await copyIn(client, COPY_EVENTS, batch.copyPayload);
  const res = await client.query<RollupRow>(ROLLUPS_FROM_AGGREGATES, batch.rollupParams);
  return { inserted: batch.rows.length, rollups: res.rows.map(toRollup) };
}

/** The merge path, inside the caller's transaction; the staging table must exist (CREATE_STAGING). */
export async function writeByMerge(client: pg.PoolClient, rows: StoredEvent[]): Promise<PathResult> {
  await copyIn(client, COPY_STAGING, encode(rows, true));
  const res = await client.query<RollupRow & { inserted: string }>(MERGE_FROM_STAGING);
  return { inserted: Number(res.rows[0]?.inserted ?? 0), rollups: res.rows.map(toRollup) };
}

/** unique_violation: the copy path met an event that is already stored. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "23505";
}
