// Scheduling and disruption, for both stacks: every Deployment the cluster will run (the program's own and those the
// pinned charts render) against the nodes its placement allows. A Deployment whose replicas need a node each
// (required anti-affinity by hostname) must have that many eligible nodes, and one more to move to while a node
// drains; every PodDisruptionBudget must allow at least one eviction when all replicas run, or node drains (managed
// node group updates, Karpenter consolidation) block.
//
// Mocks cannot render a chart, so what each chart's Deployments look like is recorded below (CHART_FACTS), read from
// the chart source at each pinned version, with the program's values applied by the functions beside the facts.
import { VERSIONS } from "../components/versions";
import type { RecordedResource, RecordingMocks } from "./mocks";
import { runProgram } from "./program";

/** How the Pulumi runtime marks a secret value on the wire. */
const SECRET = "4dabf18193072939515e22adb298388d";
const unwrap = (v: any): any => (v && typeof v === "object" && SECRET in v ? v.value : v);

type Values = Record<string, any>;
interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}
interface Budget {
  maxUnavailable?: number | string;
  minAvailable?: number | string;
}

/** A Deployment as the scheduler sees it. */
interface ModelDeployment {
  name: string;
  replicas: number;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
  /** Node labels that must be absent (a `DoesNotExist` node affinity). */
  forbiddenNodeLabels: string[];
  /** A required podAntiAffinity term on kubernetes.io/hostname: one replica per node. */
  requiredHostAntiAffinity: boolean;
  pdb?: Budget;
}

interface ChartDeployment {
  name: string;
  /** The Deployment, given the values the program passes. */
  render: (values: Values) => Omit<ModelDeployment, "name">;
}

interface ChartFacts {
  /** Chart versions at which these facts were read, each with its source tag. */
  verified: Record<string, string>;
  /** Files read, relative to the repository. */
  source: string;
  /** When they were read. */
  date: "2026-12-05" | "2026-12-06";
  deployments: ChartDeployment[];
}

const placement = (v: Values) => ({ nodeSelector: v.nodeSelector ?? {}, tolerations: v.tolerations ?? [] });

/**
 * What the pinned charts render, read at the source. Each `verified` entry names a chart version and the tag read;
 * the facts were identical at every version listed. A version not listed fails the coverage test below: read the
 * chart at the new tag and add it.
 */
