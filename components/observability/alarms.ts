// CloudWatch alarms for what only CloudWatch sees: the managed services' own health (MSK, Aurora, ElastiCache), the
// API Gateway stage and the NLB's targets. Everything inside the cluster is alerted on from Prometheus (AMP rules).
//
// Creates one aws.cloudwatch.MetricAlarm per row of alarmSpecs(), each named `<identifier>-<what>` (the prefix the alert
// topic's policy admits), each notifying the alert topic on ALARM and on OK. Missing data is "notBreaching" except where
// silence itself is the problem (none here: every metric below is published while the resource exists).
//
// Expects from its caller: the alert topic and the identifiers CloudWatch names the resources by.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/**
 * Thresholds, in one place; docs/observability-aws.md explains each.
 *   - MSK: any offline partition or any partition under min.insync.replicas fails writes with acks=all (ingest's), so
 *     both page at > 0 over one minute; a broker's data disk above 85% (storage auto-scaling targets 60%, so 85% means it
 *     is not keeping up or has reached kafka.maxVolumeSizeGiB).
 *   - Aurora: ACU utilization above 90% of aurora.maxCapacity for 15 minutes (the cluster is at its ceiling); CPU above
 *     80% for 15 minutes; connections above `databaseConnections` (default 800: the processor's pools are far below).
 *   - ElastiCache: memory above 80% for 15 minutes (Valkey evicts near 100%); any eviction (the processor's keys must not be
 *     evicted).
 *   - API Gateway: 5xx above 1% of requests over 5 minutes (3 of 5); p99 latency above 2 s over 5 minutes (3 of 5).
 *   - NLB: any unhealthy ingest target for 5 minutes.
 */
export const ALARM_DEFAULTS = {
  kafkaDiskUsedPercent: 85,
  auroraAcuUtilizationPercent: 90,
  auroraCpuPercent: 80,
  databaseConnections: 800,
  cacheMemoryPercent: 80,
  apiErrorRatePercent: 1,
  apiP99LatencyMs: 2000,
};

export interface AlarmsArgs {
  /** The stack's name: every alarm is `<identifier>-<what>` (Alerting.alarmPrefix). */
  identifier: string;
  /** The alert topic (Alerting.topicArn). */
  topicArn: pulumi.Input<string>;
  /** The MSK cluster's name and broker count (broker ids 1..brokers). */
  kafka: { clusterName: pulumi.Input<string>; brokers: number };
  /** The Aurora cluster identifier. */
  databaseClusterIdentifier: pulumi.Input<string>;
  /** The cluster's ACU ceiling (config `aurora.maxCapacity`), named in the ACU alarm's description. */
  maxAcu: number;
  /** The ElastiCache replication group id and its node count (primary + replicas): nodes are `<id>-001`, `-002`, … */
  cache: { replicationGroupId: pulumi.Input<string>; nodes: number };
  /** The HTTP API's id; its `$default` stage is the one measured. */
  apiId: pulumi.Input<string>;
  /** ARNs of the NLB's target group and listener, from which CloudWatch's dimensions are derived. */
  targetGroupArn: pulumi.Input<string>;
  listenerArn: pulumi.Input<string>;
  /** Thresholds. Default ALARM_DEFAULTS. */
  thresholds?: Partial<typeof ALARM_DEFAULTS>;
}

/** CloudWatch's TargetGroup dimension: `targetgroup/<name>/<id>`, the ARN's resource part. */
export function targetGroupDimension(targetGroupArn: string): string {
  const m = /:(targetgroup\/[^/]+\/[0-9a-f]+)$/.exec(targetGroupArn);
  if (!m) throw new Error(`Alarms: "${targetGroupArn}" is not a target group ARN`);
  return m[1]!;
}

/** CloudWatch's LoadBalancer dimension, `net/<name>/<id>`, from a listener ARN (`…:listener/net/<name>/<id>/<listener id>`). */
export function loadBalancerDimension(listenerArn: string): string {
  const m = /:listener\/(net\/[^/]+\/[0-9a-f]+)\/[0-9a-f]+$/.exec(listenerArn);
  if (!m) throw new Error(`Alarms: "${listenerArn}" is not a Network Load Balancer listener ARN`);
  return m[1]!;
}

type Alarm = Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions" | "name"> & { key: string };

const cache3 = (n: number) => String(n).padStart(3, "0");

/** Every alarm, by a stable key (the alarm's name after the prefix). Pure, so the tests read thresholds and dimensions. */
export function alarmSpecs(
  a: Omit<AlarmsArgs, "topicArn" | "thresholds" | "identifier">,
  t: typeof ALARM_DEFAULTS = ALARM_DEFAULTS,
): Alarm[] {
  const kafka = { "Cluster Name": a.kafka.clusterName };
  const brokers = Array.from({ length: a.kafka.brokers }, (_, i) => i + 1);
  const db = { DBClusterIdentifier: a.databaseClusterIdentifier };
  const api = { ApiId: a.apiId, Stage: "$default" };
  const fiveOfFive = { period: 60, evaluationPeriods: 5, datapointsToAlarm: 3 };
  return [
    { key: "kafka-offline-partitions", namespace: "AWS/Kafka", metricName: "OfflinePartitionsCount", dimensions: kafka, statistic: "Maximum", period: 60, evaluationPeriods: 1, comparisonOperator: "GreaterThanThreshold", threshold: 0 },
    ...brokers.flatMap((b): Alarm[] => [
      {
        key: `kafka-broker-${b}-under-min-isr`,
        namespace: "AWS/Kafka",
        metricName: "UnderMinIsrPartitionCount",
        dimensions: { ...kafka, "Broker ID": String(b) },
        statistic: "Maximum",
        period: 60,
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanThreshold",
        threshold: 0,
      },
      {
        key: `kafka-broker-${b}-disk`,
        namespace: "AWS/Kafka",
        metricName: "KafkaDataLogsDiskUsed",
        dimensions: { ...kafka, "Broker ID": String(b) },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 2,
        comparisonOperator: "GreaterThanThreshold",
        threshold: t.kafkaDiskUsedPercent,
      },
    ]),
    { key: "aurora-acu-utilization", namespace: "AWS/RDS", metricName: "ACUUtilization", dimensions: db, statistic: "Average", period: 300, evaluationPeriods: 3, comparisonOperator: "GreaterThanThreshold", threshold: t.auroraAcuUtilizationPercent, alarmDescription: `Aurora at its ceiling of ${a.maxAcu} ACUs (aurora.maxCapacity)` },
    { key: "aurora-cpu", namespace: "AWS/RDS", metricName: "CPUUtilization", dimensions: db, statistic: "Average", period: 300, evaluationPeriods: 3, comparisonOperator: "GreaterThanThreshold", threshold: t.auroraCpuPercent },
    { key: "aurora-connections", namespace: "AWS/RDS", metricName: "DatabaseConnections", dimensions: db, statistic: "Maximum", period: 300, evaluationPeriods: 2, comparisonOperator: "GreaterThanThreshold", threshold: t.databaseConnections },
    ...Array.from({ length: a.cache.nodes }, (_, i) => i + 1).flatMap((n): Alarm[] => {
      const node = { CacheClusterId: pulumi.interpolate`${a.cache.replicationGroupId}-${cache3(n)}` };
      return [
        { key: `cache-${cache3(n)}-memory`, namespace: "AWS/ElastiCache", metricName: "DatabaseMemoryUsagePercentage", dimensions: node, statistic: "Maximum", period: 300, evaluationPeriods: 3, comparisonOperator: "GreaterThanThreshold", threshold: t.cacheMemoryPercent },
        { key: `cache-${cache3(n)}-evictions`, namespace: "AWS/ElastiCache", metricName: "Evictions", dimensions: node, statistic: "Sum", period: 300, evaluationPeriods: 1, comparisonOperator: "GreaterThanThreshold", threshold: 0 },
      ];
    }),
    {
      key: "api-5xx-rate",
      comparisonOperator: "GreaterThanThreshold",
      threshold: t.apiErrorRatePercent,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      metricQueries: [
        { id: "errors", metric: { namespace: "AWS/ApiGateway", metricName: "5xx", dimensions: api, period: 60, stat: "Sum" } },
        { id: "requests", metric: { namespace: "AWS/ApiGateway", metricName: "Count", dimensions: api, period: 60, stat: "Sum" } },
        { id: "rate", expression: "100 * errors / MAX([requests, 1])", label: "5xx % of requests", returnData: true },
      ],
    },
    { key: "api-p99-latency", namespace: "AWS/ApiGateway", metricName: "Latency", dimensions: api, extendedStatistic: "p99", ...fiveOfFive, comparisonOperator: "GreaterThanThreshold", threshold: t.apiP99LatencyMs },
    {
      key: "nlb-unhealthy-targets",
      namespace: "AWS/NetworkELB",
      metricName: "UnHealthyHostCount",
      dimensions: { TargetGroup: pulumi.output(a.targetGroupArn).apply(targetGroupDimension), LoadBalancer: pulumi.output(a.listenerArn).apply(loadBalancerDimension) },
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 5,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
    },
  ];
}

export class Alarms extends pulumi.ComponentResource {
  /** Every alarm's name. */
  readonly alarmNames: string[];

  constructor(name: string, args: AlarmsArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:observability:Alarms", name, {}, opts);
    const thresholds = { ...ALARM_DEFAULTS, ...args.thresholds };
    const childOpts = { parent: this, provider: opts.provider };
    const specs = alarmSpecs(args, thresholds);
    this.alarmNames = specs.map((s) => `${args.identifier}-${s.key}`);
    for (const { key, ...spec } of specs) {
      new aws.cloudwatch.MetricAlarm(
        `${name}-${key}`,
        { ...spec, name: `${args.identifier}-${key}`, treatMissingData: "notBreaching", alarmActions: [args.topicArn], okActions: [args.topicArn] },
        childOpts,
      );
    }
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}
