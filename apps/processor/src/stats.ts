import type { Logger } from "pino";
import type { Cache, CachedMinute } from "./cache.js";
import type { Metrics } from "./metrics.js";
import { InvalidParameter, readQuery, readTimestamp, shown, single } from "./query-params.js";
import type { Store } from "./store.js";

export { InvalidParameter };

export type Granularity = "minute" | "hour";

export interface StatsQuery {
  type: string;
  from: Date;
  to: Date;
  granularity: Granularity;
}

export interface StatsBucket {
  start: string;
  count: number;
  subjects: number;
}

export interface StatsResult {
  type: string;
  granularity: Granularity;
  buckets: StatsBucket[];
  total: number;
}

const MINUTE = 60_000;
const STEP: Record<Granularity, number> = { minute: MINUTE, hour: 60 * MINUTE };

/**
 * Validates the query string of GET /v1/stats, read strictly from the raw URL (see query-params.ts). Buckets
 * cover every whole minute (or hour) that overlaps [from, to): from is rounded down and to rounded up to the
 * granularity.
 */
export function parseStatsQuery(url: string, maxBuckets: number): StatsQuery {
  const params = readQuery(url);
  const type = single(params, "type");
  if (type === undefined || type === "") throw new InvalidParameter("type", `query parameter "type" is required`);
  if (Buffer.byteLength(type) > 1024) throw new InvalidParameter("type", `query parameter "type" must be at most 1024 bytes`);
  const granularity = single(params, "granularity") ?? "minute";
  if (granularity !== "minute" && granularity !== "hour") {
    throw new InvalidParameter("granularity", `query parameter "granularity" must be "minute" or "hour", got "${shown(granularity)}"`);
  }
  const time = (name: "from" | "to"): Date => {
    const raw = single(params, name);
    if (raw === undefined || raw === "") throw new InvalidParameter(name, `query parameter "${name}" is required`);
    return readTimestamp(name, raw);
  };
  const from = time("from");
  const to = time("to");
  if (to.getTime() <= from.getTime()) throw new InvalidParameter("to", `query parameter "to" must be later than "from"`);
  const step = STEP[granularity];
  const start = Math.floor(from.getTime() / step) * step;
  const end = Math.ceil(to.getTime() / step) * step;
  const buckets = (end - start) / step;
  if (buckets > maxBuckets) {
    throw new InvalidParameter("to", `query parameter "to" is too far from "from": the range spans ${buckets} ${granularity} buckets, at most ${maxBuckets} are allowed`);
  }
  return { type, from: new Date(start), to: new Date(end), granularity };
}

/**
 * The read path: Redis first; on a miss (any minute of the range absent) or with Redis unavailable,
 * PostgreSQL, whose answer then fills the cache (max-merge, so a fill can never overwrite a newer value the
 * consumer wrote meanwhile). Only minutes with events are written, with a mark per day of which minutes are
 * known, so a quiet stretch of a type with events is a hit too while a type never seen writes nothing
 * (Cache.fill, bounded by FILL_MAX_FIELDS).
 */
export class StatsService {
  constructor(
    private readonly store: Store,
    private readonly cache: Cache,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async query(q: StatsQuery): Promise<StatsResult> {
    const minutes: Date[] = [];
    for (let t = q.from.getTime(); t < q.to.getTime(); t += MINUTE) minutes.push(new Date(t));

    let values: CachedMinute[] | undefined;
    try {
      values = await this.cache.read(q.type, minutes);
      this.metrics.cacheRequests.inc({ result: values ? "hit" : "miss" });
    } catch (err) {
      this.metrics.cacheRequests.inc({ result: "error" });
      this.log.debug({ err }, "cache read failed; reading PostgreSQL");
    }

    if (!values) {
      const rows = await this.store.readRange(q.type, q.from, q.to);
      const byMinute = new Map(rows.map((r) => [r.minute.getTime(), r]));
      values = minutes.map((m) => byMinute.get(m.getTime()) ?? { count: 0, subjects: 0 });
      await this.cache.fill(q.type, q.from, q.to, rows).catch(() => this.metrics.cacheWriteErrors.inc());
    }

    const step = STEP[q.granularity];
    const buckets: StatsBucket[] = [];
    let total = 0;
    minutes.forEach((m, i) => {
      const v = (values as CachedMinute[])[i] as CachedMinute;
      const start = Math.floor(m.getTime() / step) * step;
      let bucket = buckets.at(-1);
      if (!bucket || Date.parse(bucket.start) !== start) buckets.push((bucket = { start: new Date(start).toISOString(), count: 0, subjects: 0 }));
      bucket.count += v.count;
      // Hour buckets sum the minutes' distinct subjects: "subject-minutes" (see docs/processor.md).
      bucket.subjects += v.subjects;
      total += v.count;
    });
    return { type: q.type, granularity: q.granularity, buckets, total };
  }
}
