// ElastiCache for Valkey over both stacks: one node in dev, Multi-AZ with failover and snapshots in prod,
// TLS required, encryption at rest with its own rotating key, RBAC with the default user off, and the two
// ways the processor's user can authenticate (a password in Secrets Manager, or IAM).
import { clientAccessString, validateCacheArgs, type CacheArgs } from "../components/cache";
import { CLIENT_SG, ISOLATED_SUBNETS, runDataServices, VPC_ID } from "./data-services";
import type { RecordingMocks } from "./mocks";
import { TEST_REGION } from "./program";

const GROUP = "aws:elasticache/replicationGroup:ReplicationGroup";
const USER = "aws:elasticache/user:User";
const SECRET_SIG = "4dabf18193072939515e22adb298388d"; // how the Pulumi runtime marks a secret value

/** A recorded input marked secret, unwrapped; fails the test when the value was not marked secret. */
function secretValue(input: any): any {
  expect(input?.[SECRET_SIG]).toBeDefined();
  return input.value;
}

const expected = {
  dev: { nodeType: "cache.t4g.micro", nodes: 1, ha: false, snapshots: 0 },
  prod: { nodeType: "cache.r7g.large", nodes: 2, ha: true, snapshots: 7 },
} as const;

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  const want = expected[stack];
  const id = `eventstack-${stack}`;
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  beforeAll(async () => {
    ({ mocks, outputs } = await runDataServices(stack));
  });
  const group = () => mocks.get(GROUP, "cache-group").inputs;

  test("is a Valkey replication group of the configured node type and replicas", () => {
    expect(group()).toMatchObject({ replicationGroupId: id, engine: "valkey", engineVersion: "8.0", nodeType: want.nodeType, port: 6379, numCacheClusters: want.nodes });
  });

  test(stack === "prod" ? "is Multi-AZ with automatic failover and keeps daily snapshots" : "is one node without failover or snapshots", () => {
    expect(group().automaticFailoverEnabled).toBe(want.ha);
    expect(group().multiAzEnabled).toBe(want.ha);
    expect(group().snapshotRetentionLimit).toBe(want.snapshots);
    if (want.snapshots > 0) expect(group().snapshotWindow).toBe("02:00-03:00");
    else expect(group()).not.toHaveProperty("snapshotWindow");
  });

  test("requires TLS in transit and encrypts at rest with its own rotating key", () => {
    const key = mocks.get("aws:kms/key:Key", "cache-key");
    expect(key.inputs).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30 });
    expect(group()).toMatchObject({ transitEncryptionEnabled: true, transitEncryptionMode: "required", atRestEncryptionEnabled: true, kmsKeyId: key.state.arn });
  });

  test("lives in the isolated subnets behind a security group that admits 6379 from the cluster only", () => {
    expect(mocks.get("aws:elasticache/subnetGroup:SubnetGroup", "cache-subnets").inputs.subnetIds).toEqual(ISOLATED_SUBNETS);
    expect(group().subnetGroupName).toBe(`${id}-cache`);
    expect(group().securityGroupIds).toEqual(["cache-sg-id"]);
    const sg = mocks.get("aws:ec2/securityGroup:SecurityGroup", "cache-sg").inputs;
    expect(sg.vpcId).toBe(VPC_ID);
    // Standalone rules only (test/security-groups.test.ts): no inline blocks, one rule per client group.
    expect(sg).not.toHaveProperty("ingress");
    expect(sg).not.toHaveProperty("egress");
    expect(mocks.get("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "cache-sg-client-1").inputs).toEqual({
      securityGroupId: "cache-sg-id",
      referencedSecurityGroupId: CLIENT_SG,
      ipProtocol: "tcp",
      fromPort: 6379,
      toPort: 6379,
      description: "ElastiCache for Valkey clients",
    });
  });

  test("authenticates through an RBAC user group whose default user is switched off, never a shared AUTH token", () => {
    expect(group()).not.toHaveProperty("authToken");
    expect(group().userGroupIds).toEqual([id]);
    expect(mocks.get("aws:elasticache/userGroup:UserGroup", "cache-users").inputs).toEqual({ userGroupId: id, engine: "valkey", userIds: [`${id}-default`, `${id}-processor`] });
    const defaultUser = mocks.get(USER, "cache-default-user").inputs;
    expect(defaultUser).toMatchObject({ userId: `${id}-default`, userName: "default", engine: "valkey", accessString: "off -@all" });
    expect(secretValue(defaultUser.authenticationMode)).toEqual({
      type: "password",
      passwords: [mocks.get("random:index/randomPassword:RandomPassword", "cache-default-password").state.result],
    });
  });

  test("gives the processor a user confined to its key prefix, with its password only in its own encrypted secret", () => {
    const user = mocks.get(USER, "cache-processor-user").inputs;
    expect(user).toMatchObject({
      userId: `${id}-processor`,
      userName: `${id}-processor`,
      engine: "valkey",
      accessString: "on ~eventstack:* -@all +@read +@write +@scripting +@connection +info -flushall -flushdb -swapdb",
    });
    const password = mocks.get("random:index/randomPassword:RandomPassword", "cache-processor-password");
    expect(password.inputs).toEqual({ length: 64, special: false });
    expect(secretValue(user.authenticationMode)).toEqual({ type: "password", passwords: [password.state.result] });

    const secret = mocks.get("aws:secretsmanager/secret:Secret", "cache-processor-secret");
    // A prefix, not a fixed name: a deleted secret keeps its name through its recovery window, which would stop a
    // recreated stack from creating it again.
    expect(secret.inputs).toMatchObject({ namePrefix: `${id}/cache/processor-`, kmsKeyId: mocks.get("aws:kms/key:Key", "cache-key").state.arn });
    expect(secret.inputs).not.toHaveProperty("name");
    expect(secret.state.name).toMatch(new RegExp(`^${id}/cache/processor-[0-9a-f]{26}$`));
    const version = mocks.get("aws:secretsmanager/secretVersion:SecretVersion", "cache-processor-secret").inputs;
    expect(version.secretId).toBe("cache-processor-secret-id");
    // Marked secret, so Pulumi encrypts it in state and never prints it.
    expect(JSON.parse(secretValue(version.secretString))).toEqual({ username: `${id}-processor`, password: password.state.result });
    expect(outputs.cacheProcessorSecretArn).toBe(secret.state.arn);
  });

  test("exports the endpoints, port, user and secret the processor connects with", () => {
    expect(outputs.cachePrimaryEndpoint).toMatch(new RegExp(`^master\\.${id}\\.[0-9a-f]+\\.${TEST_REGION}\\.cache\\.amazonaws\\.com$`));
    expect(outputs.cacheReaderEndpoint).toMatch(new RegExp(`^replica\\.${id}\\.`));
    expect(outputs.cachePort).toBe(6379);
    expect(outputs.cacheAuthentication).toBe("password");
    expect(outputs.cacheProcessorUserName).toBe(`${id}-processor`);
    expect(outputs.cacheProcessorUserArn).toBe(`arn:aws:elasticache:${TEST_REGION}:123456789012:user:${id}-processor`);
  });

  test("every AWS child is parented to the component, uses the stack's provider and is named cache-<role>", () => {
    const children = mocks.resources.filter((r) => r.parent.endsWith("eventstack:data:Cache::cache"));
    expect(children.map((c) => `${c.type.split(":")[0]}:${c.name}`).sort()).toEqual(
      [
        "aws:cache-default-user",
        "aws:cache-group",
        "aws:cache-key",
        "aws:cache-key-alias",
        "aws:cache-processor-secret",
        "aws:cache-processor-secret",
        "aws:cache-processor-user",
        "aws:cache-sg",
        "aws:cache-sg-client-1",
        "aws:cache-subnets",
        "aws:cache-users",
        "random:cache-default-password",
        "random:cache-processor-password",
      ].sort(),
    );
    for (const child of children.filter((c) => c.type.startsWith("aws:"))) expect(child.provider).toBe(`urn:pulumi:${stack}::eventstack::pulumi:providers:aws::aws::aws-id`);
  });
});

