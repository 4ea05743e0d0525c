// renovate.json proposes an update for every pin: each pin in components/versions.ts is matched by one of its
// custom managers (their regexes run here over the file, as Renovate runs them), npm dependencies are exact
// versions, and the Dockerfiles' base images are where the dockerfile manager reads them.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { VERSIONS } from "../components/versions";
import { ROOT } from "./program";

interface CustomManager {
  customType: string;
  managerFilePatterns: string[];
  matchStrings: string[];
  depNameTemplate?: string;
  datasourceTemplate: string;
}
const renovate = JSON.parse(readFileSync(path.join(ROOT, "renovate.json"), "utf8")) as {
  enabledManagers: string[];
  rangeStrategy: string;
  customManagers: CustomManager[];
};

/** A managerFilePatterns entry (`/regex/`) as a RegExp. */
const filePattern = (p: string) => new RegExp(p.replace(/^\/(.*)\/$/, "$1"));

interface Match {
  datasource: string;
  depName?: string;
  packageName?: string;
  currentValue: string;
}

/** What Renovate's regex managers extract from a file of the repository. */
function extract(file: string): Match[] {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  return renovate.customManagers
    .filter((m) => m.customType === "regex" && m.managerFilePatterns.some((p) => filePattern(p).test(file)))
    .flatMap((m) =>
      m.matchStrings.flatMap((s) =>
        [...text.matchAll(new RegExp(s, "g"))].map((hit) => ({
          datasource: m.datasourceTemplate,
          depName: m.depNameTemplate ?? hit.groups?.depName,
          packageName: hit.groups?.packageName,
          currentValue: hit.groups!.currentValue!,
        })),
      ),
    );
}

describe("renovate.json", () => {
  const found = extract("components/versions.ts");
  const has = (datasource: string, depName: string | undefined, currentValue: string, packageName?: string) =>
    expect(found).toContainEqual(expect.objectContaining({ datasource, currentValue, ...(depName ? { depName } : {}), ...(packageName ? { packageName } : {}) }));

  test("every EKS add-on pin, per Kubernetes version, is matched with its add-on and Kubernetes version", () => {
    for (const [k8s, addons] of Object.entries(VERSIONS.eksAddons)) {
      for (const [addon, version] of Object.entries(addons)) {
        has("aws-eks-addon", addon, version, JSON.stringify({ kubernetesVersion: k8s, addonName: addon }));
      }
    }
  });

  test("every chart pin is matched: classic repositories through the helm datasource, OCI charts as images", () => {
    for (const c of Object.values(VERSIONS.charts)) {
      if ("repo" in c) has("helm", c.chart, c.version);
      else has("docker", c.chart.split("/").pop(), c.version, c.chart.replace(/^oci:\/\//, ""));
    }
    has("github-releases", "kubernetes-sigs/aws-load-balancer-controller", VERSIONS.charts.awsLoadBalancerController.appVersion);
  });

  test("the Karpenter AMI release is matched against awslabs/amazon-eks-ami releases", () => {
    has("github-releases", "awslabs/amazon-eks-ami", VERSIONS.karpenterAmiAlias.replace(/^al2023@/, ""));
  });

  test("nothing else in the table is matched, so each match is one pin", () => {
    const pins =
      Object.values(VERSIONS.eksAddons).flatMap((a) => Object.values(a)).length + Object.keys(VERSIONS.charts).length + 1 /* LBC appVersion */ + 1; /* AMI */
    expect(found).toHaveLength(pins);
  });

  test("npm, GitHub Actions and Dockerfiles are managed too, npm dependencies as exact versions", () => {
    expect(renovate.enabledManagers).toEqual(expect.arrayContaining(["npm", "github-actions", "dockerfile", "custom.regex"]));
    expect(renovate.rangeStrategy).toBe("pin");
    for (const file of ["package.json", "apps/ingest/package.json", "apps/processor/package.json", "policy/package.json"]) {
      const pkg = JSON.parse(readFileSync(path.join(ROOT, file), "utf8")) as Record<string, Record<string, string> | undefined>;
      const ranges = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(([, v]) => !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(v) && !v.startsWith("file:"));
      expect([file, ranges]).toEqual([file, []]);
    }
  });

  test("every Dockerfile base image is a tagged image pinned by digest that the dockerfile manager resolves (FROM, or an ARG default FROM uses), and digests are kept pinned", () => {
    for (const app of readdirSync(path.join(ROOT, "apps"))) {
      const text = readFileSync(path.join(ROOT, "apps", app, "Dockerfile"), "utf8");
      const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
      const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!.replace(/^\$\{(\w+)\}$/, (_, v: string) => args[v] ?? `unresolved ${v}`));
      expect(froms.length).toBeGreaterThan(0);
      for (const image of froms) expect([app, image]).toEqual([app, expect.stringMatching(/^[a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/)]);
    }
    const rules = (renovate as unknown as { packageRules: { matchManagers?: string[]; pinDigests?: boolean }[] }).packageRules;
    for (const manager of ["dockerfile", "github-actions"]) expect(rules).toContainEqual(expect.objectContaining({ matchManagers: [manager], pinDigests: true }));
  });
});
