// The local Prometheus of `npm run local` (and of the observability tests): Debian's `prometheus` package run as a
// plain process, scraping both services' /metrics and loading the same rule files that the stack deploys to
// Amazon Managed Service for Prometheus (observability/rules/*.rules.yaml).
//
// Its files live in the local state directory (scripts/services.mjs, EVENTSTACK_STATE_DIR), one directory per
// pipeline, named after ingest's port so that two pipelines on one machine do not share a TSDB:
//   <stateDir>/prometheus/<INGEST_PORT>/prometheus.yml   the configuration, written at each start
//   <stateDir>/prometheus/<INGEST_PORT>/data/            the TSDB, emptied at each start (one run's data)
//   <stateDir>/prometheus/<INGEST_PORT>/url              its URL while it runs (read by `npm run status`)
//
// Environment (all optional): PROMETHEUS_BIN (the `prometheus` on PATH), PROMETHEUS_PORT (9090, or any free port
// when 9090 is taken and PROMETHEUS_PORT is not set).
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Service } from "./supervisor.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const PROMETHEUS_DEFAULTS = {
  port: 9090,
  // Short intervals so that a local run shows rates within seconds; the deployed collector uses its own.
  scrapeInterval: "2s",
  evaluationInterval: "2s",
  retention: "1d",
  readyTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
};

/** The rule files every Prometheus of eventstack loads, as a glob Prometheus expands itself. */
export const RULES_GLOB = path.join(root, "observability", "rules", "*.rules.yaml");

/** What to say when there is no Prometheus binary: the pipeline runs without it. */
export const MISSING_PROMETHEUS =
  "no `prometheus` binary on PATH (Debian: apt-get install -y prometheus, then leave its service disabled; or set PROMETHEUS_BIN); " +
  "the pipeline runs without metrics collection, alert rules and `npm run status`";

/** The Prometheus binary: PROMETHEUS_BIN if set (it must exist), else `prometheus` on env's PATH, else undefined. */
export function findPrometheus(env = process.env) {
  const configured = env.PROMETHEUS_BIN?.trim();
  if (configured) {
    if (!existsSync(configured)) throw new Error(`PROMETHEUS_BIN is "${configured}", which does not exist`);
    return configured;
  }
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, "prometheus");
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The directory of one pipeline's Prometheus (see the header). */
export function prometheusDir(stateDir, ingestPort) {
  return path.join(stateDir, "prometheus", String(ingestPort));
}

/** The URL of the Prometheus of the pipeline whose ingest listens on ingestPort, if it runs; else undefined. */
export function runningPrometheusUrl(stateDir, ingestPort) {
  const file = path.join(prometheusDir(stateDir, ingestPort), "url");
  return existsSync(file) ? readFileSync(file, "utf8").trim() || undefined : undefined;
}

/** prometheus.yml for the two services on host: one scrape job each, named after the service. */
export function prometheusConfig({ host, ingestPort, processorPort, rules = RULES_GLOB }) {
  const job = (name, port) => [
    `  - job_name: ${name}`,
    "    static_configs:",
    `      - targets: ["${host}:${port}"]`,
  ];
  return [
    "# Written by scripts/prometheus.mjs at each start of the local pipeline; edits are overwritten.",
    "global:",
    `  scrape_interval: ${PROMETHEUS_DEFAULTS.scrapeInterval}`,
    `  evaluation_interval: ${PROMETHEUS_DEFAULTS.evaluationInterval}`,
    "rule_files:",
    `  - ${JSON.stringify(rules)}`,
    "scrape_configs:",
    ...job("ingest", ingestPort),
    ...job("processor", processorPort),
    "",
  ].join("\n");
}

function portFree(host, port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

function anyFreePort(host) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** PROMETHEUS_PORT if set (it must be free), else 9090 if free, else any free port. */
export async function choosePort(host, env = process.env) {
  const raw = env.PROMETHEUS_PORT?.trim();
  if (raw) {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new Error(`PROMETHEUS_PORT must be an integer from 1 to 65535, got "${raw}"`);
    if (!(await portFree(host, n))) throw new Error(`PROMETHEUS_PORT ${n} is already in use on ${host}; set PROMETHEUS_PORT to a free port`);
    return n;
  }
  return (await portFree(host, PROMETHEUS_DEFAULTS.port)) ? PROMETHEUS_DEFAULTS.port : anyFreePort(host);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts Prometheus for the pipeline on host (ingestPort, processorPort) and waits until it is ready. Resolves to
 * `{ url, service, stop() }`; throws when the binary is missing (message MISSING_PROMETHEUS), the port is taken, or
 * it does not become ready (with its last output).
 */
export async function startPrometheus({ stateDir, host, ingestPort, processorPort, env = process.env, onLine = () => {} }) {
  const binary = findPrometheus(env);
  if (!binary) throw new Error(MISSING_PROMETHEUS);
  const port = await choosePort(host, env);
  const dir = prometheusDir(stateDir, ingestPort);
  const data = path.join(dir, "data");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(data, { recursive: true });
  const config = path.join(dir, "prometheus.yml");
  writeFileSync(config, prometheusConfig({ host, ingestPort, processorPort }));
  const url = `http://${host}:${port}`;
  const service = new Service("prometheus", binary, {
    command: binary,
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${data}`,
      `--storage.tsdb.retention.time=${PROMETHEUS_DEFAULTS.retention}`,
      `--web.listen-address=${host}:${port}`,
      // Warnings and errors only: a healthy Prometheus stays quiet in `npm run local`'s terminal.
      "--log.level=warn",
    ],
    env,
    cwd: dir,
    onLine,
  }).start();
  const stop = async () => {
    const exit = await service.stop(PROMETHEUS_DEFAULTS.stopTimeoutMs);
    rmSync(path.join(dir, "url"), { force: true });
    return exit;
  };
  const deadline = Date.now() + PROMETHEUS_DEFAULTS.readyTimeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (!service.running) {
      const exit = service.exits.at(-1);
      throw new Error(`Prometheus exited during start-up (${exit?.signal ?? `code ${exit?.code}`}); its last output:\n${service.tail()}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) {
        writeFileSync(path.join(dir, "url"), `${url}\n`);
        return { url, service, stop };
      }
      last = `${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`Prometheus was not ready within ${PROMETHEUS_DEFAULTS.readyTimeoutMs / 1000} s (GET ${url}/-/ready: ${last}); its last output:\n${service.tail()}`);
}
