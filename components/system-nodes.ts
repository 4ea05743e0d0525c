// The small on-demand managed node group that runs the cluster's own pods, and how those pods find it.
//
// Karpenter must not run on nodes it manages (it would be able to consolidate away its own node), so it and
// the other cluster-critical controllers (CoreDNS, KEDA, metrics-server, later the Linkerd control plane) live
// on this group. The group is labelled SYSTEM_NODE_LABEL and tainted SYSTEM_TAINT, so workloads never land
// there and system pods select it with `systemPlacement` (nodeSelector + toleration).
//
// Security groups: the launch template names none, so EKS attaches the cluster security group (the one EKS
// creates for the control plane ENIs) to every system node. That group allows all traffic from itself, so the
// control plane reaches every webhook and APIService port on these nodes (Karpenter 8443, KEDA 9443/6443,
// metrics-server 10250, Linkerd 8443/8089/9443) without extra rules; Karpenter's nodes select the same group
// (components/karpenter), so node-to-node and pod-to-pod traffic is open between the two kinds of nodes too.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Architecture } from "./config";

/** The label every system node carries; system pods select it. */
export const SYSTEM_NODE_LABEL = { key: "eventstack.io/pool", value: "system" } as const;

/**
 * The taint on every system node. CriticalAddonsOnly is the key EKS add-ons (CoreDNS) and the Karpenter chart
 * already tolerate, so they need no extra configuration to be allowed there.
 */
export const SYSTEM_TAINT = { key: "CriticalAddonsOnly", value: "true", effect: "NoSchedule" } as const;

/** nodeSelector and tolerations that put a pod on the system node group (Helm values and pod specs). */
export const systemPlacement = {
  nodeSelector: { [SYSTEM_NODE_LABEL.key]: SYSTEM_NODE_LABEL.value },
  tolerations: [{ key: SYSTEM_TAINT.key, operator: "Exists", effect: SYSTEM_TAINT.effect }],
};

/** The AL2023 EKS-optimized AMI type for an architecture. */
export function al2023AmiType(arch: Architecture): "AL2023_ARM_64_STANDARD" | "AL2023_x86_64_STANDARD" {
  return arch === "arm64" ? "AL2023_ARM_64_STANDARD" : "AL2023_x86_64_STANDARD";
}

/**
 * AWS managed policies of a node role: join the cluster, pull images from ECR, run the VPC CNI (aws-node uses
 * the node's credentials; it runs on the host network) and be reachable through SSM Session Manager instead
 * of SSH.
 */
export const NODE_MANAGED_POLICIES = [
  "AmazonEKSWorkerNodePolicy",
  "AmazonEC2ContainerRegistryPullOnly",
  "AmazonEKS_CNI_Policy",
  "AmazonSSMManagedInstanceCore",
] as const;

/** An EC2 role for EKS nodes with NODE_MANAGED_POLICIES attached. */
export function createNodeRole(name: string, description: string, opts: { parent: pulumi.Resource; provider: aws.Provider }) {
  const partition = aws.getPartitionOutput({}, opts).partition;
  const role = new aws.iam.Role(
    name,
    {
      description,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    },
    opts,
  );
  const attachments = NODE_MANAGED_POLICIES.map(
    (policy) =>
      new aws.iam.RolePolicyAttachment(`${name}-${policy}`, { role: role.name, policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/${policy}` }, opts),
  );
  return { role, attachments };
}

export interface SystemNodeGroupArgs {
  /** The EKS cluster's name (an output of the cluster, so that the group waits for it). */
  clusterName: pulumi.Input<string>;
  /** Kubernetes minor version of the nodes; follows the control plane. */
  kubernetesVersion: string;
  /** Private subnets to spread the nodes over. */
  subnetIds: pulumi.Input<string[]>;
  /** On-demand instance types, all of `architecture`. */
  instanceTypes: string[];
  architecture: Architecture;
  /**
   * Nodes in the group. The group has a fixed size (min = desired = max): no Cluster Autoscaler runs and Karpenter
   * manages only its own NodePool, so a larger maximum would never be used.
   */
  nodes: number;
  /** Size of the encrypted gp3 root volume (GiB). Default 30. */
  rootVolumeGiB?: number;
}

const DEFAULTS = { rootVolumeGiB: 30 };

export function createSystemNodeGroup(name: string, args: SystemNodeGroupArgs, opts: { parent: pulumi.Resource; provider: aws.Provider }) {
  const rootVolumeGiB = args.rootVolumeGiB ?? DEFAULTS.rootVolumeGiB;
  const { role, attachments } = createNodeRole(`${name}-node`, "EKS system node group", opts);

  const launchTemplate = new aws.ec2.LaunchTemplate(
    name,
    {
      description: "EKS system nodes: IMDSv2 only, encrypted gp3 root volume",
      // IMDSv2 only, and a hop limit of 1 so that pods (one network hop away) cannot reach IMDS and borrow the
      // node role. Nothing on these nodes needs IMDS from a pod: controllers get AWS credentials from EKS Pod
      // Identity (a node-local agent, not IMDS) and the region from their environment; aws-node and the Pod
      // Identity agent run on the host network, where the limit of 1 is enough.
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      blockDeviceMappings: [
        { deviceName: "/dev/xvda", ebs: { volumeSize: rootVolumeGiB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } },
      ],
      // No vpcSecurityGroupIds: EKS then attaches the cluster security group (see the header).
      updateDefaultVersion: true,
    },
    opts,
  );

  const nodeGroup = new aws.eks.NodeGroup(
    name,
    {
      clusterName: args.clusterName,
      version: args.kubernetesVersion,
      nodeRoleArn: role.arn,
      subnetIds: args.subnetIds,
      capacityType: "ON_DEMAND",
      amiType: al2023AmiType(args.architecture),
      instanceTypes: args.instanceTypes,
      scalingConfig: { minSize: args.nodes, desiredSize: args.nodes, maxSize: args.nodes },
      updateConfig: { maxUnavailable: 1 },
      launchTemplate: { id: launchTemplate.id, version: launchTemplate.latestVersion.apply((v) => String(v)) },
      labels: { [SYSTEM_NODE_LABEL.key]: SYSTEM_NODE_LABEL.value },
      taints: [{ key: SYSTEM_TAINT.key, value: SYSTEM_TAINT.value, effect: "NO_SCHEDULE" }],
      // With authenticationMode API, EKS creates the EC2_LINUX access entry for a managed node group's role
      // itself; declaring it here too would collide with that one.
    },
    { ...opts, dependsOn: attachments },
  );

  return { nodeGroup, role, launchTemplate };
}
