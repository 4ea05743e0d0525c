// MSK (provisioned) for the event stream, and its topics.
//
// Creates, in the isolated subnets: a customer-managed KMS key; a security group admitting 9098 (SASL/IAM over
// TLS, the only listener clients get) from the EKS cluster only; a broker log group; a broker configuration
// that forbids auto-created topics and unclean leader election and makes replication the default; the
// cluster with IAM client authentication only and TLS client-broker and in-cluster, and Prometheus open monitoring
// (JMX and node exporters on 11001/11002, reachable only where a caller adds a rule); storage auto-scaling up
// to `maxVolumeSizeGiB`; and the events and dead-letter topics with their partitions, replication and
// retention.
//
// Topics are declared here through MSK's topic API (aws.msk.Topic; provisioned clusters, Kafka 3.6+), so
// Pulumi creates, updates and shows them like any resource, without network access to the brokers. The
// processor's `migrate` step therefore finds them present and creates nothing; its role may only describe them.
//
// Expects from its caller: the VPC, its isolated subnets (a broker count that is a multiple of their count,
// which the config validation enforces), the EKS cluster's security group(s) and the provider.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createDataSecurityGroup } from "./data-security-group";
import { createDataKey } from "./kms";

/** Defaults of what the stack configuration does not set, in one place. */
export const KAFKA_DEFAULTS = {
  /** The SASL/IAM listener over TLS. */
  port: 9098,
  /** Storage auto-scaling target: AWS recommends 50-60% so that growth (10% or 10 GiB per step, then a 6 h cool-down) keeps ahead. */
  storageUtilizationTarget: 60,
  /** Free broker- and topic-level CloudWatch metrics; per-partition lag comes from KEDA reading Kafka itself. */
  enhancedMonitoring: "DEFAULT",
} as const;

export interface KafkaTopicConfig {
  name: string;
  partitions: number;
  retentionHours: number;
}

export interface KafkaArgs {
  /** Cluster name, unique per account and region (e.g. `eventstack-prod`); also names the configuration. */
  identifier: string;
  /** VPC of the brokers' security group. */
  vpcId: pulumi.Input<string>;
  /** Isolated subnets (no internet route), one per AZ; brokers are spread evenly over them. */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Security groups admitted on port 9098 (the EKS nodes/pods). At least one; no CIDR is ever admitted. */
  clientSecurityGroupIds: pulumi.Input<string>[];
  /** MSK Kafka version, e.g. "3.9.x". Config `kafka.version`. */
  version: string;
  /** Broker count, a multiple of the subnet count. Config `kafka.brokers`. */
  brokers: number;
  /** Broker instance type. Config `kafka.instanceType`. */
  instanceType: string;
  /** Initial EBS storage per broker (GiB). Config `kafka.volumeSizeGiB`. */
  volumeSizeGiB: number;
  /** Storage auto-scaling ceiling per broker (GiB); equal to volumeSizeGiB turns auto-scaling off. Config `kafka.maxVolumeSizeGiB`. */
  maxVolumeSizeGiB: number;
  /** default.replication.factor and every topic's replication factor. Config `kafka.replicationFactor`. */
  replicationFactor: number;
  /** min.insync.replicas of the brokers and every topic. Config `kafka.minInsyncReplicas`. */
  minInsyncReplicas: number;
  /** The topic ingest writes to. Config `kafka.eventsTopic`, `kafka.eventsPartitions`, `kafka.eventsRetentionHours`. */
  eventsTopic: KafkaTopicConfig;
  /** The processor's dead-letter topic. Config `kafka.deadLetter*`. */
  deadLetterTopic: KafkaTopicConfig;
  /** Retention of the broker log group `/eventstack/<identifier>/broker-logs` in days. Config `logRetentionDays`. */
  logRetentionDays: number;
}

/** A topic as created, for the workloads and the migrate Job. */
export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level configuration, as Kafka takes it (strings). */
  config: Record<string, string>;
}

/** The broker configuration (server.properties). */
export function serverProperties(args: Pick<KafkaArgs, "brokers" | "replicationFactor" | "minInsyncReplicas">): string {
  return [
    // Topics exist only as declared here; a typo in a client must fail, not create a 1-partition topic.
    "auto.create.topics.enable=false",
    `default.replication.factor=${args.replicationFactor}`,
    `min.insync.replicas=${args.minInsyncReplicas}`,
    // An out-of-sync replica must never become leader: that would silently drop acknowledged writes.
    "unclean.leader.election.enable=false",
    // For topics created without a count: one partition per broker spreads leaders evenly.
    `num.partitions=${args.brokers}`,
    `offsets.topic.replication.factor=${args.replicationFactor}`,
    `transaction.state.log.replication.factor=${args.replicationFactor}`,
    `transaction.state.log.min.isr=${args.minInsyncReplicas}`,
    "",
  ].join("\n");
}

