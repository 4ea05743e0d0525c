// The observability files the stack deploys (observability/rules to Amazon Managed Service for Prometheus,
// observability/dashboards to Grafana), checked with Prometheus' own promtool: every rule file is valid, every alert
// fires on its condition and stays silent on a healthy series in a promtool unit test, every alert carries what the
// on-call needs, every dashboard query parses, and docs/observability.md lists the alerts as the rule files define
// them. The queries over the services' metrics run against the real services in test/e2e/observability.test.mjs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { DATASOURCE_UID, concreteQuery, dashboardQueries, dashboards } from "../observability/dashboards";
import {
  ALERT_TABLE_BEGIN,
  ALERT_TABLE_END,
  PLATFORM_RULE_FILES,
  PROMTOOL_MISSING,
  ROOT,
  RULES_DIR,
  RULE_TESTS_DIR,
  alertTable,
  loadRules,
  promtool,
  ruleFiles,
  ruleTestFiles,
} from "./observability";

interface AlertTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
interface RuleTestFile {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: AlertTest[]; promql_expr_test?: { expr: string }[] }[];
}
const testFile = (f: string) => YAML.parse(readFileSync(path.join(RULE_TESTS_DIR, f), "utf8")) as RuleTestFile;

describe("rule files", () => {
  test("without promtool the checks fail, saying what to install", () => {
    expect(() => promtool(["--version"], ROOT, { PATH: "/nonexistent" })).toThrow(PROMTOOL_MISSING);
    expect(PROMTOOL_MISSING).toContain("apt-get install -y prometheus");
  });

  test("there are rule files and promtool unit test files", () => {
    expect(ruleFiles()).toEqual(["ingest-slo.rules.yaml", "pipeline.rules.yaml", "platform.rules.yaml"]);
    expect(ruleTestFiles()).toEqual(["dashboards.test.yaml", "ingest-slo-slow.test.yaml", "ingest-slo.test.yaml", "pipeline.test.yaml", "platform.test.yaml"]);
  });

  test.each(ruleFiles())("promtool check rules %s", (file) => {
    const r = promtool(["check", "rules", path.join(RULES_DIR, file)]);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  test.each(ruleTestFiles())("promtool test rules %s", (file) => {
    const r = promtool(["test", "rules", file], RULE_TESTS_DIR);
    expect(r.output).toContain("SUCCESS");
    expect(r.output).not.toContain("FAILED");
    expect(r.status).toBe(0);
  });

  test("every rule file is loaded by a promtool unit test file", () => {
    const loaded = new Set(ruleTestFiles().flatMap((f) => testFile(f).rule_files.map((r) => path.basename(r))));
    expect(ruleFiles().filter((f) => !loaded.has(f))).toEqual([]);
  });
});

describe("alerts", () => {
  const alerts = loadRules().filter((r) => r.alert);

  test("the alerts, each defined once", () => {
    expect(alerts.map((a) => a.alert)).toEqual([
      "IngestAvailabilityBudgetBurnFast",
      "IngestAvailabilityBudgetBurnSlow",
      "IngestLatencyBudgetBurnFast",
      "IngestLatencyBudgetBurnSlow",
      "ProcessorLagGrowing",
      "ProcessorDeadLetters",
      "ProcessorPaused",
      "IngestProducerResets",
      "IngestProduceErrors",
      "KubernetesAutoscalerAtMaxReplicas",
      "KarpenterNodePoolNearLimit",
      "KarpenterNodePoolAtLimit",
      "KafkaUnderReplicatedPartitions",
      "KafkaOfflinePartitions",
    ]);
  });

  test.each(alerts.map((a) => [a.alert!, a] as const))("%s: severity page or ticket; summary, description and a runbook of several sentences", (_name, a) => {
    expect(["page", "ticket"]).toContain(a.labels?.severity);
    const { summary = "", description = "", runbook = "", ...other } = a.annotations ?? {};
    expect(Object.keys(other)).toEqual([]);
    expect(summary.length).toBeGreaterThan(20);
    expect(description.length).toBeGreaterThan(20);
    // What it means, what to check first, how to mitigate: at least three sentences.
    expect(runbook.split(/[.!?](?:\s|$)/).filter((s) => s.trim().length > 0).length).toBeGreaterThanOrEqual(3);
  });

  test("every alert is tested firing on its condition and silent on a healthy case", () => {
    const cases = ruleTestFiles().flatMap((f) => testFile(f).tests.flatMap((t) => t.alert_rule_test ?? []));
    const untested = alerts.flatMap((a) => {
      const mine = cases.filter((c) => c.alertname === a.alert);
      const fires = mine.some((c) => (c.exp_alerts ?? []).length > 0);
      const silent = mine.some((c) => (c.exp_alerts ?? []).length === 0);
      return fires && silent ? [] : [`${a.alert}: ${fires ? "" : "never fires"}${!fires && !silent ? ", " : ""}${silent ? "" : "never silent"}`];
    });
    expect(untested).toEqual([]);
    // And no test names an alert that does not exist (a renamed alert would leave its test checking nothing).
    const names = new Set(alerts.map((a) => a.alert));
    expect([...new Set(cases.map((c) => c.alertname))].filter((n) => !names.has(n))).toEqual([]);
  });

  test("the rules of the services' files read the services' metrics only, the platform file none of them", () => {
    // Names followed by a selector or a range; recorded series (with colons) are checked where they are recorded.
    const metricNames = (expr: string) => [...expr.matchAll(/(?<![\w:])([a-zA-Z_:][\w:]*)(?=\s*[{[])/g)].map((m) => m[1]!).filter((n) => !n.includes(":"));
    for (const r of loadRules()) {
      const names = metricNames(r.expr.replace(/"[^"]*"/g, '""'));
      const platform = PLATFORM_RULE_FILES.includes(r.file);
      for (const n of names) expect({ rule: r.alert ?? r.record, metric: n, service: /^(ingest|processor)_/.test(n) }).toEqual({ rule: r.alert ?? r.record, metric: n, service: !platform });
    }
  });

  test("docs/observability.md lists every alert as the rule files define it (npm run docs:observability regenerates it)", () => {
    const file = path.join(ROOT, "docs", "observability.md");
    const doc = readFileSync(file, "utf8");
    const start = doc.indexOf(ALERT_TABLE_BEGIN);
    const end = doc.indexOf(ALERT_TABLE_END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const generated = `${ALERT_TABLE_BEGIN}\n\n${alertTable()}\n\n`;
    const current = doc.slice(start, end);
    if (process.env.UPDATE_DOCS === "1" && current !== generated) writeFileSync(file, doc.slice(0, start) + generated + doc.slice(end));
    else expect(current).toBe(generated);
  });
});

describe("dashboards", () => {
  const boards = dashboards();

  test("three dashboards with stable uids the stack names its ConfigMaps after", () => {
    expect(boards.map((b) => [b.uid, b.title])).toEqual([
      ["eventstack-pipeline", "eventstack pipeline"],
      ["eventstack-platform", "eventstack platform"],
      ["eventstack-data-services", "eventstack data services"],
    ]);
    for (const b of boards) {
      expect(b.uid).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(b.json).toMatchObject({ uid: b.uid, title: b.title });
    }
  });

  test("every panel reads the datasource variable, whose default is the datasource of uid prometheus", () => {
    expect(DATASOURCE_UID).toBe("prometheus");
    for (const b of boards) {
      const vars = (b.json.templating as { list: { name: string; type: string; query: string; current: { value: string } }[] }).list;
      expect(vars.find((v) => v.name === "datasource")).toMatchObject({ type: "datasource", query: "prometheus", current: { value: "prometheus" } });
      const panels = (b.json.panels as { type: string; title: string; datasource?: unknown; targets?: { datasource: unknown }[] }[]).filter((p) => p.type !== "row");
      expect(panels.length).toBeGreaterThanOrEqual(3);
      for (const p of panels) {
        expect({ panel: p.title, datasource: p.datasource }).toEqual({ panel: p.title, datasource: { type: "prometheus", uid: "${datasource}" } });
        for (const t of p.targets ?? []) expect(t.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      }
    }
  });

  test("dashboardQueries() lists exactly the queries of the dashboards' JSON, panel by panel", () => {
    const fromJson = boards.flatMap((b) =>
      (b.json.panels as { type: string; title: string; targets?: { expr: string }[] }[]).filter((p) => p.type !== "row").flatMap((p) => (p.targets ?? []).map((t) => `${b.title} / ${p.title}: ${t.expr}`)),
    );
    expect(dashboardQueries().map((q) => `${q.dashboard} / ${q.panel}: ${q.expr}`)).toEqual(fromJson);
    expect(new Set(dashboardQueries().map((q) => q.source))).toEqual(new Set(["services", "kube-state-metrics", "karpenter", "msk-jmx", "cloudwatch"]));
  });

  test("every panel query parses (promtool check rules over the queries as recording rules)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "eventstack-queries-"));
    try {
      const rules = dashboardQueries().map((q, i) => ({ record: `dashboard:query:${i}`, expr: concreteQuery(q.expr) }));
      writeFileSync(path.join(dir, "queries.rules.yaml"), YAML.stringify({ groups: [{ name: "dashboard-queries", rules }] }));
      const r = promtool(["check", "rules", path.join(dir, "queries.rules.yaml")]);
      expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("every panel query over platform metrics is in the promtool unit test over those sources' series", () => {
    const tested = new Set(testFile("dashboards.test.yaml").tests.flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr)));
    const platform = dashboardQueries().filter((q) => q.source !== "services");
    expect(platform.length).toBeGreaterThanOrEqual(15);
    expect(platform.map((q) => `count(${concreteQuery(q.expr)}) > bool 0`).filter((e) => !tested.has(e))).toEqual([]);
  });
});
