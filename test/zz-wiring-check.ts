import { Cache } from "../components/cache";
import { Cluster } from "../components/cluster";
import { loadConfig } from "../components/config";
import { Database } from "../components/database";
import { Kafka } from "../components/kafka";
import { Network } from "../components/network";
import { awsProvider, stackName } from "../components/provider";
import { WorkloadIam } from "../components/workload-iam";
declare const network: Network;
declare const cluster: Cluster;
const config = loadConfig();
const provider = awsProvider(config);
const clusterName = stackName();

// ---- begin recommended wiring
// Data services: private (isolated subnets), reachable from the cluster's nodes only.
const dataPlacement = {
  vpcId: network.vpcId,
  subnetIds: network.isolatedSubnetIds,
  clientSecurityGroupIds: [cluster.nodeSecurityGroupId],
};
const database = new Database(
  "database",
  { identifier: clusterName, ...dataPlacement, ...config.aurora, logRetentionDays: config.logRetentionDays },
  { provider },
);
const cache = new Cache("cache", { identifier: clusterName, ...dataPlacement, ...config.cache }, { provider });
const kafka = new Kafka(
  "kafka",
  {
    identifier: clusterName,
    ...dataPlacement,
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
const workloadIam = new WorkloadIam(
  "workloads",
  { clusterName: cluster.name, kafka, consumerGroup: config.kafka.consumerGroup, database, cache },
  { provider },
);

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
// ---- end recommended wiring