/** The events and dead-letter topics with their Kafka configuration. */
export function topicSpecs(args: Pick<KafkaArgs, "eventsTopic" | "deadLetterTopic" | "replicationFactor" | "minInsyncReplicas">): TopicSpec[] {
  return [args.eventsTopic, args.deadLetterTopic].map((t) => ({
    name: t.name,
    partitions: t.partitions,
    replicationFactor: args.replicationFactor,
    config: {
      "retention.ms": String(t.retentionHours * 3_600_000),
      "min.insync.replicas": String(args.minInsyncReplicas),
      "cleanup.policy": "delete",
    },
  }));
}

/** `arn:…:cluster/<name>/<uuid>` → the ARN of a resource of that cluster, for IAM policies. */
function clusterScoped(clusterArn: string, kind: "topic" | "group", name: string): string {
  const m = /^(arn:[^:]+:kafka:[^:]+:\d{12}:)cluster\/([^/]+\/[^/]+)$/.exec(clusterArn);
  if (!m) throw new Error(`Kafka: "${clusterArn}" is not an MSK cluster ARN (arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>)`);
  return `${m[1]}${kind}/${m[2]}/${name}`;
}

/** IAM resource of a topic: `arn:<partition>:kafka:<region>:<account>:topic/<cluster name>/<cluster uuid>/<topic>`. */
export const mskTopicArn = (clusterArn: string, topic: string) => clusterScoped(clusterArn, "topic", topic);

/** IAM resource of a consumer group: `arn:<partition>:kafka:<region>:<account>:group/<cluster name>/<cluster uuid>/<group>`. */
export const mskGroupArn = (clusterArn: string, group: string) => clusterScoped(clusterArn, "group", group);

export class Kafka extends pulumi.ComponentResource {
  readonly clusterArn: pulumi.Output<string>;
  readonly clusterName: pulumi.Output<string>;
  /** Comma-separated `host:9098` list of the SASL/IAM listener: what clients bootstrap from. */
  readonly bootstrapBrokersSaslIam: pulumi.Output<string>;
  readonly port: number;
  /** Name of the events topic, resolved once the topic exists. */
  readonly eventsTopic: pulumi.Output<string>;
  /** Name of the dead-letter topic, resolved once the topic exists. */
  readonly deadLetterTopic: pulumi.Output<string>;
  /** Both topics as declared (partitions, replication, config), for the migrate Job and docs. */
  readonly topics: TopicSpec[];
  readonly keyArn: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;