export const CHART_FACTS: Record<string, ChartFacts> = {
  // github.com/aws/karpenter-provider-aws: replicas 2; affinity: nodeAffinity karpenter.sh/nodepool DoesNotExist and a
  // required podAntiAffinity on kubernetes.io/hostname (the template adds the label selector); PDB maxUnavailable 1
  // (templates/poddisruptionbudget.yaml, always rendered); tolerations CriticalAddonsOnly.
  [VERSIONS.charts.karpenter.chart]: {
    verified: { "1.10.0": "v1.10.0", "1.14.1": "v1.14.1" },
    source: "charts/karpenter/values.yaml, templates/deployment.yaml, templates/poddisruptionbudget.yaml",
    date: "2026-12-05",
    deployments: [
      {
        name: "kube-system/karpenter",
        render: (v) => ({
          replicas: v.replicas ?? 2,
          nodeSelector: v.nodeSelector ?? { "kubernetes.io/os": "linux" },
          tolerations: v.tolerations ?? [{ key: "CriticalAddonsOnly", operator: "Exists" }],
          forbiddenNodeLabels: v.affinity ? [] : ["karpenter.sh/nodepool"],
          requiredHostAntiAffinity: v.affinity === undefined,
          pdb: { maxUnavailable: v.podDisruptionBudget?.maxUnavailable ?? 1 },
        }),
      },
    ],
  },
  // github.com/kubernetes-sigs/metrics-server: replicas 1, affinity {}, PDB only with podDisruptionBudget.enabled.
  [VERSIONS.charts.metricsServer.chart]: {
    verified: { "3.13.0": "metrics-server-helm-chart-3.13.0", "3.13.1": "metrics-server-helm-chart-3.13.1" },
    source: "charts/metrics-server/values.yaml, templates/pdb.yaml",
    date: "2026-12-05",
    deployments: [
      {
        name: "kube-system/metrics-server",
        render: (v) => ({
          replicas: v.replicas ?? 1,
          ...placement(v),
          forbiddenNodeLabels: [],
          requiredHostAntiAffinity: false,
          pdb: v.podDisruptionBudget?.enabled ? { maxUnavailable: v.podDisruptionBudget.maxUnavailable, minAvailable: v.podDisruptionBudget.minAvailable } : undefined,
        }),
      },
    ],
  },
  // github.com/kedacore/charts: operator, metrics apiserver and admission webhooks, replicaCount 1 each, affinity {},
  // PDBs only when podDisruptionBudget.<component> is set (empty by default).
  [VERSIONS.charts.keda.chart]: {
    verified: { "2.19.0": "v2.19.0", "2.20.2": "v2.20.2" },
    source: "keda/values.yaml, keda/templates/*/poddisruptionbudget.yaml",
    date: "2026-12-05",
    deployments: (["operator", "metricsApiServer", "webhooks"] as const).map((component) => ({
      name: `keda/${component}`,
      render: (v: Values) => ({
        replicas: v[component]?.replicaCount ?? 1,
        ...placement(v),
        forbiddenNodeLabels: [],
        requiredHostAntiAffinity: false,
        pdb: undefined,
      }),
    })),
  },
  // github.com/linkerd/linkerd2: destination, identity and proxy-injector each run controllerReplicas (values.yaml 1);
  // enablePodAntiAffinity adds a *required* podAntiAffinity on kubernetes.io/hostname (charts/partials/templates/
  // _affinity.tpl); enablePodDisruptionBudget adds a PDB of controller.podDisruptionBudget.maxUnavailable (1).
  [VERSIONS.charts.linkerdControlPlane.chart]: {
    verified: { "2025.10.7": "edge-25.10.7", "2026.8.3": "edge-26.8.3" },
    source: "charts/linkerd-control-plane/values.yaml, values-ha.yaml, templates/{destination,identity,proxy-injector}.yaml, charts/partials/templates/_affinity.tpl",
    date: "2026-12-05",
    deployments: ["destination", "identity", "proxy-injector"].map((component) => ({
      name: `linkerd/linkerd-${component}`,
      render: (v: Values) => ({
        replicas: v.controllerReplicas ?? 1,
        ...placement(v),
        forbiddenNodeLabels: [],
        requiredHostAntiAffinity: v.enablePodAntiAffinity === true,
        pdb: v.enablePodDisruptionBudget ? { maxUnavailable: v.controller?.podDisruptionBudget?.maxUnavailable ?? 1 } : undefined,
      }),
    })),
  },
  // github.com/kubernetes-sigs/aws-load-balancer-controller: replicaCount 2; configureDefaultAffinity gives a
  // *preferred* hostname anti-affinity; the PDB is podDisruptionBudget as given, rendered only with replicaCount > 1.
  [VERSIONS.charts.awsLoadBalancerController.chart]: {
    verified: { "1.14.0": "v2.14.0", "3.5.0": "v3.5.0" },
    source: "helm/aws-load-balancer-controller/values.yaml, templates/deployment.yaml, templates/pdb.yaml",
    date: "2026-12-05",
    deployments: [
      {
        name: "kube-system/aws-load-balancer-controller",
        render: (v) => ({
          replicas: v.replicaCount ?? 2,
          ...placement(v),
          forbiddenNodeLabels: [],
          requiredHostAntiAffinity: false,
          pdb: v.podDisruptionBudget && Object.keys(v.podDisruptionBudget).length > 0 && (v.replicaCount ?? 2) > 1 ? v.podDisruptionBudget : undefined,
        }),
      },
    ],
  },
  // github.com/open-telemetry/opentelemetry-helm-charts: mode deployment, replicaCount 1, affinity {}, PDB only with
  // podDisruptionBudget.enabled (templates/pdb.yaml).
  [VERSIONS.charts.openTelemetryCollector.chart]: {
    verified: { "0.170.0": "opentelemetry-collector-0.170.0" },
    source: "charts/opentelemetry-collector/values.yaml, templates/deployment.yaml, templates/pdb.yaml",
    date: "2026-12-06",
    deployments: [
      {
        name: "observability/otel-collector",
        render: (v) => ({ replicas: v.replicaCount ?? 1, ...placement(v), forbiddenNodeLabels: [], requiredHostAntiAffinity: false, pdb: v.podDisruptionBudget?.enabled ? v.podDisruptionBudget : undefined }),
      },
    ],
  },
  // github.com/prometheus-community/helm-charts: replicas 1, affinity {}, PDB when podDisruptionBudget is non-empty.
  [VERSIONS.charts.kubeStateMetrics.chart]: {
    verified: { "8.4.0": "kube-state-metrics-8.4.0" },
    source: "charts/kube-state-metrics/values.yaml, templates/pdb.yaml",
    date: "2026-12-06",
    deployments: [
      {
        name: "observability/kube-state-metrics",
        render: (v) => ({ replicas: v.replicas ?? 1, ...placement(v), forbiddenNodeLabels: [], requiredHostAntiAffinity: false, pdb: v.podDisruptionBudget && Object.keys(v.podDisruptionBudget).length > 0 ? v.podDisruptionBudget : undefined }),
      },
    ],
  },
  // A DaemonSet only (same repository, tag prometheus-node-exporter-4.56.1).
  [VERSIONS.charts.nodeExporter.chart]: { verified: { "4.56.1": "prometheus-node-exporter-4.56.1" }, source: "charts/prometheus-node-exporter/templates/daemonset.yaml", date: "2026-12-06", deployments: [] },
  // github.com/grafana-community/helm-charts: replicas 1, affinity {}, PDB when podDisruptionBudget is non-empty
  // (templates/poddisruptionbudget.yaml).
  [VERSIONS.charts.grafana.chart]: {
    verified: { "12.11.1": "grafana-12.11.1" },
    source: "charts/grafana/values.yaml, templates/deployment.yaml, templates/poddisruptionbudget.yaml",
    date: "2026-12-06",
    deployments: [
      {
        name: "observability/grafana",
        render: (v) => ({ replicas: v.replicas ?? 1, ...placement(v), forbiddenNodeLabels: [], requiredHostAntiAffinity: false, pdb: v.podDisruptionBudget && Object.keys(v.podDisruptionBudget).length > 0 ? v.podDisruptionBudget : undefined }),
      },
    ],
  },
  // github.com/prometheus-community/helm-charts: replicaCount 1, affinity {}, a PDB only with
  // podDisruptionBudget.enabled (its other keys as the PDB's spec: minAvailable 1 by default).
  [VERSIONS.charts.cloudWatchExporter.chart]: {
    verified: { "0.47.0": "prometheus-yet-another-cloudwatch-exporter-0.47.0" },
    source: "charts/prometheus-yet-another-cloudwatch-exporter/values.yaml, templates/deployment.yaml, templates/podDisruptionBudget.yaml",
    date: "2026-12-06",
    deployments: [{ name: "observability/cloudwatch-exporter", render: (v) => ({ replicas: v.replicaCount ?? 1, ...placement(v), forbiddenNodeLabels: [], requiredHostAntiAffinity: false, pdb: v.podDisruptionBudget?.enabled ? { minAvailable: 1, ...v.podDisruptionBudget } : undefined }) }],
  },
  // github.com/fluent/helm-charts: kind DaemonSet (values.yaml), so no Deployment.
  [VERSIONS.charts.fluentBit.chart]: { verified: { "0.58.1": "fluent-bit-0.58.1" }, source: "charts/fluent-bit/values.yaml (kind: DaemonSet)", date: "2026-12-06", deployments: [] },
  // github.com/argoproj/argo-helm: controller.replicas 2 (leader election above 1), affinity {} unless given, a PDB
  // only with controller.pdb.enabled (maxUnavailable or minAvailable as given); the dashboard is a second Deployment
  // only with dashboard.enabled.
  [VERSIONS.charts.argoRollouts.chart]: {
    verified: { "2.41.0": "argo-rollouts-2.41.0" },
    source: "charts/argo-rollouts/values.yaml, templates/controller/deployment.yaml, templates/controller/poddisruptionbudget.yaml",
    date: "2026-12-06",
    deployments: [
      {
        name: "argo-rollouts/argo-rollouts",
        render: (v) => ({
          replicas: v.controller?.replicas ?? 2,
          nodeSelector: v.controller?.nodeSelector ?? {},
          tolerations: v.controller?.tolerations ?? [],
          forbiddenNodeLabels: [],
          requiredHostAntiAffinity: false,
          pdb: v.controller?.pdb?.enabled ? { maxUnavailable: v.controller.pdb.maxUnavailable, minAvailable: v.controller.pdb.minAvailable } : undefined,
        }),
      },
    ],
  },
  // github.com/argoproj/argo-helm: one replica of each component (the application controller a StatefulSet, counted
  // here as it schedules the same way), global.nodeSelector and global.tolerations where a component sets none, no
  // PDB unless <component>.pdb.enabled; Dex and notifications only when enabled.
  [VERSIONS.charts.argoCd.chart]: {
    verified: { "10.1.1": "argo-cd-10.1.1" },
    source: "charts/argo-cd/values.yaml, templates/argocd-*/deployment.yaml, templates/argocd-application-controller/statefulset.yaml",
    date: "2026-12-06",
    deployments: (["controller", "repoServer", "server", "redis", "applicationSet"] as const).map((component) => ({
      name: `argocd/${component}`,
      render: (v: Values) => ({
        replicas: v[component]?.replicas ?? 1,
        nodeSelector: v[component]?.nodeSelector ?? v.global?.nodeSelector ?? { "kubernetes.io/os": "linux" },
        tolerations: v[component]?.tolerations ?? v.global?.tolerations ?? [],
        forbiddenNodeLabels: [],
        requiredHostAntiAffinity: false,
        pdb: undefined,
      }),
    })),
  },
};

