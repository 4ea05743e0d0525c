// Karpenter's fixed settings and its replica rule, apart from components/karpenter so that the system pod sizing
// (components/system-pods.ts), which the configuration's validation runs, reads them without loading the providers.

export const KARPENTER_DEFAULTS = {
  namespace: "kube-system",
  serviceAccount: "karpenter",
  releaseName: "karpenter",
  expireAfter: "720h",
  rootVolumeGiB: 50,
  instanceCategories: ["c", "m", "r"],
  minGenerationExclusive: 5,
  tags: {} as Record<string, string>,
  controllerResources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } },
};

/**
 * Two controller replicas (leader election; the chart's required anti-affinity by host, charts/karpenter/values.yaml
 * at v1.10.0) only if there are two system nodes.
 */
export function controllerReplicas(systemNodes: number): number {
  return systemNodes >= 2 ? 2 : 1;
}
