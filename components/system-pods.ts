// What runs on the system node group, and whether a number of nodes of an instance type holds it.
//
// The system node group has a fixed size (nothing scales it: Karpenter manages only its own NodePool), so its size
// and instance type must hold every system pod at once, plus one surge pod per release: a rolling update of a
// single-replica Deployment (maxUnavailable 25% rounds down to 0) starts the new pod before the old one goes, and a
// `pulumi up` that bumps the pins upgrades the releases (and the CoreDNS add-on) in parallel, each waiting for its
// pods within its timeout. A surge pod that does not fit stays Pending and the upgrade stalls or times out.
//
// Facts, each verified at its source on 2026-12-05:
//   - max pods: nodeadm (awslabs/amazon-eks-ami v20260724, nodeadm/internal/kubelet/eni_max_pods.go) computes
//     ENIs × (IPv4 addresses per ENI − 1) + 2 from its instance-info.jsonl; the ENI and address counts below are
//     that file's;
//   - allocatable: nodeadm's kube-reserved (nodeadm/internal/kubelet/config.go: CPU 6% of the first core, 1% of the
//     second, 0.5% of the next two, 0.25% above; memory 11 MiB × max pods + 255 MiB) and evictionHard
//     memory.available 100Mi;
//   - the requests of each pod: the chart values at the pinned versions (path and tag beside each entry), or the
//     program's own values where it sets them.
//
// It reads the components' settings from components/defaults, not from the components themselves: the configuration's
// validation runs this check, and must not load the providers.
import { ARGOCD_DEFAULTS } from "./defaults/argocd";
import { metricsServerReplicas } from "./defaults/autoscaling";
import { COLLECTOR_DEFAULTS } from "./defaults/collector";
import { CONTAINER_LOGS_DEFAULTS } from "./defaults/container-logs";
import { GRAFANA_DEFAULTS } from "./defaults/grafana";
import { controllerReplicas as karpenterReplicas, KARPENTER_DEFAULTS } from "./defaults/karpenter";
import { haValues, LINKERD_DEFAULTS, linkerdControllerReplicas } from "./defaults/linkerd";
import { LOAD_BALANCER_CONTROLLER_DEFAULTS } from "./defaults/load-balancer-controller";
import { PROGRESSIVE_DELIVERY_DEFAULTS, rolloutsControllerReplicas } from "./defaults/progressive-delivery";

/** An EC2 instance type as the kubelet sees it. */
export interface InstanceType {
  vcpus: number;
  memoryMiB: number;
  /** Network interfaces on the default network card, and IPv4 addresses per interface (instance-info.jsonl). */
  enis: number;
  ipv4PerEni: number;
}

/**
 * The instance types the system node group may use. Only these can be sized, so only these are accepted
 * (components/config.ts); add a row from nodeadm's instance-info.jsonl and the EC2 instance type page.
 */
export const INSTANCE_TYPES: Record<string, InstanceType> = {
  "t4g.medium": { vcpus: 2, memoryMiB: 4096, enis: 3, ipv4PerEni: 6 },
  "t4g.large": { vcpus: 2, memoryMiB: 8192, enis: 3, ipv4PerEni: 12 },
  "t4g.xlarge": { vcpus: 4, memoryMiB: 16384, enis: 4, ipv4PerEni: 15 },
  "m7g.large": { vcpus: 2, memoryMiB: 8192, enis: 3, ipv4PerEni: 10 },
  "m7g.xlarge": { vcpus: 4, memoryMiB: 16384, enis: 4, ipv4PerEni: 15 },
  "c7g.large": { vcpus: 2, memoryMiB: 4096, enis: 3, ipv4PerEni: 10 },
  "t3.medium": { vcpus: 2, memoryMiB: 4096, enis: 3, ipv4PerEni: 6 },
  "t3.large": { vcpus: 2, memoryMiB: 8192, enis: 3, ipv4PerEni: 12 },
  "m7i.large": { vcpus: 2, memoryMiB: 8192, enis: 3, ipv4PerEni: 10 },
  "m7i.xlarge": { vcpus: 4, memoryMiB: 16384, enis: 4, ipv4PerEni: 15 },
};

