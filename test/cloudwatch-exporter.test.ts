// The CloudWatch exporter's configuration against what reads it: YACE's own naming (pkg/promutil at v0.67.0, ported in
// components/observability/cloudwatch-exporter-config.ts and checked here against YACE's own test table), and every
// CloudWatch series a dashboard panel queries, which must be a name YACE serves for the configured statistics, grouped
// by labels YACE puts on it.
import {
  CLOUDWATCH_JOBS,
  cloudWatchExporterConfig,
  exportedMetricNames,
  promString,
  yaceMetricName,
  type CloudWatchJob,
} from "../components/observability/cloudwatch-exporter-config";
import { CLOUDWATCH_EXPORTER_DEFAULTS, cloudWatchExporterValues } from "../components/observability/cloudwatch-exporter";
import { dashboardQueries } from "../observability/dashboards";

const config = (jobs?: CloudWatchJob[]) =>
  cloudWatchExporterConfig({ region: "eu-west-1", searchTags: { Project: "eventstack", Stack: "dev" }, periodSeconds: 60, lengthSeconds: 300, jobs });

/** The aws_* metric names of a PromQL expression. */
const awsNames = (expr: string) => [...expr.matchAll(/\baws_[a-z0-9_]+\b/g)].map((m) => m[0]);
/** The labels of every `by (...)` of an expression. */
const byLabels = (expr: string) => [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(",").map((l) => l.trim()));

describe("YACE's metric names (pkg/promutil/migrate.go BuildMetricName, v0.67.0)", () => {
  // TestBuildMetricName's cases in pkg/promutil/migrate_test.go at v0.67.0.
  test.each([
    ["AWS/ElastiCache", "CPUUtilization", "Average", "aws_elasticache_cpuutilization_average"],
    ["/aws/sagemaker/TrainingJobs", "CPUUtilization", "Average", "aws_sagemaker_trainingjobs_cpuutilization_average"],
    ["Glue", "glue.driver.aggregate.bytesRead", "Average", "aws_glue_driver_aggregate_bytes_read_average"],
    ["Glue", "aggregate.glue.jobs.bytesRead", "Average", "aws_glue_aggregate_glue_jobs_bytes_read_average"],
  ])("%s %s %s is %s, as YACE's own test says", (namespace, metric, statistic, expected) => {
    expect(yaceMetricName(namespace, metric, statistic)).toBe(expected);
  });

  test("a metric repeating its namespace loses the repeat; capitals after a lower-case letter or digit start a word; % is _percent", () => {
    expect(yaceMetricName("AWS/Kafka", "KafkaDataLogsDiskUsed", "Maximum")).toBe("aws_kafka_data_logs_disk_used_maximum");
    expect(yaceMetricName("AWS/RDS", "ACUUtilization", "Average")).toBe("aws_rds_acuutilization_average");
    expect(yaceMetricName("AWS/ApiGateway", "Latency", "p99")).toBe("aws_apigateway_latency_p99");
    expect(promString("Broker ID")).toBe("broker_id");
    expect(promString("Used%")).toBe("used_percent");
  });

  test("the configuration serves exactly one name per metric and statistic", () => {
    expect(exportedMetricNames(config())).toEqual([
      "aws_apigateway_5xx_sum",
      "aws_apigateway_count_sum",
      "aws_apigateway_latency_p99",
      "aws_elasticache_database_memory_usage_percentage_average",
      "aws_elasticache_database_memory_usage_percentage_maximum",
      "aws_elasticache_evictions_sum",
      "aws_kafka_data_logs_disk_used_maximum",
      "aws_kafka_offline_partitions_count_maximum",
      "aws_kafka_under_min_isr_partition_count_maximum",
      "aws_networkelb_un_healthy_host_count_maximum",
      "aws_rds_acuutilization_average",
      "aws_rds_cpuutilization_average",
      "aws_rds_database_connections_average",
      "aws_rds_database_connections_maximum",
      "aws_rds_serverless_database_capacity_average",
    ]);
  });
});

