#!/usr/bin/env node
// Local services for the tests, the benchmarks and `npm run local`: PostgreSQL, Redis and a real
// single-node Apache Kafka broker in KRaft mode.
//
//   node scripts/services.mjs up | down | status
//
// PostgreSQL and Redis are used when running, started when installed but stopped, and otherwise reported
// as missing with the command that installs them. Kafka has no Docker image to lean on here, so the broker
// is the official Apache Kafka jars from Maven Central (scripts/kafka/pom.xml pins the version), resolved
// into the Maven cache by Maven itself and run with the machine's Java 17+. Its storage is formatted once in
// a state directory and reused; a broker already listening on the port is reused and left alone by `down`.
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

// ---------------------------------------------------------------- PostgreSQL

async function ensurePostgres(s) {
  if (await canConnect(s.pgHost, s.pgPort)) return "running";
  const clusters = existsSync("/etc/postgresql") ? readdirSync("/etc/postgresql") : [];
  if (clusters.length > 0 && which("pg_ctlcluster")) {
    const version = clusters.sort().at(-1);
    log(`starting PostgreSQL ${version} (pg_ctlcluster)`);
    const r = spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`PostgreSQL: pg_ctlcluster ${version} main start failed: ${r.stderr.trim()}`);
    await waitFor(`PostgreSQL on ${s.pgHost}:${s.pgPort}`, () => canConnect(s.pgHost, s.pgPort), 30_000);
    return "started";
  }
  throw new Error(
    `PostgreSQL is not reachable on ${s.pgHost}:${s.pgPort} and is not installed here. ` +
      `Install it (Debian/Ubuntu: apt-get install -y postgresql) or point PGHOST/PGPORT at a running server.`,
  );
}

// ---------------------------------------------------------------- Redis

async function ensureRedis(s) {
  if (await canConnect(s.redisHost, s.redisPort)) return "running";
  const server = which("redis-server");
  if (server) {
    log("starting redis-server");
    const dir = path.join(s.stateDir, "redis");
    mkdirSync(dir, { recursive: true });
    const r = spawnSync(server, [
      "--daemonize", "yes", "--bind", "127.0.0.1", "--port", String(s.redisPort),
      "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", path.join(dir, "redis.log"),
    ], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`Redis: redis-server failed to start: ${r.stderr.trim()}`);
    await waitFor(`Redis on ${s.redisHost}:${s.redisPort}`, () => canConnect(s.redisHost, s.redisPort), 15_000);
    return "started";
  }
  throw new Error(
    `Redis is not reachable on ${s.redisHost}:${s.redisPort} and is not installed here. ` +
      `Install it (Debian/Ubuntu: apt-get install -y redis-server) or point REDIS_HOST/REDIS_PORT at a running server.`,
  );
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

/** Stops the broker this script started (by its pid file); a broker it did not start is left alone. */
export async function stopKafka(s = settings(), { signal = "SIGTERM", timeoutMs = 60_000 } = {}) {
  const p = kafkaPaths(s);
  const pid = readPid(p);
  if (pid === undefined) return "not running";
  process.kill(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return "stopped";
    }
    await sleep(200);
  }
  process.kill(pid, "SIGKILL");
  return "killed";
}

/** Makes every service available; resolves to what each one was ("running" or "started"). */
export async function up(s = settings()) {
  const [postgres, redis] = [await ensurePostgres(s), await ensureRedis(s)];
  const kafka = await startKafka(s);
  return { postgres, redis, kafka, kafkaBootstrap: `${s.kafkaHost}:${s.kafkaPort}` };
}

/** Stops Kafka if this script started it. PostgreSQL and Redis are machine services and stay up. */
export async function down(s = settings()) {
  return { kafka: await stopKafka(s) };
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
    process.stderr.write("usage: node scripts/services.mjs up|down|status\n");
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
