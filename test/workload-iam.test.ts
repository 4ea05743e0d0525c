// The workloads' IAM roles over both stacks: trusted by EKS Pod Identity for one service account each, and
// each policy, parsed, grants exactly the actions on exactly the ARNs that workload needs. Plus the checks
// that span every data service: no security group admits a CIDR, and no data-plane action names `*`.
import { podIdentityTrustPolicy } from "../components/pod-identity";
import { workloadPolicies, type ResolvedRefs } from "../components/workload-iam";
import { CLIENT_SG, runDataServices } from "./data-services";
import type { RecordingMocks } from "./mocks";
import { TEST_REGION } from "./program";

const ROLE = "aws:iam/role:Role";
const POLICY = "aws:iam/rolePolicy:RolePolicy";
const ACCOUNT = "123456789012";

const policyOf = (mocks: RecordingMocks, workload: string) => JSON.parse(mocks.get(POLICY, `workloads-${workload}`).inputs.policy);

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  const id = `eventstack-${stack}`;
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  // The ARNs AWS gave the resources, read from the mocks, not rebuilt the way the program builds them.
  let arns: { cluster: string; events: string; deadLetters: string; group: string; dbUser: string; masterSecret: string; dbKey: string; cacheSecret: string; cacheKey: string };
  beforeAll(async () => {
    ({ mocks, outputs } = await runDataServices(stack));
    const cluster = mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").state.arn as string;
    arns = {
      cluster,
      events: mocks.get("aws:msk/topic:Topic", "kafka-events").state.arn,
      deadLetters: mocks.get("aws:msk/topic:Topic", "kafka-dead-letters").state.arn,
      group: `arn:aws:kafka:${TEST_REGION}:${ACCOUNT}:group/${id}/${cluster.split("/").pop()}/eventstack-processor`,
      dbUser: `arn:aws:rds-db:${TEST_REGION}:${ACCOUNT}:dbuser:${mocks.get("aws:rds/cluster:Cluster", "database-cluster").state.clusterResourceId}/eventstack_processor`,
      masterSecret: mocks.get("aws:rds/cluster:Cluster", "database-cluster").state.masterUserSecrets[0].secretArn,
      dbKey: mocks.get("aws:kms/key:Key", "database-key").state.arn,
      cacheSecret: mocks.get("aws:secretsmanager/secret:Secret", "cache-processor-secret").state.arn,
      cacheKey: mocks.get("aws:kms/key:Key", "cache-key").state.arn,
    };
  });

  test("each role is assumable only by EKS Pod Identity for its own service account on this cluster", () => {
    for (const workload of ["ingest", "processor", "migrate"]) {
      const trust = JSON.parse(mocks.get(ROLE, `workloads-${workload}`).inputs.assumeRolePolicy);
      expect(trust).toEqual({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "EksPodIdentity",
            Effect: "Allow",
            Principal: { Service: "pods.eks.amazonaws.com" },
            Action: ["sts:AssumeRole", "sts:TagSession"],
            Condition: {
              StringEquals: {
                "aws:RequestTag/eks-cluster-arn": `arn:aws:eks:${TEST_REGION}:${ACCOUNT}:cluster/${id}`,
                "aws:RequestTag/kubernetes-namespace": "eventstack",
                "aws:RequestTag/kubernetes-service-account": workload,
              },
              StringEqualsIfExists: { "aws:SourceAccount": ACCOUNT },
            },
          },
        ],
      });
    }
    expect(outputs.serviceAccounts).toEqual({
      ingest: { namespace: "eventstack", name: "ingest" },
      processor: { namespace: "eventstack", name: "processor" },
      migrate: { namespace: "eventstack", name: "migrate" },
    });
    expect(outputs.ingestRoleArn).toBe(mocks.get(ROLE, "workloads-ingest").state.arn);
  });

  test("ingest may connect and describe/write the events topic only", () => {
    expect(policyOf(mocks, "ingest")).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "KafkaConnect", Effect: "Allow", Action: ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"], Resource: [arns.cluster] },
        { Sid: "WriteEvents", Effect: "Allow", Action: ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], Resource: [arns.events] },
      ],
    });
  });

  test("the processor reads events, writes dead letters, uses its own group, database role and cache credentials", () => {
    expect(policyOf(mocks, "processor")).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "KafkaConnect", Effect: "Allow", Action: ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], Resource: [arns.cluster] },
        { Sid: "ReadEvents", Effect: "Allow", Action: ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], Resource: [arns.events] },
        { Sid: "WriteDeadLetters", Effect: "Allow", Action: ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], Resource: [arns.deadLetters] },
        { Sid: "OwnConsumerGroup", Effect: "Allow", Action: ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], Resource: [arns.group] },
        { Sid: "DatabaseConnectAsOwnRole", Effect: "Allow", Action: ["rds-db:connect"], Resource: [arns.dbUser] },
        { Sid: "ReadOwnCacheCredentials", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [arns.cacheSecret] },
        {
          Sid: "DecryptOwnCacheCredentials",
          Effect: "Allow",
          Action: ["kms:Decrypt"],
          Resource: [arns.cacheKey],
          Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${TEST_REGION}.amazonaws.com` } },
        },
      ],
    });
    expect(outputs.dbProcessorUserArn).toBe(arns.dbUser);
  });

  test("migrate may describe the topics and read the database master secret, nothing else", () => {
    expect(policyOf(mocks, "migrate")).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "KafkaConnect", Effect: "Allow", Action: ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], Resource: [arns.cluster] },
        { Sid: "DescribeTopics", Effect: "Allow", Action: ["kafka-cluster:DescribeTopic"], Resource: [arns.events, arns.deadLetters] },
        { Sid: "ReadMasterSecret", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [arns.masterSecret] },
        {
          Sid: "DecryptMasterSecret",
          Effect: "Allow",
          Action: ["kms:Decrypt"],
          Resource: [arns.dbKey],
          Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${TEST_REGION}.amazonaws.com` } },
        },
      ],
    });
  });

  test("no policy names a wildcard resource, and each reads only its own secrets", () => {
    const secretsOf = (workload: string) =>
      policyOf(mocks, workload)
        .Statement.filter((s: any) => s.Action.includes("secretsmanager:GetSecretValue"))
        .flatMap((s: any) => s.Resource);
    for (const workload of ["ingest", "processor", "migrate"]) {
      for (const statement of policyOf(mocks, workload).Statement) {
        for (const resource of statement.Resource) expect([workload, resource]).not.toEqual([workload, expect.stringContaining("*")]);
        for (const action of statement.Action) expect([workload, action]).not.toEqual([workload, expect.stringContaining("*")]);
      }
    }
    expect(secretsOf("ingest")).toEqual([]);
    expect(secretsOf("processor")).toEqual([arns.cacheSecret]);
    expect(secretsOf("migrate")).toEqual([arns.masterSecret]);
  });

  test("no data-service security group admits a CIDR: only the cluster's security group", () => {
    const groups = mocks.ofType("aws:ec2/securityGroup:SecurityGroup");
    expect(groups.map((g) => g.name).sort()).toEqual(["cache-sg", "database-sg", "kafka-sg"]);
    // Rules are standalone resources (test/security-groups.test.ts): one per group, from the client group only.
    const rules = mocks.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
    expect(rules.map((r) => r.inputs.securityGroupId).sort()).toEqual(groups.map((g) => g.state.id).sort());
    for (const rule of rules) {
      expect(rule.inputs).not.toHaveProperty("cidrIpv4");
      expect(rule.inputs).not.toHaveProperty("cidrIpv6");
      expect(rule.inputs).not.toHaveProperty("prefixListId");
      expect(rule.inputs.referencedSecurityGroupId).toBe(CLIENT_SG);
    }
    for (const group of groups) expect([group.name, "ingress" in group.inputs, "egress" in group.inputs]).toEqual([group.name, false, false]);
    expect(mocks.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")).toEqual([]);
    // Nor does any legacy rule resource open one later.
    expect(mocks.ofType("aws:ec2/securityGroupRule:SecurityGroupRule")).toEqual([]);
  });

  test("every data key rotates", () => {
    const keys = mocks.ofType("aws:kms/key:Key");
    expect(keys.map((k) => k.name).sort()).toEqual(["cache-key", "database-key", "kafka-key"]);
    for (const key of keys) expect([key.name, key.inputs.enableKeyRotation]).toEqual([key.name, true]);
  });
});

