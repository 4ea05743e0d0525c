// Shared by the end-to-end and fault-injection tests (not a test itself: scripts/test.mjs runs *.test.mjs).
// The pipeline under test is the real one: the built services spawned by scripts/local.mjs as child processes,
// against the real Kafka, PostgreSQL and Redis. Each test gets its own database, topics, consumer group and
// Redis key prefix, so tests never see each other's data on the shared servers.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import net from "node:net";
import { processorDependency } from "../../scripts/local.mjs";
import { canConnect } from "../../scripts/services.mjs";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function unique(label) {
  return `${label}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Thrown by a waitFor check to end the wait at once (any other error counts as "not yet"). */
export class GiveUp extends Error {}

/**
 * Polls `check` until it returns something other than undefined/false; fails after timeoutMs with `what` and the
 * last error seen. The bound only keeps a broken run from hanging: nothing asserts how long it took.
 */
export async function waitFor(what, check, timeoutMs = 60_000, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${last.message})` : ""}`);
}

const pg = async () => (await processorDependency("pg")).default;

export async function sql(database, text, params = []) {
  const client = new (await pg()).Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

export async function redis() {
  const { Redis } = await processorDependency("ioredis");
  return new Redis({ host: "127.0.0.1", port: 6379, maxRetriesPerRequest: 1 });
}

/**
 * The environment of one test's pipeline: own database, topics, group and cache prefix, free ports, and a
 * session timeout at the broker's minimum so a killed processor's partitions move on after 6 s. `cleanup()`
 * removes all of it; call it after the pipeline stopped.
 */
export async function isolated(label, extra = {}) {
  const id = unique(label);
  const env = {
    ...process.env,
    INGEST_PORT: String(await freePort()),
    PROCESSOR_PORT: String(await freePort()),
    PGDATABASE: `e2e_${id}`,
    EVENTS_TOPIC: `e2e.${id}.events`,
    DLQ_TOPIC: `e2e.${id}.dlq`,
    CONSUMER_GROUP: `e2e-${id}`,
    REDIS_KEY_PREFIX: `e2e:${id}:`,
    KAFKA_TOPIC_PARTITIONS: "3",
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    LOG_LEVEL: "warn",
    ...extra,
  };
  return {
    id,
    env,
    database: env.PGDATABASE,
    async cleanup({ kafkaBootstrap } = {}) {
      if (kafkaBootstrap) {
        const { Admin } = await processorDependency("@platformatic/kafka");
        const admin = new Admin({ clientId: "e2e-cleanup", bootstrapBrokers: [kafkaBootstrap] });
        await admin.deleteTopics({ topics: [env.EVENTS_TOPIC, env.DLQ_TOPIC] }).catch(() => undefined);
        await admin.close();
      }
      await sql("postgres", `DROP DATABASE IF EXISTS "${env.PGDATABASE}" WITH (FORCE)`);
      const r = await redis();
      const keys = await r.keys(`${env.REDIS_KEY_PREFIX}*`);
      if (keys.length > 0) await r.del(...keys);
      r.disconnect();
    },
  };
}

// ---------------------------------------------------------------- reading the pipeline's state

/** All event times of the load fall in this hour (a fixed past hour: a test's own database holds nothing else). */
export const WINDOW = { from: "2025-06-01T12:00:00Z", to: "2025-06-01T13:00:00Z" };

export async function total(processorUrl, type, window = WINDOW) {
  const q = new URLSearchParams({ type, from: window.from, to: window.to, granularity: "hour" });
  const res = await fetch(`${processorUrl}/v1/stats?${q}`);
  if (res.status !== 200) throw new Error(`GET /v1/stats?${q} answered ${res.status}: ${await res.text()}`);
  return (await res.json()).total;
}

/** A Prometheus counter or gauge of the processor, summed over the series matching `labels` (a regex source). */
export async function metric(processorUrl, name, labels = "") {
  const text = await (await fetch(`${processorUrl}/metrics`)).text();
  const re = new RegExp(`^${name}(?:\\{[^}]*${labels}[^}]*\\})? (\\S+)$`, "gm");
  return [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** True when the processor holds partitions and its group has no lag on any of them. */
export async function caughtUp(processorUrl) {
  const text = await (await fetch(`${processorUrl}/metrics`)).text();
  const lags = [...text.matchAll(/^processor_consumer_lag\{[^}]*\} (\S+)$/gm)].map((m) => Number(m[1]));
  return lags.length > 0 && lags.every((l) => l === 0);
}

/** Waits until the consumer has no lag and the read API shows `expected` (Map type -> total); returns the totals. */
export async function waitForTotals(processorUrl, expected, timeoutMs = 90_000) {
  let seen = {};
  try {
    return await waitFor(
      "the read API at the expected totals",
      async () => {
        if (!(await caughtUp(processorUrl))) return undefined;
        seen = {};
        for (const type of expected.keys()) seen[type] = await total(processorUrl, type);
        return [...expected].every(([type, n]) => seen[type] === n) ? seen : undefined;
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    throw new Error(`${err.message}; expected ${JSON.stringify(Object.fromEntries(expected))}, last seen ${JSON.stringify(seen)}`);
  }
}

/**
 * The exactly-once check after a load: the read API's totals per type equal the number of distinct
 * (source, id) that got a 202, and PostgreSQL holds exactly those events (none lost, none extra), each counted once.
 */
export async function assertExactlyOnce(assert, { processorUrl, database, load }) {
  const expected = load.expectedByType();
  const totals = await waitForTotals(processorUrl, expected);
  assert.deepEqual(totals, Object.fromEntries(expected));
  const stored = new Set((await sql(database, "SELECT source, id FROM events")).map(eventKey));
  const missing = [...load.accepted.keys()].filter((k) => !stored.has(k));
  const extra = [...stored].filter((k) => !load.accepted.has(k));
  assert.deepEqual({ missing: missing.length, extra: extra.length }, { missing: 0, extra: 0 }, `missing e.g. ${missing.slice(0, 3)}; extra e.g. ${extra.slice(0, 3)}`);
  const [{ sum }] = await sql(database, "SELECT coalesce(sum(count), 0)::int AS sum FROM rollup_minute");
  assert.equal(sum, load.accepted.size);
}

// ---------------------------------------------------------------- load

const TYPES = ["com.example.e2e.created", "com.example.e2e.updated", "com.example.e2e.deleted"];
const eventKey = (e) => `${e.source}\u0000${e.id}`;

/**
 * A steady load through ingest, as well-behaved clients send it: `clients` loops, each sending one request at a
 * time, cycling through the three content modes (batches of `batchSize`), with every fifth request a replay of an
 * event already accepted. A request answered 503 or 429 (or not answered) is retried, unchanged, until it gets
 * its 202, so at the end every event sent has been accepted at least once and the expected totals are exact.
 * Every answer goes into `ledger` with its send and answer times.
 */
export class Load {
  #seq = 0;
  #stopping = false;
  #drainDeadline = Infinity;
  #clients = [];

  constructor(ingestUrl, { run = unique("load"), clients = 4, batchSize = 10, retryDelayMs = 200 } = {}) {
    Object.assign(this, { ingestUrl, run, clientCount: clients, batchSize, retryDelayMs });
    /** (source, id) -> the event, for every event that got a 202. */
    this.accepted = new Map();
    this.ledger = [];
    this.replays = 0;
    this.errors = [];
  }

  #event() {
    const n = this.#seq++;
    const time = new Date(Date.parse(WINDOW.from) + (n % 10) * 60_000 + (n % 60) * 1000).toISOString();
    return { specversion: "1.0", id: `${this.run}-${n}`, source: "/e2e/load", type: TYPES[n % TYPES.length], time, subject: `user-${n % 17}`, data: { n } };
  }

  #request(i) {
    if (i % 5 === 4 && this.accepted.size > 0) {
      const events = [...this.accepted.values()];
      const replay = events[Math.floor(Math.random() * events.length)];
      this.replays += 1;
      return { headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(replay), events: [replay] };
    }
    if (i % 3 === 1) {
      const events = Array.from({ length: this.batchSize }, () => this.#event());
      return { headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(events), events };
    }
    const e = this.#event();
    if (i % 3 === 2) {
      const headers = { "content-type": "application/json", "ce-specversion": "1.0", "ce-id": e.id, "ce-source": e.source, "ce-type": e.type, "ce-time": e.time, "ce-subject": e.subject };
      return { headers, body: JSON.stringify(e.data), events: [e] };
    }
    return { headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(e), events: [e] };
  }

  async #deliver(req) {
    for (;;) {
      const sentAt = Date.now();
      let status = 0;
      let code;
      let body = {};
      try {
        const res = await fetch(`${this.ingestUrl}/v1/events`, { method: "POST", headers: req.headers, body: req.body, signal: AbortSignal.timeout(30_000) });
        status = res.status;
        body = await res.json().catch(() => ({}));
        code = body.code;
      } catch (err) {
        code = err.cause?.code ?? err.name;
      }
      this.ledger.push({ sentAt, answeredAt: Date.now(), status, code, events: req.events.length });
      if (status === 202) {
        for (const e of req.events) this.accepted.set(eventKey(e), e);
        return;
      }
      if (status !== 0 && status !== 503 && status !== 429) throw new Error(`ingest answered ${status} to a valid request: ${JSON.stringify(body)}`);
      if (Date.now() > this.#drainDeadline) throw new Error(`a request was still not accepted when the drain ended (last answer ${status} ${code})`);
      await sleep(this.retryDelayMs);
    }
  }

  /** Starts (or, after stop(), resumes) the clients; `accepted` keeps growing across resumptions. */
  start() {
    this.#stopping = false;
    this.#drainDeadline = Infinity;
    this.#clients = Array.from({ length: this.clientCount }, async () => {
      try {
        for (let i = 0; !this.#stopping; i++) await this.#deliver(this.#request(i));
      } catch (err) {
        this.errors.push(err);
      }
    });
    return this;
  }

  /** Resolves once `n` more events than now have been accepted; fails at once if a client failed. */
  async waitAccepted(n, timeoutMs = 90_000) {
    const target = this.accepted.size + n;
    const deadline = Date.now() + timeoutMs;
    while (this.accepted.size < target) {
      if (this.errors.length > 0) throw this.errors[0];
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${target} accepted events (${this.accepted.size} so far)`);
      await sleep(50);
    }
  }

  /** Stops sending new requests; requests in retry continue until their 202 (bounded by drainTimeoutMs). */
  async stop(drainTimeoutMs = 60_000) {
    this.#stopping = true;
    this.#drainDeadline = Date.now() + drainTimeoutMs;
    await Promise.all(this.#clients);
    if (this.errors.length > 0) throw this.errors[0];
  }

  expectedByType() {
    const counts = new Map(TYPES.map((t) => [t, 0]));
    for (const { type } of this.accepted.values()) counts.set(type, counts.get(type) + 1);
    return counts;
  }
}

// ---------------------------------------------------------------- the machine's PostgreSQL (fault tests)

/** Restarts the machine's PostgreSQL cluster (fast mode: sessions are cut) and waits until it accepts connections. */
export async function restartPostgres() {
  const version = existsSync("/etc/postgresql") ? readdirSync("/etc/postgresql").sort().at(-1) : undefined;
  if (!version) throw new Error("restarting PostgreSQL needs a Debian cluster (pg_ctlcluster, /etc/postgresql)");
  execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"], { stdio: "ignore" });
  await waitFor("PostgreSQL accepting connections", () => canConnect("127.0.0.1", 5432), 60_000, 250);
}

/** A small seeded PRNG (mulberry32), so that a run's "random" fault points can be replayed with its seed. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
