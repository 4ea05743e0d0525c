// MSK over both stacks: brokers spread over the isolated subnets, IAM-only authentication, TLS everywhere,
// at-rest encryption with its own rotating key, broker logs, the broker configuration, storage auto-scaling,
// and the two topics with their partitions, replication and retention from config.
import { mskGroupArn, mskTopicArn, serverProperties, topicSpecs, validateKafkaArgs, type KafkaArgs } from "../components/kafka";
import { CLIENT_SG, ISOLATED_SUBNETS, runDataServices, VPC_ID } from "./data-services";
import type { RecordingMocks } from "./mocks";
import { TEST_REGION } from "./program";

const CLUSTER = "aws:msk/cluster:Cluster";
const TOPIC = "aws:msk/topic:Topic";
const HOUR_MS = 3_600_000;

const expected = {
  dev: { brokers: 3, instanceType: "kafka.t3.small", volume: 20, maxVolume: 100, eventsPartitions: 6, eventsRetentionHours: 24, logDays: 7 },
  prod: { brokers: 6, instanceType: "kafka.m7g.large", volume: 1000, maxVolume: 4000, eventsPartitions: 24, eventsRetentionHours: 168, logDays: 90 },
} as const;

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  const want = expected[stack];
  const id = `eventstack-${stack}`;
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  beforeAll(async () => {
    ({ mocks, outputs } = await runDataServices(stack));
  });
  const cluster = () => mocks.get(CLUSTER, "kafka-cluster").inputs;

  test("is a provisioned cluster of the configured brokers, instance type and storage over the isolated subnets", () => {
    expect(cluster()).toMatchObject({ clusterName: id, kafkaVersion: "3.9.x", numberOfBrokerNodes: want.brokers, enhancedMonitoring: "DEFAULT" });
    expect(cluster().brokerNodeGroupInfo).toEqual({
      instanceType: want.instanceType,
      clientSubnets: ISOLATED_SUBNETS,
      securityGroups: ["kafka-sg-id"],
      storageInfo: { ebsStorageInfo: { volumeSize: want.volume } },
      connectivityInfo: { publicAccess: { type: "DISABLED" } },
    });
    // MSK places brokers round-robin over the client subnets: an equal count per AZ.
    expect(want.brokers % ISOLATED_SUBNETS.length).toBe(0);
  });

  test("authenticates clients with IAM only: no unauthenticated access, no SCRAM, no client certificates", () => {
    expect(cluster().clientAuthentication).toEqual({ unauthenticated: false, sasl: { iam: true, scram: false } });
    expect(cluster().clientAuthentication).not.toHaveProperty("tls");
  });

  test("encrypts in transit (client-broker TLS only, in-cluster) and at rest with its own rotating key", () => {
    const key = mocks.get("aws:kms/key:Key", "kafka-key");
    expect(key.inputs).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30 });
    expect(mocks.get("aws:kms/alias:Alias", "kafka-key-alias").inputs.name).toBe(`alias/${id}/kafka`);
    expect(cluster().encryptionInfo).toEqual({ encryptionAtRestKmsKeyArn: key.state.arn, encryptionInTransit: { clientBroker: "TLS", inCluster: true } });
  });

  test("admits 9098 (SASL/IAM over TLS) from the cluster only", () => {
    const sg = mocks.get("aws:ec2/securityGroup:SecurityGroup", "kafka-sg").inputs;
    expect(sg.vpcId).toBe(VPC_ID);
    // Standalone rules only (test/security-groups.test.ts): no inline blocks, one rule per client group.
    expect(sg).not.toHaveProperty("ingress");
    expect(sg).not.toHaveProperty("egress");
    expect(mocks.get("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "kafka-sg-client-1").inputs).toEqual({
      securityGroupId: "kafka-sg-id",
      referencedSecurityGroupId: CLIENT_SG,
      ipProtocol: "tcp",
      fromPort: 9098,
      toPort: 9098,
      description: "MSK (SASL/IAM over TLS) clients",
    });
    expect(outputs.kafkaPort).toBe(9098);
    expect(outputs.kafkaBootstrap.split(",").every((b: string) => new RegExp(`^b-\\d+\\.${id}\\.[0-9a-f]+\\.c2\\.kafka\\.${TEST_REGION}\\.amazonaws\\.com:9098$`).test(b))).toBe(true);
  });

  test("sends broker logs to this stack's own log group with the configured retention", () => {
    // Named from the stack, so that dev and prod in one account do not both claim one group.
    expect(mocks.get("aws:cloudwatch/logGroup:LogGroup", "kafka-broker-logs").inputs).toEqual({ name: `/eventstack/${id}/broker-logs`, retentionInDays: want.logDays });
    expect(cluster().loggingInfo).toEqual({ brokerLogs: { cloudwatchLogs: { enabled: true, logGroup: `/eventstack/${id}/broker-logs` } } });
  });

  test("runs a configuration without auto-created topics or unclean elections, replicating by default", () => {
    const config = mocks.get("aws:msk/configuration:Configuration", "kafka-config");
    expect(config.inputs.name).toBe(`${id}-brokers`);
    const props = Object.fromEntries(
      (config.inputs.serverProperties as string)
        .trim()
        .split("\n")
        .map((line) => line.split("=")),
    );
    expect(props).toEqual({
      "auto.create.topics.enable": "false",
      "default.replication.factor": "3",
      "min.insync.replicas": "2",
      "unclean.leader.election.enable": "false",
      "num.partitions": String(want.brokers),
      "offsets.topic.replication.factor": "3",
      "transaction.state.log.replication.factor": "3",
      "transaction.state.log.min.isr": "2",
    });
    expect(cluster().configurationInfo).toEqual({ arn: config.state.arn, revision: 1 });
  });

  test("grows broker storage automatically up to kafka.maxVolumeSizeGiB and never shrinks it", () => {
    const clusterArn = mocks.get(CLUSTER, "kafka-cluster").state.arn;
    expect(mocks.get("aws:appautoscaling/target:Target", "kafka-storage").inputs).toEqual({
      serviceNamespace: "kafka",
      scalableDimension: "kafka:broker-storage:VolumeSize",
      resourceId: clusterArn,
      minCapacity: want.volume,
      maxCapacity: want.maxVolume,
    });
    expect(mocks.get("aws:appautoscaling/policy:Policy", "kafka-storage").inputs).toEqual({
      policyType: "TargetTrackingScaling",
      serviceNamespace: "kafka",
      scalableDimension: "kafka:broker-storage:VolumeSize",
      resourceId: clusterArn,
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: "KafkaBrokerStorageUtilization" },
        targetValue: 60,
        disableScaleIn: true,
      },
    });
  });

  test("declares the events and dead-letter topics with partitions, replication and retention from config", () => {
    const clusterArn = mocks.get(CLUSTER, "kafka-cluster").state.arn;
    const topic = (name: string) => {
      const t = mocks.get(TOPIC, name).inputs;
      return { ...t, configs: JSON.parse(t.configs) };
    };
    expect(topic("kafka-events")).toEqual({
      clusterArn,
      name: "events",
      partitionCount: want.eventsPartitions,
      replicationFactor: 3,
      configs: { "retention.ms": String(want.eventsRetentionHours * HOUR_MS), "min.insync.replicas": "2", "cleanup.policy": "delete" },
    });
    expect(topic("kafka-dead-letters")).toEqual({
      clusterArn,
      name: "events.dlq",
      partitionCount: 3,
      replicationFactor: 3,
      configs: { "retention.ms": String(336 * HOUR_MS), "min.insync.replicas": "2", "cleanup.policy": "delete" },
    });
    expect(outputs.kafkaEventsTopic).toBe("events");
    expect(outputs.kafkaDeadLetterTopic).toBe("events.dlq");
    expect(outputs.kafkaTopics.map((t: any) => [t.name, t.partitions, t.replicationFactor])).toEqual([
      ["events", want.eventsPartitions, 3],
      ["events.dlq", 3, 3],
    ]);
  });

  test("builds topic and group ARNs that match the ARNs AWS gives the topics", () => {
    expect(outputs.kafkaEventsTopicArn).toBe(mocks.get(TOPIC, "kafka-events").state.arn);
    expect(outputs.kafkaGroupArn).toBe(outputs.kafkaClusterArn.replace(":cluster/", ":group/") + "/eventstack-processor");
  });

  test("every child is parented to the component, uses the stack's provider and is named kafka-<role>", () => {
    const children = mocks.resources.filter((r) => r.parent.endsWith("eventstack:data:Kafka::kafka"));
    expect(children.map((c) => c.name).sort()).toEqual(
      ["kafka-broker-logs", "kafka-cluster", "kafka-config", "kafka-dead-letters", "kafka-events", "kafka-key", "kafka-key-alias", "kafka-sg", "kafka-sg-client-1", "kafka-storage", "kafka-storage"].sort(),
    );
    for (const child of children) expect(child.provider).toBe(`urn:pulumi:${stack}::eventstack::pulumi:providers:aws::aws::aws-id`);
  });
});

