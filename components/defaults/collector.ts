// The OpenTelemetry Collector's fixed settings, apart from components/observability/collector.ts so that the
// configuration (its defaults) and the system pod sizing (components/system-pods.ts) read them without loading the
// providers.

import { CLOUDWATCH_EXPORTER_PEER } from "../observability/cloudwatch-exporter-config";

export const COLLECTOR_DEFAULTS = {
  namespace: "observability",
  /** Release, Deployment, Service and ServiceAccount name of the collector. */
  name: "otel-collector",
  scrapeIntervalSeconds: 30,
  traceLatencyThresholdMs: 1000,
  traceSamplePercent: 10,
  /** The contrib distribution: the prometheus receiver, the AWS exporters, sigv4auth and tail_sampling are not in the core one. */
  image: "otel/opentelemetry-collector-contrib",
  resources: { requests: { cpu: "200m", memory: "512Mi" }, limits: { memory: "1Gi" } },
  kubeStateMetricsResources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } },
  /** Per node, system nodes included (components/system-pods.ts counts it). */
  nodeExporterResources: { requests: { cpu: "20m", memory: "32Mi" }, limits: { memory: "64Mi" } },
  /** The ports the scrape targets serve metrics on (see scrapeTargets). */
  scrapePorts: { ingest: 8080, processor: 8081, karpenter: 8080, keda: 8080, kubeStateMetrics: 8080, nodeExporter: 9100, cloudWatchExporter: CLOUDWATCH_EXPORTER_PEER.port },
};
