// eventstack: the composition root. It reads and validates the stack configuration, creates one component
// per concern, and exports what a platform team needs. No resource is declared here directly.
import { AppsNamespace } from "./components/apps-namespace";
import { ArgoCd } from "./components/argocd";
import { PodAutoscaling } from "./components/autoscaling";
import { Cache } from "./components/cache";
import { Cluster } from "./components/cluster";
import { loadConfig, SERVICES } from "./components/config";
import { Database } from "./components/database";
import { Edge } from "./components/edge";
import { ImagePushRole } from "./components/image-push-role";
import { ServiceImages } from "./components/images";
import { Kafka } from "./components/kafka";
import { Karpenter } from "./components/karpenter";
import { Linkerd } from "./components/linkerd";
import { LoadBalancerController } from "./components/load-balancer-controller";
import { MigrateJob } from "./components/migrate-job";
import { Network } from "./components/network";
import { Alarms } from "./components/observability/alarms";
import { Alerting } from "./components/observability/alerting";
import { CloudWatchExporter } from "./components/observability/cloudwatch-exporter";
import { Collector, COLLECTOR_PEER } from "./components/observability/collector";
import { Grafana } from "./components/observability/grafana";
import { ContainerLogs } from "./components/observability/logs";
import { Metrics } from "./components/observability/metrics";
import { analysisPrometheus, ProgressiveDelivery } from "./components/progressive-delivery";
import { awsProvider, ownershipTags, stackName, stackTags } from "./components/provider";
import {
  DATABASE_ROLES,
  INGEST_DEREGISTRATION_DELAY_SECONDS,
  ingestEnv,
  migrateEnv,
  processorEnv,
  SERVICE_DRAIN,
  SERVICE_PORTS,
  terminationGracePeriodSeconds,
} from "./components/service-env";
import { Workload } from "./components/workload";
import { groupKind } from "./components/workload/objects";
import { WorkloadIam } from "./components/workload-iam";

const config = loadConfig();
const provider = awsProvider(config);
const clusterName = stackName();

// ---------------------------------------------------------------- network, cluster, node and pod autoscaling
const network = new Network(
  "network",
  // Config sections are shaped as the components take them (components/config/schema.ts): passed through whole.
  { ...config.network, logRetentionDays: config.logRetentionDays, clusterName },
  { provider },
);

const cluster = new Cluster(
  "cluster",
  { ...config.cluster, clusterName, vpcId: network.vpcId, privateSubnetIds: network.privateSubnetIds, logRetentionDays: config.logRetentionDays },
  { provider },
);

const karpenter = new Karpenter(
  "karpenter",
  { ...config.karpenter, cluster, systemNodes: config.cluster.systemNodes, tags: ownershipTags(config) },
  { provider },
);

// ---------------------------------------------------------------- data services: isolated subnets, reachable from the nodes only
const dataPlacement = {
  vpcId: network.vpcId,
  subnetIds: network.isolatedSubnetIds,
  clientSecurityGroupIds: [cluster.nodeSecurityGroupId],
};
const database = new Database("database", { identifier: clusterName, ...dataPlacement, ...config.aurora, logRetentionDays: config.logRetentionDays }, { provider });
const cache = new Cache("cache", { identifier: clusterName, ...dataPlacement, ...config.cache }, { provider });
const kafka = new Kafka(
  "kafka",
  {
    identifier: clusterName,
    ...dataPlacement,
    // Not passed through whole: the component takes each topic as one object, the config has a key per setting.
    version: config.kafka.version,
    brokers: config.kafka.brokers,
    instanceType: config.kafka.instanceType,
    volumeSizeGiB: config.kafka.volumeSizeGiB,
    maxVolumeSizeGiB: config.kafka.maxVolumeSizeGiB,
    replicationFactor: config.kafka.replicationFactor,
    minInsyncReplicas: config.kafka.minInsyncReplicas,
    eventsTopic: { name: config.kafka.eventsTopic, partitions: config.kafka.eventsPartitions, retentionHours: config.kafka.eventsRetentionHours },
    deadLetterTopic: { name: config.kafka.deadLetterTopic, partitions: config.kafka.deadLetterPartitions, retentionHours: config.kafka.deadLetterRetentionHours },
    logRetentionDays: config.logRetentionDays,
  },
  { provider },
);
const workloadIam = new WorkloadIam("workloads", { clusterArn: cluster.clusterArn, kafka, consumerGroup: config.kafka.consumerGroup, database, cache }, { provider });

