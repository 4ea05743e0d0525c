// Karpenter over both stacks: that what it discovers by tag is what the program tags, that its names line up
// (node role, queue, cluster), that it runs on the system nodes, that its IAM is scoped, that its custom
// resources are valid against the published CRD schemas, and that they wait for their CRDs.
import { VERSIONS } from "../components/versions";
import { objectOf, validateK8sObjects } from "./k8s-schema";
import type { RecordedResource, RecordingMocks } from "./mocks";
import { ACCOUNT } from "./mocks";
import { runProgram, TEST_REGION } from "./program";

const NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass";
const NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";

const policyOf = (r: RecordedResource) => JSON.parse(r.inputs.policy) as { Statement: any[] };
const asList = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
const urnOf = (r: RecordedResource) => expect.stringMatching(new RegExp(`[$:]${r.type.replace(/[/.$]/g, "\\$&")}::${r.name}$`));

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  const clusterName = `eventstack-${stack}`;
  const spec = (type: string, name: string) => mocks.get(type, name).inputs.spec;
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
  });

  describe("discovery", () => {
    test("the EC2NodeClass selects subnets and security groups by this cluster's discovery tag", () => {
      const nodeClass = spec(NODE_CLASS, "karpenter-node-class");
      expect(nodeClass.subnetSelectorTerms).toEqual([{ tags: { "karpenter.sh/discovery": clusterName } }]);
      expect(nodeClass.securityGroupSelectorTerms).toEqual([{ tags: { "karpenter.sh/discovery": clusterName } }]);
    });

    test("the private subnets, and only they, carry that tag", () => {
      const specs = mocks.get("awsx:ec2:Vpc", "network-vpc").inputs.subnetSpecs as { type: string; tags: Record<string, string> }[];
      const tagged = specs.filter((s) => s.tags["karpenter.sh/discovery"] === clusterName).map((s) => s.type);
      expect(tagged).toEqual(["Private"]);
    });

    test("exactly one security group carries the tag: the cluster's node security group, which the system nodes carry", () => {
      const tags = mocks.ofType("aws:ec2/tag:Tag").filter((t) => t.inputs.key === "karpenter.sh/discovery");
      expect(tags).toHaveLength(1);
      const eks = mocks.get("eks:index:Cluster", "cluster-eks").state;
      expect(tags[0]!.inputs).toEqual({ resourceId: eks.nodeSecurityGroupId, key: "karpenter.sh/discovery", value: clusterName });
      // The node security group is the EKS cluster security group (no Pulumi-made groups), which EKS attaches
      // to managed nodes whose launch template names none.
      expect(eks.nodeSecurityGroupId).toBe(eks.eksCluster.vpcConfig.clusterSecurityGroupId);
      const sgTagged = mocks
        .ofType("aws:ec2/securityGroup:SecurityGroup")
        .filter((sg) => sg.inputs.tags?.["karpenter.sh/discovery"] !== undefined)
        .map((sg) => sg.name);
      expect(sgTagged).toEqual([]);
    });
  });

  test("the EC2NodeClass's role is the node role, which has an EC2_LINUX access entry", () => {
    const role = mocks.get("aws:iam/role:Role", "karpenter-node");
    expect(spec(NODE_CLASS, "karpenter-node-class").role).toBe(role.state.name);
    const entry = mocks.get("aws:eks/accessEntry:AccessEntry", "karpenter-node").inputs;
    expect(entry).toEqual({ clusterName, principalArn: role.state.arn, type: "EC2_LINUX" });
  });

  test("the EC2NodeClass pins the AMI alias, requires IMDSv2, encrypts a gp3 root volume and tags instances for ownership", () => {
    const nodeClass = spec(NODE_CLASS, "karpenter-node-class");
    expect(nodeClass.amiSelectorTerms).toEqual([{ alias: VERSIONS.karpenterAmiAlias }]);
    expect(nodeClass.metadataOptions).toEqual({ httpEndpoint: "enabled", httpProtocolIPv6: "disabled", httpPutResponseHopLimit: 1, httpTokens: "required" });
    expect(nodeClass.blockDeviceMappings).toEqual([{ deviceName: "/dev/xvda", ebs: { volumeSize: "50Gi", volumeType: "gp3", encrypted: true, deleteOnTermination: true } }]);
    expect(nodeClass.tags).toEqual({ Project: "eventstack", Stack: stack, Owner: "platform", CostCenter: "eventstack", ManagedBy: "karpenter" });
  });

  test("the NodePool follows the stack's capacity types, architectures, limits and disruption settings", () => {
    const pool = spec(NODE_POOL, "karpenter-node-pool");
    expect(pool.template.spec.nodeClassRef).toEqual({ group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: mocks.get(NODE_CLASS, "karpenter-node-class").inputs.metadata.name });
    expect(pool.template.spec.requirements).toEqual([
      { key: "karpenter.sh/capacity-type", operator: "In", values: stack === "dev" ? ["spot"] : ["spot", "on-demand"] },
      { key: "kubernetes.io/arch", operator: "In", values: stack === "dev" ? ["arm64"] : ["arm64", "amd64"] },
      { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
      { key: "karpenter.k8s.aws/instance-category", operator: "In", values: ["c", "m", "r"] },
      { key: "karpenter.k8s.aws/instance-generation", operator: "Gt", values: ["5"] },
    ]);
    expect(pool.template.spec.expireAfter).toBe("720h");
    expect(pool.limits).toEqual(stack === "dev" ? { cpu: "32", memory: "128Gi" } : { cpu: "1000", memory: "4000Gi" });
    expect(pool.disruption).toEqual({ consolidationPolicy: "WhenEmptyOrUnderutilized", consolidateAfter: "1m", budgets: [{ nodes: "10%" }] });
  });

  describe("interruption handling", () => {
    test("the queue is named after the cluster, encrypted, keeps messages 5 minutes, and is the one the controller reads", () => {
      const queue = mocks.get("aws:sqs/queue:Queue", "karpenter-interruption");
      expect(queue.inputs).toEqual({ name: clusterName, messageRetentionSeconds: 300, sqsManagedSseEnabled: true });
      const values = mocks.get(RELEASE, "karpenter").inputs.values;
      expect(values.settings).toEqual({ clusterName, interruptionQueue: queue.state.name });
    });

    test("only EventBridge, for the program's interruption rules, may send to the queue, and only over TLS", () => {
      const queue = mocks.get("aws:sqs/queue:Queue", "karpenter-interruption");
      const policy = mocks.get("aws:sqs/queuePolicy:QueuePolicy", "karpenter-interruption");
      const ruleArns = mocks.ofType("aws:cloudwatch/eventRule:EventRule").map((r) => r.state.arn);
      expect(ruleArns).toHaveLength(5);
      expect(policy.inputs.queueUrl).toBe(queue.state.url);
      expect(policyOf(policy).Statement).toEqual([
        {
          Sid: "AllowEventDelivery",
          Effect: "Allow",
          Principal: { Service: "events.amazonaws.com" },
          Action: "sqs:SendMessage",
          Resource: queue.state.arn,
          Condition: { ArnEquals: { "aws:SourceArn": ruleArns } },
        },
        { Sid: "DenyHTTP", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: queue.state.arn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
      ]);
    });

    test("spot interruptions, rebalance recommendations, state changes and scheduled health events reach the queue", () => {
      const queueArn = mocks.get("aws:sqs/queue:Queue", "karpenter-interruption").state.arn;
      const routed = mocks.ofType("aws:cloudwatch/eventRule:EventRule").map((rule) => {
        const target = mocks.get("aws:cloudwatch/eventTarget:EventTarget", rule.name).inputs;
        expect(target.arn).toBe(queueArn);
        expect(target.rule).toBe(rule.state.name);
        return JSON.parse(rule.inputs.eventPattern);
      });
      expect(routed).toEqual(
        expect.arrayContaining([
          { source: ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"] },
          { source: ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"] },
          { source: ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"] },
          { source: ["aws.health"], "detail-type": ["AWS Health Event"] },
        ]),
      );
    });
  });

  describe("controller", () => {
    test("runs on the system node group: its nodeSelector matches the group's labels and it tolerates the group's taints", () => {
      const values = mocks.get(RELEASE, "karpenter").inputs.values;
      const group = mocks.get("aws:eks/nodeGroup:NodeGroup", "cluster-system").inputs;
      for (const [key, value] of Object.entries(values.nodeSelector)) {
        if (key !== "kubernetes.io/os") expect(group.labels[key]).toBe(value);
      }
      const effect = { NO_SCHEDULE: "NoSchedule", NO_EXECUTE: "NoExecute", PREFER_NO_SCHEDULE: "PreferNoSchedule" } as Record<string, string>;
      for (const taint of group.taints) {
        const tolerated = values.tolerations.some(
          (t: any) => t.key === taint.key && (t.operator === "Exists" || t.value === taint.value) && (t.effect === undefined || t.effect === effect[taint.effect]),
        );
        expect([taint.key, tolerated]).toEqual([taint.key, true]);
      }
      // Two replicas (one per host, the chart's anti-affinity) need two system nodes.
      expect(values.replicas).toBe(stack === "dev" ? 1 : 2);
      expect(values.controller.env).toEqual([{ name: "AWS_REGION", value: TEST_REGION }]);
    });

    test("is the pinned chart, in kube-system, with its service account bound to the controller role through Pod Identity", () => {
      const release = mocks.get(RELEASE, "karpenter").inputs;
      expect([release.chart, release.version, release.name, release.namespace]).toEqual([VERSIONS.charts.karpenter.chart, VERSIONS.charts.karpenter.version, "karpenter", "kube-system"]);
      expect(release.values.serviceAccount).toEqual({ create: true, name: "karpenter" });
      const role = mocks.get("aws:iam/role:Role", "karpenter-controller");
      const association = mocks.get("aws:eks/podIdentityAssociation:PodIdentityAssociation", "karpenter-controller").inputs;
      expect(association).toEqual({ clusterName, namespace: "kube-system", serviceAccount: "karpenter", roleArn: role.state.arn });
      expect(JSON.parse(role.inputs.assumeRolePolicy).Statement).toEqual([
        {
          Sid: "EksPodIdentity",
          Effect: "Allow",
          Principal: { Service: "pods.eks.amazonaws.com" },
          Action: ["sts:AssumeRole", "sts:TagSession"],
          Condition: {
            StringEquals: {
              "aws:RequestTag/eks-cluster-arn": `arn:aws:eks:${TEST_REGION}:${ACCOUNT}:cluster/${clusterName}`,
              "aws:RequestTag/kubernetes-namespace": "kube-system",
              "aws:RequestTag/kubernetes-service-account": "karpenter",
            },
            StringEqualsIfExists: { "aws:SourceAccount": ACCOUNT },
          },
        },
      ]);
    });

    test("its policy names exact resources wherever IAM allows it", () => {
      const statements = mocks
        .ofType(ROLE_POLICY)
        .filter((p) => p.name.startsWith("karpenter-controller-"))
        .flatMap((p) => policyOf(p).Statement);
      const bySid = (sid: string) => statements.find((s) => s.Sid === sid);
      const nodeRoleArn = mocks.get("aws:iam/role:Role", "karpenter-node").state.arn;
      const queueArn = mocks.get("aws:sqs/queue:Queue", "karpenter-interruption").state.arn;
      expect(bySid("AllowPassingInstanceRole")).toEqual({
        Sid: "AllowPassingInstanceRole",
        Effect: "Allow",
        Resource: nodeRoleArn,
        Action: "iam:PassRole",
        Condition: { StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"] } },
      });
      expect(bySid("AllowInterruptionQueueActions").Resource).toBe(queueArn);
      expect(bySid("AllowAPIServerEndpointDiscovery").Resource).toBe(`arn:aws:eks:${TEST_REGION}:${ACCOUNT}:cluster/${clusterName}`);
      // Every action that could touch iam:PassRole, SQS or EKS is scoped; `*` only where the API has no resource.
      const unscoped = statements.filter((s) => asList(s.Resource).includes("*")).flatMap((s) => asList(s.Action)).sort();
      expect(unscoped).toEqual(
        [
          "ec2:DescribeCapacityReservations",
          "ec2:DescribeImages",
          "ec2:DescribeInstanceTypeOfferings",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeInstances",
          "ec2:DescribeInstanceStatus",
          "ec2:DescribeLaunchTemplates",
          "ec2:DescribePlacementGroups",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSpotPriceHistory",
          "ec2:DescribeSubnets",
          "iam:ListInstanceProfiles",
          "pricing:GetProducts",
          "arc-zonal-shift:GetManagedResource",
        ].sort(),
      );
      // Karpenter 1.14 launches into placement groups and reads zonal shifts of this cluster only.
      expect(bySid("AllowScopedEC2InstanceAccessActions").Resource).toContain(`arn:aws:ec2:${TEST_REGION}:*:placement-group/*`);
      expect(bySid("AllowZonalShiftStatusReadOnly").Condition).toEqual({
        StringEquals: { "arc-zonal-shift:ResourceIdentifier": `arn:aws:eks:${TEST_REGION}:${ACCOUNT}:cluster/${clusterName}` },
      });
      // Instance creation and deletion are conditioned on this cluster's ownership tag.
      for (const sid of ["AllowScopedEC2InstanceActionsWithTags", "AllowScopedResourceCreationTagging"]) {
        expect(bySid(sid).Condition.StringEquals[`aws:RequestTag/kubernetes.io/cluster/${clusterName}`]).toBe("owned");
        expect(bySid(sid).Condition.StringEquals["aws:RequestTag/eks:eks-cluster-name"]).toBe(clusterName);
      }
      expect(bySid("AllowScopedDeletion").Condition.StringEquals).toEqual({ [`aws:ResourceTag/kubernetes.io/cluster/${clusterName}`]: "owned" });
      for (const s of statements) for (const r of asList(s.Resource)) if (r !== "*") expect(r).toMatch(/^arn:aws:(ec2|iam|ssm|sqs|eks):/);
    });
  });

  describe("CRD ordering", () => {
    test("the CRDs come from the karpenter-crd chart as Pulumi objects, the controller's release skips them", () => {
      const crds = mocks.get("kubernetes:helm.sh/v4:Chart", "karpenter-crd");
      expect([crds.inputs.chart, crds.inputs.version, crds.inputs.namespace]).toEqual([VERSIONS.charts.karpenterCrd.chart, VERSIONS.charts.karpenter.version, "kube-system"]);
      const release = mocks.get(RELEASE, "karpenter");
      expect(release.inputs.skipCrds).toBe(true);
      expect(release.dependencies).toContainEqual(urnOf(crds));
    });

    test("the EC2NodeClass and NodePool depend on the CRD chart and on the controller's release", () => {
      const crds = mocks.get("kubernetes:helm.sh/v4:Chart", "karpenter-crd");
      const release = mocks.get(RELEASE, "karpenter");
      for (const [type, name] of [
        [NODE_CLASS, "karpenter-node-class"],
        [NODE_POOL, "karpenter-node-pool"],
      ] as const) {
        const deps = mocks.get(type, name).dependencies;
        expect(deps).toContainEqual(urnOf(crds));
        expect(deps).toContainEqual(urnOf(release));
      }
      expect(mocks.get(NODE_POOL, "karpenter-node-pool").dependencies).toContainEqual(urnOf(mocks.get(NODE_CLASS, "karpenter-node-class")));
    });
  });

  test("the EC2NodeClass and NodePool are valid against Karpenter's published schemas", () => {
    const objects = [mocks.get(NODE_CLASS, "karpenter-node-class"), mocks.get(NODE_POOL, "karpenter-node-pool")].map((r) => objectOf(r.inputs));
    expect(validateK8sObjects(objects)).toEqual([
      { kind: "EC2NodeClass", name: "default", error: null },
      { kind: "NodePool", name: "default", error: null },
    ]);
  });
});
