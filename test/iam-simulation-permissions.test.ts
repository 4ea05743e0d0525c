// Every permission policy of both stacks, evaluated by the IAM simulator with the requests the workloads and
// controllers make (test/iam-simulation.ts): each role gets exactly its actions on exactly its ARNs, and the same
// action on a neighbouring topic, group, database user, secret, key, queue, cluster or account is refused.
import { decide, defaultKeyPolicy, OTHER_ACCOUNT, programRoles, sessionOf, type Context, type Decision, type Policy, type ProgramRole } from "./iam-simulation";
import { ACCOUNT, type RecordingMocks } from "./mocks";
import { runProgram, TEST_REGION } from "./program";

/** Each role's inline policies, as resource names: a policy added without cases here fails the inventory test. */
const INLINE_POLICIES = {
  "workloads-ingest": ["workloads-ingest"],
  "workloads-processor": ["workloads-processor"],
  "workloads-migrate": ["workloads-migrate"],
  "autoscaling-keda-operator": ["autoscaling-keda-operator-msk"],
  "karpenter-controller": [
    "karpenter-controller-eks-integration",
    "karpenter-controller-iam-integration",
    "karpenter-controller-interruption",
    "karpenter-controller-node-lifecycle",
    "karpenter-controller-resource-discovery",
    "karpenter-controller-zonal-shift",
  ],
  "load-balancer-controller-role": ["load-balancer-controller-role-controller"],
  "network-flow-logs": ["network-flow-logs"],
  "cluster-role": ["cluster-role-secrets"],
  "cluster-system-node": [],
  "karpenter-node": [],
  // Evaluated in test/iam-simulation-observability.test.ts.
  "collector-collector": ["collector-collector-remote-write", "collector-collector-xray"],
  "grafana-grafana": ["grafana-grafana-query"],
  "cloudwatch-exporter-role": ["cloudwatch-exporter-role-read"],
  "container-logs-fluent-bit": ["container-logs-fluent-bit-logs"],
  "progressive-delivery-controller": ["progressive-delivery-controller-amp"],
} as const;

/**
 * The ECR pull statement of the AWS managed policy AmazonEC2ContainerRegistryPullOnly, which both node roles
 * attach (AWS managed policy reference, read 2026-12-05): what the kubelet uses to pull the services' images.
 */
const ECR_PULL_ONLY: Policy = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], Resource: "*" }],
};

