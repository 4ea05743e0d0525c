// metrics-server's replica rule, apart from components/autoscaling.ts so that the system pod sizing
// (components/system-pods.ts), which the configuration's validation runs, reads it without loading the providers.

/** metrics-server replicas: two once there are two system nodes, so the APIService survives a drain (the PDB keeps one). */
export function metricsServerReplicas(systemNodes: number): number {
  return systemNodes >= 2 ? 2 : 1;
}
