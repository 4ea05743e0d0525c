// Aurora PostgreSQL over both stacks: Serverless v2 scaling (scale-to-zero in dev), placement over AZs,
// encryption with its own rotating key, the RDS-managed master secret, IAM auth, TLS-only parameters,
// backups, deletion protection and Performance Insights; and the dbuser ARN the processor's policy names.
import { clusterParameters, parameterGroupFamily, rdsDbUserArn, scalingConfiguration } from "../components/database";
import { CLIENT_SG, ISOLATED_SUBNETS, runDataServices, VPC_ID } from "./data-services";
import type { RecordingMocks } from "./mocks";
import { TEST_REGION } from "./program";

const CLUSTER = "aws:rds/cluster:Cluster";
const INSTANCE = "aws:rds/clusterInstance:ClusterInstance";

const expected = {
  dev: { min: 0, max: 4, autoPause: 300, readers: 0, backup: 1, protect: false, logDays: 7 },
  prod: { min: 2, max: 64, autoPause: undefined, readers: 1, backup: 7, protect: true, logDays: 90 },
} as const;

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  const want = expected[stack];
  const id = `eventstack-${stack}`;
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  let keyArn: string;
  beforeAll(async () => {
    ({ mocks, outputs } = await runDataServices(stack));
    keyArn = mocks.get("aws:kms/key:Key", "database-key").state.arn;
  });
  const cluster = () => mocks.get(CLUSTER, "database-cluster").inputs;

  test("is Aurora PostgreSQL Serverless v2 at the pinned version, scaling within the configured ACUs", () => {
    expect(cluster()).toMatchObject({ clusterIdentifier: id, engine: "aurora-postgresql", engineMode: "provisioned", engineVersion: "16.8", databaseName: "eventstack", port: 5432 });
    // dev pauses when idle (0 ACUs after 5 minutes); prod never pauses, so it has no auto-pause setting at all.
    const scaling = cluster().serverlessv2ScalingConfiguration;
    expect(scaling).toEqual(want.autoPause === undefined ? { minCapacity: want.min, maxCapacity: want.max } : { minCapacity: want.min, maxCapacity: want.max, secondsUntilAutoPause: want.autoPause });
  });

  test("has a writer and the configured readers, each in the AZ of a different isolated subnet", () => {
    const instances = mocks.ofType(INSTANCE).map((r) => r.inputs);
    expect(instances).toHaveLength(1 + want.readers);
    expect(instances.map((i) => [i.identifier, i.availabilityZone, i.promotionTier])).toEqual(
      [
        [`${id}-1`, `${TEST_REGION}a`, 0],
        [`${id}-2`, `${TEST_REGION}b`, 1],
      ].slice(0, 1 + want.readers),
    );
    for (const i of instances) {
      expect(i).toMatchObject({ instanceClass: "db.serverless", engine: "aurora-postgresql", engineVersion: "16.8", publiclyAccessible: false, autoMinorVersionUpgrade: false });
      expect(i.clusterIdentifier).toBe("database-cluster-id");
    }
    // No AZ name is written in the program: each comes from the subnet the instance is placed by.
    const subnetLookups = mocks.calls.filter((c) => c.token === "aws:ec2/getSubnet:getSubnet").map((c) => c.inputs.id);
    expect(subnetLookups.sort()).toEqual(ISOLATED_SUBNETS.slice(0, 1 + want.readers));
    if (want.readers > 0) expect(mocks.get(INSTANCE, "database-reader-1").inputs.availabilityZone).not.toBe(mocks.get(INSTANCE, "database-writer").inputs.availabilityZone);
  });

  test("lives in the isolated subnets behind a security group that admits 5432 from the cluster only", () => {
    expect(mocks.get("aws:rds/subnetGroup:SubnetGroup", "database-subnets").inputs.subnetIds).toEqual(ISOLATED_SUBNETS);
    expect(cluster().dbSubnetGroupName).toBe("database-subnets");
    expect(cluster().vpcSecurityGroupIds).toEqual(["database-sg-id"]);
    const sg = mocks.get("aws:ec2/securityGroup:SecurityGroup", "database-sg").inputs;
    expect(sg.vpcId).toBe(VPC_ID);
    // Standalone rules only (test/security-groups.test.ts): no inline blocks, one rule per client group.
    expect(sg).not.toHaveProperty("ingress");
    expect(sg).not.toHaveProperty("egress");
    expect(mocks.get("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "database-sg-client-1").inputs).toEqual({
      securityGroupId: "database-sg-id",
      referencedSecurityGroupId: CLIENT_SG,
      ipProtocol: "tcp",
      fromPort: 5432,
      toPort: 5432,
      description: "Aurora PostgreSQL clients",
    });
    for (const instance of mocks.ofType(INSTANCE)) expect(instance.inputs.publiclyAccessible).toBe(false);
  });

  test("encrypts storage, the master secret and Performance Insights with its own rotating key", () => {
    const key = mocks.get("aws:kms/key:Key", "database-key").inputs;
    expect(key).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30, keyUsage: "ENCRYPT_DECRYPT" });
    expect(mocks.get("aws:kms/alias:Alias", "database-key-alias").inputs.name).toBe(`alias/${id}/database`);
    expect(cluster()).toMatchObject({ storageEncrypted: true, kmsKeyId: keyArn, masterUserSecretKmsKeyId: keyArn });
    for (const instance of mocks.ofType(INSTANCE)) {
      expect(instance.inputs).toMatchObject({ performanceInsightsEnabled: true, performanceInsightsKmsKeyId: keyArn, performanceInsightsRetentionPeriod: 7 });
    }
    expect(outputs.dbKeyArn).toBe(keyArn);
  });

  test("RDS manages the master password in Secrets Manager; no password is in the program", () => {
    expect(cluster().manageMasterUserPassword).toBe(true);
    expect(cluster().masterUsername).toBe("postgres");
    expect(cluster()).not.toHaveProperty("masterPassword");
    expect(cluster()).not.toHaveProperty("masterPasswordWo");
    expect(outputs.dbMasterSecretArn).toMatch(new RegExp(`^arn:aws:secretsmanager:${TEST_REGION}:123456789012:secret:rds!cluster-[0-9a-f-]+$`));
  });

  test("turns on IAM authentication and names the processor's dbuser ARN exactly", () => {
    expect(cluster().iamDatabaseAuthenticationEnabled).toBe(true);
    expect(outputs.dbClusterResourceId).toMatch(/^cluster-[0-9A-F]{26}$/);
    expect(outputs.dbProcessorUserArn).toBe(`arn:aws:rds-db:${TEST_REGION}:123456789012:dbuser:${outputs.dbClusterResourceId}/eventstack_processor`);
  });

  test("forces TLS and logs statements slower than aurora.slowStatementMs through its own parameter group", () => {
    const group = mocks.get("aws:rds/clusterParameterGroup:ClusterParameterGroup", "database-params").inputs;
    expect(group.family).toBe("aurora-postgresql16");
    expect(group.parameters).toEqual([
      { name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" },
      { name: "log_min_duration_statement", value: "500", applyMethod: "immediate" },
    ]);
    expect(cluster().dbClusterParameterGroupName).toBe("database-params");
  });

  test("keeps backups, and in prod refuses deletion and takes a final snapshot", () => {
    expect(cluster().backupRetentionPeriod).toBe(want.backup);
    expect(cluster().copyTagsToSnapshot).toBe(true);
    expect(cluster().deletionProtection).toBe(want.protect);
    expect(cluster().skipFinalSnapshot).toBe(!want.protect);
    if (want.protect) {
      // RDS keeps the final snapshot after the cluster is gone: its identifier carries a suffix drawn with the
      // cluster, so that a recreated stack's cluster can be deleted too (a fixed `<id>-final` would already exist).
      const suffix = mocks.get("random:index/randomId:RandomId", "database-final-snapshot");
      expect(suffix.inputs.byteLength).toBe(4);
      expect(suffix.inputs.keepers).toEqual({
        clusterIdentifier: id,
        databaseName: "eventstack",
        masterUsername: "postgres",
        kmsKeyId: mocks.get("aws:kms/key:Key", "database-key").state.arn,
        dbSubnetGroupName: mocks.get("aws:rds/subnetGroup:SubnetGroup", "database-subnets").state.name,
      });
      expect(cluster().finalSnapshotIdentifier).toBe(`${id}-final-${suffix.state.hex}`);
      // RDS: 1 to 255 letters, digits or hyphens, starting with a letter, no "--", no trailing hyphen.
      expect(cluster().finalSnapshotIdentifier).toMatch(/^eventstack-prod-final-[0-9a-f]{8}$/);
    } else {
      expect(cluster()).not.toHaveProperty("finalSnapshotIdentifier");
      expect(mocks.ofType("random:index/randomId:RandomId").filter((r) => r.name.startsWith("database-"))).toEqual([]);
    }
  });

  test("exports PostgreSQL logs into a log group it owns, with the configured retention", () => {
    expect(cluster().enabledCloudwatchLogsExports).toEqual(["postgresql"]);
    const group = mocks.get("aws:cloudwatch/logGroup:LogGroup", "database-postgresql-logs").inputs;
    expect(group).toEqual({ name: `/aws/rds/cluster/${id}/postgresql`, retentionInDays: want.logDays });
  });

  test("exports the endpoints, port and database name the workloads connect with", () => {
    expect(outputs.dbEndpoint).toBe(mocks.get(CLUSTER, "database-cluster").state.endpoint);
    expect(outputs.dbReaderEndpoint).toBe(mocks.get(CLUSTER, "database-cluster").state.readerEndpoint);
    expect(outputs.dbEndpoint).toMatch(new RegExp(`^${id}\\.cluster-[0-9a-f]+\\.${TEST_REGION}\\.rds\\.amazonaws\\.com$`));
    expect(outputs.dbPort).toBe(5432);
    expect(outputs.dbName).toBe("eventstack");
  });

  test("every child is parented to the component, every AWS child uses the stack's provider, each is named database-<role>", () => {
    const component = mocks.get("eventstack:data:Database", "database");
    const children = mocks.resources.filter((r) => r.parent.endsWith("eventstack:data:Database::database"));
    expect(children.map((c) => c.name).sort()).toEqual(
      ["database-cluster", "database-key", "database-key-alias", "database-params", "database-postgresql-logs", "database-sg", "database-sg-client-1", "database-subnets", "database-writer", ...(want.readers ? ["database-reader-1"] : []), ...(want.protect ? ["database-final-snapshot"] : [])].sort(),
    );
    // The final snapshot's random suffix is no AWS resource: the random package's default provider draws it.
    for (const child of children.filter((c) => c.type.startsWith("aws:"))) expect([child.name, child.provider]).toEqual([child.name, "urn:pulumi:" + stack + "::eventstack::pulumi:providers:aws::aws::aws-id"]);
    expect(component.custom).toBe(false);
  });
});

