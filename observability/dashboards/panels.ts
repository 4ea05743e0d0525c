// What each dashboard shows: titles, descriptions and PromQL, as data, one `panel()` call per panel (index.ts turns it
// into Grafana JSON).
// Every metric name is its source's own:
//   services            apps/ingest/src/metrics.ts, apps/processor/src/metrics.ts (and the recording rules of
//                       observability/rules over them)
//   kube-state-metrics  kubernetes/kube-state-metrics internal/store/{horizontalpodautoscaler,pod}.go
//   karpenter           sigs.k8s.io/karpenter at the commit Karpenter v1.14.1 pins (components/versions.ts):
//                       pkg/controllers/metrics/{node,nodepool}/controller.go, pkg/metrics/metrics.go; verified 2026-12-06
//   msk-jmx             MSK open monitoring's JMX exporter (port 11001): kafka_<domain>_<type>_Value{name="<MBean name>"}
//   cloudwatch          CloudWatch metrics under the names YACE (prometheus-community/yet-another-cloudwatch-exporter,
//                       v0.67.0, pkg/promutil/migrate.go BuildMetricName; verified 2026-12-06) gives them:
//                       aws_<namespace>_<metric in snake case>_<statistic>, dimensions as dimension_<Name> labels
export type MetricSource = "services" | "kube-state-metrics" | "karpenter" | "msk-jmx" | "cloudwatch";

export interface QuerySpec {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  /** The question the panel answers (Grafana shows it as the panel's tooltip). */
  description: string;
  kind: "timeseries" | "stat";
  unit: string;
  source: MetricSource;
  queries: QuerySpec[];
  width?: number;
  height?: number;
  min?: number;
  max?: number;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  /** Adds the `namespace` variable (the apps' namespace) that the platform panels filter on. */
  namespaceVariable?: boolean;
  rows: { title: string; panels: PanelSpec[] }[];
}

/** One panel query: its PromQL and the legend of its series. */
const q = (expr: string, legend: string): QuerySpec => ({ expr, legend });

/**
 * Every panel below: a time series of `source`'s metrics in `unit`, with its title, the question it answers and its
 * queries; `more` for what few panels set (a stat panel, a fixed axis range).
 */
function panel(source: MetricSource, unit: string, title: string, description: string, queries: QuerySpec[], more: Partial<Pick<PanelSpec, "kind" | "min" | "max">> = {}): PanelSpec {
  return { title, description, kind: "timeseries", unit, source, queries, ...more };
}

const EVENTS = 'route="/v1/events",method="POST"';
const quantiles = (metric: string, selector: string, qs: number[]) =>
  qs.map((p) => q(`histogram_quantile(${p}, sum by (le) (rate(${metric}_bucket${selector ? `{${selector}}` : ""}[$__rate_interval])))`, `p${p * 100}`));