type Case = [action: string, resource: string, context?: Context];

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  const id = `eventstack-${stack}`;
  let mocks: RecordingMocks;
  let roles: Record<string, ProgramRole>;
  /** The ARNs AWS gave the resources, read from the mocks. */
  let arn: Record<string, string>;
  let keyPolicies: Record<string, Policy>;
  let queuePolicy: Policy;

  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
    roles = programRoles(mocks);
    const state = (type: string, name: string) => mocks.get(type, name).state;
    const kafkaCluster = state("aws:msk/cluster:Cluster", "kafka-cluster").arn as string;
    const db = state("aws:rds/cluster:Cluster", "database-cluster");
    const dbUser = (user: string) => `arn:aws:rds-db:${TEST_REGION}:${ACCOUNT}:dbuser:${db.clusterResourceId}/${user}`;
    const key = (name: string) => state("aws:kms/key:Key", name).arn as string;
    arn = {
      kafkaCluster,
      // The same cluster name re-created (a new UUID), and another cluster of the account.
      kafkaClusterRecreated: kafkaCluster.replace(/\/[^/]+$/, "/0f0f0f0f-1111-2222-3333-444444444444-2"),
      events: state("aws:msk/topic:Topic", "kafka-events").arn,
      deadLetters: state("aws:msk/topic:Topic", "kafka-dead-letters").arn,
      otherTopic: kafkaCluster.replace(":cluster/", ":topic/") + "/audit",
      group: kafkaCluster.replace(":cluster/", ":group/") + "/eventstack-processor",
      otherGroup: kafkaCluster.replace(":cluster/", ":group/") + "/eventstack-replay",
      processorDbUser: dbUser("eventstack_processor"),
      readerDbUser: dbUser("eventstack_reader"),
      masterDbUser: dbUser("postgres"),
      otherClusterDbUser: `arn:aws:rds-db:${TEST_REGION}:${ACCOUNT}:dbuser:cluster-OTHERCLUSTERRESOURCEID00000/eventstack_processor`,
      masterSecret: db.masterUserSecrets[0].secretArn,
      databaseKey: key("database-key"),
      cacheKey: key("cache-key"),
      kafkaKey: key("kafka-key"),
      clusterSecretsKey: key("cluster-secrets"),
      replicationGroup: state("aws:elasticache/replicationGroup:ReplicationGroup", "cache-group").arn,
      processorCacheUser: state("aws:elasticache/user:User", "cache-processor-user").arn,
      defaultCacheUser: state("aws:elasticache/user:User", "cache-default-user").arn,
      queue: state("aws:sqs/queue:Queue", "karpenter-interruption").arn,
      otherQueue: `arn:aws:sqs:${TEST_REGION}:${ACCOUNT}:other-queue`,
      eksCluster: mocks.get("eks:index:Cluster", "cluster-eks").state.eksCluster.arn,
      flowLogGroup: state("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs").arn,
      brokerLogGroup: state("aws:cloudwatch/logGroup:LogGroup", "kafka-broker-logs").arn,
      targetGroup: state("aws:lb/targetGroup:TargetGroup", "edge-tg").arn,
      ingestRepository: state("aws:ecr/repository:Repository", "images-ingest").arn,
      processorRepository: state("aws:ecr/repository:Repository", "images-processor").arn,
    };
    const cacheSecret = mocks.ofType("aws:secretsmanager/secret:Secret").find((s) => s.name === "cache-processor-secret");
    if (cacheSecret) arn.processorCacheSecret = cacheSecret.state.arn;
    // Keys created without a policy get AWS's default one; the cluster's secrets key names its own.
    keyPolicies = {
      [arn.databaseKey!]: defaultKeyPolicy(),
      [arn.cacheKey!]: defaultKeyPolicy(),
      [arn.kafkaKey!]: defaultKeyPolicy(),
      [arn.clusterSecretsKey!]: JSON.parse(mocks.get("aws:kms/key:Key", "cluster-secrets").inputs.policy),
    };
    queuePolicy = JSON.parse(mocks.get("aws:sqs/queuePolicy:QueuePolicy", "karpenter-interruption").inputs.policy);
  });

  /** What the role's session may do: its inline (and given managed) policies, with the resource's own policy. */
  const asRole = (roleName: string, extra: Policy[] = []) => async ([action, resource, context]: Case): Promise<Decision> => {
    const role = roles[roleName]!;
    const resourcePolicy = action.startsWith("kms:") ? keyPolicies[resource] : resource === arn.queue ? queuePolicy : undefined;
    return decide({
      principal: sessionOf(role.arn),
      action,
      resource,
      // The resource's owner, from its ARN (S3-style ARNs without one, and `*`, are this account's).
      resourceAccount: resource.split(":")[4] || ACCOUNT,
      context: { "aws:SecureTransport": "true", ...context },
      identity: [...Object.values(role.inline), ...extra],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    });
  };
  /** Evaluates cases and returns "<action> <resource>" → decision, so a failure names every case at once. */
  const evaluate = async (roleName: string, cases: Case[], extra: Policy[] = []) => {
    const run = asRole(roleName, extra);
    return Object.fromEntries(await Promise.all(cases.map(async (c) => [`${c[0]} ${c[1]}`, await run(c)])));
  };
  const expectDecisions = async (roleName: string, expected: Decision, cases: () => Case[], extra: Policy[] = []) => {
    const decisions = await evaluate(roleName, cases(), extra);
    expect(decisions).toEqual(Object.fromEntries(Object.keys(decisions).map((k) => [k, expected])));
  };
  const viaSecretsManager = () => ({ "kms:ViaService": `secretsmanager.${TEST_REGION}.amazonaws.com` });

  test("the inventory: every inline policy of the program is evaluated below, and no role has any other", () => {
    const inline = Object.fromEntries(Object.values(roles).map((r) => [r.name, Object.keys(r.inline).sort()]));
    expect(inline).toEqual(INLINE_POLICIES);
  });

  describe("ingest (MSK IAM auth as a producer)", () => {
    test("connects to this cluster and writes the events topic, idempotently", () =>
      expectDecisions("workloads-ingest", "Allowed", () => [
        ["kafka-cluster:Connect", arn.kafkaCluster!],
        ["kafka-cluster:DescribeCluster", arn.kafkaCluster!],
        ["kafka-cluster:WriteDataIdempotently", arn.kafkaCluster!],
        ["kafka-cluster:DescribeTopic", arn.events!],
        ["kafka-cluster:WriteData", arn.events!],
      ]));
    test("reads nothing, writes no other topic, touches no re-created cluster, database, secret or image", () =>
      expectDecisions("workloads-ingest", "ImplicitlyDenied", () => [
        ["kafka-cluster:ReadData", arn.events!],
        ["kafka-cluster:WriteData", arn.deadLetters!],
        ["kafka-cluster:WriteData", arn.otherTopic!],
        ["kafka-cluster:Connect", arn.kafkaClusterRecreated!],
        ["kafka-cluster:Connect", arn.kafkaCluster!.replace(ACCOUNT, OTHER_ACCOUNT)],
        ["kafka-cluster:WriteData", arn.events!.replace(ACCOUNT, OTHER_ACCOUNT)],
        ["kafka-cluster:AlterGroup", arn.group!],
        ["kafka-cluster:CreateTopic", arn.otherTopic!],
        ["rds-db:connect", arn.processorDbUser!],
        ["secretsmanager:GetSecretValue", arn.masterSecret!],
        ["ecr:BatchGetImage", arn.ingestRepository!],
        ["ecr:PutImage", arn.ingestRepository!],
      ]));
  });

  describe("processor (MSK consumer, RDS IAM auth, cache credentials)", () => {
    test("reads events in its own group, writes dead letters, connects as its own database role", () =>
      expectDecisions("workloads-processor", "Allowed", () => [
        ["kafka-cluster:Connect", arn.kafkaCluster!],
        ["kafka-cluster:DescribeTopic", arn.events!],
        ["kafka-cluster:ReadData", arn.events!],
        ["kafka-cluster:DescribeGroup", arn.group!],
        ["kafka-cluster:AlterGroup", arn.group!],
        ["kafka-cluster:DescribeTopic", arn.deadLetters!],
        ["kafka-cluster:WriteData", arn.deadLetters!],
        ["rds-db:connect", arn.processorDbUser!],
      ]));
    test("no other group, topic direction, database role, cluster or secret", () =>
      expectDecisions("workloads-processor", "ImplicitlyDenied", () => [
        ["kafka-cluster:AlterGroup", arn.otherGroup!],
        ["kafka-cluster:DescribeGroup", arn.otherGroup!],
        ["kafka-cluster:WriteData", arn.events!],
        ["kafka-cluster:ReadData", arn.deadLetters!],
        ["kafka-cluster:ReadData", arn.otherTopic!],
        ["kafka-cluster:Connect", arn.kafkaClusterRecreated!],
        ["kafka-cluster:WriteDataIdempotently", arn.kafkaCluster!],
        ["rds-db:connect", arn.readerDbUser!],
        ["rds-db:connect", arn.masterDbUser!],
        ["rds-db:connect", arn.otherClusterDbUser!],
        ["rds-db:connect", arn.processorDbUser!.replace(ACCOUNT, OTHER_ACCOUNT)],
        ["kafka-cluster:ReadData", arn.events!.replace(ACCOUNT, OTHER_ACCOUNT)],
        ["secretsmanager:GetSecretValue", arn.masterSecret!],
        ["kms:Decrypt", arn.databaseKey!, viaSecretsManager()],
      ]));
    test("the cache: its own credentials only (password: its secret, decrypted through Secrets Manager; IAM: its own user)", async () => {
      if (arn.processorCacheSecret) {
        expect(
          await evaluate("workloads-processor", [
            ["secretsmanager:GetSecretValue", arn.processorCacheSecret],
            ["kms:Decrypt", arn.cacheKey!, viaSecretsManager()],
          ]),
        ).toEqual({ [`secretsmanager:GetSecretValue ${arn.processorCacheSecret}`]: "Allowed", [`kms:Decrypt ${arn.cacheKey}`]: "Allowed" });
        // Decrypting directly, not as Secrets Manager does, is refused.
        expect(await asRole("workloads-processor")(["kms:Decrypt", arn.cacheKey!])).toBe("ImplicitlyDenied");
        expect(await asRole("workloads-processor")(["elasticache:Connect", arn.processorCacheUser!])).toBe("ImplicitlyDenied");
      } else {
        expect(await asRole("workloads-processor")(["elasticache:Connect", arn.processorCacheUser!])).toBe("Allowed");
        expect(await asRole("workloads-processor")(["elasticache:Connect", arn.replicationGroup!])).toBe("Allowed");
      }
      expect(await asRole("workloads-processor")(["elasticache:Connect", arn.defaultCacheUser!])).toBe("ImplicitlyDenied");
    });
  });

  describe("migrate (reads the master secret, describes the topics)", () => {
    test("reads the RDS-managed master secret through Secrets Manager and describes both topics", () =>
      expectDecisions("workloads-migrate", "Allowed", () => [
        ["secretsmanager:GetSecretValue", arn.masterSecret!],
        ["kms:Decrypt", arn.databaseKey!, viaSecretsManager()],
        ["kafka-cluster:Connect", arn.kafkaCluster!],
        ["kafka-cluster:DescribeTopic", arn.events!],
        ["kafka-cluster:DescribeTopic", arn.deadLetters!],
      ]));
    test("never reads or writes data, nor another secret, key or database login", () =>
      expectDecisions("workloads-migrate", "ImplicitlyDenied", () => [
        ["kafka-cluster:ReadData", arn.events!],
        ["kafka-cluster:WriteData", arn.events!],
        ["kafka-cluster:CreateTopic", arn.otherTopic!],
        ["kafka-cluster:AlterGroup", arn.group!],
        ["kms:Decrypt", arn.databaseKey!],
        ["kms:Decrypt", arn.cacheKey!, viaSecretsManager()],
        ["rds-db:connect", arn.processorDbUser!],
        ["secretsmanager:GetSecretValue", arn.masterSecret!.replace(ACCOUNT, OTHER_ACCOUNT)],
        ...(arn.processorCacheSecret ? ([["secretsmanager:GetSecretValue", arn.processorCacheSecret]] as Case[]) : []),
      ]));
  });

  describe("KEDA operator (reads the processor's lag)", () => {
    test("connects to this cluster and describes the events topic and the processor's group", () =>
      expectDecisions("autoscaling-keda-operator", "Allowed", () => [
        ["kafka-cluster:Connect", arn.kafkaCluster!],
        ["kafka-cluster:DescribeCluster", arn.kafkaCluster!],
        ["kafka-cluster:DescribeTopic", arn.events!],
        ["kafka-cluster:DescribeGroup", arn.group!],
      ]));
    test("nothing of a re-created cluster of the same name, no other topic or group, no data", () =>
      expectDecisions("autoscaling-keda-operator", "ImplicitlyDenied", () => [
        ["kafka-cluster:Connect", arn.kafkaClusterRecreated!],
        ["kafka-cluster:DescribeTopic", arn.kafkaClusterRecreated!.replace(":cluster/", ":topic/") + "/events"],
        ["kafka-cluster:DescribeTopic", arn.deadLetters!],
        ["kafka-cluster:DescribeGroup", arn.otherGroup!],
        ["kafka-cluster:ReadData", arn.events!],
        ["kafka-cluster:AlterGroup", arn.group!],
      ]));
  });

  describe("Karpenter controller", () => {
    const owned = (cluster: string) => ({ [`aws:ResourceTag/kubernetes.io/cluster/${cluster}`]: "owned", "aws:ResourceTag/karpenter.sh/nodepool": "workloads" });
    const instance = `arn:aws:ec2:${TEST_REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`;
    test("passes only the node role, to EC2; reads its queue; describes its cluster; terminates its own nodes", () =>
      expectDecisions("karpenter-controller", "Allowed", () => [
        ["iam:PassRole", roles["karpenter-node"]!.arn, { "iam:PassedToService": "ec2.amazonaws.com" }],
        ["sqs:ReceiveMessage", arn.queue!],
        ["sqs:DeleteMessage", arn.queue!],
        ["eks:DescribeCluster", arn.eksCluster!],
        ["ec2:TerminateInstances", instance, owned(id)],
      ]));
    test("no other role, queue, cluster, or another cluster's instances", () =>
      expectDecisions("karpenter-controller", "ImplicitlyDenied", () => [
        ["iam:PassRole", roles["cluster-system-node"]!.arn, { "iam:PassedToService": "ec2.amazonaws.com" }],
        ["iam:PassRole", roles["karpenter-node"]!.arn, { "iam:PassedToService": "lambda.amazonaws.com" }],
        ["sqs:ReceiveMessage", arn.otherQueue!],
        ["eks:DescribeCluster", arn.eksCluster!.replace(id, "eventstack-other")],
        ["ec2:TerminateInstances", instance, owned("eventstack-other")],
      ]));
    test("its queue refuses plain HTTP even to the controller", async () => {
      expect(await asRole("karpenter-controller")(["sqs:ReceiveMessage", arn.queue!, { "aws:SecureTransport": "false" }])).toBe("ExplicitlyDenied");
    });
  });

  describe("the interruption queue's policy (EventBridge delivery)", () => {
    const send = (principal: string, context: Context) => decide({ principal, action: "sqs:SendMessage", resource: arn.queue!, context, resourcePolicy: queuePolicy });
    test("each interruption rule of this stack may deliver over TLS", async () => {
      const rules = mocks.ofType("aws:cloudwatch/eventRule:EventRule").map((r) => r.state.arn as string);
      expect(rules).toHaveLength(5);
      for (const rule of rules) expect([rule, await send("events.amazonaws.com", { "aws:SourceArn": rule, "aws:SourceAccount": ACCOUNT, "aws:SecureTransport": "true" })]).toEqual([rule, "Allowed"]);
    });
    test("another rule, another account's rule, a rule-less send, SQS itself, or plain HTTP is refused", async () => {
      const rule = (account: string, name: string) => `arn:aws:events:${TEST_REGION}:${account}:rule/${name}`;
      expect({
        otherRule: await send("events.amazonaws.com", { "aws:SourceArn": rule(ACCOUNT, "someone-elses-rule"), "aws:SecureTransport": "true" }),
        otherAccount: await send("events.amazonaws.com", { "aws:SourceArn": rule(OTHER_ACCOUNT, "karpenter-spot-interruption"), "aws:SecureTransport": "true" }),
        noSource: await send("events.amazonaws.com", { "aws:SecureTransport": "true" }),
        sqs: await send("sqs.amazonaws.com", { "aws:SecureTransport": "true" }),
        http: await send("events.amazonaws.com", { "aws:SourceArn": rule(ACCOUNT, "karpenter-spot-interruption"), "aws:SecureTransport": "false" }),
      }).toEqual({ otherRule: "ImplicitlyDenied", otherAccount: "ImplicitlyDenied", noSource: "ImplicitlyDenied", sqs: "ImplicitlyDenied", http: "ExplicitlyDenied" });
    });
  });

  describe("Load Balancer Controller", () => {
    test("registers pods in the program's target group; creates no load balancer without its cluster tag", async () => {
      expect(await asRole("load-balancer-controller-role")(["elasticloadbalancing:RegisterTargets", arn.targetGroup!])).toBe("Allowed");
      expect(await asRole("load-balancer-controller-role")(["elasticloadbalancing:CreateLoadBalancer", `arn:aws:elasticloadbalancing:${TEST_REGION}:${ACCOUNT}:loadbalancer/net/x/0123`])).toBe(
        "ImplicitlyDenied",
      );
    });
  });

  describe("flow-log delivery role", () => {
    const stream = () => `${arn.flowLogGroup}:log-stream:eni-0123456789abcdef0-all`;
    test("the five documented actions, on its own group and streams", () =>
      expectDecisions("network-flow-logs", "Allowed", () => [
        ["logs:CreateLogGroup", arn.flowLogGroup!],
        ["logs:DescribeLogGroups", "*"],
        ["logs:DescribeLogStreams", arn.flowLogGroup!],
        ["logs:CreateLogStream", stream()],
        ["logs:PutLogEvents", stream()],
      ]));
    test("no other log group, no reading the events back, no deleting", () =>
      expectDecisions("network-flow-logs", "ImplicitlyDenied", () => [
        ["logs:PutLogEvents", `${arn.brokerLogGroup}:log-stream:b-1`],
        ["logs:CreateLogGroup", arn.brokerLogGroup!],
        ["logs:GetLogEvents", stream()],
        ["logs:DeleteLogGroup", arn.flowLogGroup!],
      ]));
  });

  describe("EKS control plane and nodes", () => {
    test("the cluster role uses the secrets key for envelope encryption, and no data key", async () => {
      expect(await evaluate("cluster-role", [["kms:Encrypt", arn.clusterSecretsKey!], ["kms:Decrypt", arn.clusterSecretsKey!]])).toEqual({
        [`kms:Encrypt ${arn.clusterSecretsKey}`]: "Allowed",
        [`kms:Decrypt ${arn.clusterSecretsKey}`]: "Allowed",
      });
      expect(await asRole("cluster-role")(["kms:Decrypt", arn.databaseKey!])).toBe("ImplicitlyDenied");
    });
    test.each(["cluster-system-node", "karpenter-node"])("%s pulls the services' images from ECR (its managed pull-only policy), and pushes none", async (roleName) => {
      expect(roles[roleName]!.managed).toContain("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly");
      const pull = await evaluate(
        roleName,
        [
          ["ecr:GetAuthorizationToken", "*"],
          ["ecr:BatchGetImage", arn.ingestRepository!],
          ["ecr:GetDownloadUrlForLayer", arn.processorRepository!],
        ],
        [ECR_PULL_ONLY],
      );
      expect(Object.values(pull)).toEqual(["Allowed", "Allowed", "Allowed"]);
      expect(await asRole(roleName, [ECR_PULL_ONLY])(["ecr:PutImage", arn.ingestRepository!])).toBe("ImplicitlyDenied");
    });
  });
});
