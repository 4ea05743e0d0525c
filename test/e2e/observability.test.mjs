// The observability files against reality: the built services as processes (scripts/local.mjs's startPipeline) with
// the local Prometheus scraping them and loading observability/rules, a demo load (scripts/demo.mjs), then
//   - every dashboard panel query over the services' metrics returns series,
//   - every rule over the services' metrics evaluates, every metric it selects exists with the labels it matches on,
//     and every recorded series exists,
//   - `npm run status` reports the run, and the dashboard picture script draws every pipeline panel.
// A renamed metric or label fails here. Queries over metrics this machine cannot have (kube-state-metrics, Karpenter,
// MSK, CloudWatch) are the promtool unit tests' (test/observability-rules.test.ts). Without a Prometheus binary
// this test fails, naming the package to install.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import YAML from "yaml";
import { runDemo, demoSettings } from "../../scripts/demo.mjs";
import { root, startPipeline } from "../../scripts/local.mjs";
import { settings, up } from "../../scripts/services.mjs";
import { freePort, isolated, waitFor } from "./helpers.mjs";

/** The dashboards' queries, from the TypeScript module (loaded the way `npm run verify:upstream` loads TypeScript). */
function dashboardQueries() {
  const code = 'const d = require("./observability/dashboards"); console.log(JSON.stringify(d.dashboardQueries().map((q) => ({ ...q, concrete: d.concreteQuery(q.expr, "1m") }))));';
  return JSON.parse(execFileSync(process.execPath, ["-r", "./scripts/ts-register.cjs", "-e", code], { cwd: root, encoding: "utf8" }));
}

/** The rules of the rule files over the services' metrics (platform.rules.yaml reads the platform's). */
function serviceRules() {
  const dir = path.join(root, "observability", "rules");
  return ["ingest-slo.rules.yaml", "pipeline.rules.yaml"].flatMap((file) => YAML.parse(readFileSync(path.join(dir, file), "utf8")).groups.flatMap((g) => g.rules.map((r) => ({ ...r, file }))));
}

/**
 * The selectors of an expression over the services' metrics and the recorded series: `name{matchers}` as a query
 * that must return series. Equality matchers stay (a route, a bucket boundary, a reason must exist); regex matchers
 * go, since a healthy run has no 5xx to match.
 */
