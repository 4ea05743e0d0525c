import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { MinuteRollup } from "./store.js";

/** The max-merge loop over the field/count pairs of ARGV from index `first` on (Lua, shared by both scripts). */
function maxMergeFrom(first: number): string {
  return `for i = ${first}, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local incoming = tonumber(string.match(ARGV[i + 1], '^(%d+)'))
  if (not current) or tonumber(string.match(current, '^(%d+)')) < incoming then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
`;
}

/**
 * Redis cache of minute rollups. One hash per (type, UTC day), one field per minute of the day, value
 * "count:subjects"; the hash expires CACHE_TTL_SECONDS after its last write, which is what makes it a cache
 * of *recent* rollups.
 *
 * Every write is a max-merge: a field is replaced only by a larger count. PostgreSQL counts only grow, so
 * whatever order writers arrive in (two replicas sharing a type-minute, a retry, a read-path fill racing the
 * consumer), the cache converges on the latest committed value and never goes backwards.
 */
const MAX_MERGE = `
${maxMergeFrom(2)}redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`;

/**
 * A read-path fill of one day's hash: the minutes [ARGV[2], ARGV[3]) of the day are marked as known in the
 * `covered` field (one character per minute of the day, "1" = known), and the minutes that have events are
 * max-merged as above. A covered minute without a field has no events; a minute that is neither is unknown.
 * The marks live in the hash they describe, so they expire with it and never outlive the values.
 */
const FILL = `
local covered = redis.call('HGET', KEYS[1], 'covered') or string.rep('0', 1440)
local a, b = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'covered', string.sub(covered, 1, a) .. string.rep('1', b - a) .. string.sub(covered, b + 1))
${maxMergeFrom(4)}redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`;

/**
 * Most hash fields one read-path fill writes: the minutes with events plus one `covered` field per day of
 * the range. A day of one type active every minute is 1,440 values and its mark; the default widest range
 * (1,440 hour buckets, 61 days) is 61 marks. A range that would need more is answered from PostgreSQL without
 * filling the cache, so no single request can make Redis hold more than this (docs/processor.md, Redis cache).
 */
export const FILL_MAX_FIELDS = 1_501;

const DAY = 86_400_000;

const CACHE_DEFAULTS = {
  connectTimeoutMs: 2_000,
  commandTimeoutMs: 1_000,
  maxReconnectDelayMs: 2_000,
} as const;

type MergingRedis = Redis & {
  maxMerge(key: string, ttl: number, ...fieldValues: string[]): Promise<number>;
  fill(key: string, ttl: number, first: number, end: number, ...fieldValues: string[]): Promise<number>;
};

export interface CachedMinute {
  count: number;
  subjects: number;
}

/**
 * After an ElastiCache failover the primary endpoint's DNS name points at the promoted replica, but an open
 * connection still reaches the old primary, now a replica answering READONLY (or LOADING while it resyncs).
 * Reconnecting resolves the name again and reaches the new primary. The failed command is not re-sent (with
 * the offline queue off it could not be): a write is made good by the cache sync, a read falls back to PostgreSQL.
 */
export function reconnectOnError(err: Error): boolean {
  return err.message.startsWith("READONLY") || err.message.startsWith("LOADING");
}

export function redisOptions(config: Config): RedisOptions {
  const c = config.redis;
  return {
    host: c.host,
    port: c.port,
    username: c.username,
    password: c.password,
    // ElastiCache in-transit encryption: TLS with SNI and hostname verification against the endpoint name.
    tls: c.tls ? { servername: c.host } : undefined,
    lazyConnect: true,
    // Fail fast instead of queueing while Redis is away: reads fall back to PostgreSQL and the consumer
    // skips the cache write, so neither waits on a dead cache.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: CACHE_DEFAULTS.connectTimeoutMs,
    commandTimeout: CACHE_DEFAULTS.commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 200, CACHE_DEFAULTS.maxReconnectDelayMs),
    // The ready check runs INFO, which ElastiCache allows; nothing here issues CONFIG (which it forbids).
    enableReadyCheck: true,
    reconnectOnError,
  };
}

export class Cache {
  readonly redis: MergingRedis;
  readonly #prefix: string;
  readonly #ttl: number;

  constructor(config: Config, log: Logger) {
    this.redis = new Redis(redisOptions(config)) as MergingRedis;
    this.redis.defineCommand("maxMerge", { numberOfKeys: 1, lua: MAX_MERGE });
    this.redis.defineCommand("fill", { numberOfKeys: 1, lua: FILL });
    this.#prefix = config.redis.keyPrefix;
    this.#ttl = config.redis.ttlSeconds;
    let down = false;
    this.redis.on("error", (err) => {
      // ioredis reconnects by itself; log the first error of an outage, not one per retry.
      if (!down) log.warn({ err }, "Redis unavailable; reads fall back to PostgreSQL");
      down = true;
    });
    this.redis.on("ready", () => {
      if (down) log.info("Redis available again");
      down = false;
    });
  }