/**
 * The share of an instance's nominal memory the kernel reports to the kubelet as capacity. The firmware and kernel
 * keep a few percent (more on small instances); 0.93 is the conservative end of what AL2023 nodes report, an
 * assumption rather than a published figure, so sizing keeps that margin.
 */
export const MEMORY_CAPACITY_SHARE = 0.93;

/** The kubelet's max pods on an instance type without prefix delegation (nodeadm's standard formula). */
export function maxPods(t: InstanceType): number {
  return t.enis * (t.ipv4PerEni - 1) + 2;
}

/** CPU (millicores) and memory (MiB) the kubelet offers pods on one node of the type. */
export function allocatable(t: InstanceType): { cpuMilli: number; memoryMiB: number; pods: number } {
  const total = t.vcpus * 1000;
  const ranges: [number, number, number][] = [
    [0, 1000, 600],
    [1000, 2000, 100],
    [2000, 4000, 50],
    [4000, Math.max(total, 4000), 25],
  ];
  const reservedCpu = ranges.reduce((sum, [from, to, basisPoints]) => sum + (total <= from ? 0 : Math.floor(((Math.min(total, to) - from) * basisPoints) / 10000)), 0);
  const pods = maxPods(t);
  const reservedMemory = 11 * pods + 255 + 100; // kube-reserved + evictionHard memory.available
  return { cpuMilli: total - reservedCpu, memoryMiB: Math.floor(t.memoryMiB * MEMORY_CAPACITY_SHARE) - reservedMemory, pods };
}

/** What decides how many of each system pod run. */
export interface SystemPlacementContext {
  /** Nodes in the system node group (config `cluster.systemNodes`). */
  systemNodes: number;
  /** Linkerd's control plane highly available (config `mesh.highAvailability`). */
  meshHighAvailability: boolean;
  /** Argo CD installed (config `delivery.mode` "argocd"). Default false. */
  argocd?: boolean;
}

/** A container's requests as Kubernetes quantities ("100m", "64Mi"); absent is none. */
export interface Requests {
  cpu?: string;
  memory?: string;
}

export interface SystemPod {
  /** `<namespace>/<workload>`. */
  name: string;
  /** One per node (a DaemonSet), or a Deployment's replicas. */
  kind: "DaemonSet" | "Deployment";
  /** The Helm release or EKS add-on that rolls it: one surge pod per release is reserved. */
  release: string;
  replicas: (c: SystemPlacementContext) => number;
  /** Requests of each container of the pod (the Linkerd proxy included where injected). */
  containers: (c: SystemPlacementContext) => Requests[];
  /** Where the numbers come from. */
  source: string;
}

/** Millicores of a CPU quantity ("100m", "1", "0.5"). */
export function cpuMilli(q: string | undefined): number {
  if (q === undefined || q === "") return 0;
  return q.endsWith("m") ? Number(q.slice(0, -1)) : Math.round(Number(q) * 1000);
}

/** MiB of a memory quantity ("64Mi", "1Gi"). */
export function memoryMiB(q: string | undefined): number {
  if (q === undefined || q === "") return 0;
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`system-pods: unsupported memory quantity ${JSON.stringify(q)} (use Mi or Gi)`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
}

