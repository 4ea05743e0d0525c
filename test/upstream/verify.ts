// `verify:upstream`: the program's pins and values checked against the upstream sources they name, as a first
// `pulumi up` would meet them. For each stack:
//   - chart:   each pinned chart exists at its version and renders (`helm template`) with the program's values;
//   - values:  every values key the program sets is one the chart knows (values.yaml or a template reads it);
//   - schema:  every rendered object with a published schema is valid against it (test/k8s-schema.ts, the check the
//              tests run on the program's own objects); kinds without one are named, not passed silently;
//   - crds:    no CRD is rendered by two owners (a release and another release, or a manifest the program applies);
//   - ami:     the Karpenter AMI alias resolves (its SSM parameter), for every architecture the NodePools allow;
//   - addon:   each EKS add-on version is offered for the cluster's Kubernetes version.
import { parseAllDocuments } from "yaml";
import { checkAddonVersions, checkAmiAliases, type AwsRunner } from "./aws-facts";
import { chartDirectory, unknownValueKeys, type ChartSource } from "./charts";
import { validateK8sObjects } from "../k8s-schema";
import { crdNames, renderChart, type RenderedObject } from "./helm";
import type { ProgramFacts } from "./program-facts";

export type CheckName = "chart" | "values" | "schema" | "crds" | "ami" | "addon";

/** The error test/k8s-schema-check.mjs gives an object whose apiVersion and kind it has no schema for. */
const NO_SCHEMA = /^no schema for apiVersion /;

/** The schema finding of one release's rendered objects: fails on an invalid object, names the kinds it could not check. */
export function schemaFinding(objects: RenderedObject[]): { ok: boolean; detail: string } {
  const results = validateK8sObjects(objects);
  const invalid = results.filter((r) => r.error !== null && !NO_SCHEMA.test(r.error));
  const unchecked = [...new Set(results.filter((r) => r.error !== null && NO_SCHEMA.test(r.error)).map((r) => r.kind))].sort();
  if (invalid.length > 0) return { ok: false, detail: invalid.map((r) => `${r.kind} ${r.name}: ${r.error}`).join("; ") };
  const checked = results.length - results.filter((r) => r.error !== null).length;
  return { ok: true, detail: `${checked} objects valid against their schemas${unchecked.length > 0 ? `; no schema for ${unchecked.join(", ")}` : ""}` };
}

export interface Finding {
  stack: string;
  check: CheckName;
  subject: string;
  status: "ok" | "fail" | "skipped";
  detail: string;
}

export interface VerifyDeps {
  helm: string;
  charts: ChartSource;
  /** The text of a manifest the program applies (a URL or path as the program passes it). */
  readManifest: (file: string) => Promise<string>;
  /** AWS CLI runner and region; without it the AWS checks are reported as skipped. */
  aws?: { run: AwsRunner; region: string };
}

export async function verifyStack(facts: ProgramFacts, deps: VerifyDeps): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (check: CheckName, subject: string, ok: boolean | "skipped", detail: string) =>
    findings.push({ stack: facts.stack, check, subject, status: ok === "skipped" ? ok : ok ? "ok" : "fail", detail });

  /** CRD name → its owners in this stack (a release's resource name, or a manifest file's). */
  const owners = new Map<string, string[]>();
  const own = (crd: string, owner: string) => owners.set(crd, [...(owners.get(crd) ?? []), owner]);

  for (const release of facts.releases) {
    const subject = `${release.resource} (${release.chart} ${release.version})`;
    let dir: string;
    try {
      dir = chartDirectory(deps.helm, release, deps.charts);
    } catch (err) {
      add("chart", subject, false, (err as Error).message);
      continue;
    }
    let objects: RenderedObject[];
    try {
      objects = renderChart(deps.helm, { release: release.release, namespace: release.namespace, chartDir: dir, values: release.values, kubernetesVersion: facts.kubernetesVersion, skipCrds: release.skipCrds });
      add("chart", subject, true, `renders ${objects.length} objects for Kubernetes ${facts.kubernetesVersion}`);
    } catch (err) {
      add("chart", subject, false, `does not render with the program's values: ${(err as Error).message}`);
      continue;
    }
    const schema = schemaFinding(objects);
    add("schema", subject, schema.ok, schema.detail);
    const unknown = unknownValueKeys(dir, release.values);
    add("values", subject, unknown.length === 0, unknown.length === 0 ? "every key is known to the chart" : `keys the chart neither declares nor reads: ${unknown.join(", ")}`);
    for (const crd of crdNames(objects)) own(crd, `release ${release.resource}`);
  }

  for (const m of facts.manifestFiles) {
    let text: string;
    try {
      text = await deps.readManifest(m.file);
    } catch (err) {
      add("crds", m.resource, false, `cannot read ${m.file}: ${(err as Error).message}`);
      continue;
    }
    const objects = parseAllDocuments(text).map((d) => d.toJSON() as RenderedObject | null).filter((o): o is RenderedObject => o !== null);
    for (const crd of crdNames(objects)) own(crd, `manifest ${m.resource}`);
  }
  for (const crd of facts.directCrds) own(crd, "a CustomResourceDefinition resource");

  const conflicts = [...owners].filter(([, o]) => o.length > 1);
  for (const [crd, o] of conflicts) add("crds", crd, false, `owned twice: ${o.join(" and ")} (Helm refuses to adopt objects another owner created)`);
  if (conflicts.length === 0) add("crds", `${owners.size} CRDs`, true, "each has exactly one owner");

  if (!deps.aws) {
    add("ami", facts.amiAliases.join(", "), "skipped", "not checked: --skip-aws");
    add("addon", Object.keys(facts.addons).join(", "), "skipped", "not checked: --skip-aws");
  } else {
    for (const c of checkAmiAliases(deps.aws.run, deps.aws.region, facts.kubernetesVersion, facts.amiAliases, facts.amiArchitectures)) add("ami", c.subject, c.ok, c.detail);
    for (const c of checkAddonVersions(deps.aws.run, deps.aws.region, facts.kubernetesVersion, facts.addons)) add("addon", c.subject, c.ok, c.detail);
  }
  return findings;
}

/** The report printed by the command: one line per finding, failures marked. */
export function formatFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.status.toUpperCase().padEnd(7)} ${f.stack.padEnd(5)} ${f.check.padEnd(6)} ${f.subject}: ${f.detail}`).join("\n");
}