describe("every CloudWatch series a dashboard queries is one the exporter serves", () => {
  const queries = dashboardQueries().filter((q) => awsNames(q.expr).length > 0);

  test("the CloudWatch panels are the data-services dashboard's, and every query naming aws_* is marked as CloudWatch", () => {
    expect([...new Set(queries.map((q) => q.dashboard))]).toEqual(["eventstack data services"]);
    expect(queries.filter((q) => q.source !== "cloudwatch")).toEqual([]);
    expect(queries).toHaveLength(6);
  });

  test("each aws_* name is served for the statistic in its name", () => {
    const served = new Set(exportedMetricNames(config()));
    const missing = queries.flatMap((q) => awsNames(q.expr).filter((n) => !served.has(n)).map((n) => `${q.panel}: ${n}`));
    expect(missing).toEqual([]);
  });

  test("each query groups by dimension labels of the job that serves its metric (dimension_<Name>, a space as _)", () => {
    const labelsOf = new Map<string, Set<string>>();
    for (const job of CLOUDWATCH_JOBS) {
      for (const m of job.metrics) for (const s of m.statistics) labelsOf.set(yaceMetricName(job.type, m.name, s), new Set(job.dimensions.map((d) => `dimension_${d.replaceAll(" ", "_")}`)));
    }
    const wrong = queries.flatMap((q) => awsNames(q.expr).flatMap((n) => byLabels(q.expr).filter((l) => !labelsOf.get(n)?.has(l)).map((l) => `${q.panel}: ${n} has no label ${l}`)));
    expect(wrong).toEqual([]);
  });

  test("a statistic the configuration does not ask for is found missing", () => {
    const withoutEvictions = CLOUDWATCH_JOBS.map((j) => ({ ...j, metrics: j.metrics.map((m) => (m.name === "Evictions" ? { ...m, statistics: ["Average"] } : m)) }));
    const served = new Set(exportedMetricNames(config(withoutEvictions)));
    expect(queries.flatMap((q) => awsNames(q.expr)).filter((n) => !served.has(n))).toEqual(["aws_elasticache_evictions_sum"]);
  });
});

describe("the exporter's configuration", () => {
  test("each job reads the stack's region, only resources carrying both stack tags exactly, at exact dimension names", () => {
    const c = config();
    expect(c.apiVersion).toBe("v1alpha1");
    expect(c["sts-region"]).toBe("eu-west-1");
    expect(c.discovery.jobs.map((j) => [j.type, j.dimensionNameRequirements])).toEqual([
      ["AWS/RDS", ["DBClusterIdentifier"]],
      ["AWS/ElastiCache", ["CacheClusterId"]],
      ["AWS/Kafka", ["Cluster Name", "Broker ID"]],
      ["AWS/Kafka", ["Cluster Name"]],
      ["AWS/ApiGateway", ["ApiId", "Stage"]],
      ["AWS/NetworkELB", ["LoadBalancer", "TargetGroup"]],
    ]);
    for (const j of c.discovery.jobs) {
      expect(j).toMatchObject({
        regions: ["eu-west-1"],
        searchTags: [
          { key: "Project", value: "^eventstack$" },
          { key: "Stack", value: "^dev$" },
        ],
        period: 60,
        length: 300,
      });
    }
  });

  test("tag values are matched literally (YACE reads them as regexes)", () => {
    const c = cloudWatchExporterConfig({ region: "eu-west-1", searchTags: { Stack: "dev.v2+x" }, periodSeconds: 60, lengthSeconds: 60 });
    expect(c.discovery.jobs[0]!.searchTags).toEqual([{ key: "Stack", value: "^dev\\.v2\\+x$" }]);
  });

  test("a window shorter than the period is refused with the exact message (YACE refuses it too)", () => {
    expect(() => cloudWatchExporterConfig({ region: "eu-west-1", searchTags: {}, periodSeconds: 300, lengthSeconds: 60 })).toThrow(
      "cloudwatch exporter: lengthSeconds (60) must be at least periodSeconds (300)",
    );
  });

  test("the chart's config is that configuration as text, asked every minute", () => {
    const values = cloudWatchExporterValues({ region: "eu-west-1", searchTags: { Project: "eventstack", Stack: "dev" } });
    expect(JSON.parse(values.config)).toEqual(config());
    expect(values.extraArgs).toEqual({ "scraping-interval": CLOUDWATCH_EXPORTER_DEFAULTS.scrapingIntervalSeconds });
    expect(CLOUDWATCH_EXPORTER_DEFAULTS.scrapingIntervalSeconds).toBe(60);
  });
});
