// Fluent Bit's fixed settings and requests, apart from components/observability/logs.ts so that the system pod
// sizing (components/system-pods.ts), which the configuration's validation runs, reads them without loading the
// providers.

export const CONTAINER_LOGS_DEFAULTS = {
  name: "fluent-bit",
  resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
};