// After the data services: KEDA's MSK permissions name the cluster's, topic's and group's exact ARNs.
const autoscaling = new PodAutoscaling(
  "autoscaling",
  {
    cluster,
    systemNodes: config.cluster.systemNodes,
    kafkaClusterArn: kafka.clusterArn,
    eventsTopic: kafka.eventsTopic,
    consumerGroup: config.kafka.consumerGroup,
  },
  { provider },
);

// The AMP workspace the collector writes to; by default the canary analyses read it too.
const metrics = new Metrics("metrics", { identifier: clusterName }, { provider });
// Argo Rollouts runs the services' canaries in both delivery modes (docs/delivery.md, "Progressive rollout").
const analysisSource = analysisPrometheus(config.delivery.analysisPrometheusUrl, {
  region: config.region,
  clusterArn: cluster.clusterArn,
  prometheusEndpoint: metrics.prometheusEndpoint,
  workspaceArn: metrics.workspaceArn,
});
const progressiveDelivery = new ProgressiveDelivery("progressive-delivery", { cluster, systemNodes: config.cluster.systemNodes, prometheus: analysisSource }, { provider });

// ---------------------------------------------------------------- mesh, load balancer controller, edge, images
const mesh = new Linkerd(
  "mesh",
  {
    kubernetesProvider: cluster.provider,
    clusterNetworks: network.vpcCidr,
    ...config.mesh,
    systemNodes: config.cluster.systemNodes,
    dependsOn: cluster.ready,
  },
  { provider },
);

const loadBalancerController = new LoadBalancerController(
  "load-balancer-controller",
  { clusterName: cluster.name, clusterArn: cluster.clusterArn, kubernetesProvider: cluster.provider, vpcId: network.vpcId, dependsOn: cluster.ready },
  { provider },
);

const edge = new Edge(
  "edge",
  {
    vpcId: network.vpcId,
    privateSubnetIds: network.privateSubnetIds,
    subnetMappings: network.loadBalancerSubnetMappings,
    nodeSecurityGroupId: cluster.nodeSecurityGroupId,
    clusterName: cluster.name,
    targetPort: SERVICE_PORTS.ingest,
    deregistrationDelaySeconds: INGEST_DEREGISTRATION_DELAY_SECONDS,
    ...config.api,
    logRetentionDays: config.logRetentionDays,
  },
  { provider },
);

// Deployed by the digests the images workflow pushed, or built here (images.build, a first deploy from a laptop).
const images = new ServiceImages(
  "images",
  {
    services: [...SERVICES],
    architectures: config.karpenter.architectures,
    repositoryPrefix: clusterName,
    build: config.images.build,
    digests: config.images.build ? undefined : config.images.digests,
  },
  { provider },
);
// The role the images workflow pushes with, from the repository's main branch only.
const imagePush = config.images.githubRepository
  ? new ImagePushRole(
      "image-push",
      {
        repositoryArns: SERVICES.map((s) => images.repositoryArns[s]!),
        githubRepository: config.images.githubRepository,
        oidcProviderArn: config.images.githubOidcProviderArn || undefined,
      },
      { provider },
    )
  : undefined;

