// Grafana's fixed settings and requests, apart from components/observability/grafana.ts so that the system pod
// sizing (components/system-pods.ts), which the configuration's validation runs, reads them without loading the
// providers.

export const GRAFANA_DEFAULTS = {
  name: "grafana",
  port: 3000,
  adminSecretName: "grafana-admin",
  /** The datasource uid the dashboards reference. */
  datasourceUid: "prometheus",
  /** The sidecar's label for dashboard ConfigMaps (the chart's sidecar.dashboards.label default). */
  dashboardLabel: "grafana_dashboard",
  resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
  sidecarResources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "128Mi" } },
};
