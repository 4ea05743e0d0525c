// What yet-another-cloudwatch-exporter (YACE) reads from CloudWatch and under which Prometheus names it serves it. A
// pure function of the region and the stack's tags, so the tests read the configuration as YACE will, and derive from
// it the metric names the data-services dashboard may use.
//
// Facts, each read in prometheus-community/yet-another-cloudwatch-exporter at tag v0.67.0 (the appVersion of the pinned
// chart, components/versions.ts) on 2026-12-06:
//   - the file's shape: pkg/config/scrapeconf.go (apiVersion v1alpha1, sts-region, discovery.jobs[] with type, regions,
//     searchTags, dimensionNameRequirements, period, length, metrics[].name/statistics);
//   - a discovery job asks tag:GetResources for its namespace's resource types (pkg/config/services.go
//     ResourceFilters) with the search tags' keys, keeps the resources whose tags match every searchTags regex, and
//     exports a CloudWatch metric only when its dimensions map to one of those resources (pkg/job/maxdimassociator). With
//     no matching resource the job exports nothing (pkg/clients/tagging/client.go ErrExpectedToFindResources);
//   - dimensionNameRequirements keeps only the metrics whose dimension names are exactly that set
//     (pkg/job/discovery.go metricDimensionsMatchNames);
//   - AWS/ApiGateway resources go through a filter that calls apigateway GetRestApis and apigatewayv2 GetApis
//     (pkg/clients/tagging/filters.go), so that job needs apigateway:GET (./policies.ts);
//   - names: pkg/promutil/migrate.go BuildMetricName and pkg/promutil/prometheus.go PromString (yaceMetricName below);
//     dimensions become `dimension_<Name>` labels, a space in the name an underscore (labels-snake-case off, the
//     default: sanitize), next to `name` (the resource ARN), `region` and `account_id`.

/**
 * Where the collector finds YACE (./cloudwatch-exporter.ts deploys it so): release `name` in the collector's namespace,
 * pods labelled with the application's name (the chart's `nameOverride`) and the release, metrics on `port` (YACE's
 * `listen-address` ":5000", cmd/yace/main.go; the chart's `containerPort`), a container port the chart names `http`.
 */
export const CLOUDWATCH_EXPORTER_PEER = {
  name: "cloudwatch-exporter",
  podLabels: { "app.kubernetes.io/name": "yet-another-cloudwatch-exporter", "app.kubernetes.io/instance": "cloudwatch-exporter" },
  port: 5000,
  portName: "http",
} as const;

/** One CloudWatch metric and the statistics exported for it; `why` names the panel or alarm that reads it. */
export interface CloudWatchMetric {
  name: string;
  statistics: string[];
  why: string;
}

/** One discovery job: a CloudWatch namespace, the exact dimension names of its metrics, and the metrics. */
export interface CloudWatchJob {
  type: "AWS/RDS" | "AWS/ElastiCache" | "AWS/Kafka" | "AWS/ApiGateway" | "AWS/NetworkELB";
  dimensions: string[];
  metrics: CloudWatchMetric[];
}

/**
 * What the dashboards and the alarms (./alarms.ts) watch, at the dimensions they watch it: the dashboards read these
 * series from AMP, and the alarms' metrics are there too, so that a page can be looked at beside its history.
 */
export const CLOUDWATCH_JOBS: CloudWatchJob[] = [
  {
    // Per Aurora cluster; the per-instance (DBInstanceIdentifier) and per-role series are left out.
    type: "AWS/RDS",
    dimensions: ["DBClusterIdentifier"],
    metrics: [
      { name: "ServerlessDatabaseCapacity", statistics: ["Average"], why: "dashboard: Aurora capacity (ACUs)" },
      { name: "ACUUtilization", statistics: ["Average"], why: "dashboard: Aurora capacity; alarm aurora-acu-utilization" },
      { name: "DatabaseConnections", statistics: ["Average", "Maximum"], why: "dashboard: Aurora connections; alarm aurora-connections (Maximum)" },
      { name: "CPUUtilization", statistics: ["Average"], why: "alarm aurora-cpu" },
    ],
  },
  {
    // Per node: each node of the replication group is a cache cluster `<group>-00n`, as the alarms name them.
    type: "AWS/ElastiCache",
    dimensions: ["CacheClusterId"],
    metrics: [
      { name: "DatabaseMemoryUsagePercentage", statistics: ["Average", "Maximum"], why: "dashboard: Cache memory used; alarm cache-<node>-memory (Maximum)" },
      { name: "Evictions", statistics: ["Sum"], why: "dashboard: Cache evictions; alarm cache-<node>-evictions" },
    ],
  },
  {
    type: "AWS/Kafka",
    dimensions: ["Cluster Name", "Broker ID"],
    metrics: [
      { name: "KafkaDataLogsDiskUsed", statistics: ["Maximum"], why: "dashboard: Broker data disk used; alarm kafka-broker-<n>-disk" },
      { name: "UnderMinIsrPartitionCount", statistics: ["Maximum"], why: "alarm kafka-broker-<n>-under-min-isr" },
    ],
  },
  {
    // The cluster-wide count is published with the cluster's name only: a second job, as the dimension sets differ.
    type: "AWS/Kafka",
    dimensions: ["Cluster Name"],
    metrics: [{ name: "OfflinePartitionsCount", statistics: ["Maximum"], why: "alarm kafka-offline-partitions" }],
  },
  {
    type: "AWS/ApiGateway",
    dimensions: ["ApiId", "Stage"],
    metrics: [
      { name: "5xx", statistics: ["Sum"], why: "alarm api-5xx-rate" },
      { name: "Count", statistics: ["Sum"], why: "alarm api-5xx-rate" },
      { name: "Latency", statistics: ["p99"], why: "alarm api-p99-latency" },
    ],
  },
  {
    type: "AWS/NetworkELB",
    dimensions: ["LoadBalancer", "TargetGroup"],
    metrics: [{ name: "UnHealthyHostCount", statistics: ["Maximum"], why: "alarm nlb-unhealthy-targets" }],
  },
];