// ---------------------------------------------------------------- observability: metrics, alerts, dashboards, logs, traces
// docs/observability-aws.md. The collector scrapes the apps' namespace by name, so it needs nothing of the apps.
// (The AMP workspace, `metrics`, is declared above ProgressiveDelivery: the canary analyses read it by default.)
const alerting = new Alerting(
  "alerting",
  { identifier: clusterName, workspaceId: metrics.workspaceId, workspaceArn: metrics.workspaceArn, keyArn: metrics.keyArn, alertEmails: config.observability.alertEmails },
  { provider },
);
new Alarms(
  "alarms",
  {
    identifier: clusterName,
    topicArn: alerting.topicArn,
    kafka: { clusterName: kafka.clusterName, brokers: config.kafka.brokers },
    databaseClusterIdentifier: clusterName,
    maxAcu: config.aurora.maxCapacity,
    cache: { replicationGroupId: clusterName, nodes: 1 + config.cache.replicas },
    apiId: edge.apiId,
    targetGroupArn: edge.targetGroupArn,
    listenerArn: edge.listenerArn,
  },
  { provider },
);
const collector = new Collector(
  "collector",
  {
    cluster,
    workspaceArn: metrics.workspaceArn,
    prometheusEndpoint: metrics.prometheusEndpoint,
    region: config.region,
    vpcCidr: network.vpcCidr,
    awsApiCidrs: network.awsApiCidrs,
    kafka: { bootstrapBrokers: kafka.bootstrapBrokersSaslIam, securityGroupId: kafka.securityGroupId },
    nodeSecurityGroupId: cluster.nodeSecurityGroupId,
    appsNamespace: workloadIam.serviceAccounts.ingest.namespace,
    kedaNamespace: autoscaling.kedaNamespace,
    scrapeIntervalSeconds: config.observability.scrapeIntervalSeconds,
    traceLatencyThresholdMs: config.observability.traceLatencyThresholdMs,
    traceSamplePercent: config.observability.traceSamplePercent,
    meshReady: mesh.ready,
  },
  { provider },
);
const grafana = new Grafana(
  "grafana",
  {
    cluster,
    namespace: collector.namespace,
    namespaceReady: collector.ready,
    workspaceArn: metrics.workspaceArn,
    prometheusEndpoint: metrics.prometheusEndpoint,
    region: config.region,
    vpcCidr: network.vpcCidr,
    awsApiCidrs: network.awsApiCidrs,
  },
  { provider },
);
new CloudWatchExporter(
  "cloudwatch-exporter",
  {
    cluster,
    namespace: collector.namespace,
    namespaceReady: collector.ready,
    region: config.region,
    searchTags: stackTags(),
    vpcCidr: network.vpcCidr,
    meshReady: mesh.ready,
  },
  { provider },
);
const containerLogs = new ContainerLogs(
  "container-logs",
  {
    cluster,
    namespace: collector.namespace,
    namespaceReady: collector.ready,
    appsNamespace: workloadIam.serviceAccounts.ingest.namespace,
    logGroupPrefix: metrics.logGroupPrefix,
    keyArn: metrics.keyArn,
    logRetentionDays: config.logRetentionDays,
    region: config.region,
  },
  { provider },
);

// ---------------------------------------------------------------- the apps: namespace, migrate Job, ingest, processor
const apps = new AppsNamespace("apps", { kubernetesProvider: cluster.provider, name: workloadIam.serviceAccounts.ingest.namespace, dependsOn: mesh.ready });

const kafkaRefs = { bootstrapBrokers: kafka.bootstrapBrokersSaslIam, region: config.region, eventsTopic: kafka.eventsTopic };
const dbRefs = { host: database.endpoint, port: database.port, database: database.databaseName };
const delivery = config.delivery.mode;
const common = { namespace: apps.name, kubernetesProvider: cluster.provider, clusterName: cluster.name, vpcCidr: network.vpcCidr, meshReady: mesh.ready, delivery };
const rolloutOf = (canary: "ingest" | "processor") => ({ canary, prometheus: analysisSource, dependsOn: progressiveDelivery.ready });
// HTTPS only to the interface endpoints where they exist (components/workload/manifests.ts, networkPolicy).
const awsApiCidrs = network.awsApiCidrs;

const migrate = new MigrateJob(
  "migrate",
  {
    ...common,
    image: images.reference("processor"),
    version: images.tags.processor!,
    roleArn: workloadIam.roleArns.migrate,
    roleReady: workloadIam.roleReady.migrate,
    nodesReady: karpenter.ready,
    admissionReady: loadBalancerController.ready,
    serviceAccountName: workloadIam.serviceAccounts.migrate.name,
    awsApiCidrs,
    env: migrateEnv({
      ...kafkaRefs,
      deadLetterTopic: kafka.deadLetterTopic,
      eventsPartitions: config.kafka.eventsPartitions,
      replicationFactor: config.kafka.replicationFactor,
      db: dbRefs,
      masterUser: database.masterUsername,
      masterSecretArn: database.masterSecretArn,
      processorRole: DATABASE_ROLES.processor,
      readerRole: DATABASE_ROLES.reader,
    }),
    dataPorts: [database.port, kafka.port],
    dependsOn: [database, kafka, ...cluster.ready],
  },
  { provider },
);