const fixed = (n: number) => () => n;
const containers = (...requests: Requests[]) => () => requests;
/** The proxy Linkerd injects into its own control-plane pods: the program's `proxy.resources`. */
const linkerdProxy: Requests = { cpu: LINKERD_DEFAULTS.proxyResources.cpuRequest, memory: LINKERD_DEFAULTS.proxyResources.memoryRequest };
const linkerdReplicas = (c: SystemPlacementContext) => linkerdControllerReplicas(c.systemNodes, c.meshHighAvailability);
/** A Linkerd container's requests: values-ha.yaml's (as haValues() sets them) with HA, none in values.yaml without. */
const linkerdResources =
  (key: "destinationResources" | "spValidatorResources" | "identityResources" | "proxyInjectorResources" | "heartbeatResources") =>
  (c: SystemPlacementContext): Requests =>
    c.meshHighAvailability ? { cpu: haValues(linkerdReplicas(c))[key].cpu.request, memory: haValues(linkerdReplicas(c))[key].memory.request } : {};
const karpenterRequests = KARPENTER_DEFAULTS.controllerResources.requests;
const requestsOf = (r: { requests: Requests }) => containers(r.requests);
/** Argo CD's pods: one each, in delivery mode "argocd" only (components/argocd.ts sets their requests). */
const argocdPod = (name: string, component: keyof typeof ARGOCD_DEFAULTS.resources): SystemPod => ({
  name: `${ARGOCD_DEFAULTS.namespace}/${name}`,
  kind: "Deployment",
  release: "argo-cd",
  replicas: (c) => (c.argocd ? 1 : 0),
  containers: requestsOf(ARGOCD_DEFAULTS.resources[component]),
  source: "components/argocd.ts (the program's values; dex, notifications and the commit server are off)",
});

