#!/usr/bin/env node
// Local services for the tests, the benchmarks and `npm run local`: PostgreSQL, Redis and a real
// single-node Apache Kafka broker in KRaft mode.
//
//   node scripts/services.mjs up | down | status   (npm run services:up / services:down)
//
// PostgreSQL and Redis are used when running, started when installed but stopped, and otherwise reported
// as missing with the command that installs them. Kafka has no Docker image to lean on here, so the broker
// is the official Apache Kafka jars from Maven Central (scripts/kafka/pom.xml pins the version), resolved
// into the Maven cache by Maven itself and run with the machine's Java 17+. Its storage is formatted once in
// a state directory and reused.
//
// `up` records in the state directory what it started: the broker's pid in kafka.pid, a PostgreSQL cluster or
// Redis server in started.json. `down` stops exactly what that record names and nothing else, so a server that
// was already running when `up` ran (the machine's PostgreSQL, a broker of another run) is never stopped.
//
// Environment (all optional):
//   KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), PGHOST/PGPORT (127.0.0.1/5432),
//   REDIS_HOST/REDIS_PORT (127.0.0.1/6379), EVENTSTACK_STATE_DIR (<tmpdir>/eventstack-<KAFKA_PORT>),
//   KAFKA_HEAP (512m).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, readdirSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Every tunable in one place, read from the environment with its default. */
export function settings(env = process.env) {
  const kafkaPort = Number(env.KAFKA_PORT ?? 9092);
  return {
    kafkaHost: "127.0.0.1",
    kafkaPort,
    controllerPort: Number(env.KAFKA_CONTROLLER_PORT ?? kafkaPort + 1),
    pgHost: env.PGHOST ?? "127.0.0.1",
    pgPort: Number(env.PGPORT ?? 5432),
    redisHost: env.REDIS_HOST ?? "127.0.0.1",
    redisPort: Number(env.REDIS_PORT ?? 6379),
    stateDir: env.EVENTSTACK_STATE_DIR ?? path.join(os.tmpdir(), `eventstack-${kafkaPort}`),
    heap: env.KAFKA_HEAP ?? "512m",
    pom: path.join(here, "kafka", "pom.xml"),
  };
}

const log = (msg) => process.stderr.write(`[services] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves true when something accepts a TCP connection on host:port within timeoutMs. */
export function canConnect(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function waitFor(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(250);
  }
  throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s`);
}

