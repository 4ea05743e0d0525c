// Argo Rollouts' fixed settings and replica rule, apart from components/progressive-delivery.ts so that the system
// pod sizing (components/system-pods.ts), which the configuration's validation runs, reads them without loading the
// providers.

export const PROGRESSIVE_DELIVERY_DEFAULTS = {
  namespace: "argo-rollouts",
  /** The chart's controller service account (fullname `argo-rollouts`). */
  serviceAccount: "argo-rollouts",
  /** The chart sets none; these hold a controller watching two Rollouts. */
  controllerResources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } },
};

/** Two replicas (leader election) once a second system node can take the standby. */
export function rolloutsControllerReplicas(systemNodes: number): number {
  return systemNodes >= 2 ? 2 : 1;
}