  constructor(name: string, args: KafkaArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:data:Kafka", name, {}, opts);
    validateKafkaArgs(args);
    const childOpts = { parent: this, provider: opts.provider };
    // MSK spreads brokers evenly over the client subnets and refuses a count that does not divide.
    const clientSubnets = pulumi.output(args.subnetIds).apply((ids) => {
      if (ids.length === 0 || args.brokers % ids.length !== 0) {
        throw new Error(`Kafka: brokers (${args.brokers}) must be a multiple of the number of subnets (${ids.length}); change kafka.brokers or network.availabilityZones`);
      }
      return ids;
    });
    const port = KAFKA_DEFAULTS.port;

    const key = createDataKey(name, { description: `MSK ${args.identifier}: broker storage`, alias: `${args.identifier}/kafka` }, childOpts);
    const securityGroup = createDataSecurityGroup(
      name,
      { vpcId: args.vpcId, service: "MSK (SASL/IAM over TLS)", port, clientSecurityGroupIds: args.clientSecurityGroupIds, tagName: `${args.identifier}-kafka` },
      childOpts,
    );
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-broker-logs`,
      // Named from the stack's identifier, not the component: dev and prod in one account each need their own group.
      { name: `/eventstack/${args.identifier}/broker-logs`, retentionInDays: args.logRetentionDays },
      childOpts,
    );
    const configuration = new aws.msk.Configuration(
      `${name}-config`,
      {
        name: `${args.identifier}-brokers`,
        description: `Brokers of ${args.identifier}: declared topics only, replicated, no unclean leader election`,
        serverProperties: serverProperties(args),
      },
      childOpts,
    );

    const cluster = new aws.msk.Cluster(
      `${name}-cluster`,
      {
        clusterName: args.identifier,
        kafkaVersion: args.version,
        numberOfBrokerNodes: args.brokers,
        brokerNodeGroupInfo: {
          instanceType: args.instanceType,
          clientSubnets,
          securityGroups: [securityGroup.id],
          storageInfo: { ebsStorageInfo: { volumeSize: args.volumeSizeGiB } },
          connectivityInfo: { publicAccess: { type: "DISABLED" } },
        },
        // IAM only: no unauthenticated access, no SCRAM secrets, no client certificates to manage.
        clientAuthentication: { unauthenticated: false, sasl: { iam: true, scram: false } },
        encryptionInfo: {
          encryptionAtRestKmsKeyArn: key.arn,
          encryptionInTransit: { clientBroker: "TLS", inCluster: true },
        },
        configurationInfo: { arn: configuration.arn, revision: configuration.latestRevision },
        loggingInfo: { brokerLogs: { cloudwatchLogs: { enabled: true, logGroup: logGroup.name } } },
        enhancedMonitoring: KAFKA_DEFAULTS.enhancedMonitoring,
        // Prometheus open monitoring: a JMX exporter (11001) and a node exporter (11002) on every broker, which the
        // OpenTelemetry Collector scrapes (components/observability/collector.ts admits it on the security group).
        openMonitoring: { prometheus: { jmxExporter: { enabledInBroker: true }, nodeExporter: { enabledInBroker: true } } },
        tags: { Name: args.identifier },
      },
      // Auto-scaling grows the volumes behind Pulumi's back; re-applying the initial size would try to shrink
      // them, which MSK refuses. Raise kafka.maxVolumeSizeGiB instead of volumeSizeGiB on a live cluster.
      { ...childOpts, ignoreChanges: args.maxVolumeSizeGiB > args.volumeSizeGiB ? ["brokerNodeGroupInfo.storageInfo.ebsStorageInfo.volumeSize"] : [] },
    );

    if (args.maxVolumeSizeGiB > args.volumeSizeGiB) {
      const target = new aws.appautoscaling.Target(
        `${name}-storage`,
        {
          serviceNamespace: "kafka",
          scalableDimension: "kafka:broker-storage:VolumeSize",
          resourceId: cluster.arn,
          minCapacity: args.volumeSizeGiB,
          maxCapacity: args.maxVolumeSizeGiB,
        },
        childOpts,
      );
      new aws.appautoscaling.Policy(
        `${name}-storage`,
        {
          policyType: "TargetTrackingScaling",
          serviceNamespace: target.serviceNamespace,
          scalableDimension: target.scalableDimension,
          resourceId: target.resourceId,
          targetTrackingScalingPolicyConfiguration: {
            predefinedMetricSpecification: { predefinedMetricType: "KafkaBrokerStorageUtilization" },
            targetValue: KAFKA_DEFAULTS.storageUtilizationTarget,
            // MSK cannot shrink a volume.
            disableScaleIn: true,
          },
        },
        childOpts,
      );
    }

    const specs = topicSpecs(args);
    const topics = specs.map(
      (spec, i) =>
        new aws.msk.Topic(
          `${name}-${i === 0 ? "events" : "dead-letters"}`,
          {
            clusterArn: cluster.arn,
            name: spec.name,
            partitionCount: spec.partitions,
            replicationFactor: spec.replicationFactor,
            configs: JSON.stringify(spec.config),
          },
          childOpts,
        ),
    );

    this.clusterArn = cluster.arn;
    this.clusterName = cluster.clusterName;
    this.bootstrapBrokersSaslIam = cluster.bootstrapBrokersSaslIam;
    this.port = port;
    this.eventsTopic = topics[0]!.name;
    this.deadLetterTopic = topics[1]!.name;
    this.topics = specs;
    this.keyArn = key.arn;
    this.securityGroupId = securityGroup.id;
    this.logGroupName = logGroup.name;
    this.registerOutputs();
  }

  /** The IAM resource of a topic of this cluster. */
  topicArn(topic: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.all([this.clusterArn, topic]).apply(([arn, t]) => mskTopicArn(arn, t));
  }

  /** The IAM resource of a consumer group of this cluster. */
  groupArn(group: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.all([this.clusterArn, group]).apply(([arn, g]) => mskGroupArn(arn, g));
  }
}

/** Checks the relations MSK would otherwise reject late; throws one actionable message. */
export function validateKafkaArgs(args: KafkaArgs): void {
  if (args.replicationFactor > args.brokers) throw new Error(`Kafka: replicationFactor (${args.replicationFactor}) must be <= brokers (${args.brokers})`);
  if (args.minInsyncReplicas >= args.replicationFactor) {
    throw new Error(`Kafka: minInsyncReplicas (${args.minInsyncReplicas}) must be < replicationFactor (${args.replicationFactor}), so that writes survive one broker being down`);
  }
  if (args.maxVolumeSizeGiB < args.volumeSizeGiB) throw new Error(`Kafka: maxVolumeSizeGiB (${args.maxVolumeSizeGiB}) must be >= volumeSizeGiB (${args.volumeSizeGiB})`);
  if (args.eventsTopic.name === args.deadLetterTopic.name) throw new Error(`Kafka: the dead-letter topic must differ from the events topic ("${args.eventsTopic.name}")`);
}
