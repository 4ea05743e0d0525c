#!/usr/bin/env node
// `npm run status`: the running pipeline at a glance, read from Prometheus: event rates, ingest latency, consumer lag
// per partition, processor throughput, dead letters, paused processors, end-to-end latency, scrape targets and the
// alerts that are pending or firing.
//
//   npm run status                          the Prometheus of the local pipeline (`npm run local`, found through
//                                           the state directory by INGEST_PORT, as scripts/prometheus.mjs records it)
//   npm run status -- --prometheus <url>    any Prometheus HTTP API, e.g. a deployed one. Amazon Managed Service for
//                                           Prometheus needs SigV4-signed requests: run a signing proxy (for example
//                                           aws-sigv4-proxy --name aps --region <region>) and pass
//                                           http://127.0.0.1:<proxy port>/workspaces/<workspace id>, or port-forward
//                                           to a Prometheus-compatible endpoint inside the cluster.
//   --window <duration>                     the range of the rates and percentiles (PromQL duration, default 1m)
//
// Exit 0 when the report was printed (whatever it says), 1 when Prometheus could not be asked.
import { fileURLToPath } from "node:url";
import { LocalError, localSettings } from "./local.mjs";
import { runningPrometheusUrl } from "./prometheus.mjs";
import { settings as servicesSettings } from "./services.mjs";

export const STATUS_DEFAULTS = { window: "1m", timeoutMs: 10_000 };

