// Aurora: encrypted storage, no public instance, enough backups, IAM database authentication, TLS forced by
// the cluster parameter group, and, where the stack's policy config asks for high availability, deletion
// protection and a reader in a second AZ.
//
// Rules apply to Aurora clusters (`engine` aurora-*) and their instances; RDS Multi-AZ DB clusters and single
// instances are not what this platform runs and are left to a rule written for them.
import type * as aws from "@pulumi/aws";
import type { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, DEFAULTS, forType, forTypes, highAvailabilitySchema, known, knownString, NOT_REQUIRED_HERE, ofTypes, Props, refersTo, requiresHighAvailability } from "./lib";

export const RDS_CLUSTER = "aws:rds/cluster:Cluster";
export const RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance";
export const RDS_INSTANCE = "aws:rds/instance:Instance";
export const RDS_CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup";

type Cluster = Props<aws.rds.ClusterArgs>;
type ClusterInstance = Props<aws.rds.ClusterInstanceArgs>;
type ParameterGroup = Props<aws.rds.ClusterParameterGroupArgs>;

const isAurora = (c: { engine?: unknown }) => typeof c.engine === "string" && c.engine.startsWith("aurora");

/** A cluster resource validation that skips non-Aurora engines. */
const forAuroraCluster = (validate: (c: Cluster, report: ReportViolation, args: ResourceValidationArgs) => void) =>
  forType<Cluster>(RDS_CLUSTER, (c, args, report) => {
    if (!isAurora(c)) return args.notApplicable(`engine ${String(c.engine)} is not Aurora`);
    validate(c, report, args);
  });

export const auroraStorageEncrypted: ResourceValidationPolicy = {
  name: "aurora-storage-encrypted",
  description: "Aurora cluster storage (and so its snapshots and backups) is encrypted at rest. Checkov CKV_AWS_96; Trivy AVD-AWS-0079.",
  enforcementLevel: "mandatory",
  validateResource: forAuroraCluster((c, report) => {
    if (c.storageEncrypted !== true) report("storageEncrypted is not true: set storageEncrypted: true and kmsKeyId to the data key (encryption cannot be added to an existing cluster).");
  }),
};

const notPublic = (i: Pick<ClusterInstance, "publiclyAccessible">, _args: ResourceValidationArgs, report: ReportViolation) => {
  if (i.publiclyAccessible === true) report("publiclyAccessible is true: set it to false; clients reach the database from inside the VPC.");
};

export const auroraNotPublic: ResourceValidationPolicy = {
  name: "aurora-instance-not-public",
  description: "No database instance gets a public IP address. Checkov CKV_AWS_17; Trivy AVD-AWS-0180.",
  enforcementLevel: "mandatory",
  validateResource: forTypes<{ publiclyAccessible?: boolean }>({
    [RDS_CLUSTER_INSTANCE]: notPublic,
    [RDS_INSTANCE]: notPublic,
  }),
};

export const auroraBackupRetention: ResourceValidationPolicy = {
  name: "aurora-backup-retention",
  description:
    "Aurora keeps automated backups for at least minimumBackupRetentionDays days (policy config; AWS's default is 1). Checkov CKV_AWS_133; Trivy AVD-AWS-0077.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      minimumBackupRetentionDays: {
        type: "integer",
        minimum: 1,
        maximum: 35,
        default: DEFAULTS.minimumBackupRetentionDays,
        description: "Fewest days of automated backups an Aurora cluster may keep.",
      },
    },
  },
  validateResource: forAuroraCluster((c, report, args) => {
    const minimum = args.getConfig<{ minimumBackupRetentionDays?: number }>().minimumBackupRetentionDays ?? DEFAULTS.minimumBackupRetentionDays;
    const days = c.backupRetentionPeriod ?? 1;
    if (days < minimum) report(`backupRetentionPeriod is ${days} day${days === 1 ? "" : "s"}; this stack's policy requires at least ${minimum}.`);
  }),
};

export const auroraIamAuth: ResourceValidationPolicy = {
  name: "aurora-iam-authentication",
  description: "Aurora accepts IAM database authentication, so services connect with short-lived tokens, not stored passwords. Checkov CKV_AWS_162; Trivy AVD-AWS-0176.",
  enforcementLevel: "mandatory",
  validateResource: forAuroraCluster((c, report) => {
    if (c.iamDatabaseAuthenticationEnabled !== true) report("iamDatabaseAuthenticationEnabled is not true: set it to true.");
  }),
};

