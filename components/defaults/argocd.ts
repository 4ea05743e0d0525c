// Argo CD's fixed settings and requests, apart from components/argocd.ts so that the system pod sizing
// (components/system-pods.ts), which the configuration's validation runs, reads them without loading the providers.

export const ARGOCD_DEFAULTS = {
  namespace: "argocd",
  project: "eventstack",
  application: "eventstack-workloads",
  /** The in-cluster destination: Argo CD deploys into the cluster it runs in. */
  destinationServer: "https://kubernetes.default.svc",
  /**
   * Requests for each component (the chart sets none), sized for one Application of a few dozen objects: they must
   * fit beside the other system pods on dev's single system node (components/system-pods.ts). Memory limits only.
   */
  resources: {
    controller: { requests: { cpu: "100m", memory: "384Mi" }, limits: { memory: "1Gi" } },
    repoServer: { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } },
    server: { requests: { cpu: "25m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    redis: { requests: { cpu: "25m", memory: "64Mi" }, limits: { memory: "128Mi" } },
    applicationSet: { requests: { cpu: "25m", memory: "64Mi" }, limits: { memory: "128Mi" } },
  },
};
