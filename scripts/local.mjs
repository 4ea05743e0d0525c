#!/usr/bin/env node
// `npm run local`: the whole pipeline on this machine, in the foreground.
//   1. builds the two services if their dist/ is missing or older than their sources;
//   2. brings up PostgreSQL, Redis and a real Kafka broker (scripts/services.mjs);
//   3. creates the database if missing and runs the processor's migrations (tables, roles, topics);
//   4. starts the processor (consumer + read API) and ingest, waits until both answer /readyz with 200;
//   5. starts a local Prometheus (scripts/prometheus.mjs) that scrapes both services and evaluates the alert rules of
//      observability/rules; without a `prometheus` binary it says so and the pipeline runs without it;
//   6. prints the URLs and example curl commands, then streams both services' logs, one prefix per service;
//   7. on Ctrl-C or SIGTERM stops Prometheus, then ingest (in-flight requests finish), then the processor (the
//      current batch commits), then whichever of the Kafka broker, Redis and PostgreSQL this run started. A server
//      that was already running is left alone.
// A service that crashes after start-up is restarted, as Kubernetes would (a processor whose Kafka stream
// failed exits 1 on purpose), unless it has crashed 5 times within 60 s (scripts/supervisor.mjs, CrashWindow): then
// the run stops as on Ctrl-C and exits 1. A missing prerequisite ends the run with the reason and exit code 1.
//
// Environment (all optional): INGEST_PORT (8080), PROCESSOR_PORT (8081), PGDATABASE (eventstack),
// LOCAL_LOG_FORMAT (text | json), PROMETHEUS_BIN and PROMETHEUS_PORT (scripts/prometheus.mjs), plus everything
// scripts/services.mjs reads (KAFKA_PORT, PGHOST, PGPORT, REDIS_HOST, REDIS_PORT, ...) and everything the services
// read (EVENTS_TOPIC, CONSUMER_GROUP, LOG_LEVEL, ...), which is passed through to them. The functions are exported
// for the end-to-end tests (test/e2e/).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { unsupportedNode } from "./node-version.mjs";
import { MISSING_PROMETHEUS, findPrometheus, startPrometheus } from "./prometheus.mjs";
import { down, settings as servicesSettings, startedBy, up } from "./services.mjs";
import { CrashWindow, Service, formatLogLine } from "./supervisor.mjs";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The two services: where they live and what they run, relative to the repository root. */
export const APPS = {
  ingest: { dir: "apps/ingest", server: "dist/src/server.js" },
  processor: { dir: "apps/processor", server: "dist/src/server.js", migrate: "dist/src/migrate.js" },
};

const DEFAULTS = {
  INGEST_PORT: 8080,
  PROCESSOR_PORT: 8081,
  PGDATABASE: "eventstack",
  LOCAL_LOG_FORMAT: "text",
  // Loopback only: nothing of the local pipeline is reachable from the network.
  host: "127.0.0.1",
  // Start-up includes the first consumer-group join, which a busy machine makes slow.
  readyTimeoutMs: 120_000,
  // Above both services' SHUTDOWN_TIMEOUT_MS default (25 s), so their own bound fires first.
  stopTimeoutMs: 30_000,
  // A second Ctrl-C kills the services instead of waiting for them; one sooner than this after the first is
  // the first's own copy (see onSignal).
  signalRepeatMs: 1_000,
};

/** Thrown for a problem the user can fix; main() prints the message alone, without a stack. */
export class LocalError extends Error {}