  /** Connects in the background; the service runs without Redis and picks it up when it appears. */
  start(): void {
    this.redis.connect().catch(() => undefined);
  }

  get ready(): boolean {
    return this.redis.status === "ready";
  }

  /** Writes authoritative rollups (max-merge). Rejects when Redis is unavailable; the caller decides. */
  async write(rollups: MinuteRollup[]): Promise<void> {
    if (rollups.length === 0) return;
    const byKey = new Map<string, string[]>();
    for (const r of rollups) {
      const { key, field } = this.#locate(r.type, r.minute);
      let args = byKey.get(key);
      if (!args) byKey.set(key, (args = []));
      args.push(field, `${r.count}:${r.subjects}`);
    }
    const pipeline = this.redis.pipeline();
    for (const [key, args] of byKey) (pipeline as unknown as MergingRedis).maxMerge(key, this.#ttl, ...args);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  /**
   * Caches what PostgreSQL answered for [from, to) of `type` (whole minutes): the minutes with events and, per
   * day, which minutes are now known. Nothing is written when the range has no events (a type never seen
   * leaves no trace), nor when it would take more than FILL_MAX_FIELDS fields. Returns the fields written.
   * Rejects when Redis is unavailable; the caller decides.
   */
  async fill(type: string, from: Date, to: Date, rollups: MinuteRollup[]): Promise<number> {
    if (rollups.length === 0) return 0;
    const days: { key: string; first: number; end: number; args: string[] }[] = [];
    for (let dayStart = Math.floor(from.getTime() / DAY) * DAY; dayStart < to.getTime(); dayStart += DAY) {
      const first = (Math.max(from.getTime(), dayStart) - dayStart) / 60_000;
      const end = (Math.min(to.getTime(), dayStart + DAY) - dayStart) / 60_000;
      days.push({ key: this.#locate(type, new Date(dayStart)).key, first, end, args: [] });
    }
    if (rollups.length + days.length > FILL_MAX_FIELDS) return 0;
    const byKey = new Map(days.map((d) => [d.key, d]));
    for (const r of rollups) {
      const { key, field } = this.#locate(type, r.minute);
      byKey.get(key)?.args.push(field, `${r.count}:${r.subjects}`);
    }
    const pipeline = this.redis.pipeline();
    for (const d of days) (pipeline as unknown as MergingRedis).fill(d.key, this.#ttl, d.first, d.end, ...d.args);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    return rollups.length + days.length;
  }

  /**
   * The cached value of every minute in `minutes` for `type`, or undefined if any of them is unknown
   * (a partial hit still needs PostgreSQL, so it counts as a miss). A minute is known when its field is there
   * (a value the consumer or a fill wrote) or when a fill marked it covered (no events: zero).
   */
  async read(type: string, minutes: Date[]): Promise<CachedMinute[] | undefined> {
    const fieldsByKey = new Map<string, { field: string; index: number }[]>();
    minutes.forEach((m, index) => {
      const { key, field } = this.#locate(type, m);
      let list = fieldsByKey.get(key);
      if (!list) fieldsByKey.set(key, (list = []));
      list.push({ field, index });
    });
    const pipeline = this.redis.pipeline();
    for (const [key, list] of fieldsByKey) pipeline.hmget(key, "covered", ...list.map((f) => f.field));
    const results = (await pipeline.exec()) ?? [];
    const out = new Array<CachedMinute>(minutes.length);
    let k = 0;
    for (const list of fieldsByKey.values()) {
      const [err, values] = results[k++] ?? [new Error("missing pipeline result"), null];
      if (err) throw err;
      const [covered, ...arr] = values as (string | null)[];
      for (let i = 0; i < list.length; i++) {
        const { field, index } = list[i] as { field: string; index: number };
        const v = arr[i];
        if (v === null || v === undefined) {
          if (covered?.[Number(field)] !== "1") return undefined;
          out[index] = { count: 0, subjects: 0 };
          continue;
        }
        const [count, subjects] = v.split(":");
        out[index] = { count: Number(count), subjects: Number(subjects) };
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.redis.status === "end") return;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  #locate(type: string, minute: Date): { key: string; field: string } {
    const iso = minute.toISOString();
    const day = iso.slice(0, 10);
    const minuteOfDay = minute.getUTCHours() * 60 + minute.getUTCMinutes();
    // The type is wrapped in a hash tag so that, on a cluster-mode-enabled cache, all of a type's days
    // live in one slot; each script call touches a single key either way.
    return { key: `${this.#prefix}rollup:{${type}}:${day}`, field: String(minuteOfDay) };
  }
}
