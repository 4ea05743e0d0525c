// Shared by the observability tests: the rule files as data, promtool, and the alert table of docs/observability.md.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";

export const ROOT = path.join(__dirname, "..");
export const RULES_DIR = path.join(ROOT, "observability", "rules");
export const RULE_TESTS_DIR = path.join(RULES_DIR, "tests");

export interface Rule {
  file: string;
  group: string;
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export const ruleFiles = () => readdirSync(RULES_DIR).filter((f) => f.endsWith(".rules.yaml")).sort();
export const ruleTestFiles = () => readdirSync(RULE_TESTS_DIR).filter((f) => f.endsWith(".test.yaml")).sort();

/** Every rule of every rule file, in file order. */
export function loadRules(): Rule[] {
  return ruleFiles().flatMap((file) => {
    const doc = YAML.parse(readFileSync(path.join(RULES_DIR, file), "utf8")) as { groups: { name: string; rules: Omit<Rule, "file" | "group">[] }[] };
    return doc.groups.flatMap((g) => g.rules.map((r) => ({ ...r, file, group: g.name })));
  });
}

/** The rule files whose metrics come from the platform (kube-state-metrics, Karpenter, MSK), not the services. */
export const PLATFORM_RULE_FILES = ["platform.rules.yaml"];

export const PROMTOOL_MISSING =
  "promtool is not installed: the observability tests run Prometheus' own rule checker. Install Debian's prometheus package " +
  "(apt-get install -y prometheus, which ships promtool; .ci/run does this on a fresh machine) and run the tests again";

/** Runs promtool; a missing binary fails the calling test with what to install. */
export function promtool(args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync("promtool", args, { cwd, env, encoding: "utf8" });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") throw new Error(PROMTOOL_MISSING);
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const cell = (s: string) => s.replace(/\s+/g, " ").replace(/\|/g, "\\|").trim();

/** The markdown table of every alert in docs/observability.md, generated from the rule files. */
export function alertTable(rules = loadRules()): string {
  const rows = rules
    .filter((r) => r.alert)
    .map((r) => `| \`${r.alert}\` | ${r.labels?.severity} | ${r.for ?? "at once"} | \`${r.file}\` | ${cell(r.annotations?.summary ?? "")} | ${cell(r.annotations?.runbook ?? "")} |`);
  return ["| alert | severity | for | file | summary | runbook |", "| --- | --- | --- | --- | --- | --- |", ...rows].join("\n");
}

export const ALERT_TABLE_BEGIN = "<!-- alert table: generated from observability/rules by `npm run docs:observability` -->";
export const ALERT_TABLE_END = "<!-- end of alert table -->";
