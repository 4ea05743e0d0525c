// Where a pinned chart comes from, and whether the values the program passes are keys the chart knows.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import type { HelmRelease } from "./program-facts";

/**
 * Charts from their repositories (`helm pull`, needs the network), or from a local directory holding one folder
 * per chart named `<chart>-<version>` (the last path segment of an OCI chart URL is its name), as prepared from
 * the upstream sources at the pinned tags.
 */
export type ChartSource = { kind: "pull"; cacheDir: string } | { kind: "local"; dir: string };

/** The chart's short name: `oci://public.ecr.aws/karpenter/karpenter` → `karpenter`. */
export function chartName(chart: string): string {
  return chart.replace(/\/+$/, "").split("/").pop()!;
}

/** A directory holding the chart at the release's pinned version; throws if the version does not exist there. */
export function chartDirectory(helm: string, release: HelmRelease, source: ChartSource): string {
  const name = chartName(release.chart);
  const folder = `${name}-${release.version}`;
  if (source.kind === "local") {
    const dir = path.join(source.dir, folder);
    if (!existsSync(path.join(dir, "Chart.yaml"))) throw new Error(`no chart ${folder} in ${source.dir} (expected ${folder}/Chart.yaml)`);
    checkChartYaml(dir, name, release.version);
    return dir;
  }
  const target = path.join(source.cacheDir, folder);
  if (!existsSync(path.join(target, name, "Chart.yaml"))) {
    mkdirSync(target, { recursive: true });
    const args = ["pull", release.chart, "--version", release.version, "--untar", "--untardir", target];
    if (release.repo) args.push("--repo", release.repo);
    const out = spawnSync(helm, args, { encoding: "utf8" });
    if (out.status !== 0) throw new Error(`helm pull ${release.chart} ${release.version}: ${(out.stderr || out.stdout).trim()}`);
  }
  const dir = path.join(target, name);
  checkChartYaml(dir, name, release.version);
  return dir;
}

function checkChartYaml(dir: string, name: string, version: string) {
  const chart = parse(readFileSync(path.join(dir, "Chart.yaml"), "utf8")) as { name?: string; version?: string };
  if (chart.name !== name || String(chart.version) !== version) {
    throw new Error(`${dir}/Chart.yaml is ${chart.name} ${chart.version}, expected ${name} ${version}`);
  }
}

/** Every leaf path of a values object (arrays are leaves: charts take them whole). */
export function valuePaths(values: unknown, prefix: string[] = []): string[][] {
  if (values === null || typeof values !== "object" || Array.isArray(values) || Object.keys(values).length === 0) return [prefix];
  return Object.entries(values as Record<string, unknown>).flatMap(([k, v]) => valuePaths(v, [...prefix, k]));
}

/** All template text of a chart and its subcharts (templates/ and charts/<sub>/templates/, helpers included). */
function templateText(chartDir: string): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir)) {
      const p = path.join(dir, entry);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ya?ml|tpl|txt|json)$/.test(entry)) texts.push(readFileSync(p, "utf8"));
    }
  };
  walk(path.join(chartDir, "templates"));
  const subcharts = path.join(chartDir, "charts");
  if (existsSync(subcharts)) for (const sub of readdirSync(subcharts)) walk(path.join(subcharts, sub, "templates"));
  return texts.join("\n");
}

/** Whether a template ranges over `.Values.<path>` (dotted, or through `index .Values "a" "b"`), rendering each entry. */
function templatesIterate(text: string, keys: string[]): boolean {
  const dotted = new RegExp(`range\\s+[^}]*:=\\s*\\.Values\\.${keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\.")}\\s*}}`);
  const indexed = `:= index .Values ${keys.map((k) => JSON.stringify(k)).join(" ")} }}`;
  return dotted.test(text) || text.includes(indexed);
}

/** Whether a template reads `.Values.<path>` (dotted, or through `index .Values "a" "b"` for keys with dashes). */
function templatesRead(text: string, keys: string[]): boolean {
  const dotted = `.Values.${keys.join(".")}`;
  const at = text.indexOf(dotted);
  if (at >= 0 && !/[A-Za-z0-9_]/.test(text[at + dotted.length] ?? "")) return true;
  return text.includes(`index .Values ${keys.map((k) => JSON.stringify(k)).join(" ")}`);
}

/**
 * The value paths the program sets that the chart does not know: neither in its values.yaml (nor under a key
 * whose default is free-form: `{}`, `[]`, null or "", nor a map entry such as a label) nor read by a template as `.Values.<path up to the first
 * key values.yaml lacks>` (charts document some keys only as comments, e.g. Linkerd's `destinationResources`).
 * A key nobody reads is silently ignored by Helm, so the setting the program meant never takes effect.
 */
export function unknownValueKeys(chartDir: string, values: Record<string, unknown>): string[] {
  const defaults = (parse(readFileSync(path.join(chartDir, "values.yaml"), "utf8")) ?? {}) as Record<string, unknown>;
  const templates = templateText(chartDir);
  const unknown: string[] = [];
  for (const keys of valuePaths(values)) {
    if (keys.length === 0) continue;
    let node: unknown = defaults;
    let known = 0;
    while (known < keys.length && node !== null && typeof node === "object" && !Array.isArray(node) && keys[known]! in (node as object)) {
      node = (node as Record<string, unknown>)[keys[known]!];
      known += 1;
    }
    if (known === keys.length) continue;
    // A key with a dot or a slash cannot be a chart setting (templates could not name it): it is an entry of a map
    // the chart takes whole, such as a nodeSelector's label.
    const mapEntry = known > 0 && /[./]/.test(keys[known]!);
    const freeForm = mapEntry || (known > 0 && (node === null || node === "" || (typeof node === "object" && (Array.isArray(node) || Object.keys(node as object).length === 0))));
    if (freeForm) continue;
    if (templatesRead(templates, keys.slice(0, known + 1))) continue;
    // A map a template ranges over is rendered whole, every entry the program adds included (grafana's `grafana.ini`).
    if (keys.slice(0, known).some((_, i) => templatesIterate(templates, keys.slice(0, i + 1)))) continue;
    unknown.push(keys.join("."));
  }
  return unknown;
}