/**
 * The EKS CoreDNS add-on: two replicas (EKS user guide, managing-coredns, read 2026-12-05). Its manifest is not
 * published; the anti-affinity (preferred, not required) and PDB (maxUnavailable 1) here are what the add-on's
 * configuration schema is known to default to, NOT verified at a source: `aws eks describe-addon-configuration
 * --addon-name coredns` shows them.
 */
function coreDns(addon: RecordedResource): ModelDeployment {
  const config = addon.inputs.configurationValues ? JSON.parse(addon.inputs.configurationValues) : {};
  return {
    name: "kube-system/coredns",
    replicas: config.replicaCount ?? 2,
    nodeSelector: config.nodeSelector ?? {},
    tolerations: config.tolerations ?? [{ key: "CriticalAddonsOnly", operator: "Exists" }],
    forbiddenNodeLabels: [],
    requiredHostAntiAffinity: false,
    pdb: { maxUnavailable: 1 },
  };
}

interface NodePool {
  name: string;
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
  /** Nodes it has, or Infinity when Karpenter launches them on demand. */
  nodes: number;
}

/** The node pools the program declares: the managed system node group (fixed size) and Karpenter's NodePool. */
function nodePools(mocks: RecordingMocks): NodePool[] {
  const effect = (e: string) => ({ NO_SCHEDULE: "NoSchedule", NO_EXECUTE: "NoExecute", PREFER_NO_SCHEDULE: "PreferNoSchedule" })[e] ?? e;
  const groups = mocks.ofType("aws:eks/nodeGroup:NodeGroup").map((g) => ({
    name: g.name,
    labels: { "kubernetes.io/os": "linux", ...g.inputs.labels },
    taints: (g.inputs.taints ?? []).map((t: any) => ({ ...t, effect: effect(t.effect) })),
    // The group never grows past its desired size: nothing scales it.
    nodes: g.inputs.scalingConfig.desiredSize,
  }));
  const karpenter = mocks.ofType("kubernetes:karpenter.sh/v1:NodePool").map((p) => ({
    name: p.name,
    labels: { "kubernetes.io/os": "linux", "karpenter.sh/nodepool": p.inputs.metadata.name, ...p.inputs.spec.template.metadata?.labels },
    taints: p.inputs.spec.template.spec.taints ?? [],
    nodes: Number.POSITIVE_INFINITY,
  }));
  return [...groups, ...karpenter];
}

