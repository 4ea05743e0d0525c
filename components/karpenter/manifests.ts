// Karpenter's two custom resources, as plain Kubernetes objects (pure functions, so that tests validate exactly
// what is applied against the published CRD schemas).
import type { Architecture } from "../config";

export const NODE_CLASS_NAME = "default";
export const NODE_POOL_NAME = "default";
/** The tag Karpenter discovers subnets and the node security group by. */
export const DISCOVERY_TAG = "karpenter.sh/discovery";

export interface NodeClassSpecArgs {
  clusterName: string;
  /** Name (not ARN) of the node IAM role; Karpenter creates the instance profile for it. */
  nodeRoleName: string;
  /** AMI alias, e.g. "al2023@v20260714" (components/versions.ts). */
  amiAlias: string;
  /** Root volume size in GiB. */
  rootVolumeGiB: number;
  /** Tags on every instance, volume and ENI Karpenter launches (ownership tags). */
  tags: Record<string, string>;
}

export function ec2NodeClass(a: NodeClassSpecArgs) {
  const byDiscoveryTag = [{ tags: { [DISCOVERY_TAG]: a.clusterName } }];
  return {
    apiVersion: "karpenter.k8s.aws/v1",
    kind: "EC2NodeClass",
    metadata: { name: NODE_CLASS_NAME },
    spec: {
      role: a.nodeRoleName,
      amiSelectorTerms: [{ alias: a.amiAlias }],
      // Private subnets only (components/network tags them); exactly one security group, the cluster security
      // group, carries the tag (components/karpenter/index.ts), so these nodes match the system nodes.
      subnetSelectorTerms: byDiscoveryTag,
      securityGroupSelectorTerms: byDiscoveryTag,
      // IMDSv2 only; hop limit 1 because pods get AWS credentials from EKS Pod Identity, never from IMDS.
      metadataOptions: { httpEndpoint: "enabled", httpProtocolIPv6: "disabled", httpPutResponseHopLimit: 1, httpTokens: "required" },
      blockDeviceMappings: [
        { deviceName: "/dev/xvda", ebs: { volumeSize: `${a.rootVolumeGiB}Gi`, volumeType: "gp3", encrypted: true, deleteOnTermination: true } },
      ],
      tags: a.tags,
    },
  };
}

export interface NodePoolSpecArgs {
  capacityTypes: ("spot" | "on-demand")[];
  architectures: Architecture[];
  /** Total vCPUs and memory (GiB) the pool may hold. */
  cpuLimit: number;
  memoryLimitGiB: number;
  /** How long a node must be empty or underutilized before consolidation (e.g. "1m"). */
  consolidateAfter: string;
  /** Nodes that may be disrupted at once: a count or a percentage. */
  disruptionBudget: string;
  /** Maximum node lifetime, so nodes pick up new AMIs and patches (e.g. "720h"). */
  expireAfter: string;
  /** Families Karpenter may choose from. */
  instanceCategories: string[];
  /** Only instance generations above this (older ones are slower and rarely cheaper). */
  minGenerationExclusive: number;
}

export function nodePool(a: NodePoolSpecArgs) {
  return {
    apiVersion: "karpenter.sh/v1",
    kind: "NodePool",
    metadata: { name: NODE_POOL_NAME },
    spec: {
      template: {
        metadata: { labels: { "eventstack.io/pool": "workloads" } },
        spec: {
          nodeClassRef: { group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: NODE_CLASS_NAME },
          requirements: [
            { key: "karpenter.sh/capacity-type", operator: "In", values: [...a.capacityTypes] },
            { key: "kubernetes.io/arch", operator: "In", values: [...a.architectures] },
            { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
            { key: "karpenter.k8s.aws/instance-category", operator: "In", values: [...a.instanceCategories] },
            { key: "karpenter.k8s.aws/instance-generation", operator: "Gt", values: [String(a.minGenerationExclusive)] },
          ],
          expireAfter: a.expireAfter,
        },
      },
      limits: { cpu: String(a.cpuLimit), memory: `${a.memoryLimitGiB}Gi` },
      disruption: {
        consolidationPolicy: "WhenEmptyOrUnderutilized",
        consolidateAfter: a.consolidateAfter,
        budgets: [{ nodes: a.disruptionBudget }],
      },
    },
  };
}
