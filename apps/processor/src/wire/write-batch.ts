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
import type pg from "pg";
import { assemble, BatchRows, EVENT_COLUMNS, type PreparedBatch } from "./batch-rows.js";
import type { SubjectTriples } from "../known-subjects.js";
import type { MinuteRollup, StoredEvent } from "../stored-event.js";
import { binaryArray } from "./binary-array.js";
import { oneTrip, type BatchTrip } from "./one-trip.js";

export type { PreparedBatch };

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

/** The minute of a returned rollup as epoch milliseconds: rows come back as text, and this text needs no DateStyle. */
const MINUTE_MS = "(extract(epoch FROM minute) * 1000)::int8";

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
SELECT type, ${MINUTE_MS}, count, subjects FROM moved`;

/**
 * Per connection, created outside any transaction (so a rolled-back batch does not drop it); emptied at commit.
 * It takes the copy path's payload as it is: `ord` numbers the rows in payload order, i.e. (source, id) order.
 */
export const CREATE_STAGING = `
CREATE TEMPORARY TABLE IF NOT EXISTS events_batch (
  ord int8 GENERATED ALWAYS AS IDENTITY, source text, id text, type text, time timestamptz, subject text,
  datacontenttype text, dataschema text, data bytea, extensions jsonb, kafka_partition int4, kafka_offset int8
) ON COMMIT DELETE ROWS`;
const COPY_STAGING = `COPY events_batch (${EVENT_COLUMNS}) FROM STDIN (FORMAT binary)`;

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
SELECT type, ${MINUTE_MS}, count, subjects, (SELECT count(*) FROM inserted) FROM moved`;

/** What a path stored: the new events, and every rollup they changed with its value after the statement. */
export interface PathResult {
  inserted: number;
  rollups: MinuteRollup[];
}
/** A returned rollup row: type, minute (epoch ms), count, subjects (and, on the merge path, the inserted count). */
const toRollup = (r: (string | null)[]): MinuteRollup => ({ type: r[0] as string, minute: new Date(Number(r[1])), count: Number(r[2]), subjects: Number(r[3]) });

/**
 * A batch of decoded events made ready for the copy path (the consumer builds its batches from records directly,
 * batch-rows.ts; this is the same for events, e.g. in tests): the distinct events in (source, id) order as the
 * COPY payload, and the rollup aggregates. CPU work only.
 */
export function prepareBatch(events: StoredEvent[]): PreparedBatch {
  const rows = new BatchRows(events.length);
  for (const { event, partition, offset } of events) rows.addEvent(event, partition, offset, 0);
  return assemble(rows);
}

/**
 * The copy path, as one transaction in one round trip (one-trip.ts) on `client`, which must be outside a
 * transaction. Rejects with unique_violation, having changed nothing, if any event is stored already. `subjects`:
 * the batch's subject triples, less those known to be committed already (known-subjects.ts). `trip`: how the
 * transaction is sent (the benchmark compares oneTrip with BEGIN, COPY, statement, COMMIT on the same statements).
 */
export async function writeByCopy(client: pg.PoolClient, batch: PreparedBatch, subjects: SubjectTriples = batch.aggregates.subjects, onCopied?: () => void, trip: BatchTrip = oneTrip): Promise<PathResult> {
  const { counts } = batch.aggregates;
  const rows = await trip(client, COPY_EVENTS, batch.copyData, {
    name: "eventstack_rollups_copy",
    text: ROLLUPS_FROM_AGGREGATES,
    values: [
      binaryArray("text", subjects.type),
      binaryArray("timestamptz", subjects.minute),
      binaryArray("text", subjects.subject),
      binaryArray("text", counts.type),
      binaryArray("timestamptz", counts.minute),
      binaryArray("int8", counts.n),
    ],
  }, onCopied);
  return { inserted: batch.count, rollups: rows.map(toRollup) };
}

/** The merge path, as one transaction in one round trip; the staging table must exist on `client` (CREATE_STAGING). */
export async function writeByMerge(client: pg.PoolClient, batch: PreparedBatch, onCopied?: () => void, trip: BatchTrip = oneTrip): Promise<PathResult> {
  const rows = await trip(client, COPY_STAGING, batch.copyData, { name: "eventstack_rollups_merge", text: MERGE_FROM_STAGING, values: [] }, onCopied);
  return { inserted: Number(rows[0]?.[4] ?? 0), rollups: rows.map(toRollup) };
}

/** unique_violation: the copy path met an event that is already stored. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "23505";
}
