// The stack configuration's schema: every key the program reads, once, with its Pulumi.yaml type, its default, what it
// does and how its value is checked. Everything else about a key is derived from its entry here:
//   - the TypeScript type of the loaded configuration (StackConfig in components/config.ts), from `parse`;
//   - the key's name (its path here, unless `key` names it otherwise), and where its value sits in StackConfig;
//   - Pulumi.yaml's `config:` block (keys, types, descriptions, defaults), which the Pulumi CLI applies before the
//     program runs: `npm run docs:config` writes it, and test/pulumi-yaml.test.ts fails when it differs;
//   - the README's configuration reference (test/readme.test.ts, the same command).
// Relations between keys (a maximum above its minimum, ...) are checked by loadConfig in components/config.ts.
//
// Adding a key: an entry here, a relation in components/config.ts if it has one, then `npm run docs:config`.
// Dependency-free apart from the small modules of components/defaults: validating must not load the providers.
import { GITHUB_REPOSITORY } from "../defaults/github";
import { COLLECTOR_DEFAULTS } from "../defaults/collector";
import { LINKERD_DEFAULTS } from "../defaults/linkerd";
import { VERSIONS } from "../versions";
import { type ConfigType, type Field as KeyField, fieldsOf, key, type KeyNamesOf, type ValuesOf } from "./key";
import {
  acu,
  boolean,
  budget,
  duration,
  endpointCidrs,
  gitRevision,
  httpsUrl,
  httpUrl,
  iamPrincipalArn,
  imageDigest,
  integer,
  Invalid,
  ipv4Cidr,
  kafkaName,
  list,
  matching,
  nonEmpty,
  oneOf,
  optional,
  type Parser,
  repoPath,
} from "./parsers";

export type { ConfigType };

/** The services whose images the program deploys; each has `apps/<service>/Dockerfile`. */
export const SERVICES = ["ingest", "processor"] as const;
export type Service = (typeof SERVICES)[number];