export interface CloudWatchExporterConfigInput {
  region: string;
  /** Tags every resource of the stack carries (the provider's default tags): a resource must match all of them. */
  searchTags: Record<string, string>;
  /** CloudWatch period and the window YACE asks for, in seconds: the newest datapoint of the window is exported. */
  periodSeconds: number;
  lengthSeconds: number;
  jobs?: CloudWatchJob[];
}

/** A regex matching exactly `value` (YACE's searchTags values are regexes). */
const exactly = (value: string) => `^${value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;

/** YACE's configuration file (the chart's `config`, rendered as YAML; JSON is YAML). */
export function cloudWatchExporterConfig(c: CloudWatchExporterConfigInput) {
  if (c.lengthSeconds < c.periodSeconds) throw new Error(`cloudwatch exporter: lengthSeconds (${c.lengthSeconds}) must be at least periodSeconds (${c.periodSeconds})`);
  return {
    apiVersion: "v1alpha1",
    "sts-region": c.region,
    discovery: {
      jobs: (c.jobs ?? CLOUDWATCH_JOBS).map((j) => ({
        type: j.type,
        regions: [c.region],
        searchTags: Object.entries(c.searchTags).map(([key, value]) => ({ key, value: exactly(value) })),
        dimensionNameRequirements: j.dimensions,
        period: c.periodSeconds,
        length: c.lengthSeconds,
        metrics: j.metrics.map((m) => ({ name: m.name, statistics: m.statistics })),
      })),
    },
  };
}

/** PromString of pkg/promutil/prometheus.go: separators to `_`, `%` to `_percent`, `_` before an upper-case letter that follows a lower-case letter or digit, lower case. */
export function promString(text: string): string {
  let out = "";
  let prev = "";
  for (const c of text) {
    if (" ,\t/\\.-:=@<>()“".includes(c)) out += "_";
    else if (c === "%") out += "_percent";
    else {
      if (/\p{Lu}/u.test(c) && /[\p{Ll}\p{Nd}]/u.test(prev)) out += "_";
      out += c.toLowerCase();
    }
    prev = c;
  }
  return out;
}

/**
 * BuildMetricName of pkg/promutil/migrate.go: `aws_` (unless the namespace already starts with it), the namespace, the
 * metric without a leading repeat of a namespace part (`skip` is that part's length, not a running sum, as in YACE),
 * and the statistic.
 */
export function yaceMetricName(namespace: string, metricName: string, statistic: string): string {
  const promNs = promString((namespace.startsWith("/") ? namespace.slice(1) : namespace).toLowerCase());
  let metric = promString(metricName);
  let skip = 0;
  for (const part of promNs.split("_")) if (metric.slice(skip).startsWith(part)) skip = part.length;
  metric = metric.slice(skip).replace(/^_/, "");
  return `${promNs.startsWith("aws") ? "" : "aws_"}${promNs}_${metric}${statistic === "" ? "" : `_${promString(statistic)}`}`;
}

/** Every metric name YACE serves for a configuration (one per metric and statistic). */
export function exportedMetricNames(config: ReturnType<typeof cloudWatchExporterConfig>): string[] {
  return [...new Set(config.discovery.jobs.flatMap((j) => j.metrics.flatMap((m) => m.statistics.map((s) => yaceMetricName(j.type, m.name, s)))))].sort();
}