export function selectors(expr) {
  const found = new Set();
  for (const m of expr.matchAll(/(?<![\w:"])((?:ingest|processor)_\w+|[a-z_]+:[\w:]+)(\{[^}]*\})?/g)) {
    const kept = (m[2] ?? "{}").slice(1, -1).split(",").map((s) => s.trim()).filter((s) => s !== "" && !/^\w+\s*(=~|!~)/.test(s));
    found.add(`${m[1]}{${kept.join(",")}}`);
  }
  return [...found];
}

describe("dashboards and alert rules against the real services and a real Prometheus", () => {
  let t;
  let pipeline;
  let prometheus;
  const query = async (q) => {
    const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query: q })}`);
    const body = await res.json();
    assert.equal(body.status, "success", `${q}: ${body.error}`);
    return body.data.result;
  };

  before(async () => {
    await up();
    t = await isolated("obs", { PROMETHEUS_PORT: String(await freePort()) });
    pipeline = await startPipeline({ env: t.env, prometheus: true });
    assert.ok(pipeline.prometheus?.url, `no local Prometheus: ${pipeline.prometheus?.missing}`);
    prometheus = pipeline.prometheus.url;
    const ingest = pipeline.urls.ingest;
    // A first valid and invalid request before the first scrape: Prometheus needs two samples of a series to see it
    // grow, and the demo's traffic should show as rates, not as the series' first values.
    const post = (body) => fetch(`${ingest}/v1/events`, { method: "POST", headers: { "content-type": "application/cloudevents+json" }, body });
    await post(JSON.stringify({ specversion: "1.0", id: `warm-${t.id}`, source: "/e2e/obs", type: "com.example.e2e.warmup", time: "2025-06-01T12:00:00Z" }));
    await post("{");
    await waitFor("Prometheus to scrape ingest's first requests", async () => (await query('ingest_http_requests_total{route="/v1/events",status="400"}')).length > 0, 30_000);
    const ok = await runDemo(demoSettings(t.env), () => {});
    assert.ok(ok, "npm run demo's counts were not as expected");
    // Two scrapes and an evaluation of every rule group after the demo's last request. Each group runs on its own
    // schedule, so one group's recorded series says nothing of another's: wait for every recorded series. Past the
    // deadline the tests below name what is missing.
    const records = [...new Set(serviceRules().filter((r) => r.record).map((r) => r.record))];
    await waitFor("every recording rule over the demo's traffic", async () => {
      for (const r of records) if ((await query(r)).length === 0) return false;
      return true;
    }, 30_000).catch(() => {});
  });

  after(async () => {
    await pipeline?.stop();
    await t?.cleanup({ kafkaBootstrap: `${settings().kafkaHost}:${settings().kafkaPort}` });
  });

  test("every dashboard panel query over the services' metrics returns series", async () => {
    const queries = dashboardQueries().filter((q) => q.source === "services");
    assert.ok(queries.length >= 20, `only ${queries.length} service queries`);
    const empty = [];
    for (const q of queries) if ((await query(q.concrete)).length === 0) empty.push(`${q.dashboard} / ${q.panel}: ${q.concrete}`);
    assert.deepEqual(empty, []);
  });

  test("every rule over the services' metrics evaluates, and every series it selects or records exists", async () => {
    const rules = serviceRules();
    assert.deepEqual([...new Set(rules.filter((r) => r.alert).map((r) => r.alert))].length, 9);
    const missing = [];
    for (const r of rules) {
      await query(r.expr);
      for (const s of selectors(r.expr)) if ((await query(`count(${s})`)).length === 0) missing.push(`${r.alert ?? r.record}: ${s}`);
      if (r.record && (await query(r.record)).length === 0) missing.push(`${r.record}: not recorded`);
    }
    assert.deepEqual(missing, []);
  });

  test("the check catches a renamed metric or label value: its selector finds no series", async () => {
    const expr = 'sum(rate(ingest_http_requests_total{route="/v1/events",method="POST",status=~"5.."}[5m])) / ingest:events_produced:rate5m';
    assert.deepEqual(selectors(expr), ['ingest_http_requests_total{route="/v1/events",method="POST"}', "ingest:events_produced:rate5m{}"]);
    assert.equal((await query('count(ingest_http_requests_total{route="/v1/events",method="POST"})')).length, 1);
    assert.equal((await query('count(ingest_http_request_total{route="/v1/events",method="POST"})')).length, 0);
    assert.equal((await query('count(ingest_http_requests_total{route="/v1/event",method="POST"})')).length, 0);
  });

  test("Prometheus loaded every rule file and scrapes both services", async () => {
    const rules = await (await fetch(`${prometheus}/api/v1/rules`)).json();
    const files = [...new Set(rules.data.groups.map((g) => path.basename(g.file)))].sort();
    assert.deepEqual(files, ["ingest-slo.rules.yaml", "pipeline.rules.yaml", "platform.rules.yaml"]);
    const up = (await query("up")).map((r) => `${r.metric.job} ${r.value[1]}`).sort();
    assert.deepEqual(up, ["ingest 1", "processor 1"]);
  });

  test("npm run status reports the run from the local Prometheus, or from --prometheus", () => {
    const status = (...args) => spawnSync(process.execPath, ["scripts/status.mjs", ...args], { cwd: root, env: t.env, encoding: "utf8" });
    for (const r of [status(), status("--prometheus", `${prometheus}/`, "--window", "5m")]) {
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.split("\n");
      assert.match(lines[0], new RegExp(`^eventstack status from ${prometheus} \\(rates over (1m|5m)\\)$`));
      assert.match(r.stdout, /^ {2}accepted {6}\d+(\.\d)? events\/s$/m);
      assert.match(r.stdout, /^ {2}rejected {6}invalid \d+\.\d\d requests\/s$/m);
      assert.match(r.stdout, /^ {2}latency {7}p50 [\d.]+ m?s, p99 [\d.]+ m?s \(POST \/v1\/events\)$/m);
      assert.ok(lines.includes("  consumer lag  0 records in all"), r.stdout);
      for (const p of [0, 1, 2]) assert.ok(lines.includes(`    ${t.env.EVENTS_TOPIC} partition ${p}: 0`), r.stdout);
      assert.ok(lines.includes("  dead letters  none in the last hour"), r.stdout);
      assert.ok(lines.includes("  paused        0 processor(s)"), r.stdout);
      assert.ok(lines.includes(`targets       ingest 127.0.0.1:${t.env.INGEST_PORT} up, processor 127.0.0.1:${t.env.PROCESSOR_PORT} up`), r.stdout);
    }
    const unreachable = status("--prometheus", "http://127.0.0.1:1");
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, /^\[status\] cannot reach Prometheus at http:\/\/127\.0\.0\.1:1 \(GET \/api\/v1\/query: /);
    const noLocal = spawnSync(process.execPath, ["scripts/status.mjs"], { cwd: root, env: { ...t.env, INGEST_PORT: "1" }, encoding: "utf8" });
    assert.equal(noLocal.status, 1);
    assert.equal(noLocal.stderr, "[status] no local Prometheus runs for the pipeline on INGEST_PORT 1 (start it with npm run local), or pass --prometheus <url>\n");
  });

  test("the dashboard picture script draws every pipeline panel from the run's query_range results", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "eventstack-picture-"));
    try {
      const out = path.join(dir, "pipeline.svg");
      const r = spawnSync(process.execPath, ["scripts/dashboard-picture.mjs", "--prometheus", prometheus, "--minutes", "3", "--out", out], { cwd: root, env: t.env, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const svg = readFileSync(out, "utf8");
      assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      const titles = [...new Set(dashboardQueries().filter((q) => q.dashboard === "eventstack pipeline").map((q) => q.panel))];
      for (const title of titles) assert.ok(svg.includes(`>${title}</text>`), `no panel "${title}"`);
      assert.ok((svg.match(/<polyline /g) ?? []).length >= titles.length, "fewer lines than panels");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
