// Linkerd's fixed numbers and replica rules, apart from components/linkerd.ts so that the configuration's
// validation (components/config.ts) and the system pod sizing (components/system-pods.ts) can read them without
// loading @pulumi/tls and the providers. Nothing here imports anything.

export interface ProxyResources {
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
}

export const LINKERD_DEFAULTS = {
  namespace: "linkerd",
  trustAnchorValidityHours: 87_600,
  minimumRenewalHours: 24,
  // The proxy is a small Rust process: ~10-20 MiB at rest in Linkerd's own benchmarks; the limit leaves room for
  // connection bursts without letting a leaking proxy take the node's memory. No CPU limit: it would throttle
  // every request of the pod it fronts.
  proxyResources: { cpuRequest: "100m", memoryRequest: "64Mi", memoryLimit: "256Mi" } satisfies ProxyResources,
  /** The container ports of Linkerd's admission webhooks (see `controlPlaneSecurityGroupId`). */
  webhookPorts: [8443, 8089, 9443],
  /** values-ha.yaml's controllerReplicas: the most replicas HA runs. */
  haReplicas: 3,
  /** The fewest system nodes HA can run on: 2 replicas on separate nodes, and one node free to drain into. */
  haMinimumSystemNodes: 3,
  /** The trust domain's identity names, as `linkerd install` generates them. */
  trustAnchorCommonName: "root.linkerd.cluster.local",
  issuerCommonName: "identity.linkerd.cluster.local",
  /** One CA (the issuer) may follow the anchor; the issuer itself cannot be given pathlen 0 (see createLinkerd). */
  trustAnchorMaxPathLength: 1,
} as const;

/**
 * Control-plane replicas. values-ha.yaml's 3 come with a *required* pod anti-affinity on the hostname
 * (charts/partials/templates/_affinity.tpl) and PDBs of maxUnavailable 1, so each replica needs a system node of its
 * own, and a node being drained needs one more node free for its replica to move to: at most one fewer than the
 * system nodes, and no more than values-ha.yaml's 3. HA needs at least 3 system nodes (2 replicas); below that
 * components/config.ts refuses it. Without HA: the chart's default single replica and no anti-affinity.
 */
export function linkerdControllerReplicas(systemNodes: number, highAvailability: boolean): number {
  return highAvailability ? Math.max(1, Math.min(LINKERD_DEFAULTS.haReplicas, systemNodes - 1)) : 1;
}

/**
 * The values-ha.yaml settings of the control-plane chart, with `controllerReplicas` from the system node count
 * (linkerdControllerReplicas). Verified against linkerd/linkerd2 edge-26.8.3 (and edge-25.10.7, identical) on
 * 2026-12-05: charts/linkerd-control-plane/values-ha.yaml, read by templates/destination.yaml, identity.yaml,
 * proxy-injector.yaml (replicas, deploymentStrategy, affinity, PDBs) and heartbeat.yaml. values-ha.yaml also sets
 * `controllerResources`, which no template at that version reads, so it is not set here; its `proxy.resources`
 * is replaced by the program's own (`proxyResources`). The PDBs take `controller.podDisruptionBudget.maxUnavailable`,
 * 1 in values.yaml and values-ha.yaml alike, so each allows one eviction whenever all replicas are up.
 */
export function haValues(controllerReplicas: number) {
  const controller = { cpu: { request: "100m" }, memory: { limit: "250Mi", request: "50Mi" } };
  return {
    enablePodDisruptionBudget: true,
    deploymentStrategy: { rollingUpdate: { maxUnavailable: 1, maxSurge: "25%" } },
    enablePodAntiAffinity: true,
    controllerReplicas,
    destinationResources: controller,
    identityResources: { cpu: { request: "100m" }, memory: { limit: "250Mi", request: "10Mi" } },
    heartbeatResources: controller,
    proxyInjectorResources: controller,
    spValidatorResources: controller,
    // With more than one injector replica, failing closed is safe: a pod is never admitted un-meshed by accident.
    webhookFailurePolicy: "Fail",
  };
}