function tolerates(tolerations: Toleration[], taint: { key: string; value?: string; effect: string }): boolean {
  if (taint.effect === "PreferNoSchedule") return true;
  return tolerations.some(
    (t) => (t.key === undefined || t.key === taint.key) && (t.effect === undefined || t.effect === taint.effect) && (t.operator === "Exists" || t.value === taint.value),
  );
}

/** Nodes of the pools a Deployment's placement admits. */
function eligibleNodes(d: ModelDeployment, pools: NodePool[]): number {
  return pools
    .filter(
      (p) =>
        Object.entries(d.nodeSelector).every(([k, v]) => p.labels[k] === v) &&
        d.forbiddenNodeLabels.every((k) => !(k in p.labels)) &&
        p.taints.every((t) => tolerates(d.tolerations, t)),
    )
    .reduce((sum, p) => sum + p.nodes, 0);
}

/** Evictions a PDB allows with every replica running (Kubernetes rounds a percentage up for both fields). */
export function allowedEvictions(replicas: number, pdb: Budget | undefined): number {
  if (pdb === undefined) return replicas;
  const resolve = (v: number | string) => (typeof v === "string" && v.endsWith("%") ? Math.ceil((replicas * Number(v.slice(0, -1))) / 100) : Number(v));
  if (pdb.maxUnavailable !== undefined && pdb.maxUnavailable !== null) return Math.min(replicas, resolve(pdb.maxUnavailable));
  if (pdb.minAvailable !== undefined && pdb.minAvailable !== null) return Math.max(0, replicas - resolve(pdb.minAvailable));
  return replicas;
}

