// verify:upstream (test/upstream/) against local chart directories made here, a real Helm binary, and recorded
// AWS CLI answers (test/fixtures/upstream/aws-responses.json): each check finds the defect it exists for.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { al2023Parameter, checkAddonVersions, checkAmiAliases, type AwsAnswer, type AwsRunner } from "./upstream/aws-facts";
import { chartDirectory, unknownValueKeys, valuePaths } from "./upstream/charts";
import { helmBinary } from "./upstream/helm";
import { programFacts, type HelmRelease, type ProgramFacts } from "./upstream/program-facts";
import { schemaFinding, verifyStack, type Finding } from "./upstream/verify";
import { runProgram } from "./program";

const recorded = JSON.parse(readFileSync(path.join(__dirname, "fixtures", "upstream", "aws-responses.json"), "utf8")) as Record<string, AwsAnswer>;
const recordedAws: AwsRunner = (args) => recorded[args.join(" ")] ?? { ok: false, error: `no recorded answer for: aws ${args.join(" ")}` };

/** A chart shaped like the ones the program installs: CRDs in templates/ behind a value, keys documented only as comments. */
function writeChart(root: string, name: string, version: string) {
  const dir = path.join(root, `${name}-${version}`);
  mkdirSync(path.join(dir, "templates", "crds"), { recursive: true });
  writeFileSync(path.join(dir, "Chart.yaml"), `apiVersion: v2\nname: ${name}\nversion: ${version}\nappVersion: "${version}"\n`);
  writeFileSync(
    path.join(dir, "values.yaml"),
    ["crds:", "  install: true", "replicas: 1", "nodeSelector:", "  kubernetes.io/os: linux", "resources: {}", "# operatorResources -- resources of the operator", "#operatorResources:", ""].join("\n"),
  );
  writeFileSync(
    path.join(dir, "templates", "crds", "widgets.yaml"),
    [
      "{{- if .Values.crds.install }}",
      "apiVersion: apiextensions.k8s.io/v1",
      "kind: CustomResourceDefinition",
      "metadata:",
      "  name: widgets.example.com",
      "spec:",
      "  group: example.com",
      "  names: { kind: Widget, plural: widgets }",
      "  scope: Namespaced",
      "  versions: [{ name: v1, served: true, storage: true, schema: { openAPIV3Schema: { type: object } } }]",
      "{{- end }}",
      "",
    ].join("\n"),
  );
  writeFileSync(
    path.join(dir, "templates", "deployment.yaml"),
    [
      "{{- if eq (int .Values.replicas) 0 }}{{ fail \"replicas must be at least 1\" }}{{ end }}",
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata: { name: {{ .Release.Name }} }",
      "spec:",
      "  replicas: {{ .Values.replicas }}",
      "  selector: { matchLabels: { app: demo } }",
      "  template:",
      "    metadata: { labels: { app: demo } }",
      "    spec:",
      "      nodeSelector: {{ toJson .Values.nodeSelector }}",
      "      containers:",
      "        - name: operator",
      "          image: example/operator",
      "          resources: {{ toJson (.Values.operatorResources | default .Values.resources) }}",
      "",
    ].join("\n"),
  );
  return dir;
}

const WIDGET_CRDS = [
  "apiVersion: apiextensions.k8s.io/v1",
  "kind: CustomResourceDefinition",
  "metadata:",
  "  name: widgets.example.com",
  "spec: { group: example.com, names: { kind: Widget, plural: widgets }, scope: Namespaced, versions: [] }",
  "",
].join("\n");

function release(values: Record<string, unknown>, version = "1.0.0"): HelmRelease {
  return { resource: "demo-release", release: "demo", namespace: "demo", chart: "oci://registry.example.com/charts/demo", version, values, skipCrds: true };
}

function facts(r: HelmRelease, extra: Partial<ProgramFacts> = {}): ProgramFacts {
  return { stack: "dev", kubernetesVersion: "1.35", releases: [r], manifestFiles: [{ resource: "demo-crds", file: "https://example.com/v1.0.0/widgets-crds.yaml" }], directCrds: [], addons: {}, amiAliases: [], amiArchitectures: [], ...extra };
}

const failures = (findings: Finding[]) => findings.filter((f) => f.status === "fail").map((f) => `${f.check} ${f.subject}: ${f.detail}`);