describe("without storage headroom", () => {
  test("no auto-scaling is declared when kafka.maxVolumeSizeGiB equals kafka.volumeSizeGiB", async () => {
    const { mocks } = await runDataServices("dev", { "eventstack:kafka.maxVolumeSizeGiB": 20 });
    expect(mocks.ofType("aws:appautoscaling/target:Target")).toEqual([]);
    expect(mocks.ofType("aws:appautoscaling/policy:Policy")).toEqual([]);
  });
});

describe("pure helpers", () => {
  const clusterArn = "arn:aws:kafka:eu-west-1:123456789012:cluster/eventstack-prod/279c0212-d057-4dba-9aa9-1c4e5a25bfc7-3";

  test("topic and group ARNs follow MSK's IAM resource format", () => {
    expect(mskTopicArn(clusterArn, "events.dlq")).toBe("arn:aws:kafka:eu-west-1:123456789012:topic/eventstack-prod/279c0212-d057-4dba-9aa9-1c4e5a25bfc7-3/events.dlq");
    expect(mskGroupArn(clusterArn, "eventstack-processor")).toBe("arn:aws:kafka:eu-west-1:123456789012:group/eventstack-prod/279c0212-d057-4dba-9aa9-1c4e5a25bfc7-3/eventstack-processor");
    expect(() => mskTopicArn("arn:aws:kafka:eu-west-1:123456789012:configuration/x/y", "events")).toThrow(
      'Kafka: "arn:aws:kafka:eu-west-1:123456789012:configuration/x/y" is not an MSK cluster ARN (arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>)',
    );
  });

  test("server.properties and topic configs follow the replication settings", () => {
    expect(serverProperties({ brokers: 4, replicationFactor: 4, minInsyncReplicas: 3 })).toContain("min.insync.replicas=3\n");
    expect(topicSpecs({ eventsTopic: { name: "a", partitions: 1, retentionHours: 1 }, deadLetterTopic: { name: "b", partitions: 2, retentionHours: 2 }, replicationFactor: 2, minInsyncReplicas: 1 })).toEqual([
      { name: "a", partitions: 1, replicationFactor: 2, config: { "retention.ms": "3600000", "min.insync.replicas": "1", "cleanup.policy": "delete" } },
      { name: "b", partitions: 2, replicationFactor: 2, config: { "retention.ms": "7200000", "min.insync.replicas": "1", "cleanup.policy": "delete" } },
    ]);
  });

  test("relations MSK would reject late are refused at once with the fix", () => {
    const base: KafkaArgs = {
      identifier: "x",
      vpcId: "vpc-1",
      subnetIds: [],
      clientSecurityGroupIds: [CLIENT_SG],
      version: "3.9.x",
      brokers: 3,
      instanceType: "kafka.t3.small",
      volumeSizeGiB: 10,
      maxVolumeSizeGiB: 10,
      replicationFactor: 3,
      minInsyncReplicas: 2,
      eventsTopic: { name: "events", partitions: 1, retentionHours: 1 },
      deadLetterTopic: { name: "dlq", partitions: 1, retentionHours: 1 },
      logRetentionDays: 7,
    };
    expect(() => validateKafkaArgs(base)).not.toThrow();
    expect(() => validateKafkaArgs({ ...base, minInsyncReplicas: 3 })).toThrow("Kafka: minInsyncReplicas (3) must be < replicationFactor (3), so that writes survive one broker being down");
    expect(() => validateKafkaArgs({ ...base, replicationFactor: 4, minInsyncReplicas: 2 })).toThrow("Kafka: replicationFactor (4) must be <= brokers (3)");
    expect(() => validateKafkaArgs({ ...base, maxVolumeSizeGiB: 5 })).toThrow("Kafka: maxVolumeSizeGiB (5) must be >= volumeSizeGiB (10)");
    expect(() => validateKafkaArgs({ ...base, deadLetterTopic: { name: "events", partitions: 1, retentionHours: 1 } })).toThrow('Kafka: the dead-letter topic must differ from the events topic ("events")');
  });
});