export const PIPELINE: DashboardSpec = {
  uid: "eventstack-pipeline",
  title: "eventstack pipeline",
  description: "Events from clients through ingest and Kafka to the processor's stores: rates, latency, lag, dead letters.",
  rows: [
    {
      title: "Ingest",
      panels: [
        panel("services", "reqps", "Events accepted, rejected and shed", "Is ingest taking events in? Accepted events (acknowledged by Kafka), requests rejected as invalid, too large or of the wrong media type, requests shed with 429 because too many events wait for Kafka, and events answered 503.", [
          q("sum(rate(ingest_events_produced_total[$__rate_interval]))", "accepted events/s"),
          q('sum by (reason) (rate(ingest_events_rejected_total{reason!="overloaded"}[$__rate_interval]))', "rejected requests/s: {{reason}}"),
          q('sum(rate(ingest_events_rejected_total{reason="overloaded"}[$__rate_interval]))', "shed requests/s (429 overloaded)"),
          q("sum(rate(ingest_produce_errors_total[$__rate_interval]))", "events/s answered 503 (Kafka did not acknowledge)"),
        ]),
        panel("services", "reqps", "Ingest responses by status", "What do clients get back from POST /v1/events? 202 accepted, 400/413/415 their mistake, 429 shed, 503 Kafka unavailable.", [q(`sum by (status) (rate(ingest_http_requests_total{${EVENTS}}[$__rate_interval]))`, "{{status}}")]),
        panel("services", "s", "Ingest latency, POST /v1/events", "How long do clients wait? From request to response, which includes Kafka's acknowledgement of every event (the latency objective: 99 % within 0.5 s).", quantiles("ingest_http_request_duration_seconds", EVENTS, [0.5, 0.9, 0.99])),
        panel("services", "percentunit", "SLO error ratios (1 h)", "How fast do the ingest objectives' error budgets burn? The 5xx ratio (objective: at most 0.001) and the ratio slower than 0.5 s (objective: at most 0.01) over the last hour, from the recording rules of observability/rules/ingest-slo.rules.yaml.", [
          q("ingest:events_request_errors:ratio_rate1h", "5xx ratio"),
          q("ingest:events_request_slow:ratio_rate1h", "slower than 0.5 s"),
        ]),
        panel("services", "s", "Kafka send duration", "Is Kafka slow? One produce request from send to acknowledgement (acks=all).", quantiles("ingest_kafka_send_duration_seconds", "", [0.5, 0.99])),
        panel("services", "short", "Events per produce request and events pending", "Is ingest batching behind a slow broker? The mean events per produce request and the events waiting for Kafka's acknowledgement (shed with 429 above MAX_PENDING_EVENTS).", [
          q("sum(rate(ingest_kafka_send_events_sum[$__rate_interval])) / sum(rate(ingest_kafka_send_events_count[$__rate_interval]))", "events per produce request"),
          q("sum(ingest_events_pending)", "events pending"),
        ]),
        panel("services", "short", "Producer resets and produce errors", "Does the producer keep failing? Idempotent producer sessions replaced, and events answered 503, by reason (timeout, error).", [
          q("sum by (reason) (increase(ingest_kafka_producer_resets_total[$__rate_interval]))", "producer resets: {{reason}}"),
          q("sum by (reason) (increase(ingest_produce_errors_total[$__rate_interval]))", "events answered 503: {{reason}}"),
        ]),
      ],
    },
    {
      title: "Processor",
      panels: [
        panel("services", "short", "Consumer lag per partition", "Do the processors keep up? Records between the group's committed offset and each partition's end (what KEDA scales the processor on).", [q("max by (topic, partition) (processor_consumer_lag)", "{{topic}} / {{partition}}")]),
        panel("services", "short", "Processor throughput by outcome", "How many records are stored, recognised as duplicates (replays, redeliveries) or dead-lettered per second?", [q("sum by (outcome) (rate(processor_events_total[$__rate_interval]))", "{{outcome}}")]),
        panel("services", "s", "End-to-end latency", "How old is an event when it is stored? From the Kafka record's timestamp (set when ingest produced it) to the PostgreSQL commit that stored it.", quantiles("processor_event_latency_seconds", "", [0.5, 0.99])),
        panel("services", "s", "Batch duration", "Where does the processor spend its time? One batch: decode, PostgreSQL commit, dead letters and the offset commit, retries included.", quantiles("processor_batch_duration_seconds", "", [0.5, 0.99])),
        panel("services", "short", "Dead letters by reason", "Is anything dead-lettered? Records sent to the dead-letter topic (each one an alert: ProcessorDeadLetters).", [q("sum by (reason) (increase(processor_dead_letters_total[$__rate_interval]))", "{{reason}}")]),
        panel("services", "short", "Processors paused", "Is consumption paused on an outage of PostgreSQL or the dead-letter topic? Processors paused now (0 when healthy), and batch attempts retried by stage.", [
          q("sum(processor_consumption_paused)", "processors paused"),
          q("sum by (stage) (increase(processor_batch_retries_total[$__rate_interval]))", "retries: {{stage}}"),
        ], { min: 0 }),
        panel("services", "short", "Records per batch", "Is the processor batching? The mean records per batch: small batches under load mean little lag to drain, large ones a backlog.", [q("sum(rate(processor_batch_size_sum[$__rate_interval])) / sum(rate(processor_batch_size_count[$__rate_interval]))", "records per batch (mean)")]),
        panel("services", "reqps", "Read API cache", "Does the read API answer from Redis? Cache lookups by result (error: Redis unavailable, answered from PostgreSQL).", [q("sum by (result) (rate(processor_cache_requests_total[$__rate_interval]))", "{{result}}")]),
      ],
    },
  ],
};