/** Every pod the system node group runs. */
export const SYSTEM_PODS: SystemPod[] = [
  // DaemonSets that tolerate every taint, so they run on system nodes too.
  { name: "kube-system/aws-node", kind: "DaemonSet", release: "vpc-cni", replicas: fixed(1), containers: containers({ cpu: "25m" }, {}), source: "aws/amazon-vpc-cni-k8s v1.20.4 charts/aws-vpc-cni/values.yaml (aws-node 25m; node agent {})" },
  { name: "kube-system/kube-proxy", kind: "DaemonSet", release: "kube-proxy", replicas: fixed(1), containers: containers({ cpu: "100m" }), source: "EKS kube-proxy add-on, 100m CPU: the add-on's manifest is not published, not verified at a source" },
  { name: "kube-system/eks-pod-identity-agent", kind: "DaemonSet", release: "eks-pod-identity-agent", replicas: fixed(1), containers: containers({}), source: "aws/eks-pod-identity-agent charts/eks-pod-identity-agent/values.yaml resources {}" },
  // The observability DaemonSets tolerate the system taint (components/observability): the program's own requests.
  { name: "observability/prometheus-node-exporter", kind: "DaemonSet", release: "prometheus-node-exporter", replicas: fixed(1), containers: containers(COLLECTOR_DEFAULTS.nodeExporterResources.requests), source: "components/observability/collector.ts (the program's values)" },
  { name: "observability/fluent-bit", kind: "DaemonSet", release: "fluent-bit", replicas: fixed(1), containers: containers(CONTAINER_LOGS_DEFAULTS.resources.requests), source: "components/observability/logs.ts (the program's values)" },
  // Deployments placed with systemPlacement.
  {
    name: "kube-system/coredns",
    kind: "Deployment",
    release: "coredns",
    replicas: fixed(2),
    containers: containers({ cpu: "100m", memory: "70Mi" }),
    source: "EKS CoreDNS add-on: two replicas (EKS user guide, managing-coredns); requests of the upstream manifest, not verified for the add-on",
  },
  { name: "kube-system/karpenter", kind: "Deployment", release: "karpenter", replicas: (c) => karpenterReplicas(c.systemNodes), containers: containers(karpenterRequests), source: "components/karpenter (the program's values)" },
  {
    name: "kube-system/metrics-server",
    kind: "Deployment",
    release: "metrics-server",
    replicas: (c) => metricsServerReplicas(c.systemNodes),
    containers: containers({ cpu: "100m", memory: "200Mi" }),
    source: "kubernetes-sigs/metrics-server metrics-server-helm-chart-3.13.0 and -3.13.1 charts/metrics-server/values.yaml resources",
  },
  {
    name: "kube-system/aws-load-balancer-controller",
    kind: "Deployment",
    release: "aws-load-balancer-controller",
    replicas: fixed(LOAD_BALANCER_CONTROLLER_DEFAULTS.replicas),
    containers: containers({}),
    source: "kubernetes-sigs/aws-load-balancer-controller v2.14.0 and v3.5.0 helm/aws-load-balancer-controller/values.yaml resources {}",
  },
  ...["keda-operator", "keda-operator-metrics-apiserver", "keda-admission-webhooks"].map(
    (name): SystemPod => ({ name: `keda/${name}`, kind: "Deployment", release: "keda", replicas: fixed(1), containers: containers({ cpu: "100m", memory: "100Mi" }), source: "kedacore/charts v2.19.0 and v2.20.2 keda/values.yaml resources" }),
  ),
  // Grafana and its dashboard sidecar (components/observability/grafana.ts, the program's values); not meshed.
  {
    name: "observability/grafana",
    kind: "Deployment",
    release: "grafana",
    replicas: fixed(1),
    containers: containers(GRAFANA_DEFAULTS.resources.requests, GRAFANA_DEFAULTS.sidecarResources.requests),
    source: "components/observability/grafana.ts (the program's values)",
  },
  {
    name: `${PROGRESSIVE_DELIVERY_DEFAULTS.namespace}/argo-rollouts`,
    kind: "Deployment",
    release: "argo-rollouts",
    replicas: (c) => rolloutsControllerReplicas(c.systemNodes),
    containers: requestsOf(PROGRESSIVE_DELIVERY_DEFAULTS.controllerResources),
    source: "components/progressive-delivery.ts (the program's values)",
  },
  // The application controller is a StatefulSet: it rolls without a surge pod, counted with one all the same.
  argocdPod("argocd-application-controller", "controller"),
  argocdPod("argocd-repo-server", "repoServer"),
  argocdPod("argocd-server", "server"),
  argocdPod("argocd-redis", "redis"),
  argocdPod("argocd-applicationset-controller", "applicationSet"),
  // Linkerd: each control-plane pod carries the proxy; values-ha.yaml adds requests to its own containers.
  {
    name: "linkerd/linkerd-destination",
    kind: "Deployment",
    release: "linkerd-control-plane",
    replicas: linkerdReplicas,
    // destination, sp-validator, policy (no request in values.yaml's policyController.resources) and the proxy
    containers: (c) => [linkerdResources("destinationResources")(c), linkerdResources("spValidatorResources")(c), {}, linkerdProxy],
    source: "linkerd/linkerd2 edge-26.8.3 charts/linkerd-control-plane/templates/destination.yaml, values.yaml, values-ha.yaml",
  },
  {
    name: "linkerd/linkerd-identity",
    kind: "Deployment",
    release: "linkerd-control-plane",
    replicas: linkerdReplicas,
    containers: (c) => [linkerdResources("identityResources")(c), linkerdProxy],
    source: "linkerd/linkerd2 edge-26.8.3 charts/linkerd-control-plane/templates/identity.yaml, values-ha.yaml",
  },
  {
    name: "linkerd/linkerd-proxy-injector",
    kind: "Deployment",
    release: "linkerd-control-plane",
    replicas: linkerdReplicas,
    containers: (c) => [linkerdResources("proxyInjectorResources")(c), linkerdProxy],
    source: "linkerd/linkerd2 edge-26.8.3 charts/linkerd-control-plane/templates/proxy-injector.yaml, values-ha.yaml",
  },
  // The daily heartbeat CronJob's pod; not meshed ("the heartbeat controller does not use the proxy").
  {
    name: "linkerd/linkerd-heartbeat",
    kind: "Deployment",
    release: "linkerd-control-plane",
    replicas: fixed(1),
    containers: (c) => [linkerdResources("heartbeatResources")(c)],
    source: "linkerd/linkerd2 edge-26.8.3 charts/linkerd-control-plane/templates/heartbeat.yaml",
  },
];

