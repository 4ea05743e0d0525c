// The pins table (components/versions.ts) against the facts of the upstream releases it names: every selectable
// Kubernetes version has every pin and is inside every chart's support range, an unsupported version is refused
// with its exact message, the AMI alias names a real AL2023 release, and every CRD the program installs has one
// owner with the values the program passes. The upstream facts below were read on 2026-12-05 from the sources
// named beside them, at the pinned versions; a bump of a pin without re-reading them fails here on purpose.
import { ConfigError, loadConfig } from "../components/config";
import { haValues } from "../components/linkerd";
import { DEFAULT_KUBERNETES_VERSION, type EksAddonName, VERSIONS } from "../components/versions";
import type { RecordingMocks } from "./mocks";
import { declaredConfig, engineConfig, runProgram } from "./program";
import { al2023Parameter } from "./upstream/aws-facts";
import { chartName } from "./upstream/charts";

const ADDONS: EksAddonName[] = ["vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"];
const minor = (v: string) => Number(v.split(".")[1]);

describe("the pins table", () => {
  const selectable = Object.keys(VERSIONS.eksAddons);

  test("the default is the newest selectable version, and Pulumi.yaml declares it", () => {
    expect(DEFAULT_KUBERNETES_VERSION).toBe("1.35");
    expect(selectable.sort((a, b) => minor(b) - minor(a))[0]).toBe(DEFAULT_KUBERNETES_VERSION);
    expect(declaredConfig()["cluster.kubernetesVersion"]!.default).toBe(DEFAULT_KUBERNETES_VERSION);
  });

  test.each(Object.keys(VERSIONS.eksAddons))("Kubernetes %s has a version of every managed add-on, built for it where the add-on follows Kubernetes", (k8s) => {
    const addons = VERSIONS.eksAddons[k8s as keyof typeof VERSIONS.eksAddons];
    expect(Object.keys(addons).sort()).toEqual([...ADDONS].sort());
    for (const a of ADDONS) expect([a, addons[a]]).toEqual([a, expect.stringMatching(/^v\d+\.\d+\.\d+-eksbuild\.\d+$/)]);
    expect(addons["kube-proxy"]).toMatch(new RegExp(`^v${k8s.replace(".", "\\.")}\\.`));
  });

  test.each(Object.keys(VERSIONS.eksAddons))("Kubernetes %s is inside every chart's supported range", (k8s) => {
    const outside = Object.entries(VERSIONS.charts)
      .filter(([, c]) => minor(k8s) < minor(c.kubernetes.min) || ("max" in c.kubernetes && minor(k8s) > minor(c.kubernetes.max)))
      .map(([name]) => name);
    expect(outside).toEqual([]);
  });

  test("no version EKS supports in standard support and every chart supports is left out of the table", () => {
    // EKS standard support on 2026-12-05 (EKS user guide, kubernetes-versions): 1.34 ended 2026-12-02; 1.35 and
    // 1.36 are in standard support. 1.36 is outside KEDA 2.20's range, so the table stops at 1.35.
    const standardSupport = ["1.35", "1.36"];
    const allChartsSupport = (k8s: string) =>
      Object.values(VERSIONS.charts).every((c) => minor(k8s) >= minor(c.kubernetes.min) && (!("max" in c.kubernetes) || minor(k8s) <= minor(c.kubernetes.max)));
    expect(standardSupport.filter(allChartsSupport)).toEqual(["1.35"]);
    expect(selectable).toEqual(expect.arrayContaining(standardSupport.filter(allChartsSupport)));
  });

  test("a stack asking for a version without complete pins is refused with the exact message", () => {
    const config = engineConfig("dev", { "eventstack:cluster.kubernetesVersion": "1.36" });
    let problems: string[] = [];
    try {
      loadConfig((key) => config[key], {});
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([
      'eventstack:cluster.kubernetesVersion must be a Kubernetes minor version with pinned add-ons in components/versions.ts ("1.35", "1.34") (got "1.36")',
    ]);
  });
});

describe("the Karpenter AMI alias", () => {
  /**
   * AL2023 releases whose notes list standard AMIs for x86_64 and arm64 at every selectable Kubernetes version
   * (awslabs/amazon-eks-ami CHANGELOG.md, "AMI Release v20260714", read at tag v20260724 on 2026-12-05).
   * v20251110, pinned before, is not a release at all (the repository has v20251108 and v20251112).
   */
  const RELEASES_WITH_NOTES = ["v20260714"];

  test("names a published AL2023 release", () => {
    const [family, release] = VERSIONS.karpenterAmiAlias.split("@");
    expect(family).toBe("al2023");
    expect(RELEASES_WITH_NOTES).toContain(release);
  });

  test.each(Object.keys(VERSIONS.eksAddons))("resolves, for Kubernetes %s, to the SSM parameters of the AMIs those notes name", (k8s) => {
    const release = VERSIONS.karpenterAmiAlias.split("@")[1]!;
    expect(["x86_64", "arm64"].map((arch) => al2023Parameter(k8s, arch, release))).toEqual([
      `/aws/service/eks/optimized-ami/${k8s}/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-${k8s}-v20260714/image_id`,
      `/aws/service/eks/optimized-ami/${k8s}/amazon-linux-2023/arm64/standard/amazon-eks-node-al2023-arm64-standard-${k8s}-v20260714/image_id`,
    ]);
  });
});

/**
 * Where each pinned chart and each manifest the program applies has CRDs (read in each source at its pinned
 * version on 2026-12-05). `templates`: rendered whenever the release renders, unless `gate` (a values path) is
 * false, its default being `gateDefault`; `crdsFolder`: the chart's crds/ folder, which `skipCrds` leaves out.
 */
interface ChartCrds {
  templates?: { names: string[]; gate?: string[]; gateDefault?: boolean };
  crdsFolder?: string[];
}
const KEDA_CRDS = [
  "cloudeventsources.eventing.keda.sh",
  "clustercloudeventsources.eventing.keda.sh",
  "clustertriggerauthentications.keda.sh",
  "scaledjobs.keda.sh",
  "scaledobjects.keda.sh",
  "triggerauthentications.keda.sh",
];
const KARPENTER_CRDS = ["ec2nodeclasses.karpenter.k8s.aws", "nodeclaims.karpenter.sh", "nodepools.karpenter.sh", "nodeoverlays.karpenter.sh", "capacitybuffers.autoscaling.x-k8s.io"];
const LBC_CRDS = ["albtargetcontrolconfigs.elbv2.k8s.aws", "globalaccelerators.aga.k8s.aws", "ingressclassparams.elbv2.k8s.aws", "targetgroupbindings.elbv2.k8s.aws"];
const ROLLOUTS_CRDS = ["rollouts.argoproj.io", "analysistemplates.argoproj.io", "clusteranalysistemplates.argoproj.io", "analysisruns.argoproj.io", "experiments.argoproj.io"];
const ARGOCD_CRDS = ["applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io"];
const CHART_CRDS: Record<string, ChartCrds> = {
  // argoproj/argo-helm argo-rollouts-2.41.0 charts/argo-rollouts/templates/crds/*.yaml, each wrapped in
  // `{{- if .Values.installCRDs }}` (default true); no crds/ folder (read 2026-12-06).
  "argo-rollouts@2.41.0": { templates: { names: ROLLOUTS_CRDS, gate: ["installCRDs"], gateDefault: true } },
  // argoproj/argo-helm argo-cd-10.1.1 charts/argo-cd/templates/crds/crd-*.yaml, each wrapped in
  // `{{- if .Values.crds.install }}` (default true); no crds/ folder (read 2026-12-06).
  "argo-cd@10.1.1": { templates: { names: ARGOCD_CRDS, gate: ["crds", "install"], gateDefault: true } },
  // kedacore/charts v2.20.2 keda/templates/crds/*.yaml, each wrapped in `{{- if .Values.crds.install }}`.
  "keda@2.20.2": { templates: { names: KEDA_CRDS, gate: ["crds", "install"], gateDefault: true } },
  // aws/karpenter-provider-aws v1.14.1 charts/karpenter-crd/templates/ (karpenter's crds/ holds the same set).
  "karpenter-crd@1.14.1": { templates: { names: KARPENTER_CRDS } },
  "karpenter@1.14.1": { crdsFolder: KARPENTER_CRDS },
  // kubernetes-sigs/aws-load-balancer-controller v3.5.0 helm/aws-load-balancer-controller/crds/ (none in templates/).
  "aws-load-balancer-controller@3.5.0": { crdsFolder: [...LBC_CRDS, "listenerruleconfigurations.gateway.k8s.aws", "loadbalancerconfigurations.gateway.k8s.aws", "targetgroupconfigurations.gateway.k8s.aws"] },
  // linkerd/linkerd2 edge-26.8.3: CRDs only in the linkerd-crds chart, which nothing else installs.
  "linkerd-crds@2026.8.3": {},
  "linkerd-control-plane@2026.8.3": {},
  // kubernetes-sigs/metrics-server metrics-server-helm-chart-3.13.1: no CRDs.
  "metrics-server@3.13.1": {},
  // No CRDs in templates/ or crds/ (no CustomResourceDefinition in the chart at its tag, read 2026-12-06):
  // open-telemetry/opentelemetry-helm-charts opentelemetry-collector-0.170.0, prometheus-community/helm-charts
  // kube-state-metrics-8.4.0 and prometheus-node-exporter-4.56.1, grafana-community/helm-charts grafana-12.11.1,
  // fluent/helm-charts fluent-bit-0.58.1.
  "opentelemetry-collector@0.170.0": {},
  "kube-state-metrics@8.4.0": {},
  "prometheus-node-exporter@4.56.1": {},
  "grafana@12.11.1": {},
  "fluent-bit@0.58.1": {},
};
/** The CRDs of each manifest the program applies, by the file's name. */
const MANIFEST_CRDS: Record<string, string[]> = {
  // kedacore/keda v2.20.2: the release asset is `kustomize build config/crd` (Makefile), config/crd/bases/*.
  "keda-2.20.2-crds.yaml": KEDA_CRDS,
  // kubernetes-sigs/aws-load-balancer-controller v3.5.0 helm/aws-load-balancer-controller/crds/crds.yaml.
  "crds.yaml": LBC_CRDS,
  // argoproj/argo-rollouts v1.9.0 manifests/crds/ (one CRD per file).
  "rollout-crd.yaml": ["rollouts.argoproj.io"],
  "analysis-template-crd.yaml": ["analysistemplates.argoproj.io"],
  "cluster-analysis-template-crd.yaml": ["clusteranalysistemplates.argoproj.io"],
  "analysis-run-crd.yaml": ["analysisruns.argoproj.io"],
  "experiment-crd.yaml": ["experiments.argoproj.io"],
  // argoproj/argo-cd v3.4.4 manifests/crds/ (one CRD per file).
  "application-crd.yaml": ["applications.argoproj.io"],
  "applicationset-crd.yaml": ["applicationsets.argoproj.io"],
  "appproject-crd.yaml": ["appprojects.argoproj.io"],
};

function valueAt(values: unknown, path: string[]): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), values);
}

