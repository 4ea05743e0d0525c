// Karpenter's IAM documents (components/karpenter/policy.ts), called directly with literal ARNs: no program
// evaluation, no mocks. test/karpenter.test.ts checks the same documents as the program attaches them.
import { controllerPolicies, INTERRUPTION_EVENTS, interruptionQueuePolicy, type PolicyStatement } from "../components/karpenter/policy";

const REFS = {
  partition: "aws",
  region: "eu-central-1",
  accountId: "111122223333",
  clusterName: "eventstack-test",
  nodeRoleArn: "arn:aws:iam::111122223333:role/karpenter-node-1234567",
  interruptionQueueArn: "arn:aws:sqs:eu-central-1:111122223333:eventstack-test",
};
const CLUSTER_ARN = "arn:aws:eks:eu-central-1:111122223333:cluster/eventstack-test";

const policies = controllerPolicies(REFS);
const statement = (doc: keyof typeof policies, sid: string): PolicyStatement => {
  const found = policies[doc].Statement.find((s) => s.Sid === sid);
  if (!found) throw new Error(`no statement ${sid} in ${doc}`);
  return found;
};

describe("controllerPolicies", () => {
  test("are the six documents of Karpenter's CloudFormation template, with its statement ids", () => {
    const sids = Object.fromEntries(Object.entries(policies).map(([name, doc]) => [name, doc.Statement.map((s) => s.Sid)]));
    expect(sids).toEqual({
      "node-lifecycle": [
        "AllowScopedEC2InstanceAccessActions",
        "AllowScopedEC2LaunchTemplateAccessActions",
        "AllowScopedEC2InstanceActionsWithTags",
        "AllowScopedResourceCreationTagging",
        "AllowScopedResourceTagging",
        "AllowScopedDeletion",
      ],
      "iam-integration": ["AllowPassingInstanceRole", "AllowScopedInstanceProfileCreationActions", "AllowScopedInstanceProfileTagActions", "AllowScopedInstanceProfileActions"],
      "eks-integration": ["AllowAPIServerEndpointDiscovery"],
      interruption: ["AllowInterruptionQueueActions"],
      "resource-discovery": ["AllowRegionalReadActions", "AllowSSMReadActions", "AllowPricingReadActions", "AllowUnscopedInstanceProfileListAction", "AllowInstanceProfileReadActions"],
      "zonal-shift": ["AllowZonalShiftStatusReadOnly"],
    });
    for (const doc of Object.values(policies)) expect(doc.Version).toBe("2012-10-17");
  });

  test("iam:PassRole names the node role's ARN, and only for EC2", () => {
    expect(statement("iam-integration", "AllowPassingInstanceRole")).toEqual({
      Sid: "AllowPassingInstanceRole",
      Effect: "Allow",
      Resource: REFS.nodeRoleArn,
      Action: "iam:PassRole",
      Condition: { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"] } },
    });
  });

  test("the interruption statement names the queue's ARN; the EKS statements name the cluster's", () => {
    expect(statement("interruption", "AllowInterruptionQueueActions")).toEqual({
      Sid: "AllowInterruptionQueueActions",
      Effect: "Allow",
      Resource: REFS.interruptionQueueArn,
      Action: ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
    });
    expect(statement("eks-integration", "AllowAPIServerEndpointDiscovery").Resource).toBe(CLUSTER_ARN);
    expect(statement("zonal-shift", "AllowZonalShiftStatusReadOnly").Condition).toEqual({ StringEquals: { "arc-zonal-shift:ResourceIdentifier": CLUSTER_ARN } });
  });

  test("launching requires the cluster's ownership tag on the request, and deleting requires it on the resource", () => {
    expect(statement("node-lifecycle", "AllowScopedEC2InstanceActionsWithTags").Condition).toEqual({
      StringEquals: { "aws:RequestTag/kubernetes.io/cluster/eventstack-test": "owned", "aws:RequestTag/eks:eks-cluster-name": "eventstack-test" },
      StringLike: { "aws:RequestTag/karpenter.sh/nodepool": "*" },
    });
    expect(statement("node-lifecycle", "AllowScopedDeletion")).toEqual({
      Sid: "AllowScopedDeletion",
      Effect: "Allow",
      Resource: ["arn:aws:ec2:eu-central-1:*:instance/*", "arn:aws:ec2:eu-central-1:*:launch-template/*"],
      Action: ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
      Condition: { StringEquals: { "aws:ResourceTag/kubernetes.io/cluster/eventstack-test": "owned" }, StringLike: { "aws:ResourceTag/karpenter.sh/nodepool": "*" } },
    });
  });

  test("instance profiles are this account's, in its partition, tagged with the region", () => {
    const create = statement("iam-integration", "AllowScopedInstanceProfileCreationActions");
    expect(create.Resource).toBe("arn:aws:iam::111122223333:instance-profile/*");
    expect(create.Condition!.StringEquals!["aws:RequestTag/topology.kubernetes.io/region"]).toBe("eu-central-1");
    const other = controllerPolicies({ ...REFS, partition: "aws-cn", accountId: "444455556666" });
    expect(other["resource-discovery"].Statement.find((s) => s.Sid === "AllowInstanceProfileReadActions")!.Resource).toBe("arn:aws-cn:iam::444455556666:instance-profile/*");
  });

  test("actions on `*` are read-only, and the EC2 reads are limited to the region", () => {
    const unscoped = Object.values(policies)
      .flatMap((doc) => doc.Statement)
      .filter((s) => s.Resource === "*")
      .map((s) => s.Sid);
    expect(unscoped).toEqual(["AllowRegionalReadActions", "AllowPricingReadActions", "AllowUnscopedInstanceProfileListAction", "AllowZonalShiftStatusReadOnly"]);
    expect(statement("resource-discovery", "AllowRegionalReadActions").Condition).toEqual({ StringEquals: { "aws:RequestedRegion": "eu-central-1" } });
    expect(statement("resource-discovery", "AllowSSMReadActions").Resource).toBe("arn:aws:ssm:eu-central-1::parameter/aws/service/*");
  });
});

describe("interruptionQueuePolicy", () => {
  const rules = ["arn:aws:events:eu-central-1:111122223333:rule/spot", "arn:aws:events:eu-central-1:111122223333:rule/health"];

  test("lets EventBridge send for the given rules only, and denies every use over plain HTTP", () => {
    const policy = interruptionQueuePolicy(REFS.interruptionQueueArn, rules);
    expect([policy.Version, policy.Id]).toEqual(["2012-10-17", "EC2InterruptionPolicy"]);
    expect(policy.Statement.map((st) => [st.Sid, st.Effect, st.Principal, st.Action, st.Resource])).toEqual([
      ["AllowEventDelivery", "Allow", { Service: "events.amazonaws.com" }, "sqs:SendMessage", REFS.interruptionQueueArn],
      ["DenyHTTP", "Deny", "*", "sqs:*", REFS.interruptionQueueArn],
    ]);
    expect(policy.Statement.map((st) => st.Condition)).toEqual([{ ArnEquals: { "aws:SourceArn": rules } }, { Bool: { "aws:SecureTransport": "false" } }]);
  });

  test("refuses a queue with no rules, which would admit nobody and hide the mistake", () => {
    expect(() => interruptionQueuePolicy(REFS.interruptionQueueArn, [])).toThrow(
      "Karpenter: the interruption queue policy needs the ARNs of the EventBridge rules that deliver to it",
    );
  });
});

test("the interruption events are the five EventBridge patterns Karpenter handles", () => {
  expect(Object.fromEntries(Object.entries(INTERRUPTION_EVENTS).map(([name, p]) => [name, `${p.source[0]}: ${p["detail-type"][0]}`]))).toEqual({
    "scheduled-change": "aws.health: AWS Health Event",
    "spot-interruption": "aws.ec2: EC2 Spot Instance Interruption Warning",
    rebalance: "aws.ec2: EC2 Instance Rebalance Recommendation",
    "instance-state-change": "aws.ec2: EC2 Instance State-change Notification",
    "capacity-reservation-interruption": "aws.ec2: EC2 Capacity Reservation Instance Interruption Warning",
  });
});
