// The OpenTelemetry Collector's configuration: what it scrapes, how it samples traces and where it sends both. A pure
// function of the endpoints and names, so the tests read it as the collector will.
//
// Components (all in the collector's contrib distribution, the chart's `image.repository` below):
//   receivers  prometheus (Kubernetes pod discovery and the MSK brokers' static targets), otlp (HTTP only, 4318);
//   processors memory_limiter, tail_sampling, batch;
//   exporters  prometheusremotewrite (to AMP, SigV4-signed by the sigv4auth extension), awsxray;
//   extensions health_check (the chart's probes), sigv4auth.

/** The collector's OTLP/HTTP port, which the services send spans to (OTEL_EXPORTER_OTLP_ENDPOINT). */
export const OTLP_HTTP_PORT = 4318;
/** The health_check extension's port: the chart's liveness and readiness probes. */
export const HEALTH_PORT = 13133;
/** MSK open monitoring: the JMX exporter and the node exporter on every broker (MSK developer guide, "Open monitoring"). */
export const MSK_EXPORTER_PORTS = { jmx: 11001, node: 11002 } as const;

/** A set of pods to scrape, selected by namespace, one pod label and a container port name. */
export interface PodScrapeTarget {
  job: string;
  namespace?: string;
  /** The pod label (`app.kubernetes.io/name` unless `label` says otherwise) and its value. */
  label?: string;
  value?: string;
  /** The container port's name. */
  port: string;
  /** Only containers of this name (the Linkerd proxy). */
  container?: string;
}

export interface CollectorConfigInput {
  region: string;
  /** The AMP workspace's endpoint (Metrics.prometheusEndpoint), ending in `/`. */
  prometheusEndpoint: string;
  /** Pods to scrape. */
  pods: PodScrapeTarget[];
  /** The MSK brokers' host names (from the bootstrap string). */
  kafkaBrokerHosts: string[];
  scrapeIntervalSeconds: number;
  /** Traces slower than this are always kept. */
  latencyThresholdMs: number;
  /** The share (percent) of the other traces kept. */
  samplePercent: number;
}

/** Prometheus' label name for a Kubernetes label (`app.kubernetes.io/name` → `app_kubernetes_io_name`). */
const labelMeta = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^A-Za-z0-9_]/g, "_")}`;

/** One Prometheus scrape job over Kubernetes pods. `$$` is a literal `$` in the collector's configuration. */
export function podScrapeJob(t: PodScrapeTarget) {
  const keep = (sourceLabel: string, regex: string) => ({ source_labels: [sourceLabel], regex, action: "keep" });
  return {
    job_name: t.job,
    kubernetes_sd_configs: [{ role: "pod", ...(t.namespace ? { namespaces: { names: [t.namespace] } } : {}) }],
    relabel_configs: [
      ...(t.value !== undefined ? [keep(labelMeta(t.label ?? "app.kubernetes.io/name"), t.value)] : []),
      ...(t.container !== undefined ? [keep("__meta_kubernetes_pod_container_name", t.container)] : []),
      keep("__meta_kubernetes_pod_container_port_name", t.port),
      { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
      { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
      { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: "node" },
    ],
  };
}

/** The MSK brokers' two exporters, as static targets on each broker's host name. */
export function kafkaScrapeJobs(hosts: string[]) {
  return (["jmx", "node"] as const).map((exporter) => ({
    job_name: `msk-${exporter}`,
    static_configs: [{ targets: hosts.map((h) => `${h}:${MSK_EXPORTER_PORTS[exporter]}`) }],
  }));
}

/** Host names of a bootstrap string (`b-1.x:9098,b-2.x:9098`). */
export function brokerHosts(bootstrap: string): string[] {
  return [...new Set(bootstrap.split(",").map((b) => b.trim().replace(/:\d+$/, "")).filter((h) => h !== ""))];
}

export function collectorConfig(c: CollectorConfigInput) {
  if (c.samplePercent < 0 || c.samplePercent > 100) throw new Error(`collector: samplePercent must be from 0 to 100 (got ${c.samplePercent})`);
  const podIp = "${env:MY_POD_IP}";
  return {
    extensions: {
      health_check: { endpoint: `${podIp}:${HEALTH_PORT}` },
      sigv4auth: { region: c.region, service: "aps" },
    },
    receivers: {
      otlp: { protocols: { http: { endpoint: `${podIp}:${OTLP_HTTP_PORT}` } } },
      prometheus: {
        config: {
          global: { scrape_interval: `${c.scrapeIntervalSeconds}s`, scrape_timeout: `${Math.min(10, c.scrapeIntervalSeconds)}s` },
          scrape_configs: [...c.pods.map(podScrapeJob), ...kafkaScrapeJobs(c.kafkaBrokerHosts)],
        },
      },
    },
    processors: {
      memory_limiter: { check_interval: "5s", limit_percentage: 80, spike_limit_percentage: 25 },
      // A trace is decided once no span of it has arrived for decision_wait; all of its spans must reach this replica
      // (one replica: components/observability/collector.ts).
      tail_sampling: {
        decision_wait: "10s",
        policies: [
          { name: "errors", type: "status_code", status_code: { status_codes: ["ERROR"] } },
          { name: "slow", type: "latency", latency: { threshold_ms: c.latencyThresholdMs } },
          { name: "share-of-the-rest", type: "probabilistic", probabilistic: { sampling_percentage: c.samplePercent } },
        ],
      },
      batch: {},
    },
    exporters: {
      prometheusremotewrite: { endpoint: `${c.prometheusEndpoint.replace(/\/+$/, "")}/api/v1/remote_write`, auth: { authenticator: "sigv4auth" } },
      awsxray: { region: c.region },
    },
    service: {
      extensions: ["health_check", "sigv4auth"],
      pipelines: {
        metrics: { receivers: ["prometheus"], processors: ["memory_limiter", "batch"], exporters: ["prometheusremotewrite"] },
        traces: { receivers: ["otlp"], processors: ["memory_limiter", "tail_sampling", "batch"], exporters: ["awsxray"] },
      },
    },
  };
}