/** Every tunable in one place, read from the environment and validated; each problem names its variable. */
export function localSettings(env = process.env) {
  const problems = [];
  const port = (name) => {
    const raw = env[name]?.trim() || String(DEFAULTS[name]);
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > 65535) problems.push(`${name} must be an integer from 1 to 65535, got "${raw}"`);
    return n;
  };
  const ingestPort = port("INGEST_PORT");
  const processorPort = port("PROCESSOR_PORT");
  if (problems.length === 0 && ingestPort === processorPort) problems.push(`INGEST_PORT and PROCESSOR_PORT must differ, both are ${ingestPort}`);
  const logFormat = env.LOCAL_LOG_FORMAT?.trim() || DEFAULTS.LOCAL_LOG_FORMAT;
  if (logFormat !== "text" && logFormat !== "json") problems.push(`LOCAL_LOG_FORMAT must be "text" or "json", got "${logFormat}"`);
  if (problems.length > 0) throw new LocalError(`invalid environment:\n  - ${problems.join("\n  - ")}`);
  return {
    host: DEFAULTS.host,
    ingestPort,
    processorPort,
    database: env.PGDATABASE?.trim() || DEFAULTS.PGDATABASE,
    logFormat,
    readyTimeoutMs: DEFAULTS.readyTimeoutMs,
    stopTimeoutMs: DEFAULTS.stopTimeoutMs,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function throwIfAborted(signal) {
  if (signal?.aborted) throw new LocalError("interrupted during start-up; what had been started is stopped again");
}

// ---------------------------------------------------------------- build

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The V8 flags an app runs with everywhere: its package.json's config.nodeFlags (what `npm start` passes). */
function nodeFlags(dir) {
  const pkg = JSON.parse(readFileSync(path.join(root, dir, "package.json"), "utf8"));
  return (pkg.config?.nodeFlags ?? "").split(" ").filter(Boolean);
}

/** The apps whose compiled server is missing or older than a source, migration or tsconfig of theirs. */
export function staleApps() {
  return Object.entries(APPS)
    .filter(([, app]) => {
      const built = path.join(root, app.dir, app.server);
      if (!existsSync(built)) return true;
      const inputs = ["src", "migrations"].map((d) => path.join(root, app.dir, d)).filter(existsSync);
      const newest = Math.max(statSync(path.join(root, app.dir, "tsconfig.json")).mtimeMs, ...inputs.map(newestMtime));
      return newest > statSync(built).mtimeMs;
    })
    .map(([name]) => name);
}

export function ensureBuilt(log) {
  const stale = staleApps();
  if (stale.length === 0) return;
  log(`building ${stale.join(" and ")} (npm run build)`);
  const r = spawnSync("npm", ["run", "build", ...stale.flatMap((name) => ["-w", APPS[name].dir])], { cwd: root, stdio: ["ignore", 2, 2] });
  if (r.status !== 0) throw new LocalError(`the build failed (npm run build exited ${r.status ?? r.signal}); see the compiler output above`);
}

// ---------------------------------------------------------------- database

/** A dependency of the processor (pg, ioredis, @platformatic/kafka), resolved as the processor resolves it. */
export async function processorDependency(name) {
  const require = createRequire(path.join(root, APPS.processor.dir, "package.json"));
  return import(pathToFileURL(require.resolve(name)).href);
}

/** Creates `database` unless it exists; connects to the maintenance database as PGUSER. */
export async function ensureDatabase(database, env = process.env) {
  const pg = (await processorDependency("pg")).default;
  const where = `${env.PGHOST ?? "127.0.0.1"}:${env.PGPORT ?? 5432}`;
  const client = new pg.Client({
    host: env.PGHOST ?? "127.0.0.1",
    port: Number(env.PGPORT ?? 5432),
    user: env.PGUSER ?? "postgres",
    password: env.PGPASSWORD,
    database: "postgres",
    connectionTimeoutMillis: 5_000,
  });
  try {
    await client.connect();
  } catch (err) {
    throw new LocalError(`cannot connect to PostgreSQL at ${where} as "${env.PGUSER ?? "postgres"}" to create database "${database}": ${err.message}`);
  }
  try {
    const exists = (await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rowCount === 1;
    if (exists) return "existing";
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    } catch (err) {
      // 42P04: created meanwhile by a concurrent run.
      if (err.code !== "42P04") throw new LocalError(`cannot create database "${database}" on ${where}: ${err.message}`);
    }
    return "created";
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------- service processes

/** Fails with a message naming the variable when something already listens on host:port. */
export async function assertPortFree(host, port, variable) {
  await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (err) =>
      reject(
        err.code === "EADDRINUSE"
          ? new LocalError(`${variable} ${port} is already in use on ${host} (another \`npm run local\`?); set ${variable} to a free port`)
          : err,
      ),
    );
    server.listen(port, host, () => server.close(resolve));
  });
}