describe("pure helpers", () => {
  test("the parameter group family follows the engine's major version", () => {
    expect(parameterGroupFamily("16.8")).toBe("aurora-postgresql16");
    expect(parameterGroupFamily("17.4")).toBe("aurora-postgresql17");
    expect(() => parameterGroupFamily("latest")).toThrow('Database: engineVersion must look like "16.8" (got "latest")');
  });

  test("auto-pause is set only with a minimum of 0 ACUs", () => {
    expect(scalingConfiguration({ minCapacity: 0, maxCapacity: 4, autoPauseSeconds: 600 })).toEqual({ minCapacity: 0, maxCapacity: 4, secondsUntilAutoPause: 600 });
    expect(scalingConfiguration({ minCapacity: 0.5, maxCapacity: 4, autoPauseSeconds: 600 })).toEqual({ minCapacity: 0.5, maxCapacity: 4 });
  });

  test("slow statement logging takes the configured threshold, including 0 (log everything)", () => {
    expect(clusterParameters(0)[1]).toEqual({ name: "log_min_duration_statement", value: "0", applyMethod: "immediate" });
  });

  test("the dbuser ARN has RDS's format and refuses names no PostgreSQL role can have", () => {
    const base = { partition: "aws-cn", region: "cn-north-1", accountId: "210987654321", clusterResourceId: "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ" };
    expect(rdsDbUserArn({ ...base, dbUser: "eventstack_reader" })).toBe("arn:aws-cn:rds-db:cn-north-1:210987654321:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ/eventstack_reader");
    expect(() => rdsDbUserArn({ ...base, dbUser: "*" })).toThrow('Database: "*" is not a lower-case PostgreSQL role name, so no IAM policy can name it');
    expect(() => rdsDbUserArn({ ...base, dbUser: "Processor" })).toThrow(/not a lower-case PostgreSQL role name/);
  });
});
