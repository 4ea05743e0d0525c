// Runs the data-service components (Aurora, ElastiCache, MSK, workload IAM) under the mocks with a stack's real
// configuration, wired the way index.ts wires them, with fixed fakes for what other components provide.
import type { CacheAuthentication } from "../components/cache";
import { ACCOUNT } from "./mocks";
import { type ProgramRun, runWithMocks } from "./program";
import { sharedRun } from "./program-cache";

/** The EKS cluster's node security group, as the cluster component will hand it over. */
export const CLIENT_SG = "sg-0123456789abcdef0";
export const VPC_ID = "vpc-0a1b2c3d4e5f60718";
/** The isolated subnets, named the way the awsx mock names them (one per AZ, a/b/c). */
export const ISOLATED_SUBNETS = ["subnet-isolated-1", "subnet-isolated-2", "subnet-isolated-3"];

export interface DataServicesOptions {
  cacheAuthentication?: CacheAuthentication;
}

export function runDataServices(stack: string, overrides: Record<string, unknown> = {}, options: DataServicesOptions = {}): Promise<ProgramRun> {
  return sharedRun(["data-services", stack, overrides, options], () => evaluateDataServices(stack, overrides, options));
}

function evaluateDataServices(stack: string, overrides: Record<string, unknown>, options: DataServicesOptions): Promise<ProgramRun> {
  return runWithMocks(stack, overrides, () => {
    const { loadConfig } = require("../components/config") as typeof import("../components/config");
    const { awsProvider, stackName } = require("../components/provider") as typeof import("../components/provider");
    const { Database } = require("../components/database") as typeof import("../components/database");
    const { Cache } = require("../components/cache") as typeof import("../components/cache");
    const { Kafka } = require("../components/kafka") as typeof import("../components/kafka");
    const { WorkloadIam } = require("../components/workload-iam") as typeof import("../components/workload-iam");

    const config = loadConfig();
    const provider = awsProvider(config);
    const identifier = stackName();
    const placement = { vpcId: VPC_ID, subnetIds: ISOLATED_SUBNETS, clientSecurityGroupIds: [CLIENT_SG] };

    const database = new Database("database", { identifier, ...placement, ...config.aurora, logRetentionDays: config.logRetentionDays }, { provider });
    const cache = new Cache("cache", { identifier, ...placement, ...config.cache, authentication: options.cacheAuthentication }, { provider });
    const k = config.kafka;
    const kafka = new Kafka(
      "kafka",
      {
        identifier,
        ...placement,
        version: k.version,
        brokers: k.brokers,
        instanceType: k.instanceType,
        volumeSizeGiB: k.volumeSizeGiB,
        maxVolumeSizeGiB: k.maxVolumeSizeGiB,
        replicationFactor: k.replicationFactor,
        minInsyncReplicas: k.minInsyncReplicas,
        eventsTopic: { name: k.eventsTopic, partitions: k.eventsPartitions, retentionHours: k.eventsRetentionHours },
        deadLetterTopic: { name: k.deadLetterTopic, partitions: k.deadLetterPartitions, retentionHours: k.deadLetterRetentionHours },
        logRetentionDays: config.logRetentionDays,
      },
      { provider },
    );
    // The EKS cluster's ARN as the cluster component hands it over (the cluster is named after the stack too).
    const clusterArn = `arn:aws:eks:${config.region}:${ACCOUNT}:cluster/${identifier}`;
    const workloads = new WorkloadIam("workloads", { clusterArn, kafka, consumerGroup: k.consumerGroup, database, cache }, { provider });

    return {
      dbEndpoint: database.endpoint,
      dbReaderEndpoint: database.readerEndpoint,
      dbPort: database.port,
      dbName: database.databaseName,
      dbClusterResourceId: database.clusterResourceId,
      dbMasterSecretArn: database.masterSecretArn,
      dbKeyArn: database.keyArn,
      dbProcessorUserArn: database.dbUserArn("eventstack_processor"),
      cachePrimaryEndpoint: cache.primaryEndpoint,
      cacheReaderEndpoint: cache.readerEndpoint,
      cachePort: cache.port,
      cacheAuthentication: cache.authentication,
      cacheProcessorUserName: cache.users.processor!.userName,
      cacheProcessorUserArn: cache.users.processor!.arn,
      cacheProcessorSecretArn: cache.secretArns.processor,
      cacheReplicationGroupArn: cache.replicationGroupArn,
      cacheKeyArn: cache.keyArn,
      kafkaClusterArn: kafka.clusterArn,
      kafkaBootstrap: kafka.bootstrapBrokersSaslIam,
      kafkaPort: kafka.port,
      kafkaEventsTopic: kafka.eventsTopic,
      kafkaDeadLetterTopic: kafka.deadLetterTopic,
      kafkaTopics: kafka.topics,
      kafkaKeyArn: kafka.keyArn,
      kafkaEventsTopicArn: kafka.topicArn(kafka.eventsTopic),
      kafkaGroupArn: kafka.groupArn(k.consumerGroup),
      ingestRoleArn: workloads.roleArns.ingest,
      processorRoleArn: workloads.roleArns.processor,
      migrateRoleArn: workloads.roleArns.migrate,
      serviceAccounts: workloads.serviceAccounts,
    };
  });
}