const ingest = new Workload(
  "ingest",
  {
    ...common,
    name: "ingest",
    component: "api",
    image: images.reference("ingest"),
    version: images.tags.ingest!,
    roleArn: workloadIam.roleArns.ingest,
    roleReady: workloadIam.roleReady.ingest,
    serviceAccountName: workloadIam.serviceAccounts.ingest.name,
    env: ingestEnv({ ...kafkaRefs, otlpEndpoint: collector.otlpEndpoint, maxBodyBytes: config.ingest.maxBodyBytes, maxBatchEvents: config.ingest.maxBatchEvents, maxEventDataBytes: config.ingest.maxEventDataBytes }),
    port: SERVICE_PORTS.ingest,
    resources: { cpuRequest: "250m", memoryRequest: "256Mi", memoryLimit: "512Mi" },
    autoscaler: { kind: "hpa", minReplicas: config.ingest.minReplicas, maxReplicas: config.ingest.maxReplicas, targetCpuUtilization: config.ingest.targetCpuUtilization },
    preStopSleepSeconds: SERVICE_DRAIN.ingest.preStopSleepSeconds,
    terminationGracePeriodSeconds: terminationGracePeriodSeconds(SERVICE_DRAIN.ingest),
    dataPorts: [kafka.port],
    collector: COLLECTOR_PEER,
    edge: {
      targetGroupArn: edge.targetGroupArn,
      loadBalancerSecurityGroupId: edge.loadBalancerSecurityGroupId,
      clientCidrs: edge.loadBalancerCidrs,
      dependsOn: loadBalancerController.ready,
    },
    rollout: rolloutOf("ingest"),
    dependsOn: [...migrate.ready, ...cluster.ready],
  },
  { provider },
);

const processor = new Workload(
  "processor",
  {
    ...common,
    name: "processor",
    component: "consumer",
    image: images.reference("processor"),
    version: images.tags.processor!,
    roleArn: workloadIam.roleArns.processor,
    roleReady: workloadIam.roleReady.processor,
    serviceAccountName: workloadIam.serviceAccounts.processor.name,
    env: processorEnv({
      ...kafkaRefs,
      deadLetterTopic: kafka.deadLetterTopic,
      consumerGroup: config.kafka.consumerGroup,
      otlpEndpoint: collector.otlpEndpoint,
      db: dbRefs,
      dbUser: DATABASE_ROLES.processor,
      cache: { host: cache.primaryEndpoint, port: cache.port, authSecretArn: cache.secretArns.processor! },
    }),
    port: SERVICE_PORTS.processor,
    resources: { cpuRequest: "500m", memoryRequest: "512Mi", memoryLimit: "1Gi" },
    autoscaler: {
      kind: "keda",
      minReplicas: config.processor.minReplicas,
      maxReplicas: config.processor.maxReplicas,
      bootstrapServers: kafka.bootstrapBrokersSaslIam,
      consumerGroup: config.kafka.consumerGroup,
      topic: config.kafka.eventsTopic,
      lagThreshold: config.processor.lagThreshold,
      awsRegion: config.region,
      dependsOn: autoscaling.ready,
    },
    preStopSleepSeconds: SERVICE_DRAIN.processor.preStopSleepSeconds,
    terminationGracePeriodSeconds: terminationGracePeriodSeconds(SERVICE_DRAIN.processor),
    dataPorts: [database.port, cache.port, kafka.port],
    collector: COLLECTOR_PEER,
    awsApis: true,
    awsApiCidrs,
    rollout: rolloutOf("processor"),
    dependsOn: [...migrate.ready, cache, ...cluster.ready],
  },
  { provider },
);

