import { readFileSync } from "node:fs";
import pg from "pg";
import { Signer } from "@aws-sdk/rds-signer";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { KnownSubjects } from "./known-subjects.js";
import type { MinuteRollup, StoredEvent } from "./stored-event.js";
import { CREATE_STAGING, isUniqueViolation, prepareBatch, writeByCopy, writeByMerge, type PreparedBatch } from "./wire/index.js";

export type { MinuteRollup, StoredEvent };

export interface WriteResult {
  /** Events that were new; the rest of the batch were duplicates of stored events. */
  inserted: number;
  /** Every rollup this batch changed, with its value after the commit. */
  rollups: MinuteRollup[];
  /** Which write path stored it (write-batch.ts). */
  path: "copy" | "merge";
  /** A COPY was tried first and rolled back because the batch held an event already stored. */
  copyConflict: boolean;
}

const STORE_DEFAULTS = {
  statementTimeoutMs: 30_000,
  connectionTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
} as const;

const READ_RANGE = `
SELECT minute, count, subjects FROM rollup_minute
WHERE type = $1 AND minute >= $2 AND minute < $3
ORDER BY minute`;

const READ_KEYS = `
SELECT r.type, r.minute, r.count, r.subjects
FROM rollup_minute r
JOIN unnest($1::text[], $2::timestamptz[]) AS k(type, minute) USING (type, minute)`;

/**
 * The committed values of marked type-minutes (write-batch.ts, MOVE_ROLLUPS_AND_MARK). One snapshot reads both
 * tables, so each value is at least the count of its mark.
 */
const READ_CACHE_PENDING = `
SELECT r.type, r.minute, r.count, r.subjects
FROM rollup_cache_pending p JOIN rollup_minute r USING (type, minute)
ORDER BY p.type COLLATE "C", p.minute
LIMIT $1`;

/**
 * Deletes the marks that Redis now covers: those whose count is at most the value written. A mark a batch has
 * raised meanwhile stays (its count is higher); one a batch holds locked is skipped, never waited for.
 */
const CLEAR_CACHE_PENDING = `
DELETE FROM rollup_cache_pending
WHERE (type, minute) IN (
  SELECT p.type, p.minute
  FROM rollup_cache_pending p
  JOIN unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS w(type, minute, count) USING (type, minute)
  WHERE p.count <= w.count
  FOR UPDATE OF p SKIP LOCKED
)`;

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
  /** Pooled connections whose session already has the merge path's staging table. */
  readonly #staged = new WeakSet<pg.PoolClient>();
  #expectDuplicates = false;
  /** Subject triples committed already, left out of the copy path's statement (known-subjects.ts). */
  readonly #known = new KnownSubjects();

  constructor(config: Config, log: Logger) {
    this.pool = new pg.Pool(poolConfig(config, "eventstack-processor"));
    // An idle client losing its connection (PostgreSQL restarted) emits here; without a listener the
    // process would crash. The next query simply gets a new connection.
    this.pool.on("error", (err) => log.warn({ err }, "idle PostgreSQL connection lost"));
  }

  /**
   * Stores a batch in one transaction (see write-batch.ts): by COPY while batches hold only new events, by
   * merge when the COPY met a stored duplicate and for the following batches until one holds no stored
   * duplicate again (the redelivery after a restart or rebalance is over). The batch may come prepared
   * (the consumer assembles its batches ahead, batch-rows.ts), otherwise it is prepared here.
   */
  async writeBatch(events: StoredEvent[] | PreparedBatch, onCopied?: () => void): Promise<WriteResult> {
    const batch = Array.isArray(events) ? prepareBatch(events) : events;
    if (batch.count === 0) return { inserted: 0, rollups: [], path: "copy", copyConflict: false };
    let copyConflict = false;
    if (!this.#expectDuplicates) {
      try {
        const result = await this.#transaction(false, (client) => writeByCopy(client, batch, this.#known.unknown(batch.aggregates.subjects), onCopied));
        this.#known.add(batch.aggregates.subjects);
        return { ...result, path: "copy", copyConflict };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        copyConflict = true;
      }
    }
    const result = await this.#transaction(true, (client) => writeByMerge(client, batch, onCopied));
    // Every event of the batch is now stored, by this transaction or an earlier one, and with it its triple.
    this.#known.add(batch.aggregates.subjects);
    this.#expectDuplicates = result.inserted < batch.count;
    return { ...result, path: "merge", copyConflict };
  }

  /**
   * Runs `fn`, one batch transaction on a pooled connection (write-batch.ts: each path is one implicit
   * transaction, committed or rolled back by the server before `fn` settles), with the staging table first when
   * the merge path needs it.
   */
  async #transaction<T>(staging: boolean, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      if (staging && !this.#staged.has(client)) {
        await client.query(CREATE_STAGING);
        this.#staged.add(client);
      }
      return await fn(client);
    } catch (err) {
      // A connection that failed outside SQL (reset, timeout) is not returned to the pool.
      if (!isSqlError(err)) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Minute rollups of one type in [from, to), ascending; minutes without events are absent. */
  async readRange(type: string, from: Date, to: Date): Promise<MinuteRollup[]> {
    const res = await this.pool.query<{ minute: Date; count: string; subjects: string }>(READ_RANGE, [type, from, to]);
    return res.rows.map((r) => ({ type, minute: r.minute, count: Number(r.count), subjects: Number(r.subjects) }));
  }

  /** The current values of specific rollups (the type-minutes of a redelivered batch's duplicates). */
  async readKeys(keys: { type: string; minute: Date }[]): Promise<MinuteRollup[]> {
    if (keys.length === 0) return [];
    const res = await this.pool.query<{ type: string; minute: Date; count: string; subjects: string }>(READ_KEYS, [
      keys.map((k) => k.type),
      keys.map((k) => k.minute),
    ]);
    return res.rows.map((r) => ({ type: r.type, minute: r.minute, count: Number(r.count), subjects: Number(r.subjects) }));
  }

  /** Up to `limit` type-minutes whose committed value may be missing from Redis, with that value. */
  async readCachePending(limit: number): Promise<MinuteRollup[]> {
    const res = await this.pool.query<{ type: string; minute: Date; count: string; subjects: string }>(READ_CACHE_PENDING, [limit]);
    return res.rows.map((r) => ({ type: r.type, minute: r.minute, count: Number(r.count), subjects: Number(r.subjects) }));
  }

  /** Forgets the marks that `written` (values now in Redis) covers; returns how many were deleted. */
  async clearCachePending(written: MinuteRollup[]): Promise<number> {
    if (written.length === 0) return 0;
    const res = await this.pool.query(CLEAR_CACHE_PENDING, [written.map((r) => r.type), written.map((r) => r.minute), written.map((r) => r.count)]);
    return res.rowCount ?? 0;
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Whether PostgreSQL answered with an error (SQLSTATE): the connection is then still usable. */
function isSqlError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
}

/**
 * Whether retrying the same batch later cannot succeed. Connection loss, shutdown, resource exhaustion,
 * deadlocks and serialization failures can; data and integrity errors (SQLSTATE classes 22, 23, 54) cannot, and
 * are bisected down to the offending event (which is dead-lettered) rather than retried forever. Anything
 * unrecognised (a missing grant, a bug) is retried: dead-lettering good events because of our own fault would
 * lose them.
 */
export function isPermanentDataError(err: unknown): boolean {
  if (!isSqlError(err)) return false;
  const cls = (err as { code: string }).code.slice(0, 2);
  return cls === "22" || cls === "23" || cls === "54";
}