/** True when a cluster parameter group sets rds.force_ssl to 1. */
export function forcesTls(pg: ParameterGroup): boolean {
  return asArray(pg.parameters).some((p) => p?.name === "rds.force_ssl" && String(p.value) === "1");
}

/** The physical names a parameter group is known by, to match a cluster's dbClusterParameterGroupName. */
const groupNames = (pg: PolicyResource) => [knownString(pg.props, "name"), known(() => pg.props.id)].filter((v) => typeof v === "string");

export const auroraForceTls: StackValidationPolicy = {
  name: "aurora-tls-enforced",
  description:
    "Every Aurora cluster uses a cluster parameter group of this stack that sets rds.force_ssl=1, so no client connects in clear text. Checkov CKV2_AWS_69 (the same setting, checked for RDS instances); no Trivy equivalent.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const clusters = ofTypes(args, RDS_CLUSTER).filter((c) => isAurora(c.props));
    if (clusters.length === 0) return args.notApplicable("no Aurora cluster in the stack");
    const groups = ofTypes(args, RDS_CLUSTER_PARAMETER_GROUP);
    for (const cluster of clusters) {
      const group = groups.find((g) => refersTo(cluster, "dbClusterParameterGroupName", g, groupNames(g)));
      if (!group) {
        report(`Aurora cluster "${cluster.name}" does not use a cluster parameter group of this stack (the engine default does not force TLS): create one with rds.force_ssl = 1 and set dbClusterParameterGroupName.`, cluster.urn);
      } else if (!forcesTls(group.props as ParameterGroup)) {
        report(`Aurora cluster "${cluster.name}" uses parameter group "${group.name}", which does not set rds.force_ssl = 1: add { name: "rds.force_ssl", value: "1" } to its parameters.`, cluster.urn);
      }
    }
  },
};

export const auroraDeletionProtection: ResourceValidationPolicy = {
  name: "aurora-deletion-protection",
  description:
    "Where the stack requires high availability (policy config requireHighAvailability, default true), Aurora clusters have deletion protection. Checkov CKV_AWS_139; Trivy AVD-AWS-0343.",
  enforcementLevel: "mandatory",
  configSchema: highAvailabilitySchema,
  validateResource: forAuroraCluster((c, report, args) => {
    if (!requiresHighAvailability(args)) return args.notApplicable(NOT_REQUIRED_HERE);
    if (c.deletionProtection !== true) report("deletionProtection is not true: set it to true (config aurora.deletionProtection).");
  }),
};

export const auroraMultiAz: StackValidationPolicy = {
  name: "aurora-multi-az",
  description:
    "Where the stack requires high availability (policy config requireHighAvailability, default true), every Aurora cluster has a writer and at least one reader, not all pinned to one AZ, so a failover has somewhere to go. Checkov CKV_AWS_157 (Multi-AZ, for RDS instances); no Trivy equivalent.",
  enforcementLevel: "mandatory",
  configSchema: highAvailabilitySchema,
  validateStack: (args, report) => {
    if (!requiresHighAvailability(args)) return args.notApplicable(NOT_REQUIRED_HERE);
    const clusters = ofTypes(args, RDS_CLUSTER).filter((c) => isAurora(c.props));
    if (clusters.length === 0) return args.notApplicable("no Aurora cluster in the stack");
    const instances = ofTypes(args, RDS_CLUSTER_INSTANCE);
    for (const cluster of clusters) {
      const ids = [knownString(cluster.props, "clusterIdentifier")].filter((v) => v !== undefined);
      const mine = instances.filter((i) => refersTo(i, "clusterIdentifier", cluster, ids));
      if (mine.length < 2) {
        report(`Aurora cluster "${cluster.name}" has ${mine.length} instance${mine.length === 1 ? "" : "s"}; high availability needs a writer and at least one reader in another AZ (config aurora.readers >= 1).`, cluster.urn);
        continue;
      }
      const azs = mine.map((i) => knownString(i.props, "availabilityZone"));
      if (azs.every((az) => az !== undefined) && new Set(azs).size < 2) {
        report(`Aurora cluster "${cluster.name}" has all ${mine.length} instances in ${azs[0]}: place a reader in another AZ.`, cluster.urn);
      }
    }
  },
};

export const auroraPolicies = [auroraStorageEncrypted, auroraNotPublic, auroraBackupRetention, auroraIamAuth, auroraForceTls, auroraDeletionProtection, auroraMultiAz];