function which(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).stdout.trim() || undefined;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal`, waits until the process is gone, SIGKILLs it after timeoutMs: "stopped" or "killed". */
async function terminate(pid, signal, timeoutMs) {
  process.kill(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return "stopped";
    await sleep(200);
  }
  process.kill(pid, "SIGKILL");
  return "killed";
}

// ---------------------------------------------------------------- the record of what up() started

// One entry per server, keyed by its address, so that runs with different REDIS_PORT/PGPORT sharing a state
// directory keep apart what each started.
const recordFile = (s) => path.join(s.stateDir, "started.json");
const postgresKey = (s) => `postgres ${s.pgHost}:${s.pgPort}`;
const redisKey = (s) => `redis ${s.redisHost}:${s.redisPort}`;

/** What up() started and no down() has stopped yet: { "<service> <host>:<port>": details }. */
export function startedRecord(s = settings()) {
  try {
    return JSON.parse(readFileSync(recordFile(s), "utf8"));
  } catch {
    return {};
  }
}

function record(s, key, details) {
  const r = startedRecord(s);
  if (details === undefined) delete r[key];
  else r[key] = details;
  mkdirSync(s.stateDir, { recursive: true });
  writeFileSync(recordFile(s), JSON.stringify(r, null, 2) + "\n");
}

// ---------------------------------------------------------------- PostgreSQL

async function ensurePostgres(s) {
  if (await canConnect(s.pgHost, s.pgPort)) return "running";
  const clusters = existsSync("/etc/postgresql") ? readdirSync("/etc/postgresql") : [];
  if (clusters.length > 0 && which("pg_ctlcluster")) {
    const version = clusters.sort().at(-1);
    log(`starting PostgreSQL ${version} (pg_ctlcluster)`);
    const r = spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`PostgreSQL: pg_ctlcluster ${version} main start failed: ${r.stderr.trim()}`);
    record(s, postgresKey(s), { version });
    await waitFor(`PostgreSQL on ${s.pgHost}:${s.pgPort}`, () => canConnect(s.pgHost, s.pgPort), 30_000);
    return "started";
  }
  throw new Error(postgresMissing(s, findPostgresBinary()));
}

/**
 * A PostgreSQL server binary (pg_ctl or postgres) on PATH, or in Debian's /usr/lib/postgresql/<version>/bin,
 * which is not on PATH; undefined when there is none.
 */
export function findPostgresBinary(libDir = "/usr/lib/postgresql") {
  const onPath = which("pg_ctl") ?? which("postgres");
  if (onPath) return onPath;
  const versions = existsSync(libDir) ? readdirSync(libDir).sort().reverse() : [];
  for (const v of versions) {
    for (const bin of ["pg_ctl", "postgres"]) if (existsSync(path.join(libDir, v, "bin", bin))) return path.join(libDir, v, "bin", bin);
  }
  return undefined;
}

/**
 * Why PostgreSQL cannot be used when nothing answers on PGHOST:PGPORT and there is no Debian cluster to start:
 * installed but not running when a server binary exists (`binary`), otherwise not installed.
 */
export function postgresMissing(s, binary) {
  if (binary) {
    return (
      `PostgreSQL is not reachable on ${s.pgHost}:${s.pgPort}; it looks installed (${binary}) but is not running. ` +
      `Start it (pg_ctl -D <data directory> -l <log file> start, or the service manager that runs it) or point PGHOST/PGPORT at a running server.`
    );
  }
  return (
    `PostgreSQL is not reachable on ${s.pgHost}:${s.pgPort} and is not installed here. ` +
    `Install it (Debian/Ubuntu: apt-get install -y postgresql) or point PGHOST/PGPORT at a running server.`
  );
}

/** Stops the PostgreSQL cluster up() started on PGHOST:PGPORT, if the record names one; any other is left alone. */
export async function stopPostgres(s = settings()) {
  const rec = startedRecord(s)[postgresKey(s)];
  if (!rec) return (await canConnect(s.pgHost, s.pgPort)) ? "left running" : "not running";
  const r = spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", rec.version, "main", "stop", "-m", "fast"], { encoding: "utf8" });
  // A cluster that was stopped meanwhile by other means is as good as stopped by this call.
  if (r.status !== 0 && (await canConnect(s.pgHost, s.pgPort))) {
    throw new Error(`PostgreSQL: pg_ctlcluster ${rec.version} main stop failed: ${(r.stderr ?? r.error?.message ?? "").trim()}`);
  }
  record(s, postgresKey(s), undefined);
  return r.status === 0 ? "stopped" : "not running";
}

// ---------------------------------------------------------------- Redis

async function ensureRedis(s) {
  if (await canConnect(s.redisHost, s.redisPort)) return "running";
  const server = which("redis-server");
  if (server) {
    log("starting redis-server");
    const dir = path.join(s.stateDir, "redis");
    mkdirSync(dir, { recursive: true });
    const pidFile = path.join(dir, `redis-${s.redisPort}.pid`);
    const r = spawnSync(server, [
      "--daemonize", "yes", "--bind", "127.0.0.1", "--port", String(s.redisPort), "--pidfile", pidFile,
      "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", path.join(dir, `redis-${s.redisPort}.log`),
    ], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`Redis: redis-server failed to start: ${r.stderr.trim()}`);
    record(s, redisKey(s), { pidFile });
    await waitFor(`Redis on ${s.redisHost}:${s.redisPort}`, () => canConnect(s.redisHost, s.redisPort), 15_000);
    return "started";
  }
  throw new Error(
    `Redis is not reachable on ${s.redisHost}:${s.redisPort} and is not installed here. ` +
      `Install it (Debian/Ubuntu: apt-get install -y redis-server) or point REDIS_HOST/REDIS_PORT at a running server.`,
  );
}

/** Stops the Redis server up() started on REDIS_HOST:REDIS_PORT, if the record names one (by its pid file). */
export async function stopRedis(s = settings(), { timeoutMs = 15_000 } = {}) {
  const rec = startedRecord(s)[redisKey(s)];
  if (!rec) return (await canConnect(s.redisHost, s.redisPort)) ? "left running" : "not running";
  const pid = existsSync(rec.pidFile) ? Number(readFileSync(rec.pidFile, "utf8").trim()) : NaN;
  // SIGTERM: Redis shuts down cleanly (nothing to save: it was started with --save "").
  const result = Number.isInteger(pid) && pid > 0 && alive(pid) ? await terminate(pid, "SIGTERM", timeoutMs) : "not running";
  record(s, redisKey(s), undefined);
  return result;
}

// ---------------------------------------------------------------- Kafka

/** The broker's classpath, resolved by Maven into ~/.m2 once and cached beside the state dir. */
export function kafkaClasspath(s = settings()) {
  mkdirSync(s.stateDir, { recursive: true });
  const cpFile = path.join(s.stateDir, "classpath.txt");
  const fresh = existsSync(cpFile) && statSync(cpFile).mtimeMs >= statSync(s.pom).mtimeMs;
  if (fresh) {
    const cp = readFileSync(cpFile, "utf8").trim();
    if (cp.split(":").every((jar) => existsSync(jar))) return cp;
  }
  if (!which("java")) throw new Error("Kafka needs Java 17 or later on PATH (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless).");
  if (!which("mvn")) throw new Error("Kafka's jars are resolved with Maven, which is not on PATH (Debian/Ubuntu: apt-get install -y maven).");
  log("resolving Apache Kafka from Maven Central into the Maven cache (first run only)");
  const r = spawnSync("mvn", ["-q", "-B", "-f", s.pom, "dependency:build-classpath", `-Dmdep.outputFile=${cpFile}`], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.status !== 0) {
    throw new Error(`Maven could not resolve Kafka (mvn exited ${r.status}):\n${(r.stdout + r.stderr).trim().slice(-2000)}`);
  }
  return readFileSync(cpFile, "utf8").trim();
}

function kafkaPaths(s) {
  return {
    dataDir: path.join(s.stateDir, "kraft-data"),
    config: path.join(s.stateDir, "server.properties"),
    pidFile: path.join(s.stateDir, "kafka.pid"),
    logFile: path.join(s.stateDir, "kafka.log"),
  };
}

function writeKafkaConfig(s, p) {
  // Single-node combined broker+controller. Mirrors the MSK configuration where it matters to the apps:
  // no auto-created topics (the processor's migrate step creates them), unclean leader election off.
  const props = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.quorum.voters": `1@${s.kafkaHost}:${s.controllerPort}`,
    listeners: `PLAINTEXT://${s.kafkaHost}:${s.kafkaPort},CONTROLLER://${s.kafkaHost}:${s.controllerPort}`,
    "advertised.listeners": `PLAINTEXT://${s.kafkaHost}:${s.kafkaPort}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "log.dirs": p.dataDir,
    "num.partitions": "3",
    "auto.create.topics.enable": "false",
    "unclean.leader.election.enable": "false",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "10",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "log.segment.bytes": String(64 * 1024 * 1024),
  };
  writeFileSync(p.config, Object.entries(props).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
}

function readPid(p) {
  if (!existsSync(p.pidFile)) return undefined;
  const pid = Number(readFileSync(p.pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Starts the broker unless one already listens on the port. Resolves to "running" (reused) or "started"
 * once the broker logged that it started and accepts connections.
 */
export async function startKafka(s = settings()) {
  if (await canConnect(s.kafkaHost, s.kafkaPort)) return "running";
  const p = kafkaPaths(s);
  const cp = kafkaClasspath(s);
  mkdirSync(s.stateDir, { recursive: true });
  writeKafkaConfig(s, p);
  const java = ["-cp", cp, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info"];
  if (!existsSync(path.join(p.dataDir, "meta.properties"))) {
    // A fixed cluster id keeps the formatted storage valid across restarts of the same state dir.
    const r = spawnSync("java", [...java, "kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", "ZXZlbnRzdGFja2xvY2Fs", "-c", p.config], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`Kafka storage format failed:\n${(r.stdout + r.stderr).trim().slice(-2000)}`);
  }
  const out = openSync(p.logFile, "a");
  const child = spawn("java", [`-Xmx${s.heap}`, `-Xms${s.heap}`, "-XX:+UseG1GC", ...java, "kafka.Kafka", p.config], {
    detached: true,
    stdio: ["ignore", out, out],
  });
  writeFileSync(p.pidFile, String(child.pid));
  child.unref();
  let exited = false;
  child.once("exit", () => (exited = true));
  log(`starting Kafka on ${s.kafkaHost}:${s.kafkaPort} (pid ${child.pid}, log ${p.logFile})`);
  await waitFor(
    `Kafka on ${s.kafkaHost}:${s.kafkaPort} (see ${p.logFile})`,
    async () => {
      if (exited) throw new Error(`Kafka exited during start-up; last log lines:\n${tail(p.logFile)}`);
      return canConnect(s.kafkaHost, s.kafkaPort);
    },
    120_000,
  );
  return "started";
}

function tail(file, lines = 30) {
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n") : "(no log)";
}

/**
 * Stops the broker this script started (by its pid file): "stopped" or "killed"; a broker it did not start is
 * left alone ("left running"), and without either it is "not running".
 */
export async function stopKafka(s = settings(), { signal = "SIGTERM", timeoutMs = 60_000 } = {}) {
  const p = kafkaPaths(s);
  const pid = readPid(p);
  if (pid === undefined) return (await canConnect(s.kafkaHost, s.kafkaPort)) ? "left running" : "not running";
  return terminate(pid, signal, timeoutMs);
}

/** Makes every service available; resolves to what each one was ("running" or "started"). On failure, stops what it started. */
export async function up(s = settings()) {
  const result = {};
  try {
    result.postgres = await ensurePostgres(s);
    result.redis = await ensureRedis(s);
    result.kafka = await startKafka(s);
  } catch (err) {
    // A failed `up` leaves nothing behind that it started: the caller only learns of the failure.
    await down(s, startedBy(result)).catch(() => undefined);
    throw err;
  }
  return { ...result, kafkaBootstrap: `${s.kafkaHost}:${s.kafkaPort}` };
}

export const SERVICES = ["kafka", "redis", "postgres"];

/** The services an up() result says it started, in the order down() stops them. */
export function startedBy(result) {
  return SERVICES.filter((name) => result[name] === "started");
}

/**
 * Stops each of `names` that this script started, as its record says (kafka.pid, started.json); a server it
 * did not start is left alone. Kafka first, the stores last. Resolves to what happened to each:
 * "stopped", "killed" (did not stop in time), "not running" (nothing to stop) or "left running" (running, but
 * not started by this script).
 */
export async function down(s = settings(), names = SERVICES) {
  const stop = { kafka: stopKafka, redis: stopRedis, postgres: stopPostgres };
  const result = {};
  for (const name of SERVICES) if (names.includes(name)) result[name] = await stop[name](s);
  return result;
}

export async function status(s = settings()) {
  return {
    postgres: (await canConnect(s.pgHost, s.pgPort)) ? "up" : "down",
    redis: (await canConnect(s.redisHost, s.redisPort)) ? "up" : "down",
    kafka: (await canConnect(s.kafkaHost, s.kafkaPort)) ? "up" : "down",
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const commands = { up, down, status };
  const command = commands[process.argv[2]];
  if (!command) {
    process.stderr.write(
      [
        "usage: node scripts/services.mjs up|down|status",
        "  up      use PostgreSQL, Redis and Kafka when running, start them when installed but stopped",
        "  down    stop what `up` started, as recorded in the state directory; a server that was already",
        "          running when `up` ran is left alone",
        "  status  whether each one accepts connections",
        "",
      ].join("\n"),
    );
    process.exit(2);
  }
  command().then(
    (result) => process.stdout.write(JSON.stringify(result) + "\n"),
    (err) => {
      process.stderr.write(`[services] ${err.message}\n`);
      process.exit(1);
    },
  );
}