describe("with IAM authentication to the cache", () => {
  test("the processor connects to the replication group as its own user instead of reading a secret", async () => {
    const { mocks } = await runDataServices("prod", {}, { cacheAuthentication: "iam" });
    const statements = policyOf(mocks, "processor").Statement;
    expect(statements.filter((s: any) => s.Sid.includes("Cache"))).toEqual([
      {
        Sid: "CacheConnectAsOwnUser",
        Effect: "Allow",
        Action: ["elasticache:Connect"],
        Resource: [`arn:aws:elasticache:${TEST_REGION}:${ACCOUNT}:replicationgroup:eventstack-prod`, `arn:aws:elasticache:${TEST_REGION}:${ACCOUNT}:user:eventstack-prod-processor`],
      },
    ]);
    expect(statements.flatMap((s: any) => s.Action)).not.toContain("secretsmanager:GetSecretValue");
  });
});

describe("pure helpers", () => {
  const refs: ResolvedRefs = {
    region: "us-east-2",
    kafkaClusterArn: "arn:aws:kafka:us-east-2:111122223333:cluster/c/uuid-1",
    eventsTopic: "in",
    deadLetterTopic: "in.dlq",
    consumerGroup: "g",
    processorDbUserArn: "arn:aws:rds-db:us-east-2:111122223333:dbuser:cluster-X/p",
    masterSecretArn: "arn:aws:secretsmanager:us-east-2:111122223333:secret:rds!cluster-1-abcdef",
    databaseKeyArn: "arn:aws:kms:us-east-2:111122223333:key/1",
    cache: { authentication: "password", replicationGroupArn: "rg", processorUserArn: "u", keyArn: "arn:aws:kms:us-east-2:111122223333:key/2" },
  };

  test("topic and group resources follow the cluster's name and uuid", () => {
    const p = workloadPolicies({ ...refs, cache: { ...refs.cache, authentication: "iam" } }).processor.Statement;
    expect(p.find((s) => s.Sid === "WriteDeadLetters")!.Resource).toEqual(["arn:aws:kafka:us-east-2:111122223333:topic/c/uuid-1/in.dlq"]);
    expect(p.find((s) => s.Sid === "OwnConsumerGroup")!.Resource).toEqual(["arn:aws:kafka:us-east-2:111122223333:group/c/uuid-1/g"]);
  });

  test("password authentication without the processor's secret is refused with the fix", () => {
    expect(() => workloadPolicies(refs)).toThrow(`WorkloadIam: the processor's cache secret ARN is missing; the Cache component creates it when authentication is "password"`);
  });

  test("the trust policy pins cluster, namespace and service account, and the cluster's account", () => {
    const clusterArn = "arn:aws-cn:eks:cn-north-1:111122223333:cluster/c";
    expect(podIdentityTrustPolicy({ clusterArn, namespace: "n", serviceAccount: "s" }).Statement[0]!.Condition).toEqual({
      StringEquals: { "aws:RequestTag/eks-cluster-arn": clusterArn, "aws:RequestTag/kubernetes-namespace": "n", "aws:RequestTag/kubernetes-service-account": "s" },
      StringEqualsIfExists: { "aws:SourceAccount": "111122223333" },
    });
  });

  test("a cluster ARN that is not one is refused, naming the expected form", () => {
    expect(() => podIdentityTrustPolicy({ clusterArn: "eventstack-dev", namespace: "n", serviceAccount: "s" })).toThrow(
      `Pod Identity: clusterArn "eventstack-dev" is not an EKS cluster ARN (arn:<partition>:eks:<region>:<account>:cluster/<name>)`,
    );
  });
});
