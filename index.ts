// eventstack: the composition root. It reads and validates the stack configuration, creates one component
// per concern, and exports what a platform team needs. No resource is declared here directly.
import { PodAutoscaling } from "./components/autoscaling";
import { Cluster } from "./components/cluster";
import { loadConfig } from "./components/config";
import { Karpenter } from "./components/karpenter";
import { Network } from "./components/network";
import { awsProvider, ownershipTags, stackName } from "./components/provider";

const config = loadConfig();
const provider = awsProvider(config);
const clusterName = stackName();

const network = new Network(
  "network",
  {
    cidr: config.network.cidr,
    availabilityZones: config.network.availabilityZones,
    natGateways: config.network.natGateways,
    flowLogs: config.network.flowLogs,
    logRetentionDays: config.logRetentionDays,
    interfaceEndpoints: config.network.interfaceEndpoints,
    clusterName,
  },
  { provider },
);

const cluster = new Cluster(
  "cluster",
  {
    clusterName,
    kubernetesVersion: config.cluster.kubernetesVersion,
    vpcId: network.vpcId,
    privateSubnetIds: network.privateSubnetIds,
    publicEndpointCidrs: config.cluster.publicEndpointCidrs,
    adminPrincipalArns: config.cluster.adminPrincipalArns,
    systemInstanceTypes: config.cluster.systemInstanceTypes,
    systemArchitecture: config.cluster.systemArchitecture,
    minNodes: config.cluster.minNodes,
    maxNodes: config.cluster.maxNodes,
    logRetentionDays: config.logRetentionDays,
  },
  { provider },
);

const karpenter = new Karpenter(
  "karpenter",
  {
    cluster,
    capacityTypes: config.karpenter.capacityTypes,
    architectures: config.karpenter.architectures,
    cpuLimit: config.karpenter.cpuLimit,
    memoryLimitGiB: config.karpenter.memoryLimitGiB,
    consolidateAfter: config.karpenter.consolidateAfter,
    disruptionBudget: config.karpenter.disruptionBudget,
    systemMinNodes: config.cluster.minNodes,
    tags: ownershipTags(config),
  },
  { provider },
);

new PodAutoscaling(
  "autoscaling",
  {
    cluster,
    systemMinNodes: config.cluster.minNodes,
    // The MSK cluster is named after the stack (components/kafka.ts), like the EKS cluster.
    kafkaClusterName: clusterName,
    eventsTopic: config.kafka.eventsTopic,
    consumerGroup: config.kafka.consumerGroup,
  },
  { provider },
);

export const region = config.region;
export const vpcId = network.vpcId;
export const privateSubnetIds = network.privateSubnetIds;
export const isolatedSubnetIds = network.isolatedSubnetIds;
export { clusterName };
export const kubeconfig = cluster.kubeconfig; // a secret
export const nodeSecurityGroupId = cluster.nodeSecurityGroupId;
export const karpenterNodeRoleName = karpenter.nodeRoleName;