/** Every Deployment of the stack: the charts' (through CHART_FACTS), CoreDNS's and the program's own. */
function deployments(mocks: RecordingMocks): ModelDeployment[] {
  const out: ModelDeployment[] = [];
  for (const release of mocks.ofType("kubernetes:helm.sh/v3:Release")) {
    const facts = CHART_FACTS[release.inputs.chart];
    if (!facts) throw new Error(`CHART_FACTS has no chart ${release.inputs.chart} (release ${release.name}): read its templates and add it`);
    const values = unwrap(release.inputs.values) ?? {};
    for (const d of facts.deployments) out.push({ name: d.name, ...d.render(values) });
  }
  for (const addon of mocks.ofType("aws:eks/addon:Addon").filter((a) => a.inputs.addonName === "coredns")) out.push(coreDns(addon));

  const pdbs = mocks.ofType("kubernetes:policy/v1:PodDisruptionBudget");
  const minReplicas = [...mocks.ofType("kubernetes:autoscaling/v2:HorizontalPodAutoscaler"), ...mocks.ofType("kubernetes:keda.sh/v1alpha1:ScaledObject")];
  for (const d of mocks.ofType("kubernetes:argoproj.io/v1alpha1:Rollout")) {
    const name = d.inputs.metadata.name;
    const spec = d.inputs.spec.template.spec;
    const scaler = minReplicas.find((s) => (s.inputs.spec.scaleTargetRef?.name ?? "") === name);
    const labels = d.inputs.spec.template.metadata.labels;
    const pdb = pdbs.find((p) => Object.entries(p.inputs.spec.selector.matchLabels).every(([k, v]) => labels[k] === v));
    const required = spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    out.push({
      name: `${d.inputs.metadata.namespace}/${name}`,
      // The autoscaler owns the replicas; its minimum is what runs at rest.
      replicas: d.inputs.spec.replicas ?? scaler?.inputs.spec.minReplicas ?? scaler?.inputs.spec.minReplicaCount ?? 1,
      nodeSelector: spec.nodeSelector ?? {},
      tolerations: spec.tolerations ?? [],
      forbiddenNodeLabels: [],
      requiredHostAntiAffinity: required.some((t: any) => t.topologyKey === "kubernetes.io/hostname"),
      pdb: pdb?.inputs.spec,
    });
  }
  return out;
}

