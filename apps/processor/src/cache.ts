import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { MinuteRollup } from "./store.js";

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
for i = 2, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local incoming = tonumber(string.match(ARGV[i + 1], '^(%d+)'))
  if (not current) or tonumber(string.match(current, '^(%d+)')) < incoming then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`;

const CACHE_DEFAULTS = {
  connectTimeoutMs: 2_000,
  commandTimeoutMs: 1_000,
  maxReconnectDelayMs: 2_000,
} as const;

type MergingRedis = Redis & { maxMerge(key: string, ttl: number, ...fieldValues: string[]): Promise<number> };

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
   * The cached value of every minute in `minutes` for `type`, or undefined if any of them is missing
   * (a partial hit still needs PostgreSQL, so it counts as a miss).
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
    for (const [key, list] of fieldsByKey) pipeline.hmget(key, ...list.map((f) => f.field));
    const results = (await pipeline.exec()) ?? [];
    const out = new Array<CachedMinute>(minutes.length);
    let k = 0;
    for (const list of fieldsByKey.values()) {
      const [err, values] = results[k++] ?? [new Error("missing pipeline result"), null];
      if (err) throw err;
      const arr = values as (string | null)[];
      for (let i = 0; i < list.length; i++) {
        const v = arr[i];
        if (v === null || v === undefined) return undefined;
        const [count, subjects] = v.split(":");
        out[(list[i] as { index: number }).index] = { count: Number(count), subjects: Number(subjects) };
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
