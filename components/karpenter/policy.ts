// IAM documents of Karpenter's controller and of its interruption queue, as pure functions of the ARNs they
// name so that tests can read them statement by statement.
//
// The controller policy mirrors, statement for statement (same Sids), the six managed policies of Karpenter's
// own cloudformation.yaml for the version pinned in components/versions.ts (1.14.1: aws/karpenter-provider-aws
// tag v1.14.1, website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml, read
// 2026-12-05): NodeLifecycle, IAMIntegration, EKSIntegration, Interruption, ResourceDiscovery and ZonalShift.
// Since 1.10: placement groups in RunInstances/CreateFleet, ec2:DescribeInstanceStatus and
// ec2:DescribePlacementGroups, and the zonal-shift read. Two deliberate differences: iam:PassRole names our node
// role's ARN (theirs is `KarpenterNodeRole-<cluster>`), and the interruption statement names our queue's ARN.
// Bump both together. The queue's own policy differs too (interruptionQueuePolicy): only EventBridge, and only
// for our rules.

export interface ControllerPolicyRefs {
  partition: string;
  region: string;
  accountId: string;
  clusterName: string;
  /** The node role Karpenter passes to the instance profiles it creates. */
  nodeRoleArn: string;
  interruptionQueueArn: string;
}

/** The controller's five policy documents, keyed by the short name used for their RolePolicy resources. */
export function controllerPolicies(
  r: ControllerPolicyRefs,
): Record<"node-lifecycle" | "iam-integration" | "eks-integration" | "interruption" | "resource-discovery" | "zonal-shift", PolicyDocument> {
  const ec2 = (resource: string) => `arn:${r.partition}:ec2:${r.region}:*:${resource}`;
  const instanceProfiles = `arn:${r.partition}:iam::${r.accountId}:instance-profile/*`;
  const owned = { [`aws:RequestTag/kubernetes.io/cluster/${r.clusterName}`]: "owned" };
  const ownedResource = { [`aws:ResourceTag/kubernetes.io/cluster/${r.clusterName}`]: "owned" };
  const createdResources = ["fleet/*", "instance/*", "volume/*", "network-interface/*", "launch-template/*", "spot-instances-request/*"].map(ec2);

  return {
    "node-lifecycle": doc([
      {
        Sid: "AllowScopedEC2InstanceAccessActions",
        Effect: "Allow",
        Resource: [
          `arn:${r.partition}:ec2:${r.region}::image/*`,
          `arn:${r.partition}:ec2:${r.region}::snapshot/*`,
          ec2("security-group/*"),
          ec2("subnet/*"),
          ec2("capacity-reservation/*"),
          ec2("placement-group/*"),
        ],
        Action: ["ec2:RunInstances", "ec2:CreateFleet"],
      },
      {
        Sid: "AllowScopedEC2LaunchTemplateAccessActions",
        Effect: "Allow",
        Resource: ec2("launch-template/*"),
        Action: ["ec2:RunInstances", "ec2:CreateFleet"],
        Condition: { StringEquals: ownedResource, StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" } },
      },
      {
        Sid: "AllowScopedEC2InstanceActionsWithTags",
        Effect: "Allow",
        Resource: createdResources,
        Action: ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
        Condition: {
          StringEquals: { ...owned, "aws:RequestTag/eks:eks-cluster-name": r.clusterName },
          StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" },
        },
      },
      {
        Sid: "AllowScopedResourceCreationTagging",
        Effect: "Allow",
        Resource: createdResources,
        Action: "ec2:CreateTags",
        Condition: {
          StringEquals: {
            ...owned,
            "aws:RequestTag/eks:eks-cluster-name": r.clusterName,
            "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
          },
          StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" },
        },
      },
      {
        Sid: "AllowScopedResourceTagging",
        Effect: "Allow",
        Resource: ec2("instance/*"),
        Action: "ec2:CreateTags",
        Condition: {
          StringEquals: ownedResource,
          StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" },
          StringEqualsIfExists: { "aws:RequestTag/eks:eks-cluster-name": r.clusterName },
          "ForAllValues:StringEquals": { "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"] },
        },
      },
      {
        Sid: "AllowScopedDeletion",
        Effect: "Allow",
        Resource: [ec2("instance/*"), ec2("launch-template/*")],
        Action: ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
        Condition: { StringEquals: ownedResource, StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" } },
      },
    ]),
    "iam-integration": doc([
      {
        Sid: "AllowPassingInstanceRole",
        Effect: "Allow",
        Resource: r.nodeRoleArn,
        Action: "iam:PassRole",
        Condition: { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"] } },
      },
      {
        Sid: "AllowScopedInstanceProfileCreationActions",
        Effect: "Allow",
        Resource: instanceProfiles,
        Action: ["iam:CreateInstanceProfile"],
        Condition: {
          StringEquals: { ...owned, "aws:RequestTag/eks:eks-cluster-name": r.clusterName, "aws:RequestTag/topology.kubernetes.io/region": r.region },
          StringLike: { "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*" },
        },
      },
      {
        Sid: "AllowScopedInstanceProfileTagActions",
        Effect: "Allow",
        Resource: instanceProfiles,
        Action: ["iam:TagInstanceProfile"],
        Condition: {
          StringEquals: {
            ...ownedResource,
            "aws:ResourceTag/topology.kubernetes.io/region": r.region,
            ...owned,
            "aws:RequestTag/eks:eks-cluster-name": r.clusterName,
            "aws:RequestTag/topology.kubernetes.io/region": r.region,
          },
          StringLike: { "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*", "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*" },
        },
      },
      {
        Sid: "AllowScopedInstanceProfileActions",
        Effect: "Allow",
        Resource: instanceProfiles,
        Action: ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
        Condition: {
          StringEquals: { ...ownedResource, "aws:ResourceTag/topology.kubernetes.io/region": r.region },
          StringLike: { "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*" },
        },
      },
    ]),
    "eks-integration": doc([
      {
        Sid: "AllowAPIServerEndpointDiscovery",
        Effect: "Allow",
        Resource: `arn:${r.partition}:eks:${r.region}:${r.accountId}:cluster/${r.clusterName}`,
        Action: "eks:DescribeCluster",
      },
    ]),
    interruption: doc([
      {
        Sid: "AllowInterruptionQueueActions",
        Effect: "Allow",
        Resource: r.interruptionQueueArn,
        Action: ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
      },
    ]),
    // Read-only actions EC2, pricing and IAM List APIs cannot scope to a resource; `*` is what AWS allows here.
    "resource-discovery": doc([
      {
        Sid: "AllowRegionalReadActions",
        Effect: "Allow",
        Resource: "*",
        Action: [
          "ec2:DescribeCapacityReservations",
          "ec2:DescribeImages",
          "ec2:DescribeInstances",
          "ec2:DescribeInstanceStatus",
          "ec2:DescribeInstanceTypeOfferings",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplates",
          "ec2:DescribePlacementGroups",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSpotPriceHistory",
          "ec2:DescribeSubnets",
        ],
        Condition: { StringEquals: { "aws:RequestedRegion": r.region } },
      },
      { Sid: "AllowSSMReadActions", Effect: "Allow", Resource: `arn:${r.partition}:ssm:${r.region}::parameter/aws/service/*`, Action: "ssm:GetParameter" },
      { Sid: "AllowPricingReadActions", Effect: "Allow", Resource: "*", Action: "pricing:GetProducts" },
      { Sid: "AllowUnscopedInstanceProfileListAction", Effect: "Allow", Resource: "*", Action: "iam:ListInstanceProfiles" },
      { Sid: "AllowInstanceProfileReadActions", Effect: "Allow", Resource: instanceProfiles, Action: "iam:GetInstanceProfile" },
    ]),
    // Whether ARC zonal autoshift has moved traffic away from a zone of this cluster, so that Karpenter does not
    // launch there; the action takes no resource ARN, the condition names the cluster.
    "zonal-shift": doc([
      {
        Sid: "AllowZonalShiftStatusReadOnly",
        Effect: "Allow",
        Resource: "*",
        Action: ["arc-zonal-shift:GetManagedResource"],
        Condition: { StringEquals: { "arc-zonal-shift:ResourceIdentifier": `arn:${r.partition}:eks:${r.region}:${r.accountId}:cluster/${r.clusterName}` } },
      },
    ]),
  };
}

/**
 * The interruption queue's resource policy: EventBridge may send to it on behalf of the program's interruption
 * rules only (aws:SourceArn is the rule's ARN: EventBridge user guide, "Using resource-based policies for Amazon
 * EventBridge", Amazon SQS permissions, read 2026-12-05), and nothing may use it over plain HTTP. Karpenter's
 * cloudformation.yaml also admits sqs.amazonaws.com with no condition; nothing here sends as SQS, so it is left out.
 */
export function interruptionQueuePolicy(queueArn: string, ruleArns: string[]): PolicyDocument {
  if (ruleArns.length === 0) throw new Error("Karpenter: the interruption queue policy needs the ARNs of the EventBridge rules that deliver to it");
  return {
    Version: "2012-10-17",
    Id: "EC2InterruptionPolicy",
    Statement: [
      {
        Sid: "AllowEventDelivery",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnEquals: { "aws:SourceArn": ruleArns } },
      },
      { Sid: "DenyHTTP", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: queueArn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
    ],
  };
}

/**
 * The EventBridge events Karpenter reacts to, by rule role: it cordons and drains a node before EC2 takes the
 * instance (spot: 2 minutes' warning), and replaces nodes AWS Health schedules for maintenance.
 */
export const INTERRUPTION_EVENTS = {
  "scheduled-change": { source: ["aws.health"], "detail-type": ["AWS Health Event"] },
  "spot-interruption": { source: ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"] },
  rebalance: { source: ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"] },
  "instance-state-change": { source: ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"] },
  "capacity-reservation-interruption": { source: ["aws.ec2"], "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"] },
} as const;

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}
export interface PolicyDocument {
  Version: "2012-10-17";
  Id?: string;
  Statement: PolicyStatement[];
}

const doc = (Statement: PolicyStatement[]): PolicyDocument => ({ Version: "2012-10-17", Statement });
