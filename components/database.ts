// Aurora PostgreSQL Serverless v2 for the processor's events and rollups.
//
// Creates, in the isolated subnets: a customer-managed KMS key; a security group admitting 5432 from the
// EKS cluster only; a cluster parameter group that refuses plaintext connections and logs slow statements;
// the PostgreSQL log group (created here so that its retention is ours, not "never expire"); the cluster,
// with the master password generated and rotated by RDS in Secrets Manager and IAM authentication on; a
// writer and `readers` readers, each pinned to the AZ of a different isolated subnet.
//
// Workloads never use the master password: the migrate Job reads the master secret to create the
// least-privilege roles, and the services then connect as those roles with IAM auth tokens, which
// `dbUserArn(role)` names for their IAM policies.
//
// Expects from its caller: the VPC, its isolated subnets (one per AZ), the EKS cluster's security group(s)
// and the provider carrying the ownership tags.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createDataSecurityGroup } from "./data-security-group";
import { createDataKey } from "./kms";

/** Defaults of what the stack configuration does not set, in one place. */
export const DATABASE_DEFAULTS = {
  /** The PostgreSQL superuser-like master user; only the migrate Job ever logs in as it. */
  masterUsername: "postgres",
  port: 5432,
  /** Random bytes of the final snapshot's suffix: 8 hex digits. */
  finalSnapshotSuffixBytes: 4,
  /** Performance Insights' free retention tier. */
  performanceInsightsRetentionDays: 7,
  /** UTC; before the maintenance window so that both never overlap. */
  preferredBackupWindow: "02:00-03:00",
  preferredMaintenanceWindow: "sun:03:30-sun:04:30",
  /** The CloudWatch Logs export RDS offers for Aurora PostgreSQL. */
  logExports: ["postgresql"],
} as const;

export interface DatabaseArgs {
  /** The cluster identifier, unique per account and region (e.g. `eventstack-prod`); instances are `<identifier>-<n>`. */
  identifier: string;
  /** VPC of the cluster's security group. */
  vpcId: pulumi.Input<string>;
  /** Isolated subnets (no internet route), one per AZ; instance n is placed in subnet n mod count. */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Security groups admitted on the PostgreSQL port (the EKS nodes/pods). At least one; no CIDR is ever admitted. */
  clientSecurityGroupIds: pulumi.Input<string>[];
  /** Aurora PostgreSQL version, pinned (16 or later; 16.3+ for `minCapacity` 0). Config `aurora.engineVersion`. */
  engineVersion: string;
  /** Serverless v2 minimum ACUs; 0 pauses idle instances after `autoPauseSeconds`. Config `aurora.minCapacity`. */
  minCapacity: number;
  /** Serverless v2 maximum ACUs per instance. Config `aurora.maxCapacity`. */
  maxCapacity: number;
  /** Idle seconds before pausing; used only when `minCapacity` is 0. Config `aurora.autoPauseSeconds`. */
  autoPauseSeconds: number;
  /** Reader instances besides the writer, in other AZs than the writer while AZs last. Config `aurora.readers`. */
  readers: number;
  /** Automated backup retention in days. Config `aurora.backupRetentionDays`. */
  backupRetentionDays: number;
  /** Deletion protection plus a final snapshot `<identifier>-final-<8 hex digits>` on delete. Config `aurora.deletionProtection`. */
  deletionProtection: boolean;
  /** `log_min_duration_statement` in ms. Config `aurora.slowStatementMs`. */
  slowStatementMs: number;
  /** The application database created with the cluster. Config `aurora.databaseName`. */
  databaseName: string;
  /** Retention of the PostgreSQL log group in days. Config `logRetentionDays`. */
  logRetentionDays: number;
  /** Master user name. Default `postgres`. */
  masterUsername?: string;
  /** Performance Insights retention (7 is free; else a multiple of 31 up to 731). Default 7. */
  performanceInsightsRetentionDays?: number;
}

/** The cluster parameter group family of an Aurora PostgreSQL version: "16.8" → "aurora-postgresql16". */
export function parameterGroupFamily(engineVersion: string): string {
  const major = /^(\d+)\./.exec(engineVersion)?.[1];
  if (!major) throw new Error(`Database: engineVersion must look like "16.8" (got "${engineVersion}")`);
  return `aurora-postgresql${major}`;
}