export const PLATFORM: DashboardSpec = {
  uid: "eventstack-platform",
  title: "eventstack platform",
  description: "The cluster under the services: nodes and Karpenter's limits, the autoscalers against their maximums, restarts.",
  namespaceVariable: true,
  rows: [
    {
      title: "Nodes",
      panels: [
        panel("karpenter", "short", "Nodes by NodePool and capacity type", "How many nodes run, in which NodePool, on demand or spot? Nodes outside Karpenter (the system node group) have no NodePool.", [q('count by (nodepool, capacity_type) (karpenter_nodes_allocatable{resource_type="cpu"})', "{{nodepool}} {{capacity_type}}")]),
        panel("karpenter", "percentunit", "Karpenter limits in use", "How close is each NodePool to the limits of its spec (karpenter.cpuLimit, karpenter.memoryLimitGiB)? At 100 % Karpenter launches no more nodes.", [q("nodepool_resource_type:karpenter_nodepools_usage:ratio", "{{nodepool}} {{resource_type}}")], { min: 0, max: 1 }),
        panel("karpenter", "short", "Nodes launched and terminated", "Is Karpenter churning nodes? Nodes created and terminated per NodePool in each interval.", [
          q("sum by (nodepool) (increase(karpenter_nodes_created_total[$__rate_interval]))", "created {{nodepool}}"),
          q("sum by (nodepool) (increase(karpenter_nodes_terminated_total[$__rate_interval]))", "terminated {{nodepool}}"),
        ]),
      ],
    },
    {
      title: "Workloads",
      panels: [
        panel("kube-state-metrics", "short", "HPA and KEDA replicas against their maximum", "Can the services still scale out? Current replicas of each autoscaler (ingest's HPA; keda-hpa-processor, KEDA's HPA on consumer lag) and its maximum.", [
          q('kube_horizontalpodautoscaler_status_current_replicas{namespace="$namespace"}', "{{horizontalpodautoscaler}} current"),
          q('kube_horizontalpodautoscaler_spec_max_replicas{namespace="$namespace"}', "{{horizontalpodautoscaler}} max"),
        ]),
        panel("kube-state-metrics", "short", "Pod restarts", "Are the services crash-looping? Container restarts per pod in each interval (the processor exits on purpose when its Kafka stream fails).", [q('sum by (pod) (increase(kube_pod_container_status_restarts_total{namespace="$namespace"}[$__rate_interval]))', "{{pod}}")]),
        panel("kube-state-metrics", "short", "Pending pods", "Is anything waiting for a node? Pods in phase Pending per namespace (Karpenter at its limit, or requests no instance type fits).", [q('sum by (namespace) (kube_pod_status_phase{phase="Pending"})', "{{namespace}}")]),
      ],
    },
  ],
};

export const DATA_SERVICES: DashboardSpec = {
  uid: "eventstack-data-services",
  title: "eventstack data services",
  description: "Aurora, ElastiCache and MSK as the services see them: capacity, connections, memory, partitions and disk.",
  rows: [
    {
      title: "Aurora PostgreSQL (CloudWatch AWS/RDS)",
      panels: [
        panel("cloudwatch", "short", "Aurora capacity (ACUs)", "Is the database at its capacity ceiling? Serverless v2 capacity in ACUs and its use of the maximum (aurora.maxCapacity).", [
          q("max by (dimension_DBClusterIdentifier) (aws_rds_serverless_database_capacity_average)", "{{dimension_DBClusterIdentifier}} ACUs"),
          q("max by (dimension_DBClusterIdentifier) (aws_rds_acuutilization_average)", "{{dimension_DBClusterIdentifier}} % of max ACUs"),
        ]),
        panel("cloudwatch", "short", "Aurora connections", "Are the processors' pools within the database's limits? Connections per cluster.", [q("sum by (dimension_DBClusterIdentifier) (aws_rds_database_connections_average)", "{{dimension_DBClusterIdentifier}}")]),
      ],
    },
    {
      title: "ElastiCache for Valkey (CloudWatch AWS/ElastiCache)",
      panels: [
        panel("cloudwatch", "percent", "Cache memory used", "Is the cache full? Memory used as a percentage of the node's maximum, per node.", [q("max by (dimension_CacheClusterId) (aws_elasticache_database_memory_usage_percentage_average)", "{{dimension_CacheClusterId}}")]),
        panel("cloudwatch", "short", "Cache evictions", "Does the cache evict keys? Evictions per node (the rollup cache is rebuilt from PostgreSQL, but every eviction is a slower read).", [q("sum by (dimension_CacheClusterId) (aws_elasticache_evictions_sum)", "{{dimension_CacheClusterId}}")]),
      ],
    },
    {
      title: "MSK (open monitoring, CloudWatch AWS/Kafka)",
      panels: [
        panel("msk-jmx", "short", "Under-replicated and offline partitions", "Is Kafka losing redundancy or availability? Under-replicated partitions per broker and offline partitions (alerts KafkaUnderReplicatedPartitions, KafkaOfflinePartitions).", [
          q('sum by (instance) (kafka_server_ReplicaManager_Value{name="UnderReplicatedPartitions"})', "under-replicated {{instance}}"),
          q('sum(kafka_controller_KafkaController_Value{name="OfflinePartitionsCount"})', "offline"),
        ]),
        panel("msk-jmx", "short", "Active controllers", "Does the cluster have exactly one active controller?", [q('sum(kafka_controller_KafkaController_Value{name="ActiveControllerCount"})', "active controllers")], { kind: "stat" }),
        panel("cloudwatch", "percent", "Broker data disk used", "Will a broker's disk fill up? The share of each broker's data volume in use (KafkaDataLogsDiskUsed; storage auto-scaling grows it up to kafka.maxVolumeSizeGiB).", [q("max by (dimension_Cluster_Name, dimension_Broker_ID) (aws_kafka_data_logs_disk_used_maximum)", "broker {{dimension_Broker_ID}}")]),
      ],
    },
  ],
};