describe("verify:upstream", () => {
  let charts: string;
  let helm: string;
  const deps = () => ({ helm, charts: { kind: "local" as const, dir: charts }, readManifest: async () => WIDGET_CRDS });

  beforeAll(() => {
    helm = helmBinary();
    charts = mkdtempSync(path.join(tmpdir(), "eventstack-charts-"));
    writeChart(charts, "demo", "1.0.0");
  });
  afterAll(() => rmSync(charts, { recursive: true, force: true }));

  it("finds a CRD that a release renders from templates/ (skipCrds does not skip those) while the program applies it too", async () => {
    const findings = await verifyStack(facts(release({})), deps());
    expect(failures(findings)).toEqual([
      "crds widgets.example.com: owned twice: release demo-release and manifest demo-crds (Helm refuses to adopt objects another owner created)",
    ]);
  });

  it("passes once the release is told not to render them", async () => {
    const findings = await verifyStack(facts(release({ crds: { install: false } })), deps());
    expect(failures(findings)).toEqual([]);
    expect(findings.find((f) => f.check === "crds")).toMatchObject({ status: "ok", subject: "1 CRDs", detail: "each has exactly one owner" });
  });

  it("names the values keys the chart neither declares nor reads, and accepts commented keys a template reads, map entries and free-form maps", () => {
    const dir = path.join(charts, "demo-1.0.0");
    const values = {
      crds: { install: false },
      replicas: 2,
      nodeSelector: { "eventstack.io/pool": "system" },
      resources: { limits: { memory: "1Gi" } },
      operatorResources: { cpu: { request: "100m" } },
      controllerResources: { cpu: { request: "100m" }, memory: { limit: "250Mi" } },
    };
    expect(unknownValueKeys(dir, values)).toEqual(["controllerResources.cpu.request", "controllerResources.memory.limit"]);
  });

  it("accepts entries of a map a template ranges over (rendered whole, as grafana's `grafana.ini`), and only those", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventstack-range-chart-"));
    try {
      mkdirSync(path.join(dir, "templates"));
      writeFileSync(path.join(dir, "values.yaml"), ["grafana.ini:", "  analytics:", "    check_for_updates: true", "settings:", "  a: 1", ""].join("\n"));
      writeFileSync(
        path.join(dir, "templates", "config.yaml"),
        ['{{- range $section, $keys := index .Values "grafana.ini" }}', "[{{ $section }}]", "{{- end }}", "{{- range $k, $v := .Values.settings }}{{ $k }}{{- end }}", ""].join("\n"),
      );
      const values = { "grafana.ini": { analytics: { reporting_enabled: false }, auth: { sigv4_auth_enabled: true } }, settings: { b: 2 }, other: { c: 3 } };
      expect(unknownValueKeys(dir, values)).toEqual(["other.c"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports a chart that does not render with the program's values, with Helm's message", async () => {
    const findings = await verifyStack(facts(release({ crds: { install: false }, replicas: 0 })), deps());
    const chart = findings.find((f) => f.check === "chart")!;
    expect(chart.status).toBe("fail");
    expect(chart.detail).toMatch(/^does not render with the program's values: .*replicas must be at least 1/);
  });

  it("reports a rendered object that its schema refuses, naming the object and the field", async () => {
    // A node selector's value must be a string; Helm renders the number as given.
    const findings = await verifyStack(facts(release({ crds: { install: false }, nodeSelector: { "kubernetes.io/os": 1 } })), deps());
    expect(failures(findings)).toEqual(["schema demo-release (oci://registry.example.com/charts/demo 1.0.0): Deployment demo: data/spec/template/spec/nodeSelector/kubernetes.io~1os must be string"]);
    expect(findings.find((f) => f.check === "schema" && f.status === "ok")).toBeUndefined();
  });

  it("passes a release whose rendered objects are valid, and names the kinds it has no schema for", async () => {
    const findings = await verifyStack(facts(release({})), deps());
    expect(findings.find((f) => f.check === "schema")).toMatchObject({ status: "ok", detail: "2 objects valid against their schemas" });
    expect(schemaFinding([{ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }])).toEqual({ ok: true, detail: "0 objects valid against their schemas; no schema for Widget" });
  });

  it("reports a pinned version the source does not have", async () => {
    const findings = await verifyStack(facts(release({}, "1.0.1")), deps());
    expect(failures(findings)).toEqual([`chart demo-release (oci://registry.example.com/charts/demo 1.0.1): no chart demo-1.0.1 in ${charts} (expected demo-1.0.1/Chart.yaml)`]);
    expect(() => chartDirectory(helm, release({}, "1.0.1"), { kind: "local", dir: charts })).toThrow("no chart demo-1.0.1");
  });

  it("reports the AWS checks as skipped, not passed, without credentials", async () => {
    const findings = await verifyStack(facts(release({ crds: { install: false } }), { amiAliases: ["al2023@v20251112"], addons: { "vpc-cni": "v1.20.4-eksbuild.1" } }), deps());
    expect(findings.filter((f) => f.check === "ami" || f.check === "addon").map((f) => f.status)).toEqual(["skipped", "skipped"]);
  });

  it("treats arrays as whole values and an empty object as one leaf", () => {
    expect(valuePaths({ a: { b: [1, 2], c: {} }, d: 1 })).toEqual([["a", "b"], ["a", "c"], ["d"]]);
  });
});

describe("verify:upstream AWS facts (recorded AWS CLI answers)", () => {
  it("resolves an al2023 alias through the SSM parameter Karpenter reads, per architecture", () => {
    expect(al2023Parameter("1.35", "arm64", "v20251112")).toBe(
      "/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/arm64/standard/amazon-eks-node-al2023-arm64-standard-1.35-v20251112/image_id",
    );
    expect(checkAmiAliases(recordedAws, "eu-west-1", "1.35", ["al2023@v20251112"], ["arm64", "x86_64"]).map((c) => [c.subject, c.ok])).toEqual([
      ["al2023@v20251112 arm64", true],
      ["al2023@v20251112 x86_64", true],
    ]);
  });

  it("fails an alias naming a release that does not exist", () => {
    const [check] = checkAmiAliases(recordedAws, "eu-west-1", "1.35", ["al2023@v20251110"], ["arm64"]);
    expect(check).toEqual({
      subject: "al2023@v20251110 arm64",
      ok: false,
      detail:
        "/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/arm64/standard/amazon-eks-node-al2023-arm64-standard-1.35-v20251110/image_id does not resolve in eu-west-1: An error occurred (ParameterNotFound) when calling the GetParameter operation:",
    });
  });

  it("passes an add-on version offered for the cluster version and fails one that is not, listing what is", () => {
    const checks = checkAddonVersions(recordedAws, "eu-west-1", "1.35", { "vpc-cni": "v1.20.4-eksbuild.1", "kube-proxy": "v1.34.0-eksbuild.2" });
    expect(checks).toEqual([
      { subject: "vpc-cni v1.20.4-eksbuild.1", ok: true, detail: "offered for Kubernetes 1.35" },
      { subject: "kube-proxy v1.34.0-eksbuild.2", ok: false, detail: "not offered for Kubernetes 1.35; offered: v1.35.0-eksbuild.2" },
    ]);
  });
});

describe("verify:upstream reads the program as deployed", () => {
  it.each(["dev", "prod"])("%s: every Helm release with its plain values, the applied manifests, the add-ons and the AMI alias", async (stack) => {
    const { mocks } = await runProgram(stack);
    const f = programFacts(stack, mocks.resources);
    expect(f.releases.map((r) => r.resource).sort()).toEqual(
      [
        "autoscaling-keda",
        "autoscaling-metrics-server",
        "karpenter",
        "karpenter-crd",
        "load-balancer-controller-release",
        "mesh-control-plane",
        "mesh-crds",
        "collector-collector",
        "collector-kube-state-metrics",
        "collector-node-exporter",
        "cloudwatch-exporter-release",
        "container-logs-fluent-bit",
        "grafana-grafana",
        "progressive-delivery-argo-rollouts",
      ].sort(),
    );
    // Secret-wrapped values (the Linkerd certificates) reach Helm as plain values, and are checked as such.
    expect(JSON.stringify(f.releases)).not.toContain("4dabf18193072939515e22adb298388d");
    expect(f.kubernetesVersion).toMatch(/^1\.\d+$/);
    expect(Object.keys(f.addons).sort()).toEqual(["coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]);
    expect(f.amiAliases).toHaveLength(1);
    expect(f.amiAliases[0]).toMatch(/^al2023@v\d{8}$/);
    expect(f.amiArchitectures.length).toBeGreaterThan(0);
  });
});