// ---------------------------------------------------------------- delivery mode "argocd": Argo CD applies the workloads
// The program keeps the identities (created above in both modes) and installs Argo CD, whose Application syncs what
// `npm run render:workloads` writes from the workloadManifests output below (docs/delivery.md).
const argocd =
  delivery === "argocd"
    ? new ArgoCd(
        "argocd",
        {
          cluster,
          destinationNamespace: apps.name,
          gitRepository: config.delivery.gitRepository,
          gitPath: config.delivery.gitPath,
          gitRevision: config.delivery.gitRevision,
          kinds: [...new Map([groupKind({ apiVersion: "batch/v1", kind: "Job" }), ...ingest.kinds, ...processor.kinds].map((k) => [`${k.group}/${k.kind}`, k])).values()],
          // Before the first sync: the pods' identities, and the CRDs, controllers and webhooks the objects need.
          dependsOn: [ingest, processor, migrate, database, kafka, cache, ...karpenter.ready, ...loadBalancerController.ready, ...autoscaling.ready, ...progressiveDelivery.ready, ...mesh.ready],
        },
        { provider },
      )
    : undefined;

// ---------------------------------------------------------------- outputs
export const region = config.region;
export const apiUrl = edge.apiUrl;
export const apiAccessLogGroup = edge.accessLogGroupName;
export const vpcId = network.vpcId;
export const privateSubnetIds = network.privateSubnetIds;
export const isolatedSubnetIds = network.isolatedSubnetIds;
export { clusterName };
export const kubeconfig = cluster.kubeconfig; // a secret
export const nodeSecurityGroupId = cluster.nodeSecurityGroupId;
export const karpenterNodeRoleName = karpenter.nodeRoleName;
export const appsNamespace = apps.name;
export const ingestService = ingest.serviceUrl;
export const processorReadApi = processor.serviceUrl;
export const ingestImage = images.reference("ingest");
export const processorImage = images.reference("processor");
/** Per service, the manifest digest deployed: what `images.<service>` takes to deploy the same image again. */
export const imageDigests = images.digests;
export const imageRepositoryUrls = images.repositoryUrls;
/** The role .github/workflows/images.yml assumes to push (repository variable IMAGE_PUSH_ROLE_ARN_<STACK>); undefined without delivery.githubRepository. */
export const imagePushRoleArn = imagePush?.roleArn;
export const meshTrustAnchorPem = mesh.trustAnchorPem;
export const meshIssuerValidUntil = mesh.issuerValidUntil;

export const databaseEndpoint = database.endpoint;
export const databaseReaderEndpoint = database.readerEndpoint;
export const databasePort = database.port;
export const databaseName = database.databaseName;
export const databaseMasterSecretArn = database.masterSecretArn; // for the migrate Job only
export const cachePrimaryEndpoint = cache.primaryEndpoint;
export const cacheReaderEndpoint = cache.readerEndpoint;
export const cachePort = cache.port;
export const cacheProcessorUser = cache.users.processor!.userName;
export const cacheProcessorSecretArn = cache.secretArns.processor;
export const kafkaBootstrapBrokers = kafka.bootstrapBrokersSaslIam;
export const kafkaClusterArn = kafka.clusterArn;
export const eventsTopic = kafka.eventsTopic;
export const deadLetterTopic = kafka.deadLetterTopic;
export const workloadRoleArns = workloadIam.roleArns;
export const workloadServiceAccounts = workloadIam.serviceAccounts;
export const prometheusWorkspaceArn = metrics.workspaceArn;
export const prometheusEndpoint = metrics.prometheusEndpoint;
export const alertTopicArn = alerting.topicArn;
export const grafanaUrl = grafana.url; // in-cluster only: kubectl -n observability port-forward svc/grafana 3000:80
export const containerLogGroups = containerLogs.logGroupNames;
export const otlpEndpoint = collector.otlpEndpoint;
export const deliveryMode = delivery;
export const argocdApplication = argocd?.applicationName;
/** Delivery mode "argocd": what `npm run render:workloads` writes for Argo CD (components/workload/render.ts). */
export const workloadManifests =
  delivery === "argocd"
    ? { path: config.delivery.gitPath, files: { migrate: [migrate.manifest!], ingest: ingest.manifests, processor: processor.manifests } }
    : undefined;