export const ARCHITECTURES = ["arm64", "amd64"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** Where the Kubernetes API endpoint answers (components/cluster.ts). */
export const ENDPOINT_ACCESS = ["public-and-private", "private"] as const;
export type EndpointAccess = (typeof ENDPOINT_ACCESS)[number];

/** Who applies the two workloads' Kubernetes objects (docs/delivery.md). */
export const DELIVERY_MODES = ["pulumi", "argocd"] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const logRetention: Parser<number> = (raw) =>
  LOG_RETENTION_DAYS.includes(Number(raw)) && /^\d+$/.test(raw) ? Number(raw) : new Invalid(`one of CloudWatch's retention periods (${LOG_RETENTION_DAYS.join(", ")})`);

// Only a version whose managed add-ons are pinned in components/versions.ts can be deployed, so that is what
// validation accepts: an unpinned version is reported here with the rest, not later by the cluster component.
const pinnedKubernetesVersion: Parser<string> = (raw) =>
  raw in VERSIONS.eksAddons ? raw : new Invalid(`a Kubernetes minor version with pinned add-ons in components/versions.ts (${Object.keys(VERSIONS.eksAddons).map((k) => `"${k}"`).join(", ")})`);

// ------------------------------------------------------------------ the keys

/**
 * Every key the program reads, in the shape of the configuration it loads (StackConfig). Their order is Pulumi.yaml's,
 * the README's and the order in which problems are reported.
 */
export const SCHEMA = {
  logRetentionDays: key({
    type: "integer", default: 30, parse: logRetention,
    doc: "Retention of every CloudWatch log group the program creates (flow logs, EKS control plane, MSK brokers, API access logs, container logs). One of CloudWatch's allowed values.",
  }),
  tags: {
    owner: key({
      type: "string", default: "platform", parse: nonEmpty,
      doc: "Owner tag on every AWS resource (team or on-call alias); the policy pack requires it.",
    }),
    costCenter: key({ type: "string", default: "eventstack", parse: nonEmpty, doc: "CostCenter tag on every AWS resource; the policy pack requires it." }),
  },
  network: {
    cidr: key({ type: "string", default: "10.0.0.0/16", parse: ipv4Cidr(16, 20), doc: "IPv4 CIDR of the VPC, /16 to /20." }),
    availabilityZones: key({
      type: "integer", default: 3, parse: integer(2, 3),
      doc: "How many of the region's availability zones to spread subnets over (2 or 3). MSK and Aurora need at least 2.",
    }),
    natGateways: key({
      type: "string", default: "onePerAz", parse: oneOf("single", "onePerAz"),
      doc: "NAT gateway layout: `single` (one, in the first AZ; cheap, one AZ's failure cuts egress) or `onePerAz` (highly available).",
    }),
    flowLogs: key({ type: "boolean", default: true, parse: boolean, doc: "Send VPC flow logs (all traffic) to CloudWatch Logs." }),
    interfaceEndpoints: key({
      type: "boolean", default: true, parse: boolean,
      doc: "Create interface VPC endpoints (ECR api/dkr, STS, CloudWatch Logs, Secrets Manager, EKS Auth for Pod Identity) so that node and pod traffic to AWS stays off the NAT gateways. The S3 gateway endpoint is always created.",
    }),
  },
  cluster: {
    // Only a version whose managed add-ons are pinned in components/versions.ts can be deployed, so that is what
    // validation accepts: an unpinned version is reported here with the rest, not later by the cluster component.
    kubernetesVersion: key({
      type: "string", default: "1.35", parse: pinnedKubernetesVersion,
      doc: 'EKS Kubernetes minor version, e.g. "1.35". Only a version whose managed add-on versions are pinned in components/versions.ts is accepted.',
    }),
    endpointAccess: key({
      type: "string", default: "public-and-private", parse: oneOf(...ENDPOINT_ACCESS),
      doc: "Where the Kubernetes API endpoint answers, which is where `pulumi up` (its Kubernetes and Helm steps) must run from: `public-and-private` (a public endpoint open only to cluster.publicEndpointCidrs, and the private one inside the VPC) or `private` (inside the VPC only; cluster.privateEndpointCidrs then names where `pulumi up` runs). See docs/deploy.md.",
    }),
    publicEndpointCidrs: key({
      type: "array", default: [], parse: endpointCidrs("would open the Kubernetes API endpoint to the whole internet: list the networks `pulumi up` runs from"),
      doc: "CIDRs the public Kubernetes API endpoint admits, the networks `pulumi up` runs from (a workstation's or CI runner's public egress). Required with cluster.endpointAccess `public-and-private`, empty with `private`; never 0.0.0.0/0 or ::/0.",
    }),
    privateEndpointCidrs: key({
      type: "array", default: [], parse: endpointCidrs("would admit every network connected to the VPC to the Kubernetes API: list the networks `pulumi up` runs from"),
      doc: "CIDRs inside the VPC or connected to it (a VPN, a CI runner in the VPC) that the cluster security group admits to the Kubernetes API on 443. Required with cluster.endpointAccess `private`, where `pulumi up` must run from one of them.",
    }),
    adminPrincipalArns: key({
      type: "array", default: [], parse: list(iamPrincipalArn, "IAM role or user ARNs"),
      doc: "IAM role or user ARNs given cluster-admin through EKS access entries (for example the CI deploy role and an SSO admin role, each with its path). The principal running `pulumi up` gets one too, listed or not, and each principal has one entry.",
    }),
    systemInstanceTypes: key({
      type: "array", default: ["m7g.large"], parse: list(matching(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, ""), "EC2 instance types", true),
      doc: "Instance types of the on-demand managed node group that runs system pods (Karpenter, CoreDNS, KEDA, Linkerd control plane). Must match cluster.systemArchitecture, and each must be sized in components/system-pods.ts.",
    }),
    systemArchitecture: key({
      type: "string", default: "arm64", parse: oneOf(...ARCHITECTURES),
      doc: "CPU architecture of the system node group, `arm64` or `amd64`.",
    }),
    systemNodes: key({
      type: "integer", default: 3, parse: integer(1, 100),
      doc: "Size of the system node group (fixed; nothing scales it). At least 3 with mesh.highAvailability, so Linkerd's replicas have separate nodes and one to drain into; with cluster.systemInstanceTypes it must hold every system pod plus a surge pod per release (components/system-pods.ts).",
    }),
  },
  karpenter: {
    cpuLimit: key({ type: "integer", default: 1000, parse: integer(2), doc: "Total vCPUs Karpenter may provision across its NodePools." }),
    memoryLimitGiB: key({ type: "integer", default: 4000, parse: integer(4), doc: "Total memory (GiB) Karpenter may provision across its NodePools." }),
    capacityTypes: key({
      type: "array", default: ["spot", "on-demand"], parse: list(oneOf("spot", "on-demand"), '"spot" or "on-demand"', true),
      doc: "Capacity types the workload NodePool may launch, from `spot` and `on-demand`.",
    }),
    architectures: key({
      type: "array", default: ["arm64", "amd64"], parse: list(oneOf<Architecture>("arm64", "amd64"), '"arm64" or "amd64"', true),
      doc: "CPU architectures the workload NodePool may launch, from `arm64` and `amd64`; images are built for each.",
    }),
    consolidateAfter: key({
      type: "string", default: "1m", parse: duration,
      doc: "How long a node must be underutilized or empty before Karpenter consolidates it (a duration such as 30s, 5m, 1h).",
    }),
    disruptionBudget: key({
      type: "string", default: "10%", parse: budget,
      doc: 'How many nodes Karpenter may disrupt at once, a count or a percentage ("10%").',
    }),
  },
  ingest: {
    minReplicas: key({ type: "integer", default: 3, parse: integer(1, 1000), doc: "Minimum ingest pods (HPA)." }),
    maxReplicas: key({ type: "integer", default: 30, parse: integer(1, 1000), doc: "Maximum ingest pods (HPA, >= ingest.minReplicas)." }),
    targetCpuUtilization: key({ type: "integer", default: 60, parse: integer(10, 95), doc: "Average CPU utilization (% of request) the ingest HPA holds." }),
    maxBatchEvents: key({ type: "integer", default: 500, parse: integer(1, 10000), doc: "Most events one batched request may carry." }),
    maxBodyBytes: key({
      type: "integer", default: 1048576, parse: integer(1024, 10 * 1024 * 1024),
      doc: "Largest request body ingest accepts (bytes); larger gets 413.",
    }),
    // A record carries the data plus the CloudEvents headers and must fit ingest's KAFKA_MAX_BATCH_BYTES (1,000,000,
    // under MSK's default message.max.bytes of 1 MiB); ingest itself refuses to start past that, so refuse it here.
    maxEventDataBytes: key({
      type: "integer", default: 65536, parse: integer(1, 900_000, "an integer from 1 to 900000 (its Kafka record, headers included, must stay under 1,000,000 bytes)"),
      doc: "Largest `data` of one event (bytes, at most 900000 so that its Kafka record fits 1,000,000 bytes); larger gets 413.",
    }),
  },
  processor: {
    minReplicas: key({
      type: "integer", default: 2, parse: integer(1, 1000),
      doc: "Minimum processor pods (KEDA). At least 1, since the processor also serves the read API.",
    }),
    maxReplicas: key({
      type: "integer", default: 12, parse: integer(1, 1000),
      doc: "Maximum processor pods (KEDA, >= processor.minReplicas, <= kafka.eventsPartitions since a consumer beyond the partition count idles).",
    }),
    lagThreshold: key({ type: "integer", default: 1000, parse: integer(1), doc: "Consumer-group lag per processor pod that KEDA scales towards." }),
  },
  aurora: {
    engineVersion: key({
      type: "string", default: "16.8", parse: matching(/^(1[6-9]|[2-9]\d)\.\d+$/, 'an Aurora PostgreSQL version 16 or later, such as "16.8"'),
      doc: "Aurora PostgreSQL engine version (16 or later). Scale-to-zero needs 16.3 or later.",
    }),
    minCapacity: key({
      type: "string", default: "2", parse: acu(0),
      doc: "Serverless v2 minimum capacity in ACUs, a multiple of 0.5 from 0 to 256. 0 pauses the cluster when idle.",
    }),
    maxCapacity: key({
      type: "string", default: "64", parse: acu(1),
      doc: "Serverless v2 maximum capacity in ACUs, a multiple of 0.5 from 1 to 256, >= aurora.minCapacity.",
    }),
    autoPauseSeconds: key({
      type: "integer", default: 300, parse: integer(300, 86400),
      doc: "Idle seconds before a cluster with aurora.minCapacity 0 pauses (300 to 86400).",
    }),
    readers: key({ type: "integer", default: 1, parse: integer(0, 15), doc: "Reader instances, placed in other AZs than the writer. 0 to 15." }),
    backupRetentionDays: key({ type: "integer", default: 7, parse: integer(1, 35), doc: "Automated backup retention (1 to 35 days)." }),
    deletionProtection: key({ type: "boolean", default: true, parse: boolean, doc: "Deletion protection and a final snapshot on delete." }),
    slowStatementMs: key({
      type: "integer", default: 500, parse: integer(0),
      doc: "Statements slower than this many milliseconds are logged (log_min_duration_statement).",
    }),
    databaseName: key({
      type: "string", default: "eventstack", parse: matching(/^[a-z][a-z0-9_]{0,62}$/, "a PostgreSQL identifier (lower case letter, then letters, digits or _)"),
      doc: "Name of the application database.",
    }),
  },
  cache: {
    engineVersion: key({
      type: "string", default: "8.0", parse: matching(/^[7-9]\.\d+$/, 'a Valkey version such as "8.0"'),
      doc: "ElastiCache for Valkey engine version.",
    }),
    nodeType: key({
      type: "string", default: "cache.r7g.large", parse: matching(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, "an ElastiCache node type such as cache.r7g.large"),
      doc: "ElastiCache node type.",
    }),
    replicas: key({
      type: "integer", default: 1, parse: integer(0, 5),
      doc: "Replicas of the primary (0 to 5). At least 1 turns on Multi-AZ with automatic failover.",
    }),
    snapshotRetentionDays: key({ type: "integer", default: 7, parse: integer(0, 35), doc: "Daily snapshots kept (0 turns snapshots off)." }),
  },
  kafka: {
    version: key({
      type: "string", default: "3.9.x", parse: matching(/^\d+\.\d+\.(\d+|x)(\.kraft)?$/, 'an MSK Kafka version such as "3.9.x"'),
      doc: "MSK Kafka version.",
    }),
    brokers: key({
      type: "integer", default: 3, parse: integer(2, 30),
      doc: "Broker count, a multiple of network.availabilityZones (at least 3 for replication factor 3).",
    }),
    instanceType: key({
      type: "string", default: "kafka.m7g.large", parse: matching(/^kafka\.[a-z0-9]+\.[a-z0-9]+$/, "an MSK broker instance type such as kafka.m7g.large"),
      doc: "Broker instance type.",
    }),
    volumeSizeGiB: key({ type: "integer", default: 1000, parse: integer(1, 16384), doc: "Initial EBS storage per broker (GiB)." }),
    maxVolumeSizeGiB: key({
      type: "integer", default: 4000, parse: integer(1, 16384),
      doc: "Ceiling for storage auto-scaling per broker (GiB, >= kafka.volumeSizeGiB).",
    }),
    replicationFactor: key({
      type: "integer", default: 3, parse: integer(2, 5),
      doc: "default.replication.factor and the topics' replication factor (<= kafka.brokers).",
    }),
    minInsyncReplicas: key({
      type: "integer", default: 2, parse: integer(1, 4),
      doc: "min.insync.replicas (< kafka.replicationFactor, so one broker can be down).",
    }),
    eventsTopic: key({ type: "string", default: "events", parse: kafkaName, doc: "Topic the ingest service writes CloudEvents to." }),
    eventsPartitions: key({
      type: "integer", default: 24, parse: integer(1, 1000),
      doc: "Partitions of the events topic; also the ceiling of useful processor replicas.",
    }),
    eventsRetentionHours: key({ type: "integer", default: 168, parse: integer(1), doc: "Retention of the events topic in hours." }),
    deadLetterTopic: key({ type: "string", default: "events.dlq", parse: kafkaName, doc: "Topic the processor writes undecodable or invalid records to." }),
    deadLetterPartitions: key({ type: "integer", default: 3, parse: integer(1, 1000), doc: "Partitions of the dead-letter topic." }),
    deadLetterRetentionHours: key({ type: "integer", default: 336, parse: integer(1), doc: "Retention of the dead-letter topic in hours." }),
    consumerGroup: key({ type: "string", default: "eventstack-processor", parse: kafkaName, doc: "Consumer group of the processor." }),
  },
  api: {
    throttleRateLimit: key({
      type: "integer", default: 8000, parse: integer(1),
      doc: "Steady-state requests per second the API stage admits; at most api.accountRateLimit.",
    }),
    throttleBurstLimit: key({
      type: "integer", default: 4000, parse: integer(1),
      doc: "Burst of requests the API stage admits (>= api.throttleRateLimit is not required, but must be >= 1); at most api.accountBurstLimit.",
    }),
    accountRateLimit: key({
      type: "integer", default: 10000, parse: integer(1),
      doc: "The account's API Gateway throttle quota in the region (requests/s, shared by all its APIs there), as granted; 10000 by default, 2500 in some newer Regions.",
    }),
    accountBurstLimit: key({
      type: "integer", default: 5000, parse: integer(1),
      doc: "The account's API Gateway burst quota in the region, which AWS sets from the rate quota; 5000 by default.",
    }),
    requestRateQuota: key({
      type: "integer", default: 0, parse: integer(0),
      doc: "Request a raise of the account's API Gateway throttle quota to this rate through Service Quotas (L-8A5B8E43); 0 requests nothing. Set it on one stack per account and region.",
    }),
    corsOrigins: key({
      type: "array", default: [], parse: list(matching(/^https?:\/\/[^\s/]+$/, ""), "origins such as https://app.example.com"),
      doc: "Origins allowed by CORS (https URLs). Empty turns CORS off.",
    }),
    jwtIssuer: key({
      type: "string", default: "", parse: optional(httpsUrl),
      doc: "Issuer URL of the JWT authorizer (https). Empty selects IAM (SigV4) authorization instead, so no route is ever open.",
    }),
    jwtAudiences: key({
      type: "array", default: [], parse: list(nonEmpty, "non-empty strings"),
      doc: "Audiences the JWT authorizer accepts; required when api.jwtIssuer is set.",
    }),
    domainName: key({
      type: "string", default: "", parse: optional(matching(/^([a-z0-9-]+\.)+[a-z]{2,}$/, "a DNS name such as api.example.com")),
      doc: "Custom domain for the API (an ACM certificate is issued and validated in api.hostedZoneId). Empty uses the default execute-api endpoint.",
    }),
    hostedZoneId: key({
      type: "string", default: "", parse: optional(matching(/^Z[A-Z0-9]{1,31}$/, "a Route 53 hosted zone id such as Z0123456789ABC")),
      doc: "Route 53 hosted zone that holds api.domainName; required when api.domainName is set.",
    }),
  },
  mesh: {
    highAvailability: key({
      type: "boolean", default: true, parse: boolean,
      doc: "Run the Linkerd control plane highly available (3 replicas, PodDisruptionBudgets, anti-affinity).",
    }),
    // What components/linkerd.ts can issue: longer than its renewal time (a quarter of the validity, at least
    // minimumRenewalHours) and shorter than the trust anchor it is signed by.
    issuerValidityHours: key({
      type: "integer", default: 8760, parse: integer(LINKERD_DEFAULTS.minimumRenewalHours + 1, LINKERD_DEFAULTS.trustAnchorValidityHours - 1),
      doc: "Validity of the Linkerd identity issuer certificate in hours, from 25 to 87599 (it must outlast its renewal time and end before the 87600-hour trust anchor); rotate before it ends (docs/mesh.md).",
    }),
  },
  images: {
    build: key({
      type: "boolean", default: false, parse: boolean,
      doc: "Build and push both images inside `pulumi up` (@pulumi/docker-build; needs a BuildKit-capable Docker engine), for a first deploy from a laptop. False deploys the digests in images.ingest and images.processor, which the images workflow builds, scans and pushes.",
    }),
    digests: {
      ingest: key({
        type: "string", default: "", parse: optional(imageDigest), key: "images.ingest",
        doc: "Digest (`sha256:` and 64 hex digits) of the ingest image in this stack's ECR repository to deploy, from the images workflow's image-digests.json. Required when images.build is false, empty when it is true.",
      }),
      processor: key({
        type: "string", default: "", parse: optional(imageDigest), key: "images.processor",
        doc: "Digest (`sha256:` and 64 hex digits) of the processor image in this stack's ECR repository to deploy (also the migrate Job's), from the images workflow's image-digests.json. Required when images.build is false, empty when it is true.",
      }),
    },
    // One key for the one repository the stack is delivered from: the images workflow that pushes with the role and
    // the deploy workflow that commits the rendered workloads both run there, so Argo CD syncs from it too. Its clone
    // URL follows from this name (githubCloneUrl in components/defaults/github.ts); the reverse does not hold, since
    // the immutable form's ids are not in a URL.
    githubRepository: key({
      type: "string",
      default: "",
      parse: optional(
        matching(
          GITHUB_REPOSITORY,
          "a GitHub repository as its OIDC subject names it: owner/name (acme/eventstack) or, with immutable subject claims, owner@<id>/name@<id> (acme@123456/eventstack@789012); or empty",
        ),
      ),
      key: "delivery.githubRepository",
      doc: 'The GitHub repository the stack is delivered from, written as its OIDC token\'s `sub` claim names it: `owner/name`, or `owner@<org id>/name@<repo id>` for a repository with immutable subject claims (every one created on github.com since 2026-07-15). Its `main` branch may push images to this stack\'s ECR repositories through an IAM role assumed with GitHub\'s OIDC token (output imagePushRoleArn); with delivery.mode "argocd", where it is required, Argo CD syncs the workloads from it (https://github.com/<owner>/<name>.git; a private repository needs its credential added in the cluster, docs/delivery.md, never in config). Empty creates no role.',
    }),
    githubOidcProviderArn: key({
      type: "string",
      default: "",
      parse: optional(
        matching(
          /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/,
          "the ARN of the account's IAM OIDC provider for token.actions.githubusercontent.com, or empty",
        ),
      ),
      key: "delivery.githubOidcProviderArn",
      doc: "ARN of the account's existing IAM OIDC provider for token.actions.githubusercontent.com (an account has at most one per URL, so the second stack of an account names the first one's). Empty creates it. Only with delivery.githubRepository.",
    }),
  },
  observability: {
    alertEmails: key({
      type: "array", default: [], parse: list(matching(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, ""), "email addresses"),
      doc: "Email addresses subscribed to the stack's alert topic (AMP alerts and CloudWatch alarms); each must confirm the subscription mail SNS sends. Empty subscribes nobody; the topic ARN is the stack output alertTopicArn.",
    }),
    scrapeIntervalSeconds: key({
      type: "integer", default: COLLECTOR_DEFAULTS.scrapeIntervalSeconds, parse: integer(10, 300),
      doc: "How often the OpenTelemetry Collector scrapes every Prometheus target (the services, Linkerd proxies, KEDA, Karpenter, kube-state-metrics, node exporters, MSK brokers), 10 to 300 seconds.",
    }),
    traceLatencyThresholdMs: key({
      type: "integer", default: COLLECTOR_DEFAULTS.traceLatencyThresholdMs, parse: integer(1, 60_000),
      doc: "Tail sampling keeps every trace slower than this many milliseconds (1 to 60000), besides every trace with an error.",
    }),
    traceSamplePercent: key({
      type: "integer", default: COLLECTOR_DEFAULTS.traceSamplePercent, parse: integer(0, 100),
      doc: "The share (0 to 100 percent) of the other traces, neither failed nor slow, that tail sampling sends to X-Ray.",
    }),
  },
  delivery: {
    mode: key({
      type: "string", default: "pulumi", parse: oneOf(...DELIVERY_MODES),
      doc: 'Who applies the ingest and processor workloads: "pulumi" (this program applies them) or "argocd" (the program installs Argo CD and an Application that syncs them from delivery.gitPath of the repository delivery.githubRepository names, where `npm run render:workloads` writes them; the migrate Job becomes its PreSync hook).',
    }),
    gitPath: key({
      type: "string", default: "deploy/workloads", parse: repoPath,
      doc: "The directory, relative to the repository root, that `npm run render:workloads -- --stack <stack>` writes and the Argo CD Application tracks.",
    }),
    gitRevision: key({ type: "string", default: "main", parse: gitRevision, doc: "The branch, tag or commit the Argo CD Application tracks." }),
    analysisPrometheusUrl: key({
      type: "string", default: "", parse: optional(httpUrl),
      doc: "The Prometheus query endpoint the canary analyses read (http or https; no /api/v1/query suffix). Empty (the default): the stack's own Amazon Managed Prometheus workspace, which the collector writes the services' metrics to. An Amazon Managed Prometheus workspace URL (https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>, in the cluster's account) and the default are queried with SigV4 by the Argo Rollouts controller, whose Pod Identity role may query that workspace only; any other URL is queried unsigned and the controller gets no role.",
    }),
  },
};

/**
 * Keys the program no longer reads, with what replaced them. Pulumi passes a stack's keys through whether or not
 * Pulumi.yaml declares them, so a stale one would otherwise be ignored without a word.
 */
export const REMOVED_KEYS: Record<string, string> = {
  "cluster.maxNodes": "nothing scales the system node group; set its size with cluster.systemNodes",
  "cluster.minNodes": "the system node group has a fixed size; set it with cluster.systemNodes",
  "delivery.gitRepository":
    "Argo CD syncs from the repository delivery.githubRepository names (https://github.com/<owner>/<name>.git), the one whose workflows push the images and commit the rendered workloads; set delivery.githubRepository to its owner/name",
};

// ------------------------------------------------------------------ what follows from the keys

/** The values the keys hold, in SCHEMA's shape: each key's type is what its `parse` returns. */
export type SchemaValues = ValuesOf<typeof SCHEMA>;

/** The name of every key (`network.cidr`, `images.ingest`): its path in SCHEMA, or its `key`. */
export type KeyName = KeyNamesOf<typeof SCHEMA>;

/** A key with its name and where its value sits in SchemaValues. */
export type Field = KeyField<KeyName>;

/** Every key by name, in SCHEMA's order. */
export const FIELDS = fieldsOf(SCHEMA);