describe("with IAM authentication", () => {
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  beforeAll(async () => {
    ({ mocks, outputs } = await runDataServices("prod", {}, { cacheAuthentication: "iam" }));
  });

  test("the processor's user authenticates with IAM, and no password or secret exists for it", () => {
    expect(mocks.get(USER, "cache-processor-user").inputs.authenticationMode).toEqual({ type: "iam" });
    expect(mocks.ofType("random:index/randomPassword:RandomPassword").map((r) => r.name)).toEqual(["cache-default-password"]);
    expect(mocks.ofType("aws:secretsmanager/secret:Secret")).toEqual([]);
    expect(outputs.cacheProcessorSecretArn).toBeUndefined();
    expect(outputs.cacheAuthentication).toBe("iam");
  });
});

describe("pure helpers", () => {
  const base: CacheArgs = { identifier: "eventstack-dev", vpcId: "vpc-1", subnetIds: [], clientSecurityGroupIds: [CLIENT_SG], engineVersion: "8.0", nodeType: "cache.t4g.micro", replicas: 0, snapshotRetentionDays: 0 };

  test("the access string confines a user to one key prefix", () => {
    expect(clientAccessString("app:")).toBe("on ~app:* -@all +@read +@write +@scripting +@connection +info -flushall -flushdb -swapdb");
  });

  test("arguments ElastiCache would reject late are refused at once with the fix", () => {
    expect(() => validateCacheArgs(base)).not.toThrow();
    expect(() => validateCacheArgs({ ...base, identifier: "EventStack" })).toThrow(
      'Cache: identifier "EventStack" must be 1 to 40 lower-case letters, digits or single hyphens, starting with a letter (an ElastiCache replication group id)',
    );
    expect(() => validateCacheArgs({ ...base, identifier: "a".repeat(41) })).toThrow(/must be 1 to 40/);
    expect(() => validateCacheArgs({ ...base, replicas: 6 })).toThrow("Cache: replicas must be an integer from 0 to 5 (got 6)");
    expect(() => validateCacheArgs({ ...base, clients: ["default"] })).toThrow('Cache: client "default" must be a lower-case workload name other than "default"');
  });
});