/** Polls GET url until it answers 200; fails early if the service exits or `signal` aborts, and after timeoutMs. */
export async function waitReady(service, url, timeoutMs, signal) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    throwIfAborted(signal);
    if (!service.running) {
      const exit = service.exits.at(-1);
      throw new LocalError(`${service.name} exited during start-up (${exit?.signal ?? `code ${exit?.code}`}); its last output:\n${service.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(250);
  }
  throw new LocalError(`${service.name} was not ready within ${timeoutMs / 1000} s (GET ${url}: ${last}); its last output:\n${service.tail()}`);
}

/** Runs the processor's migrations (tables, roles, Kafka topics) as a one-off process, like the pre-deploy Job. */
export async function runMigrations(env, onLine) {
  const migrate = new Service("migrate", path.join(root, APPS.processor.dir, APPS.processor.migrate), {
    env,
    cwd: path.join(root, APPS.processor.dir),
    onLine,
  }).start();
  const exit = await migrate.exited();
  if (exit.code !== 0) throw new LocalError(`the processor's migrations failed (${exit.signal ?? `exit code ${exit.code}`}):\n${migrate.tail()}`);
}

/** The environment of one service: the caller's, with the shared connection settings and its own address. */
export function serviceEnv(base, { kafkaBootstrap, database, host, port }) {
  return { ...base, KAFKA_BOOTSTRAP: kafkaBootstrap, PGDATABASE: database, HOST: host, PORT: String(port) };
}

/**
 * Everything up to "ready": services, database, migrations, then the processor and ingest, and with `prometheus`
 * a local Prometheus scraping both (scripts/prometheus.mjs). Resolves to the running pipeline, whose `prometheus`
 * is `{ url, service }` or, when there is no binary, `{ missing: <reason> }`; `stop()` undoes all of it in order. On a
 * start-up failure whatever was started is stopped.
 */
export async function startPipeline({ env = process.env, log = () => {}, onLine = () => {}, restart = () => false, signal, prometheus = false } = {}) {
  const s = localSettings(env);
  // Before anything is started: a PROMETHEUS_BIN that does not exist is a mistake to report, not to run without.
  if (prometheus) {
    try {
      findPrometheus(env);
    } catch (err) {
      throw new LocalError(err.message);
    }
  }
  // Before anything is started or built, so that this mistake costs nothing.
  await assertPortFree(s.host, s.processorPort, "PROCESSOR_PORT");
  await assertPortFree(s.host, s.ingestPort, "INGEST_PORT");
  ensureBuilt(log);
  let services;
  try {
    services = await up(servicesSettings(env));
  } catch (err) {
    throw new LocalError(err.message);
  }
  const started = [];
  let metrics;
  const stop = async () => {
    const exits = {};
    // Prometheus first: it only watches, and stopped last it would record the services' shutdown as an outage.
    if (metrics?.stop) exits.prometheus = await metrics.stop();
    // Ingest first, so no event is accepted that the processor would not be there to consume; then the
    // processor, which commits its current batch; then the servers, each only if this run started it
    // (up() said "started"), so a PostgreSQL or Redis that was already running stays up.
    for (const svc of [...started].reverse()) exits[svc.name] = await svc.stop(s.stopTimeoutMs);
    const servers = { kafka: "left running", redis: "left running", postgres: "left running", ...(await down(servicesSettings(env), startedBy(services))) };
    return { exits, servers };
  };
  try {
    throwIfAborted(signal);
    const db = await ensureDatabase(s.database, env);
    if (db === "created") log(`created database "${s.database}"`);
    const common = { kafkaBootstrap: services.kafkaBootstrap, database: s.database, host: s.host };
    await runMigrations(serviceEnv(env, { ...common, port: s.processorPort }), onLine);
    throwIfAborted(signal);
    const make = (name, port) =>
      new Service(name, path.join(root, APPS[name].dir, APPS[name].server), {
        env: serviceEnv(env, { ...common, port }),
        nodeArgs: nodeFlags(APPS[name].dir),
        cwd: path.join(root, APPS[name].dir),
        onLine,
        restart,
      });
    const processor = make("processor", s.processorPort);
    const ingest = make("ingest", s.ingestPort);
    started.push(processor.start(), ingest.start());
    const urls = { ingest: `http://${s.host}:${s.ingestPort}`, processor: `http://${s.host}:${s.processorPort}` };
    await Promise.all([
      waitReady(processor, `${urls.processor}/readyz`, s.readyTimeoutMs, signal),
      waitReady(ingest, `${urls.ingest}/readyz`, s.readyTimeoutMs, signal),
    ]);
    if (prometheus) {
      if (!findPrometheus(env)) metrics = { missing: MISSING_PROMETHEUS };
      else {
        try {
          metrics = await startPrometheus({ stateDir: servicesSettings(env).stateDir, host: s.host, ingestPort: s.ingestPort, processorPort: s.processorPort, env, onLine });
        } catch (err) {
          throw new LocalError(err.message);
        }
      }
    }
    return { settings: s, services, urls, ingest, processor, prometheus: metrics, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

// ---------------------------------------------------------------- the command

/** What a user can paste: the three CloudEvents HTTP content modes and a read API query. */
export function exampleCommands(urls, now = new Date()) {
  const time = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");
  const hour = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
  const iso = (d) => d.toISOString().replace(".000Z", "Z");
  const event = (id, total) => ({ specversion: "1.0", id, source: "/shop/checkout", type: "com.example.shop.order.placed", time, subject: id, data: { total } });
  const q = (s) => `'${s}'`;
  return [
    "# structured mode: one event as the body",
    `curl -i ${urls.ingest}/v1/events -H 'content-type: application/cloudevents+json' -d ${q(JSON.stringify(event("order-1", 42)))}`,
    "# batched mode: a JSON array of events",
    `curl -i ${urls.ingest}/v1/events -H 'content-type: application/cloudevents-batch+json' -d ${q(JSON.stringify([event("order-2", 7), event("order-3", 19)]))}`,
    "# binary mode: attributes as ce-* headers, the body is the data",
    `curl -i ${urls.ingest}/v1/events -H 'content-type: application/json' -H 'ce-specversion: 1.0' -H 'ce-id: order-4' -H 'ce-source: /shop/checkout' -H 'ce-type: com.example.shop.order.placed' -H 'ce-time: ${time}' -H 'ce-subject: order-4' -d '{"total":5}'`,
    "# the count: 4 (sending any of the above again changes nothing, the processor deduplicates by source and id)",
    `curl -s '${urls.processor}/v1/stats?type=com.example.shop.order.placed&from=${iso(hour)}&to=${iso(new Date(hour.getTime() + 3_600_000))}&granularity=hour'`,
  ];
}

function banner(p, env = process.env) {
  const kafka = p.services.kafka === "started" ? "started by this run, stopped with it" : "already running, left running";
  const startedHere = (name) => (p.services[name] === "started" ? " (started by this run, stopped with it)" : "");
  const svc = servicesSettings(env);
  const s = p.settings;
  const ports = s.ingestPort !== DEFAULTS.INGEST_PORT || s.processorPort !== DEFAULTS.PROCESSOR_PORT ? `INGEST_PORT=${s.ingestPort} PROCESSOR_PORT=${s.processorPort} ` : "";
  return [
    "",
    "eventstack is running locally:",
    `  ingest     ${p.urls.ingest}     POST /v1/events   (also /healthz, /readyz, /metrics)`,
    `  processor  ${p.urls.processor}     GET  /v1/stats    (also /healthz, /readyz, /metrics)`,
    `  Kafka ${p.services.kafkaBootstrap} (${kafka}), PostgreSQL ${svc.pgHost}:${svc.pgPort} database "${s.database}"${startedHere("postgres")}, Redis ${svc.redisHost}:${svc.redisPort}${startedHere("redis")}`,
    "",
    ...exampleCommands(p.urls).map((l) => `  ${l}`),
    "",
    `  A realistic stream with replays and invalid events: ${ports}npm run demo`,
    "",
    ...(p.prometheus?.url
      ? [
          `  Prometheus ${p.prometheus.url}  (scrapes both services every 2 s, evaluates observability/rules; PromQL at ${p.prometheus.url}/graph)`,
          `  The pipeline at a glance (rates, lag per partition, dead letters, latency, firing alerts): ${ports}npm run status`,
        ]
      : [`  Prometheus not started: ${p.prometheus?.missing ?? MISSING_PROMETHEUS}`]),
    "",
    `[local] ready: ingest ${p.urls.ingest}, processor ${p.urls.processor} (Ctrl-C stops everything this run started)`,
  ].join("\n");
}

async function main() {
  const unsupported = unsupportedNode();
  if (unsupported) {
    process.stderr.write(`[local] ${unsupported}\n`);
    process.exit(1);
  }
  const say = (msg) => process.stdout.write(`[local]     ${msg}\n`);
  let settings;
  try {
    settings = localSettings();
  } catch (err) {
    process.stderr.write(`[local] ${err.message}\n`);
    process.exit(1);
  }
  const format = settings.logFormat === "json" ? (l) => l : formatLogLine;
  const onLine = (line, svc) => process.stdout.write(`${`[${svc.name}]`.padEnd(12)}${format(line)}\n`);
  let pipeline;
  let stopping;
  // One crash window per service: a crash loop of one is not excused by the other's health.
  const crashes = new Map();
  // Only after start-up: a service that cannot start is reported, not retried.
  const restart = (exit, svc) => {
    if (!pipeline || stopping) return false;
    if (!crashes.has(svc.name)) crashes.set(svc.name, new CrashWindow());
    const window = crashes.get(svc.name);
    const again = window.crashed();
    const how = exit.signal ?? `code ${exit.code}`;
    const within = `within ${window.windowMs / 1000} s`;
    if (!again) {
      say(`${svc.name} exited (${how}): ${window.recent} crashes ${within}; giving up`);
      void shutdown(1);
      return false;
    }
    say(`${svc.name} exited (${how}); restarting it (${window.recent} of ${window.maxCrashes} crashes ${within} before it is given up)`);
    return true;
  };
  const shutdown = (code) =>
    (stopping ??= (async () => {
      say("stopping: Prometheus and ingest first, then the processor, then what this run started of Kafka, Redis and PostgreSQL");
      const { exits, servers } = await pipeline.stop();
      const describe = (e) => (e ? (e.signal ? `killed by ${e.signal}` : `exit ${e.code}`) : "not running");
      if (exits.prometheus) say(`stopped Prometheus (${describe(exits.prometheus)})`);
      say(
        `stopped: ingest ${describe(exits.ingest)}, processor ${describe(exits.processor)}, ` +
          `Kafka ${servers.kafka}, Redis ${servers.redis}, PostgreSQL ${servers.postgres}`,
      );
      const clean = [exits.ingest, exits.processor].every((e) => e?.code === 0);
      process.exit(code || (clean ? 0 : 1));
    })());

  // Children live in their own process groups; if this script dies anyway, take them along.
  process.once("exit", () => {
    pipeline?.ingest.killNow();
    pipeline?.processor.killNow();
    pipeline?.prometheus?.service?.killNow();
  });
  const startup = new AbortController();
  let heardAt = -Infinity;
  const onSignal = (signal) => {
    // A terminal's Ctrl-C reaches this process twice: from the terminal (the whole process group) and passed on
    // by npm. What arrives within signalRepeatMs of the last signal heard is that same request, not a second one.
    const now = Date.now();
    if (now - heardAt < DEFAULTS.signalRepeatMs) return;
    heardAt = now;
    if (!pipeline) {
      say(`${signal}: stopping the start-up`);
      startup.abort();
      return;
    }
    if (stopping) {
      say(`${signal} again: killing the services`);
      pipeline.ingest.killNow();
      pipeline.processor.killNow();
      return;
    }
    void shutdown(0);
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  // `npm run local` is `exec node scripts/local.mjs`: the shell npm starts becomes this process, so the SIGINT and
  // SIGTERM that npm passes on to its script reach it (a shell left in between would swallow SIGINT and die of
  // SIGTERM without passing either on). Should npm itself die (SIGKILL), losing the parent is taken as the signal.
  const parent = process.ppid;
  const orphaned = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphaned);
    onSignal("parent exited");
  }, 1_000).unref();

  try {
    pipeline = await startPipeline({ log: say, onLine, restart, signal: startup.signal, prometheus: true });
  } catch (err) {
    process.stderr.write(`[local] cannot start: ${err instanceof LocalError ? err.message : err.stack}\n`);
    process.exit(1);
  }
  const dead = [pipeline.ingest, pipeline.processor].find((svc) => !svc.running);
  if (dead) {
    say(`${dead.name} exited right after start-up; its last output:\n${dead.tail()}`);
    return shutdown(1);
  }
  process.stdout.write(`${banner(pipeline)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
