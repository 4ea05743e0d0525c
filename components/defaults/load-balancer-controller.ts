// The AWS Load Balancer Controller's fixed settings, apart from components/load-balancer-controller.ts so that the
// system pod sizing (components/system-pods.ts), which the configuration's validation runs, reads them without loading
// the providers.

export const LOAD_BALANCER_CONTROLLER_DEFAULTS = {
  namespace: "kube-system",
  serviceAccount: "aws-load-balancer-controller",
  replicas: 2,
} as const;