/** The cluster parameters this platform requires, whatever the version. */
export function clusterParameters(slowStatementMs: number) {
  return [
    // Refuse non-TLS connections; IAM auth tokens are only accepted over TLS anyway.
    { name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" },
    { name: "log_min_duration_statement", value: String(slowStatementMs), applyMethod: "immediate" },
  ];
}

/** Serverless v2 scaling: auto-pause only exists with a minimum of 0 ACUs, where it is required. */
export function scalingConfiguration(args: Pick<DatabaseArgs, "minCapacity" | "maxCapacity" | "autoPauseSeconds">) {
  return {
    minCapacity: args.minCapacity,
    maxCapacity: args.maxCapacity,
    ...(args.minCapacity === 0 ? { secondsUntilAutoPause: args.autoPauseSeconds } : {}),
  };
}

const PG_ROLE = /^[a-z_][a-z0-9_$]{0,62}$/;

/**
 * The IAM resource a role needs `rds-db:connect` on to log in as `dbUser` with an auth token:
 * `arn:<partition>:rds-db:<region>:<account>:dbuser:<cluster resource id>/<dbUser>`.
 */
export function rdsDbUserArn(p: { partition: string; region: string; accountId: string; clusterResourceId: string; dbUser: string }): string {
  if (!PG_ROLE.test(p.dbUser)) throw new Error(`Database: "${p.dbUser}" is not a lower-case PostgreSQL role name, so no IAM policy can name it`);
  return `arn:${p.partition}:rds-db:${p.region}:${p.accountId}:dbuser:${p.clusterResourceId}/${p.dbUser}`;
}

export class Database extends pulumi.ComponentResource {
  /** Writer endpoint (the cluster endpoint). */
  readonly endpoint: pulumi.Output<string>;
  /** Load-balanced reader endpoint; the writer answers it when there are no readers. */
  readonly readerEndpoint: pulumi.Output<string>;
  readonly port: number;
  readonly databaseName: string;
  readonly masterUsername: string;
  readonly clusterArn: pulumi.Output<string>;
  /** The `cluster-…` id that `rds-db:connect` resources name. */
  readonly clusterResourceId: pulumi.Output<string>;
  /** Secrets Manager ARN of the RDS-managed master secret: for the migrate Job only. */
  readonly masterSecretArn: pulumi.Output<string>;
  /** The KMS key of the storage, the master secret and Performance Insights. */
  readonly keyArn: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly #account: ReturnType<typeof accountOf>;

  constructor(name: string, args: DatabaseArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:data:Database", name, {}, opts);
    const { provider } = opts;
    const childOpts = { parent: this, provider };
    const masterUsername = args.masterUsername ?? DATABASE_DEFAULTS.masterUsername;
    const port = DATABASE_DEFAULTS.port;
    const piRetention = args.performanceInsightsRetentionDays ?? DATABASE_DEFAULTS.performanceInsightsRetentionDays;

    const key = createDataKey(name, { description: `Aurora PostgreSQL ${args.identifier}: storage, master secret, Performance Insights`, alias: `${args.identifier}/database` }, childOpts);
    const securityGroup = createDataSecurityGroup(
      name,
      { vpcId: args.vpcId, service: "Aurora PostgreSQL", port, clientSecurityGroupIds: args.clientSecurityGroupIds, tagName: `${args.identifier}-database` },
      childOpts,
    );
    const subnetGroup = new aws.rds.SubnetGroup(
      `${name}-subnets`,
      { description: `Isolated subnets of ${args.identifier}`, subnetIds: args.subnetIds, tags: { Name: `${args.identifier}-database` } },
      childOpts,
    );
    const parameterGroup = new aws.rds.ClusterParameterGroup(
      `${name}-params`,
      {
        family: parameterGroupFamily(args.engineVersion),
        description: `${args.identifier}: TLS only, slow statements logged`,
        parameters: clusterParameters(args.slowStatementMs),
      },
      childOpts,
    );
    // RDS would create this group itself on the first export, with no retention; owning it sets ours.
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-postgresql-logs`,
      { name: `/aws/rds/cluster/${args.identifier}/postgresql`, retentionInDays: args.logRetentionDays },
      childOpts,
    );

    // RDS keeps a final snapshot after its cluster is gone, and no two cluster snapshots of an account and region may
    // share an identifier ("DBClusterSnapshotAlreadyExistsFault", RDS API DeleteDBCluster, verified 2026-12-05): a fixed
    // `<identifier>-final` would let a destroyed and recreated stack's cluster never be deleted. The suffix is drawn
    // with the cluster and kept in state; the keepers are the inputs whose change replaces the cluster, so a replaced
    // cluster gets a new one too (an in-place change of the suffix merely renames a snapshot not yet taken).
    const finalSnapshotSuffix = args.deletionProtection
      ? new random.RandomId(
          `${name}-final-snapshot`,
          {
            byteLength: DATABASE_DEFAULTS.finalSnapshotSuffixBytes,
            keepers: { clusterIdentifier: args.identifier, databaseName: args.databaseName, masterUsername, kmsKeyId: key.arn, dbSubnetGroupName: subnetGroup.name },
          },
          { parent: this },
        )
      : undefined;

    const cluster = new aws.rds.Cluster(
      `${name}-cluster`,
      {
        clusterIdentifier: args.identifier,
        engine: "aurora-postgresql",
        engineMode: "provisioned",
        engineVersion: args.engineVersion,
        databaseName: args.databaseName,
        masterUsername,
        // RDS generates the password, keeps it in Secrets Manager (encrypted with our key) and rotates it:
        // it never appears in config, code or Pulumi state.
        manageMasterUserPassword: true,
        masterUserSecretKmsKeyId: key.arn,
        iamDatabaseAuthenticationEnabled: true,
        storageEncrypted: true,
        kmsKeyId: key.arn,
        port,
        dbSubnetGroupName: subnetGroup.name,
        vpcSecurityGroupIds: [securityGroup.id],
        dbClusterParameterGroupName: parameterGroup.name,
        serverlessv2ScalingConfiguration: scalingConfiguration(args),
        backupRetentionPeriod: args.backupRetentionDays,
        preferredBackupWindow: DATABASE_DEFAULTS.preferredBackupWindow,
        preferredMaintenanceWindow: DATABASE_DEFAULTS.preferredMaintenanceWindow,
        copyTagsToSnapshot: true,
        deletionProtection: args.deletionProtection,
        skipFinalSnapshot: !args.deletionProtection,
        finalSnapshotIdentifier: finalSnapshotSuffix ? pulumi.interpolate`${args.identifier}-final-${finalSnapshotSuffix.hex}` : undefined,
        enabledCloudwatchLogsExports: [...DATABASE_DEFAULTS.logExports],
        tags: { Name: args.identifier },
      },
      { ...childOpts, dependsOn: [logGroup] },
    );

    // Instance n goes to the AZ of isolated subnet n mod count: the writer and the first readers land in
    // different AZs without the program naming any AZ.
    const subnetIds = pulumi.output(args.subnetIds);
    const azOf = (index: number) =>
      subnetIds.apply((ids) => {
        if (ids.length === 0) throw new Error("Database: subnetIds is empty; pass the network's isolated subnets");
        return aws.ec2.getSubnetOutput({ id: ids[index % ids.length] }, childOpts).availabilityZone;
      });

    const instance = (index: number, dependsOn: pulumi.Resource[]) =>
      new aws.rds.ClusterInstance(
        `${name}-${index === 0 ? "writer" : `reader-${index}`}`,
        {
          identifier: `${args.identifier}-${index + 1}`,
          clusterIdentifier: cluster.id,
          engine: "aurora-postgresql",
          engineVersion: args.engineVersion,
          instanceClass: "db.serverless",
          availabilityZone: azOf(index),
          // Tier 0 for the writer, 1 for readers: readers in tiers 0-1 scale with the writer, so a promoted
          // reader starts at the writer's capacity.
          promotionTier: index === 0 ? 0 : 1,
          // The engine version is pinned in config; upgrades are a reviewed config change, not a surprise diff.
          autoMinorVersionUpgrade: false,
          publiclyAccessible: false,
          performanceInsightsEnabled: true,
          performanceInsightsKmsKeyId: key.arn,
          performanceInsightsRetentionPeriod: piRetention,
          dbSubnetGroupName: subnetGroup.name,
          tags: { Name: `${args.identifier}-${index + 1}` },
        },
        { ...childOpts, dependsOn },
      );
    // The first instance of a cluster becomes its writer, so readers wait for it.
    const writer = instance(0, []);
    Array.from({ length: args.readers }, (_, i) => instance(i + 1, [writer]));

    this.endpoint = cluster.endpoint;
    this.readerEndpoint = cluster.readerEndpoint;
    this.port = port;
    this.databaseName = args.databaseName;
    this.masterUsername = masterUsername;
    this.clusterArn = cluster.arn;
    this.clusterResourceId = cluster.clusterResourceId;
    this.masterSecretArn = cluster.masterUserSecrets.apply((secrets) => {
      const arn = secrets?.[0]?.secretArn;
      if (!arn) throw new Error("Database: RDS reported no master user secret although manageMasterUserPassword is on");
      return arn;
    });
    this.keyArn = key.arn;
    this.securityGroupId = securityGroup.id;
    this.logGroupName = logGroup.name;
    this.#account = accountOf(this, provider);
    this.registerOutputs();
  }

  /** The `rds-db:connect` resource for logging in as `dbUser` with IAM auth, see rdsDbUserArn. */
  dbUserArn(dbUser: string): pulumi.Output<string> {
    return pulumi
      .all([this.#account.partition, this.#account.region, this.#account.accountId, this.clusterResourceId])
      .apply(([partition, region, accountId, clusterResourceId]) => rdsDbUserArn({ partition, region, accountId, clusterResourceId, dbUser }));
  }
}

function accountOf(parent: pulumi.Resource, provider: aws.Provider) {
  const opts = { parent, provider };
  return {
    partition: aws.getPartitionOutput({}, opts).partition,
    region: aws.getRegionOutput({}, opts).region,
    accountId: aws.getCallerIdentityOutput({}, opts).accountId,
  };
}