/** Requests of one pod: the sum of its containers'. */
export function podRequests(p: SystemPod, c: SystemPlacementContext) {
  const requests = p.containers(c);
  return { cpuMilli: requests.reduce((s, r) => s + cpuMilli(r.cpu), 0), memoryMiB: requests.reduce((s, r) => s + memoryMiB(r.memory), 0) };
}

/**
 * What a system node group must hold: every pod, plus the largest pod of each release once more (its surge pod;
 * DaemonSets roll without one), and the largest pod, which must fit a single node.
 */
export function systemDemand(c: SystemPlacementContext, pods: SystemPod[] = SYSTEM_PODS) {
  const total = { pods: 0, cpuMilli: 0, memoryMiB: 0 };
  const largest = { cpuMilli: 0, memoryMiB: 0 };
  const surge = new Map<string, { cpuMilli: number; memoryMiB: number }>();
  for (const p of pods) {
    const pod = podRequests(p, c);
    const n = p.kind === "DaemonSet" ? c.systemNodes : p.replicas(c);
    total.pods += n;
    total.cpuMilli += n * pod.cpuMilli;
    total.memoryMiB += n * pod.memoryMiB;
    largest.cpuMilli = Math.max(largest.cpuMilli, pod.cpuMilli);
    largest.memoryMiB = Math.max(largest.memoryMiB, pod.memoryMiB);
    if (p.kind === "Deployment" && n > 0) {
      const seen = surge.get(p.release) ?? { cpuMilli: 0, memoryMiB: 0 };
      surge.set(p.release, { cpuMilli: Math.max(seen.cpuMilli, pod.cpuMilli), memoryMiB: Math.max(seen.memoryMiB, pod.memoryMiB) });
    }
  }
  for (const s of surge.values()) {
    total.pods += 1;
    total.cpuMilli += s.cpuMilli;
    total.memoryMiB += s.memoryMiB;
  }
  return { ...total, surgePods: surge.size, largest };
}

/**
 * Why `systemNodes` nodes of `instanceType` cannot hold the system pods with a surge pod per Deployment, or
 * undefined when they can. The message names the instance type, the shortfall and what each would need.
 */
export function systemSizingProblem(instanceType: string, c: SystemPlacementContext): string | undefined {
  const t = INSTANCE_TYPES[instanceType];
  if (!t) return `${instanceType} has no row in components/system-pods.ts INSTANCE_TYPES (${Object.keys(INSTANCE_TYPES).join(", ")})`;
  const node = allocatable(t);
  const demand = systemDemand(c);
  const capacity = { pods: node.pods * c.systemNodes, cpuMilli: node.cpuMilli * c.systemNodes, memoryMiB: node.memoryMiB * c.systemNodes };
  const short: string[] = [];
  if (demand.pods > capacity.pods) short.push(`${demand.pods} pods > ${capacity.pods} (max pods ${node.pods} per node)`);
  if (demand.cpuMilli > capacity.cpuMilli) short.push(`${demand.cpuMilli}m CPU > ${capacity.cpuMilli}m allocatable`);
  if (demand.memoryMiB > capacity.memoryMiB) short.push(`${demand.memoryMiB}Mi memory > ${capacity.memoryMiB}Mi allocatable`);
  if (demand.largest.cpuMilli > node.cpuMilli || demand.largest.memoryMiB > node.memoryMiB) short.push("its largest pod does not fit one node");
  return short.length === 0 ? undefined : `${c.systemNodes} × ${instanceType} cannot hold the system pods with a surge pod per release: ${short.join(", ")}`;
}
