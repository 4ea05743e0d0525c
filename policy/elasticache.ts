// ElastiCache (Valkey/Redis replication groups): TLS on every connection, encryption at rest, clients that
// authenticate, and, where the stack's policy config asks for high availability, a replica in another AZ
// with automatic failover.
import type * as aws from "@pulumi/aws";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { forType, highAvailabilitySchema, NOT_REQUIRED_HERE, present, Props, requiresHighAvailability } from "./lib";

export const REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup";

type Group = Props<aws.elasticache.ReplicationGroupArgs>;

export const cacheTransitEncryption: ResourceValidationPolicy = {
  name: "elasticache-tls-in-transit",
  description: "Replication groups accept TLS connections only (transitEncryptionEnabled, mode not 'preferred'). Checkov CKV_AWS_30; Trivy AVD-AWS-0051.",
  enforcementLevel: "mandatory",
  validateResource: forType<Group>(REPLICATION_GROUP, (g, _args, report) => {
    if (g.transitEncryptionEnabled !== true) report("transitEncryptionEnabled is not true: set it to true with transitEncryptionMode: \"required\".");
    else if (g.transitEncryptionMode === "preferred") report('transitEncryptionMode is "preferred", which still accepts clear-text clients: set it to "required".');
  }),
};

export const cacheAtRestEncryption: ResourceValidationPolicy = {
  name: "elasticache-encryption-at-rest",
  description: "Replication groups encrypt data at rest (snapshots and swap included). Checkov CKV_AWS_29; Trivy AVD-AWS-0045.",
  enforcementLevel: "mandatory",
  validateResource: forType<Group>(REPLICATION_GROUP, (g, _args, report) => {
    if (g.atRestEncryptionEnabled !== true) report("atRestEncryptionEnabled is not true: set it to true (and kmsKeyId to the data key).");
  }),
};

export const cacheAuthentication: ResourceValidationPolicy = {
  name: "elasticache-authentication",
  description: "Clients authenticate: RBAC user groups (userGroupIds) or an AUTH token. Checkov CKV_AWS_31; no Trivy equivalent.",
  enforcementLevel: "mandatory",
  validateResource: forType<Group>(REPLICATION_GROUP, (g, _args, report) => {
    if (![() => g.userGroupIds, () => g.authToken, () => g.authTokenWo].some(present)) report("neither userGroupIds nor an AUTH token is set, so any client that reaches the port is served: attach a user group (RBAC).");
  }),
};

export const cacheMultiAz: ResourceValidationPolicy = {
  name: "elasticache-multi-az-failover",
  description:
    "Where the stack requires high availability (policy config requireHighAvailability, default true), replication groups have a replica, Multi-AZ and automatic failover. Checkov CKV2_AWS_50; no Trivy equivalent.",
  enforcementLevel: "mandatory",
  configSchema: highAvailabilitySchema,
  validateResource: forType<Group>(REPLICATION_GROUP, (g, args, report) => {
    if (!requiresHighAvailability(args)) return args.notApplicable(NOT_REQUIRED_HERE);
    const nodes = g.numCacheClusters ?? (g.replicasPerNodeGroup !== undefined ? g.replicasPerNodeGroup + 1 : 1);
    const missing = [
      nodes < 2 ? "a replica (numCacheClusters >= 2)" : undefined,
      g.multiAzEnabled !== true ? "multiAzEnabled: true" : undefined,
      g.automaticFailoverEnabled !== true ? "automaticFailoverEnabled: true" : undefined,
    ].filter((m) => m !== undefined);
    if (missing.length) report(`high availability needs ${missing.join(", ")} (config cache.replicas >= 1).`);
  }),
};

export const elasticachePolicies = [cacheTransitEncryption, cacheAtRestEncryption, cacheAuthentication, cacheMultiAz];