describe.each([
  ["dev", "pulumi"],
  ["prod", "pulumi"],
  ["dev", "argocd"],
  ["prod", "argocd"],
])("%s stack, delivery.mode %s: CRD ownership with the values the program passes", (stack, mode) => {
  let mocks: RecordingMocks;
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack, mode === "argocd" ? { "eventstack:delivery.mode": "argocd", "eventstack:delivery.githubRepository": "example-org/eventstack" } : {}));
  });

  test("every CRD is installed by exactly one release or manifest", () => {
    const owners = new Map<string, string[]>();
    const own = (crd: string, owner: string) => owners.set(crd, [...(owners.get(crd) ?? []), owner]);
    const releases = [...mocks.ofType("kubernetes:helm.sh/v3:Release"), ...mocks.ofType("kubernetes:helm.sh/v4:Chart")];
    for (const r of releases) {
      const key = `${chartName(r.inputs.chart)}@${r.inputs.version}`;
      const facts = CHART_CRDS[key];
      if (!facts) throw new Error(`no CRD facts for chart ${key}: read them from its source at that version and add them to CHART_CRDS`);
      const { templates, crdsFolder } = facts;
      if (templates) {
        const gate = templates.gate ? (valueAt(r.inputs.values, templates.gate) ?? templates.gateDefault) : true;
        if (gate !== false) for (const crd of templates.names) own(crd, `release ${r.name}`);
      }
      if (crdsFolder && r.inputs.skipCrds !== true) for (const crd of crdsFolder) own(crd, `release ${r.name} (crds/)`);
    }
    for (const m of mocks.ofType("kubernetes:yaml/v2:ConfigFile")) {
      const file = String(m.inputs.file).split("/").pop()!;
      const crds = MANIFEST_CRDS[file];
      if (!crds) throw new Error(`no CRD facts for manifest ${m.inputs.file}: add them to MANIFEST_CRDS`);
      for (const crd of crds) own(crd, `manifest ${m.name}`);
    }
    const twice = [...owners].filter(([, o]) => o.length !== 1).map(([crd, o]) => `${crd}: ${o.join(", ")}`);
    expect(twice).toEqual([]);
    expect(owners.get("scaledobjects.keda.sh")).toEqual(["manifest autoscaling-keda-crds"]);
    expect(owners.get("targetgroupbindings.elbv2.k8s.aws")).toEqual(["manifest load-balancer-controller-crds"]);
    expect(owners.get("nodepools.karpenter.sh")).toEqual(["release karpenter-crd"]);
    expect(owners.get("rollouts.argoproj.io")).toEqual(["manifest progressive-delivery-rollout-crd"]);
    expect(owners.get("applications.argoproj.io")).toEqual(mode === "argocd" ? ["manifest argocd-application-crd"] : undefined);
  });
});

describe("values the charts read", () => {
  test("the Linkerd HA resources are set only through keys a control-plane template reads", () => {
    // linkerd/linkerd2 edge-26.8.3 charts/linkerd-control-plane/templates: each of these is read as
    // `.Values.<key>`; values-ha.yaml's `controllerResources` is only a YAML anchor the others copy, read by no
    // template, so setting it changes nothing (read 2026-12-05).
    const READ_BY_TEMPLATES = ["destinationResources", "identityResources", "heartbeatResources", "proxyInjectorResources", "spValidatorResources"];
    expect(Object.keys(haValues(2)).filter((k) => k.endsWith("Resources"))).toEqual(READ_BY_TEMPLATES);
  });
});
