import { readFileSync } from "node:fs";
import pg from "pg";
import { Signer } from "@aws-sdk/rds-signer";
import type { Logger } from "pino";
import type { CloudEvent } from "./cloudevents.js";
import type { Config } from "./config.js";

/** A type-minute rollup as PostgreSQL holds it after a commit: the authoritative value for the cache. */
export interface MinuteRollup {
  type: string;
  minute: Date;
  count: number;
  subjects: number;
}

export interface StoredEvent {
  event: CloudEvent;
  partition: number;
  offset: bigint;
}

export interface WriteResult {
  /** Events that were new; the rest of the batch were duplicates of stored events. */
  inserted: number;
  /** Every rollup this batch changed, with its value after the commit. */
  rollups: MinuteRollup[];
}

const STORE_DEFAULTS = {
  statementTimeoutMs: 30_000,
  connectionTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
} as const;

/**
 * One statement is the batch's transaction: the events insert, the new-subject insert and the rollup upsert
 * are data-modifying CTEs of a single INSERT, so they commit or roll back together, and the rollups are
 * computed only from the rows the events insert actually returned (new ones; ON CONFLICT DO NOTHING returns
 * nothing for a duplicate). Rows are inserted in key order so two consumers writing overlapping batches
 * during a rebalance take row locks in the same order and do not deadlock.
 */
const WRITE_BATCH = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
                       $8::bytea[], $9::jsonb[], $10::int[], $11::bigint[])
    AS t(source, id, type, time, subject, datacontenttype, dataschema, data, extensions, kafka_partition, kafka_offset)
),
inserted AS (
  INSERT INTO events (source, id, type, time, subject, datacontenttype, dataschema, data, extensions, kafka_partition, kafka_offset)
  SELECT * FROM input ORDER BY source, id
  ON CONFLICT (source, id) DO NOTHING
  RETURNING type, date_trunc('minute', time, 'UTC') AS minute, subject
),
new_subjects AS (
  INSERT INTO rollup_minute_subjects (type, minute, subject)
  SELECT DISTINCT type, minute, subject FROM inserted WHERE subject IS NOT NULL ORDER BY 1, 2, 3
  ON CONFLICT DO NOTHING
  RETURNING type, minute
),
deltas AS (
  SELECT e.type, e.minute, e.n, COALESCE(s.n, 0) AS s
  FROM (SELECT type, minute, count(*) AS n FROM inserted GROUP BY 1, 2) e
  LEFT JOIN (SELECT type, minute, count(*) AS n FROM new_subjects GROUP BY 1, 2) s USING (type, minute)
)
INSERT INTO rollup_minute AS r (type, minute, count, subjects)
SELECT type, minute, n, s FROM deltas ORDER BY type, minute
ON CONFLICT (type, minute) DO UPDATE SET count = r.count + EXCLUDED.count, subjects = r.subjects + EXCLUDED.subjects
RETURNING type, minute, count, subjects, (SELECT count(*) FROM inserted) AS inserted`;

const READ_RANGE = `
SELECT minute, count, subjects FROM rollup_minute
WHERE type = $1 AND minute >= $2 AND minute < $3
ORDER BY minute`;

const READ_KEYS = `
SELECT r.type, r.minute, r.count, r.subjects
FROM rollup_minute r
JOIN unnest($1::text[], $2::timestamptz[]) AS k(type, minute) USING (type, minute)`;

/** TLS and credentials for node-postgres, shared by the service and `migrate`. */
export function poolConfig(config: Config, applicationName: string): pg.PoolConfig {
  const { pg: c } = config;
  let password: pg.PoolConfig["password"] = c.password;
  if (c.auth === "iam") {
    // A fresh token per new connection: tokens live 15 minutes, pooled connections outlive them harmlessly
    // (the token is only checked at connect). Credentials come from the default chain (EKS Pod Identity).
    const signer = new Signer({ hostname: c.host, port: c.port, username: c.user, region: config.awsRegion });
    password = () => signer.getAuthToken();
  }
  return {
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    password,
    max: c.poolMax,
    application_name: applicationName,
    statement_timeout: STORE_DEFAULTS.statementTimeoutMs,
    connectionTimeoutMillis: STORE_DEFAULTS.connectionTimeoutMs,
    idleTimeoutMillis: STORE_DEFAULTS.idleTimeoutMs,
    // verify-full: the certificate must chain to the RDS CA bundle (PG_CA_FILE, baked into the image) and
    // name the host. Never rejectUnauthorized: false.
    ssl:
      c.tls === "verify-full"
        ? { rejectUnauthorized: true, servername: c.host, ...(c.caFile ? { ca: readFileSync(c.caFile, "utf8") } : {}) }
        : false,
  };
}

export class Store {
  readonly pool: pg.Pool;

  constructor(config: Config, log: Logger) {
    this.pool = new pg.Pool(poolConfig(config, "eventstack-processor"));
    // An idle client losing its connection (PostgreSQL restarted) emits here; without a listener the
    // process would crash. The next query simply gets a new connection.
    this.pool.on("error", (err) => log.warn({ err }, "idle PostgreSQL connection lost"));
  }

  async writeBatch(events: StoredEvent[]): Promise<WriteResult> {
    if (events.length === 0) return { inserted: 0, rollups: [] };
    const cols: unknown[][] = Array.from({ length: 11 }, () => new Array(events.length));
    events.forEach(({ event: e, partition, offset }, i) => {
      const row = [e.source, e.id, e.type, e.time, e.subject, e.datacontenttype, e.dataschema, e.data, JSON.stringify(e.extensions), partition, offset.toString()];
      row.forEach((v, c) => ((cols[c] as unknown[])[i] = v));
    });
    const res = await this.pool.query<{ type: string; minute: Date; count: string; subjects: string; inserted: string }>(WRITE_BATCH, cols);
    return {
      inserted: Number(res.rows[0]?.inserted ?? 0),
      rollups: res.rows.map((r) => ({ type: r.type, minute: r.minute, count: Number(r.count), subjects: Number(r.subjects) })),
    };
  }

  /** Minute rollups of one type in [from, to), ascending; minutes without events are absent. */
  async readRange(type: string, from: Date, to: Date): Promise<MinuteRollup[]> {
    const res = await this.pool.query<{ minute: Date; count: string; subjects: string }>(READ_RANGE, [type, from, to]);
    return res.rows.map((r) => ({ type, minute: r.minute, count: Number(r.count), subjects: Number(r.subjects) }));
  }

  /** The current values of specific rollups (used to repair cache entries a failed Redis write left stale). */
  async readKeys(keys: { type: string; minute: Date }[]): Promise<MinuteRollup[]> {
    if (keys.length === 0) return [];
    const res = await this.pool.query<{ type: string; minute: Date; count: string; subjects: string }>(READ_KEYS, [
      keys.map((k) => k.type),
      keys.map((k) => k.minute),
    ]);
    return res.rows.map((r) => ({ type: r.type, minute: r.minute, count: Number(r.count), subjects: Number(r.subjects) }));
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Whether retrying the same batch later can succeed. Connection loss, shutdown, resource exhaustion,
 * deadlocks and serialization failures can; data and integrity errors cannot, and are bisected down to the
 * offending event (which is dead-lettered) rather than retried forever. Anything unrecognised (a missing
 * grant, a bug) is retried: dead-lettering good events because of our own fault would lose them.
 */
export function isPermanentDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return false;
  const cls = code.slice(0, 2);
  return cls === "22" || cls === "23" || cls === "54";
}
