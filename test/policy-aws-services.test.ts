// EKS, Aurora, ElastiCache, MSK and API Gateway rules: for each, a resource that passes and one that violates,
// with the exact message the rule reports.
import type { Policies, PolicyPackConfig } from "@pulumi/policy";
import * as apigw from "../policy/apigateway";
import * as aurora from "../policy/aurora";
import * as eks from "../policy/eks";
import * as cache from "../policy/elasticache";
import * as msk from "../policy/msk";
import * as obs from "../policy/observability";
import { FakeResource, UNKNOWN, urnOf, validateResource, validateStack } from "./policy-harness";

type Policy = Policies[number];

/** The messages a resource policy reports for one resource. */
async function check(policy: Policy, type: string, props: Record<string, any>, config?: PolicyPackConfig) {
  return (await validateResource(policy, { type, name: "r", props }, config)).violations.map((v) => v.message);
}

/** The messages a stack policy reports for a set of resources. */
async function checkStack(policy: Policy, resources: FakeResource[], config?: PolicyPackConfig) {
  return (await validateStack(policy, resources, config)).violations.map((v) => v.message);
}

describe("EKS", () => {
  const COMPONENT = "eks:index:Cluster";
  const CLUSTER = "aws:eks/cluster:Cluster";
  const good = { endpointPublicAccess: false, encryptionConfigKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k", enabledClusterLogTypes: ["api", "audit", "authenticator"] };
  const goodAws = {
    vpcConfig: { endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"], subnetIds: ["subnet-1"] },
    encryptionConfig: { resources: ["secrets"], provider: { keyArn: "arn:aws:kms:eu-west-1:123456789012:key/k" } },
    enabledClusterLogTypes: ["api", "audit", "authenticator", "scheduler"],
  };

  test("a private cluster, or a public one limited to CIDRs, passes (component and aws cluster)", async () => {
    expect(await check(eks.eksPublicEndpoint, COMPONENT, good)).toEqual([]);
    expect(await check(eks.eksPublicEndpoint, COMPONENT, { endpointPublicAccess: true, publicAccessCidrs: ["198.51.100.7/32"] })).toEqual([]);
    expect(await check(eks.eksPublicEndpoint, CLUSTER, goodAws)).toEqual([]);
  });

  test("a public endpoint with no CIDRs (AWS's default) or 0.0.0.0/0 violates", async () => {
    expect(await check(eks.eksPublicEndpoint, COMPONENT, {})).toEqual([
      "endpointPublicAccess is not false and publicAccessCidrs is empty, so the API server is reachable from 0.0.0.0/0: set endpointPublicAccess: false, or list the allowed CIDRs in publicAccessCidrs.",
    ]);
    expect(await check(eks.eksPublicEndpoint, CLUSTER, { vpcConfig: { publicAccessCidrs: ["10.0.0.0/8", "0.0.0.0/0"] } })).toEqual([
      "vpcConfig.publicAccessCidrs contains 0.0.0.0/0, so the API server is reachable from anywhere: list only the CIDRs that must reach it.",
    ]);
  });

  test("secrets encryption with a KMS key passes; none violates", async () => {
    expect(await check(eks.eksSecretsEncryption, COMPONENT, good)).toEqual([]);
    expect(await check(eks.eksSecretsEncryption, CLUSTER, goodAws)).toEqual([]);
    expect(await check(eks.eksSecretsEncryption, COMPONENT, {})).toEqual(["encryptionConfigKeyArn is not set: pass the ARN of a KMS key (with rotation on) to encrypt Secrets."]);
    expect(await check(eks.eksSecretsEncryption, CLUSTER, { encryptionConfig: { resources: [], provider: { keyArn: "k" } } })).toEqual([
      'encryptionConfig does not encrypt "secrets" with a KMS key: set encryptionConfig: { resources: ["secrets"], provider: { keyArn } }.',
    ]);
  });

  test("api, audit and authenticator logs pass; missing ones violate", async () => {
    expect(await check(eks.eksControlPlaneLogs, COMPONENT, good)).toEqual([]);
    expect(await check(eks.eksControlPlaneLogs, CLUSTER, goodAws)).toEqual([]);
    expect(await check(eks.eksControlPlaneLogs, CLUSTER, { enabledClusterLogTypes: ["api"] })).toEqual([
      'enabledClusterLogTypes lacks "audit", "authenticator": enable at least "api", "audit", "authenticator".',
    ]);
  });
});

describe("Aurora", () => {
  const CLUSTER = aurora.RDS_CLUSTER;
  const good = { engine: "aurora-postgresql", storageEncrypted: true, iamDatabaseAuthenticationEnabled: true, backupRetentionPeriod: 7, deletionProtection: true };

  test("rules apply to Aurora engines only", async () => {
    const outcome = await validateResource(aurora.auroraStorageEncrypted, { type: CLUSTER, name: "pg", props: { engine: "postgres" } });
    expect(outcome.violations).toEqual([]);
    expect(outcome.notApplicable).toEqual([{ policy: "aurora-storage-encrypted", reason: "engine postgres is not Aurora" }]);
  });

  test("storage encryption", async () => {
    expect(await check(aurora.auroraStorageEncrypted, CLUSTER, good)).toEqual([]);
    expect(await check(aurora.auroraStorageEncrypted, CLUSTER, { engine: "aurora-postgresql" })).toEqual([
      "storageEncrypted is not true: set storageEncrypted: true and kmsKeyId to the data key (encryption cannot be added to an existing cluster).",
    ]);
  });

  test("no publicly accessible instance (cluster instances and plain instances)", async () => {
    expect(await check(aurora.auroraNotPublic, aurora.RDS_CLUSTER_INSTANCE, { publiclyAccessible: false })).toEqual([]);
    expect(await check(aurora.auroraNotPublic, aurora.RDS_CLUSTER_INSTANCE, {})).toEqual([]);
    expect(await check(aurora.auroraNotPublic, aurora.RDS_INSTANCE, { publiclyAccessible: true })).toEqual([
      "publiclyAccessible is true: set it to false; clients reach the database from inside the VPC.",
    ]);
  });

  test("backup retention follows the policy config, defaulting to 7 days", async () => {
    expect(await check(aurora.auroraBackupRetention, CLUSTER, good)).toEqual([]);
    expect(await check(aurora.auroraBackupRetention, CLUSTER, { ...good, backupRetentionPeriod: 1 }, { "aurora-backup-retention": { minimumBackupRetentionDays: 1 } })).toEqual([]);
    expect(await check(aurora.auroraBackupRetention, CLUSTER, { ...good, backupRetentionPeriod: 1 })).toEqual(["backupRetentionPeriod is 1 day; this stack's policy requires at least 7."]);
    expect(await check(aurora.auroraBackupRetention, CLUSTER, { engine: "aurora-postgresql" }, { "aurora-backup-retention": { minimumBackupRetentionDays: 3 } })).toEqual([
      "backupRetentionPeriod is 1 day; this stack's policy requires at least 3.",
    ]);
  });

  test("IAM database authentication", async () => {
    expect(await check(aurora.auroraIamAuth, CLUSTER, good)).toEqual([]);
    expect(await check(aurora.auroraIamAuth, CLUSTER, { engine: "aurora-postgresql", iamDatabaseAuthenticationEnabled: false })).toEqual([
      "iamDatabaseAuthenticationEnabled is not true: set it to true.",
    ]);
  });

  test("deletion protection is required when high availability is (the default), not otherwise", async () => {
    expect(await check(aurora.auroraDeletionProtection, CLUSTER, good)).toEqual([]);
    expect(await check(aurora.auroraDeletionProtection, CLUSTER, { engine: "aurora-postgresql" })).toEqual(["deletionProtection is not true: set it to true (config aurora.deletionProtection)."]);
    const relaxed = await validateResource(aurora.auroraDeletionProtection, { type: CLUSTER, name: "db", props: { engine: "aurora-postgresql" } }, { "aurora-deletion-protection": { requireHighAvailability: false } });
    expect(relaxed).toEqual({ violations: [], notApplicable: [{ policy: "aurora-deletion-protection", reason: "requireHighAvailability is false in this stack's policy config" }] });
  });

  describe("stack rules", () => {
    const cluster = (props: Record<string, any> = {}): FakeResource => ({ type: CLUSTER, name: "db", props: { ...good, clusterIdentifier: "eventstack-db", ...props } });
    const clusterUrn = urnOf(CLUSTER, "db");
    const params = (parameters: { name: string; value: string }[]): FakeResource => ({ type: aurora.RDS_CLUSTER_PARAMETER_GROUP, name: "params", props: { family: "aurora-postgresql16", name: "db-params", parameters } });
    const instance = (name: string, props: Record<string, any>, deps?: Record<string, string[]>): FakeResource => ({ type: aurora.RDS_CLUSTER_INSTANCE, name, props: { instanceClass: "db.serverless", ...props }, propertyDependencies: deps });

    test("TLS: a parameter group with rds.force_ssl=1, matched by name or by dependency, passes", async () => {
      expect(await checkStack(aurora.auroraForceTls, [cluster({ dbClusterParameterGroupName: "db-params" }), params([{ name: "rds.force_ssl", value: "1" }])])).toEqual([]);
      const byDependency: FakeResource = { ...cluster({ dbClusterParameterGroupName: UNKNOWN }), propertyDependencies: { dbClusterParameterGroupName: [urnOf(aurora.RDS_CLUSTER_PARAMETER_GROUP, "params")] } };
      expect(await checkStack(aurora.auroraForceTls, [byDependency, params([{ name: "rds.force_ssl", value: "1" }])])).toEqual([]);
    });

    test("TLS: the engine's default group, or a group without rds.force_ssl=1, violates", async () => {
      expect(await checkStack(aurora.auroraForceTls, [cluster()])).toEqual([
        'Aurora cluster "db" does not use a cluster parameter group of this stack (the engine default does not force TLS): create one with rds.force_ssl = 1 and set dbClusterParameterGroupName.',
      ]);
      expect(await checkStack(aurora.auroraForceTls, [cluster({ dbClusterParameterGroupName: "db-params" }), params([{ name: "rds.force_ssl", value: "0" }])])).toEqual([
        'Aurora cluster "db" uses parameter group "params", which does not set rds.force_ssl = 1: add { name: "rds.force_ssl", value: "1" } to its parameters.',
      ]);
    });

    test("multi-AZ: a writer and a reader in two AZs pass, matched by identifier or by dependency", async () => {
      const resources = [
        cluster(),
        instance("writer", { clusterIdentifier: "eventstack-db", availabilityZone: "eu-west-1a" }),
        instance("reader", { clusterIdentifier: UNKNOWN, availabilityZone: "eu-west-1b" }, { clusterIdentifier: [clusterUrn] }),
      ];
      expect(await checkStack(aurora.auroraMultiAz, resources)).toEqual([]);
    });

    test("multi-AZ: one instance, or all instances in one AZ, violates; not required when the config says so", async () => {
      const single = [cluster(), instance("writer", { clusterIdentifier: "eventstack-db" })];
      expect(await checkStack(aurora.auroraMultiAz, single)).toEqual([
        'Aurora cluster "db" has 1 instance; high availability needs a writer and at least one reader in another AZ (config aurora.readers >= 1).',
      ]);
      const oneAz = [cluster(), instance("a", { clusterIdentifier: "eventstack-db", availabilityZone: "eu-west-1a" }), instance("b", { clusterIdentifier: "eventstack-db", availabilityZone: "eu-west-1a" })];
      expect(await checkStack(aurora.auroraMultiAz, oneAz)).toEqual(['Aurora cluster "db" has all 2 instances in eu-west-1a: place a reader in another AZ.']);
      expect(await checkStack(aurora.auroraMultiAz, single, { "aurora-multi-az": { requireHighAvailability: false } })).toEqual([]);
    });
  });
});

describe("ElastiCache", () => {
  const GROUP = cache.REPLICATION_GROUP;
  const good = {
    description: "cache",
    transitEncryptionEnabled: true,
    transitEncryptionMode: "required",
    atRestEncryptionEnabled: true,
    userGroupIds: ["eventstack"],
    numCacheClusters: 2,
    multiAzEnabled: true,
    automaticFailoverEnabled: true,
  };

  test("TLS in transit", async () => {
    expect(await check(cache.cacheTransitEncryption, GROUP, good)).toEqual([]);
    expect(await check(cache.cacheTransitEncryption, GROUP, {})).toEqual(['transitEncryptionEnabled is not true: set it to true with transitEncryptionMode: "required".']);
    expect(await check(cache.cacheTransitEncryption, GROUP, { ...good, transitEncryptionMode: "preferred" })).toEqual([
      'transitEncryptionMode is "preferred", which still accepts clear-text clients: set it to "required".',
    ]);
  });

  test("encryption at rest", async () => {
    expect(await check(cache.cacheAtRestEncryption, GROUP, good)).toEqual([]);
    expect(await check(cache.cacheAtRestEncryption, GROUP, { ...good, atRestEncryptionEnabled: false })).toEqual(["atRestEncryptionEnabled is not true: set it to true (and kmsKeyId to the data key)."]);
  });

  test("authentication: a user group or an AUTH token", async () => {
    expect(await check(cache.cacheAuthentication, GROUP, good)).toEqual([]);
    expect(await check(cache.cacheAuthentication, GROUP, { authToken: "secret-token-of-16+" })).toEqual([]);
    expect(await check(cache.cacheAuthentication, GROUP, { userGroupIds: [] })).toEqual([
      "neither userGroupIds nor an AUTH token is set, so any client that reaches the port is served: attach a user group (RBAC).",
    ]);
  });

  test("multi-AZ with failover when high availability is required", async () => {
    expect(await check(cache.cacheMultiAz, GROUP, good)).toEqual([]);
    expect(await check(cache.cacheMultiAz, GROUP, { ...good, numCacheClusters: 1, multiAzEnabled: false, automaticFailoverEnabled: false })).toEqual([
      "high availability needs a replica (numCacheClusters >= 2), multiAzEnabled: true, automaticFailoverEnabled: true (config cache.replicas >= 1).",
    ]);
    expect(await check(cache.cacheMultiAz, GROUP, { numCacheClusters: 1 }, { "elasticache-multi-az-failover": { requireHighAvailability: false } })).toEqual([]);
  });
});

describe("MSK", () => {
  const CLUSTER = msk.MSK_CLUSTER;
  const good = {
    clientAuthentication: { unauthenticated: false, sasl: { iam: true, scram: false } },
    encryptionInfo: { encryptionAtRestKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k", encryptionInTransit: { clientBroker: "TLS", inCluster: true } },
    loggingInfo: { brokerLogs: { cloudwatchLogs: { enabled: true, logGroup: "/eventstack/msk" } } },
  };

  test("IAM authentication only (provisioned and serverless)", async () => {
    expect(await check(msk.mskIamOnly, CLUSTER, good)).toEqual([]);
    expect(await check(msk.mskIamOnly, msk.MSK_SERVERLESS, { clientAuthentication: { sasl: { iam: { enabled: true } } } })).toEqual([]);
    expect(await check(msk.mskIamOnly, CLUSTER, { clientAuthentication: { unauthenticated: true, sasl: { iam: true, scram: true } } })).toEqual([
      "clientAuthentication.unauthenticated is true; clientAuthentication.sasl.scram is true: use clientAuthentication: { sasl: { iam: true }, unauthenticated: false } and nothing else.",
    ]);
    expect(await check(msk.mskIamOnly, msk.MSK_SERVERLESS, { clientAuthentication: { sasl: { iam: { enabled: false } } } })).toEqual([
      "clientAuthentication.sasl.iam.enabled is not true: set it to true.",
    ]);
  });

  test("TLS between clients and brokers and inside the cluster (AWS's defaults pass)", async () => {
    expect(await check(msk.mskTls, CLUSTER, good)).toEqual([]);
    expect(await check(msk.mskTls, CLUSTER, {})).toEqual([]);
    expect(await check(msk.mskTls, CLUSTER, { encryptionInfo: { encryptionInTransit: { clientBroker: "TLS_PLAINTEXT", inCluster: false } } })).toEqual([
      'encryptionInfo.encryptionInTransit.clientBroker is "TLS_PLAINTEXT": set it to "TLS".',
      "encryptionInfo.encryptionInTransit.inCluster is false: set it to true.",
    ]);
  });

  test("encryption at rest with our KMS key", async () => {
    expect(await check(msk.mskCmk, CLUSTER, good)).toEqual([]);
    expect(await check(msk.mskCmk, CLUSTER, {})).toEqual(["encryptionInfo.encryptionAtRestKmsKeyArn is not set, so AWS's managed key is used: set it to the ARN of our KMS key."]);
  });

  test("broker logs", async () => {
    expect(await check(msk.mskBrokerLogs, CLUSTER, good)).toEqual([]);
    expect(await check(msk.mskBrokerLogs, CLUSTER, { loggingInfo: { brokerLogs: { cloudwatchLogs: { enabled: false } } } })).toEqual([
      "loggingInfo.brokerLogs delivers to no destination: enable brokerLogs.cloudwatchLogs with a log group.",
    ]);
  });
});

describe("API Gateway", () => {
  const logs = { destinationArn: "arn:aws:logs:eu-west-1:123456789012:log-group:/eventstack/api", format: "$context.requestId" };

  test("access logging on HTTP and REST stages", async () => {
    expect(await check(apigw.apiAccessLogging, apigw.V2_STAGE, { apiId: "a", accessLogSettings: logs })).toEqual([]);
    expect(await check(apigw.apiAccessLogging, apigw.REST_STAGE, { stageName: "v1", accessLogSettings: logs })).toEqual([]);
    expect(await check(apigw.apiAccessLogging, apigw.V2_STAGE, { apiId: "a" })).toEqual(["accessLogSettings is not set: give it a destinationArn (a log group) and a format."]);
    expect(await check(apigw.apiAccessLogging, apigw.REST_STAGE, { stageName: "v1" })).toEqual(["accessLogSettings is not set: give it a destinationArn (a log group) and a format."]);
  });

  test("throttling on HTTP API stages", async () => {
    expect(await check(apigw.apiThrottling, apigw.V2_STAGE, { defaultRouteSettings: { throttlingRateLimit: 200, throttlingBurstLimit: 400 } })).toEqual([]);
    expect(await check(apigw.apiThrottling, apigw.V2_STAGE, { defaultRouteSettings: { throttlingRateLimit: 200 } })).toEqual([
      "defaultRouteSettings lacks a positive throttlingBurstLimit: set both (config api.throttleRateLimit, api.throttleBurstLimit).",
    ]);
  });

  test("an authorizer on every route and method; CORS preflight exempt", async () => {
    expect(await check(apigw.apiRouteAuthorization, apigw.V2_ROUTE, { routeKey: "POST /events", authorizationType: "JWT", authorizerId: "auth" })).toEqual([]);
    expect(await check(apigw.apiRouteAuthorization, apigw.V2_ROUTE, { routeKey: "GET /stats", authorizationType: "AWS_IAM" })).toEqual([]);
    expect(await check(apigw.apiRouteAuthorization, apigw.V2_ROUTE, { routeKey: "OPTIONS /events" })).toEqual([]);
    expect(await check(apigw.apiRouteAuthorization, apigw.REST_METHOD, { httpMethod: "GET", authorization: "AWS_IAM" })).toEqual([]);
    expect(await check(apigw.apiRouteAuthorization, apigw.V2_ROUTE, { routeKey: "$default" })).toEqual([
      'route "$default" has authorizationType NONE: set authorizationType to JWT (with authorizerId) or AWS_IAM.',
    ]);
    expect(await check(apigw.apiRouteAuthorization, apigw.REST_METHOD, { httpMethod: "POST", authorization: "NONE" })).toEqual([
      "method POST has authorization NONE: set authorization to AWS_IAM, CUSTOM or COGNITO_USER_POOLS.",
    ]);
  });
});

describe("observability", () => {
  const key = "arn:aws:kms:eu-west-1:123456789012:key/k";

  test("an SNS topic with our key passes; none, or the AWS-managed key, violates", async () => {
    expect(await check(obs.snsTopicCmk, obs.SNS_TOPIC, { kmsMasterKeyId: key })).toEqual([]);
    expect(await check(obs.snsTopicCmk, obs.SNS_TOPIC, {})).toEqual(["kmsMasterKeyId is not set, so the topic is not encrypted: set it to the ARN of our KMS key."]);
    expect(await check(obs.snsTopicCmk, obs.SNS_TOPIC, { kmsMasterKeyId: "alias/aws/sns" })).toEqual([
      'kmsMasterKeyId is "alias/aws/sns", the AWS-managed key, which CloudWatch and AMP cannot publish with: use our KMS key.',
    ]);
  });

  test("an AMP workspace with our key passes; without one it violates", async () => {
    expect(await check(obs.ampWorkspaceCmk, obs.AMP_WORKSPACE, { kmsKeyArn: key })).toEqual([]);
    expect(await check(obs.ampWorkspaceCmk, obs.AMP_WORKSPACE, { alias: "w" })).toEqual([
      "kmsKeyArn is not set, so an AWS-owned key encrypts the workspace: set it to the ARN of our KMS key (this replaces an existing workspace).",
    ]);
  });

  test("a log group with a retention passes; none, or 0 (never expire), violates", async () => {
    expect(await check(obs.logGroupRetention, obs.LOG_GROUP, { retentionInDays: 7 })).toEqual([]);
    for (const props of [{}, { retentionInDays: 0 }]) expect(await check(obs.logGroupRetention, obs.LOG_GROUP, props)).toEqual(["retentionInDays is not set, so the logs never expire: set it (the logRetentionDays config key)."]);
  });
});