describe("CHART_FACTS", () => {
  test("cover every chart the program installs as a release, at its pinned version", () => {
    const pinned = Object.values(VERSIONS.charts).filter((c) => c.chart in CHART_FACTS);
    expect(pinned.map((c) => c.chart).sort()).toEqual(Object.keys(CHART_FACTS).sort());
    for (const c of pinned) expect([c.chart, c.version, c.version in CHART_FACTS[c.chart]!.verified]).toEqual([c.chart, c.version, true]);
  });

  test("a PDB allows evictions as Kubernetes counts them", () => {
    expect(allowedEvictions(3, { maxUnavailable: 1 })).toBe(1);
    expect(allowedEvictions(1, { minAvailable: 1 })).toBe(0);
    expect(allowedEvictions(2, { maxUnavailable: "25%" })).toBe(1);
    expect(allowedEvictions(2, undefined)).toBe(2);
  });
});

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  let all: ModelDeployment[];
  let pools: NodePool[];
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
    all = deployments(mocks);
    pools = nodePools(mocks);
  });

  test("the model sees every Deployment: the charts', CoreDNS and the services", () => {
    expect(all.map((d) => d.name).sort()).toEqual(
      [
        "kube-system/karpenter",
        "kube-system/metrics-server",
        "keda/operator",
        "keda/metricsApiServer",
        "keda/webhooks",
        "linkerd/linkerd-destination",
        "linkerd/linkerd-identity",
        "linkerd/linkerd-proxy-injector",
        "kube-system/aws-load-balancer-controller",
        "argo-rollouts/argo-rollouts",
        "kube-system/coredns",
        "eventstack/ingest",
        "eventstack/processor",
        "observability/otel-collector",
        "observability/kube-state-metrics",
        "observability/grafana",
        "observability/cloudwatch-exporter",
      ].sort(),
    );
  });

  test("the model reads the constraints that matter: a node per replica for Karpenter (and Linkerd with HA), PDBs where the charts render them", () => {
    const linkerd = ["linkerd/linkerd-destination", "linkerd/linkerd-identity", "linkerd/linkerd-proxy-injector"];
    expect(all.filter((d) => d.requiredHostAntiAffinity).map((d) => d.name).sort()).toEqual(["kube-system/karpenter", ...(stack === "prod" ? linkerd : [])].sort());
    expect(all.filter((d) => d.pdb !== undefined).length).toBeGreaterThanOrEqual(stack === "prod" ? 9 : 5);
    expect(pools.map((p) => [p.name, p.nodes])).toEqual([
      ["cluster-system", stack === "prod" ? 3 : 1],
      ["karpenter-node-pool", Number.POSITIVE_INFINITY],
    ]);
  });

  test("every Deployment has a node pool its placement admits", () => {
    for (const d of all) expect([d.name, eligibleNodes(d, pools) > 0]).toEqual([d.name, true]);
  });

  test("replicas that need a node each (required hostname anti-affinity) have that many eligible nodes", () => {
    for (const d of all.filter((x) => x.requiredHostAntiAffinity)) expect([d.name, d.replicas <= eligibleNodes(d, pools)]).toEqual([d.name, true]);
  });

  test("with more than one such replica, one node can drain and its replica still finds a node", () => {
    for (const d of all.filter((x) => x.requiredHostAntiAffinity && x.replicas > 1)) expect([d.name, d.replicas <= eligibleNodes(d, pools) - 1]).toEqual([d.name, true]);
  });

  test("every PodDisruptionBudget allows at least one eviction with all replicas running", () => {
    for (const d of all.filter((x) => x.pdb !== undefined)) expect([d.name, allowedEvictions(d.replicas, d.pdb) >= 1]).toEqual([d.name, true]);
  });
});