/** The command line: `--prometheus <url>` and `--window <duration>`; anything else is an error naming it. */
export function statusArgs(argv, env = process.env) {
  const out = { prometheus: undefined, window: STATUS_DEFAULTS.window };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new LocalError(`${flag} needs a value`);
      return v;
    };
    if (flag === "--prometheus") out.prometheus = value();
    else if (flag === "--window") out.window = value();
    else throw new LocalError(`unknown argument "${argv[i]}"; usage: npm run status [-- --prometheus <url>] [--window <duration>]`);
  }
  if (!/^\d+(ms|s|m|h)$/.test(out.window)) throw new LocalError(`--window must be a PromQL duration such as 30s, 1m or 5m, got "${out.window}"`);
  if (out.prometheus !== undefined) {
    let url;
    try {
      url = new URL(out.prometheus);
    } catch {
      throw new LocalError(`--prometheus must be an http(s) URL, got "${out.prometheus}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new LocalError(`--prometheus must be an http(s) URL, got "${out.prometheus}"`);
    out.prometheus = out.prometheus.replace(/\/+$/, "");
  } else {
    const s = localSettings(env);
    const found = runningPrometheusUrl(servicesSettings(env).stateDir, s.ingestPort);
    if (!found) throw new LocalError(`no local Prometheus runs for the pipeline on INGEST_PORT ${s.ingestPort} (start it with npm run local), or pass --prometheus <url>`);
    out.prometheus = found;
  }
  return out;
}

/** The PromQL of each figure, for a rate window w. */
export function statusQueries(w) {
  const q = (metric, selector = "") => `sum by (le) (rate(${metric}_bucket${selector}[${w}]))`;
  const events = '{route="/v1/events",method="POST"}';
  return {
    accepted: `sum(rate(ingest_events_produced_total[${w}]))`,
    rejected: `sum by (reason) (rate(ingest_events_rejected_total{reason!="overloaded"}[${w}]))`,
    shed: `sum(rate(ingest_events_rejected_total{reason="overloaded"}[${w}]))`,
    unavailable: `sum(rate(ingest_produce_errors_total[${w}]))`,
    ingestP50: `histogram_quantile(0.5, ${q("ingest_http_request_duration_seconds", events)})`,
    ingestP99: `histogram_quantile(0.99, ${q("ingest_http_request_duration_seconds", events)})`,
    lag: "max by (topic, partition) (processor_consumer_lag)",
    processed: `sum by (outcome) (rate(processor_events_total[${w}]))`,
    deadLetters: "sum by (reason) (increase(processor_dead_letters_total[1h]))",
    paused: "sum(processor_consumption_paused)",
    e2eP50: `histogram_quantile(0.5, ${q("processor_event_latency_seconds")})`,
    e2eP99: `histogram_quantile(0.99, ${q("processor_event_latency_seconds")})`,
    targets: "up",
  };
}

async function api(base, path, params, timeoutMs) {
  const url = `${base}${path}${params ? `?${new URLSearchParams(params)}` : ""}`;
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new LocalError(`cannot reach Prometheus at ${base} (GET ${path}: ${err.cause?.code ?? err.message})`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new LocalError(`Prometheus at ${base} answered GET ${path} with ${res.status} and no JSON: ${text.slice(0, 200)}`);
  }
  if (body.status !== "success") throw new LocalError(`Prometheus at ${base} answered GET ${path} with ${res.status}: ${body.errorType ?? ""} ${body.error ?? text.slice(0, 200)}`.trim());
  return body.data;
}

/** Asks Prometheus for every figure and the alerts; resolves to { results: {name: [{metric, value}]}, alerts }. */
export async function collectStatus(base, window = STATUS_DEFAULTS.window, timeoutMs = STATUS_DEFAULTS.timeoutMs) {
  const queries = statusQueries(window);
  const entries = await Promise.all(
    Object.entries(queries).map(async ([name, query]) => {
      const data = await api(base, "/api/v1/query", { query }, timeoutMs);
      return [name, data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }))];
    }),
  );
  const alerts = (await api(base, "/api/v1/alerts", undefined, timeoutMs)).alerts;
  return { results: Object.fromEntries(entries), alerts };
}

const num = (v, digits = 1) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits)) : "n/a");
const seconds = (v) => (Number.isFinite(v) ? (v < 1 ? `${(v * 1000).toFixed(1)} ms` : `${v.toFixed(2)} s`) : "n/a (no traffic)");

/** The report as lines of text. */
export function formatStatus({ results, alerts }, { prometheus, window }) {
  const one = (name) => results[name]?.[0]?.value ?? 0;
  const lines = [`eventstack status from ${prometheus} (rates over ${window})`, ""];
  lines.push("ingest");
  lines.push(`  accepted      ${num(one("accepted"))} events/s`);
  const rejected = results.rejected.filter((r) => r.value > 0).map((r) => `${r.metric.reason} ${num(r.value, 2)}`);
  lines.push(`  rejected      ${rejected.length ? `${rejected.join(", ")} requests/s` : "none"}`);
  lines.push(`  shed (429)    ${num(one("shed"), 2)} requests/s`);
  lines.push(`  503           ${num(one("unavailable"), 2)} events/s (Kafka did not acknowledge)`);
  lines.push(`  latency       p50 ${seconds(results.ingestP50[0]?.value)}, p99 ${seconds(results.ingestP99[0]?.value)} (POST /v1/events)`);
  lines.push("");
  lines.push("processor");
  const lag = [...results.lag].sort((a, b) => a.metric.topic.localeCompare(b.metric.topic) || Number(a.metric.partition) - Number(b.metric.partition));
  const totalLag = lag.reduce((n, r) => n + r.value, 0);
  lines.push(`  consumer lag  ${lag.length ? `${totalLag} records in all` : "no partition assigned"}`);
  for (const r of lag) lines.push(`    ${r.metric.topic} partition ${r.metric.partition}: ${r.value}`);
  const outcomes = Object.fromEntries(results.processed.map((r) => [r.metric.outcome, r.value]));
  lines.push(`  processed     ${["stored", "duplicate", "dead_lettered"].map((o) => `${o} ${num(outcomes[o] ?? 0)}`).join(", ")} records/s`);
  const dead = results.deadLetters.filter((r) => r.value > 0).map((r) => `${r.metric.reason} ${num(r.value, 0)}`);
  lines.push(`  dead letters  ${dead.length ? dead.join(", ") : "none"} in the last hour`);
  lines.push(`  paused        ${one("paused")} processor(s)`);
  lines.push(`  end to end    p50 ${seconds(results.e2eP50[0]?.value)}, p99 ${seconds(results.e2eP99[0]?.value)} (Kafka record to PostgreSQL commit)`);
  lines.push("");
  const targets = [...results.targets].sort((a, b) => `${a.metric.job}${a.metric.instance}`.localeCompare(`${b.metric.job}${b.metric.instance}`));
  lines.push(`targets       ${targets.map((t) => `${t.metric.job} ${t.metric.instance} ${t.value === 1 ? "up" : "DOWN"}`).join(", ") || "none"}`);
  const active = alerts.filter((a) => a.state === "firing" || a.state === "pending");
  lines.push(`alerts        ${active.length ? `${active.length} pending or firing` : "none pending or firing"}`);
  for (const a of active) lines.push(`  ${a.state.toUpperCase().padEnd(8)} ${a.labels.alertname} (${a.labels.severity ?? "no severity"}): ${a.annotations.summary ?? ""}`);
  return lines;
}

async function main() {
  try {
    const args = statusArgs(process.argv.slice(2));
    const status = await collectStatus(args.prometheus, args.window);
    process.stdout.write(`${formatStatus(status, args).join("\n")}\n`);
  } catch (err) {
    process.stderr.write(`[status] ${err instanceof LocalError ? err.message : err.stack}\n`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
