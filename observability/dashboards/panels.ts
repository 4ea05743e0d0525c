// What each dashboard shows: titles, descriptions and PromQL, as plain data (index.ts turns it into Grafana JSON).
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

const EVENTS = 'route="/v1/events",method="POST"';
const quantiles = (metric: string, selector: string, qs: number[]) =>
  qs.map((q) => ({ expr: `histogram_quantile(${q}, sum by (le) (rate(${metric}_bucket${selector ? `{${selector}}` : ""}[$__rate_interval])))`, legend: `p${q * 100}` }));

export const PIPELINE: DashboardSpec = {
  uid: "eventstack-pipeline",
  title: "eventstack pipeline",
  description: "Events from clients through ingest and Kafka to the processor's stores: rates, latency, lag, dead letters.",
  rows: [
    {
      title: "Ingest",
      panels: [
        {
          title: "Events accepted, rejected and shed",
          description: "Is ingest taking events in? Accepted events (acknowledged by Kafka), requests rejected as invalid, too large or of the wrong media type, requests shed with 429 because too many events wait for Kafka, and events answered 503.",
          kind: "timeseries",
          unit: "reqps",
          source: "services",
          queries: [
            { expr: "sum(rate(ingest_events_produced_total[$__rate_interval]))", legend: "accepted events/s" },
            { expr: 'sum by (reason) (rate(ingest_events_rejected_total{reason!="overloaded"}[$__rate_interval]))', legend: "rejected requests/s: {{reason}}" },
            { expr: 'sum(rate(ingest_events_rejected_total{reason="overloaded"}[$__rate_interval]))', legend: "shed requests/s (429 overloaded)" },
            { expr: "sum(rate(ingest_produce_errors_total[$__rate_interval]))", legend: "events/s answered 503 (Kafka did not acknowledge)" },
          ],
        },
        {
          title: "Ingest responses by status",
          description: "What do clients get back from POST /v1/events? 202 accepted, 400/413/415 their mistake, 429 shed, 503 Kafka unavailable.",
          kind: "timeseries",
          unit: "reqps",
          source: "services",
          queries: [{ expr: `sum by (status) (rate(ingest_http_requests_total{${EVENTS}}[$__rate_interval]))`, legend: "{{status}}" }],
        },
        {
          title: "Ingest latency, POST /v1/events",
          description: "How long do clients wait? From request to response, which includes Kafka's acknowledgement of every event (the latency objective: 99 % within 0.5 s).",
          kind: "timeseries",
          unit: "s",
          source: "services",
          queries: quantiles("ingest_http_request_duration_seconds", EVENTS, [0.5, 0.9, 0.99]),
        },
        {
          title: "SLO error ratios (1 h)",
          description: "How fast do the ingest objectives' error budgets burn? The 5xx ratio (objective: at most 0.001) and the ratio slower than 0.5 s (objective: at most 0.01) over the last hour, from the recording rules of observability/rules/ingest-slo.rules.yaml.",
          kind: "timeseries",
          unit: "percentunit",
          source: "services",
          queries: [
            { expr: "ingest:events_request_errors:ratio_rate1h", legend: "5xx ratio" },
            { expr: "ingest:events_request_slow:ratio_rate1h", legend: "slower than 0.5 s" },
          ],
        },
        {
          title: "Kafka send duration",
          description: "Is Kafka slow? One produce request from send to acknowledgement (acks=all).",
          kind: "timeseries",
          unit: "s",
          source: "services",
          queries: quantiles("ingest_kafka_send_duration_seconds", "", [0.5, 0.99]),
        },
        {
          title: "Events per produce request and events pending",
          description: "Is ingest batching behind a slow broker? The mean events per produce request and the events waiting for Kafka's acknowledgement (shed with 429 above MAX_PENDING_EVENTS).",
          kind: "timeseries",
          unit: "short",
          source: "services",
          queries: [
            { expr: "sum(rate(ingest_kafka_send_events_sum[$__rate_interval])) / sum(rate(ingest_kafka_send_events_count[$__rate_interval]))", legend: "events per produce request" },
            { expr: "sum(ingest_events_pending)", legend: "events pending" },
          ],
        },
        {
          title: "Producer resets and produce errors",
          description: "Does the producer keep failing? Idempotent producer sessions replaced, and events answered 503, by reason (timeout, error).",
          kind: "timeseries",
          unit: "short",
          source: "services",
          queries: [
            { expr: "sum by (reason) (increase(ingest_kafka_producer_resets_total[$__rate_interval]))", legend: "producer resets: {{reason}}" },
            { expr: "sum by (reason) (increase(ingest_produce_errors_total[$__rate_interval]))", legend: "events answered 503: {{reason}}" },
          ],
        },
      ],
    },
    {
      title: "Processor",
      panels: [
        {
          title: "Consumer lag per partition",
          description: "Do the processors keep up? Records between the group's committed offset and each partition's end (what KEDA scales the processor on).",
          kind: "timeseries",
          unit: "short",
          source: "services",
          queries: [{ expr: "max by (topic, partition) (processor_consumer_lag)", legend: "{{topic}} / {{partition}}" }],
        },
        {
          title: "Processor throughput by outcome",
          description: "How many records are stored, recognised as duplicates (replays, redeliveries) or dead-lettered per second?",
          kind: "timeseries",
          unit: "short",
          source: "services",
          queries: [{ expr: "sum by (outcome) (rate(processor_events_total[$__rate_interval]))", legend: "{{outcome}}" }],
        },
        {
          title: "End-to-end latency",
          description: "How old is an event when it is stored? From the Kafka record's timestamp (set when ingest produced it) to the PostgreSQL commit that stored it.",
          kind: "timeseries",
          unit: "s",
          source: "services",
          queries: quantiles("processor_event_latency_seconds", "", [0.5, 0.99]),
        },
        {
          title: "Batch duration",
          description: "Where does the processor spend its time? One batch: decode, PostgreSQL commit, dead letters and the offset commit, retries included.",
          kind: "timeseries",
          unit: "s",
          source: "services",
          queries: quantiles("processor_batch_duration_seconds", "", [0.5, 0.99]),
        },
        {
          title: "Dead letters by reason",
          description: "Is anything dead-lettered? Records sent to the dead-letter topic (each one an alert: ProcessorDeadLetters).",
          kind: "timeseries",
          unit: "short",
          source: "services",
          queries: [{ expr: "sum by (reason) (increase(processor_dead_letters_total[$__rate_interval]))", legend: "{{reason}}" }],
        },
        {
          title: "Processors paused",
          description: "Is consumption paused on an outage of PostgreSQL or the dead-letter topic? Processors paused now (0 when healthy), and batch attempts retried by stage.",
          kind: "timeseries",
          unit: "short",
          source: "services",
          min: 0,
          queries: [
            { expr: "sum(processor_consumption_paused)", legend: "processors paused" },
            { expr: "sum by (stage) (increase(processor_batch_retries_total[$__rate_interval]))", legend: "retries: {{stage}}" },
          ],
        },
        {
          title: "Records per batch",
          description: "Is the processor batching? The mean records per batch: small batches under load mean little lag to drain, large ones a backlog.",
          kind: "timeseries",
          unit: "short",
          source: "services",
          queries: [{ expr: "sum(rate(processor_batch_size_sum[$__rate_interval])) / sum(rate(processor_batch_size_count[$__rate_interval]))", legend: "records per batch (mean)" }],
        },
        {
          title: "Read API cache",
          description: "Does the read API answer from Redis? Cache lookups by result (error: Redis unavailable, answered from PostgreSQL).",
          kind: "timeseries",
          unit: "reqps",
          source: "services",
          queries: [{ expr: "sum by (result) (rate(processor_cache_requests_total[$__rate_interval]))", legend: "{{result}}" }],
        },
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
        {
          title: "Nodes by NodePool and capacity type",
          description: "How many nodes run, in which NodePool, on demand or spot? Nodes outside Karpenter (the system node group) have no NodePool.",
          kind: "timeseries",
          unit: "short",
          source: "karpenter",
          queries: [{ expr: 'count by (nodepool, capacity_type) (karpenter_nodes_allocatable{resource_type="cpu"})', legend: "{{nodepool}} {{capacity_type}}" }],
        },
        {
          title: "Karpenter limits in use",
          description: "How close is each NodePool to the limits of its spec (karpenter.cpuLimit, karpenter.memoryLimitGiB)? At 100 % Karpenter launches no more nodes.",
          kind: "timeseries",
          unit: "percentunit",
          source: "karpenter",
          min: 0,
          max: 1,
          queries: [{ expr: "nodepool_resource_type:karpenter_nodepools_usage:ratio", legend: "{{nodepool}} {{resource_type}}" }],
        },
        {
          title: "Nodes launched and terminated",
          description: "Is Karpenter churning nodes? Nodes created and terminated per NodePool in each interval.",
          kind: "timeseries",
          unit: "short",
          source: "karpenter",
          queries: [
            { expr: "sum by (nodepool) (increase(karpenter_nodes_created_total[$__rate_interval]))", legend: "created {{nodepool}}" },
            { expr: "sum by (nodepool) (increase(karpenter_nodes_terminated_total[$__rate_interval]))", legend: "terminated {{nodepool}}" },
          ],
        },
      ],
    },
    {
      title: "Workloads",
      panels: [
        {
          title: "HPA and KEDA replicas against their maximum",
          description: "Can the services still scale out? Current replicas of each autoscaler (ingest's HPA; keda-hpa-processor, KEDA's HPA on consumer lag) and its maximum.",
          kind: "timeseries",
          unit: "short",
          source: "kube-state-metrics",
          queries: [
            { expr: 'kube_horizontalpodautoscaler_status_current_replicas{namespace="$namespace"}', legend: "{{horizontalpodautoscaler}} current" },
            { expr: 'kube_horizontalpodautoscaler_spec_max_replicas{namespace="$namespace"}', legend: "{{horizontalpodautoscaler}} max" },
          ],
        },
        {
          title: "Pod restarts",
          description: "Are the services crash-looping? Container restarts per pod in each interval (the processor exits on purpose when its Kafka stream fails).",
          kind: "timeseries",
          unit: "short",
          source: "kube-state-metrics",
          queries: [{ expr: 'sum by (pod) (increase(kube_pod_container_status_restarts_total{namespace="$namespace"}[$__rate_interval]))', legend: "{{pod}}" }],
        },
        {
          title: "Pending pods",
          description: "Is anything waiting for a node? Pods in phase Pending per namespace (Karpenter at its limit, or requests no instance type fits).",
          kind: "timeseries",
          unit: "short",
          source: "kube-state-metrics",
          queries: [{ expr: 'sum by (namespace) (kube_pod_status_phase{phase="Pending"})', legend: "{{namespace}}" }],
        },
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
        {
          title: "Aurora capacity (ACUs)",
          description: "Is the database at its capacity ceiling? Serverless v2 capacity in ACUs and its use of the maximum (aurora.maxCapacity).",
          kind: "timeseries",
          unit: "short",
          source: "cloudwatch",
          queries: [
            { expr: "max by (dimension_DBClusterIdentifier) (aws_rds_serverless_database_capacity_average)", legend: "{{dimension_DBClusterIdentifier}} ACUs" },
            { expr: "max by (dimension_DBClusterIdentifier) (aws_rds_acuutilization_average)", legend: "{{dimension_DBClusterIdentifier}} % of max ACUs" },
          ],
        },
        {
          title: "Aurora connections",
          description: "Are the processors' pools within the database's limits? Connections per cluster.",
          kind: "timeseries",
          unit: "short",
          source: "cloudwatch",
          queries: [{ expr: "sum by (dimension_DBClusterIdentifier) (aws_rds_database_connections_average)", legend: "{{dimension_DBClusterIdentifier}}" }],
        },
      ],
    },
    {
      title: "ElastiCache for Valkey (CloudWatch AWS/ElastiCache)",
      panels: [
        {
          title: "Cache memory used",
          description: "Is the cache full? Memory used as a percentage of the node's maximum, per node.",
          kind: "timeseries",
          unit: "percent",
          source: "cloudwatch",
          queries: [{ expr: "max by (dimension_CacheClusterId) (aws_elasticache_database_memory_usage_percentage_average)", legend: "{{dimension_CacheClusterId}}" }],
        },
        {
          title: "Cache evictions",
          description: "Does the cache evict keys? Evictions per node (the rollup cache is rebuilt from PostgreSQL, but every eviction is a slower read).",
          kind: "timeseries",
          unit: "short",
          source: "cloudwatch",
          queries: [{ expr: "sum by (dimension_CacheClusterId) (aws_elasticache_evictions_sum)", legend: "{{dimension_CacheClusterId}}" }],
        },
      ],
    },
    {
      title: "MSK (open monitoring, CloudWatch AWS/Kafka)",
      panels: [
        {
          title: "Under-replicated and offline partitions",
          description: "Is Kafka losing redundancy or availability? Under-replicated partitions per broker and offline partitions (alerts KafkaUnderReplicatedPartitions, KafkaOfflinePartitions).",
          kind: "timeseries",
          unit: "short",
          source: "msk-jmx",
          queries: [
            { expr: 'sum by (instance) (kafka_server_ReplicaManager_Value{name="UnderReplicatedPartitions"})', legend: "under-replicated {{instance}}" },
            { expr: 'sum(kafka_controller_KafkaController_Value{name="OfflinePartitionsCount"})', legend: "offline" },
          ],
        },
        {
          title: "Active controllers",
          description: "Does the cluster have exactly one active controller?",
          kind: "stat",
          unit: "short",
          source: "msk-jmx",
          queries: [{ expr: 'sum(kafka_controller_KafkaController_Value{name="ActiveControllerCount"})', legend: "active controllers" }],
        },
        {
          title: "Broker data disk used",
          description: "Will a broker's disk fill up? The share of each broker's data volume in use (KafkaDataLogsDiskUsed; storage auto-scaling grows it up to kafka.maxVolumeSizeGiB).",
          kind: "timeseries",
          unit: "percent",
          source: "cloudwatch",
          queries: [{ expr: "max by (dimension_Cluster_Name, dimension_Broker_ID) (aws_kafka_data_logs_disk_used_maximum)", legend: "broker {{dimension_Broker_ID}}" }],
        },
      ],
    },
  ],
};
