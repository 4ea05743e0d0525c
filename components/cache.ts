// ElastiCache for Valkey: the processor's cache of recent minute rollups.
//
// Valkey rather than Redis OSS: it is the engine ElastiCache now develops first, it speaks the Redis protocol
// (ioredis and every Redis command the processor uses work unchanged), and AWS prices node-based Valkey 20%
// below Redis OSS on the same node type (docs/data-services.md has the figures).
//
// Creates, in the isolated subnets: a customer-managed KMS key; a security group admitting 6379 from the EKS
// cluster only; one replication group with TLS required in transit and encryption at rest; RBAC instead of
// a shared AUTH token: a user group whose `default` user is switched off, and one user per client workload
// whose access string covers only the processor's key prefix. With `replicas` >= 1 the group is Multi-AZ
// with automatic failover; with 0 it is one node (dev).
//
// Authentication of the client users, `authentication`:
//   - "password" (default): a random 64-character password per user, kept in a Secrets Manager secret
//     `<identifier>/cache/<client>-<unique suffix>` encrypted with the cache key, which only that workload's IAM role may read. The password is also in
//     Pulumi state (as the RandomPassword result and the user's input), encrypted there as a Pulumi secret:
//     anyone who can decrypt the stack's state can read it.
//   - "iam": the user authenticates with a short-lived SigV4 token (`elasticache:Connect`), so no secret
//     exists anywhere. The client must generate a token per connection (valid 15 minutes; a connection lasts
//     at most 12 hours). The processor today authenticates with REDIS_USERNAME/REDIS_PASSWORD, hence the default.
//
// Expects from its caller: the VPC, its isolated subnets, the EKS cluster's security group(s) and the
// provider carrying the ownership tags.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createDataSecurityGroup } from "./data-security-group";
import { createDataKey } from "./kms";

export type CacheAuthentication = "password" | "iam";

/** Defaults of what the stack configuration does not set, in one place. */
export const CACHE_DEFAULTS = {
  port: 6379,
  authentication: "password" as CacheAuthentication,
  /** Workloads that get a cache user; only the processor uses the cache. */
  clients: ["processor"] as readonly string[],
  /** The processor's REDIS_KEY_PREFIX default: users may touch only keys under it. */
  keyPrefix: "eventstack:",
  passwordLength: 64,
  /** UTC, outside the maintenance window. */
  snapshotWindow: "02:00-03:00",
  maintenanceWindow: "sun:04:00-sun:05:00",
} as const;

export interface CacheArgs {
  /** Replication group id, unique per account and region, at most 40 characters (e.g. `eventstack-prod`); also prefixes user ids. */
  identifier: string;
  /** VPC of the cache's security group. */
  vpcId: pulumi.Input<string>;
  /** Isolated subnets (no internet route), one per AZ. */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Security groups admitted on port 6379 (the EKS nodes/pods). At least one; no CIDR is ever admitted. */
  clientSecurityGroupIds: pulumi.Input<string>[];
  /** ElastiCache for Valkey version, e.g. "8.0". Config `cache.engineVersion`. */
  engineVersion: string;
  /** Node type, e.g. cache.r7g.large. Config `cache.nodeType`. */
  nodeType: string;
  /** Replicas of the primary (0 to 5); >= 1 turns on Multi-AZ and automatic failover. Config `cache.replicas`. */
  replicas: number;
  /** Daily snapshots kept; 0 turns snapshots off. Config `cache.snapshotRetentionDays`. */
  snapshotRetentionDays: number;
  /** How client users authenticate, see the file comment. Default "password". */
  authentication?: CacheAuthentication;
  /** Workloads that get their own RBAC user `<identifier>-<client>`. Default ["processor"]. */
  clients?: readonly string[];
  /** Key prefix the client users are confined to. Default "eventstack:" (the processor's REDIS_KEY_PREFIX). */
  keyPrefix?: string;
}

/** One RBAC user of a client workload. */
export interface CacheUser {
  userId: pulumi.Output<string>;
  userName: pulumi.Output<string>;
  arn: pulumi.Output<string>;
}

/**
 * What a client user may do: read and write keys under `keyPrefix`, run the Lua scripts the processor
 * defines (their commands are checked against the same rules), and the connection commands plus INFO
 * (ioredis's ready check). Commands that act on every key regardless of the pattern are denied.
 */
export function clientAccessString(keyPrefix: string): string {
  return `on ~${keyPrefix}* -@all +@read +@write +@scripting +@connection +info -flushall -flushdb -swapdb`;
}

/** Checks the arguments that would otherwise fail late at AWS; throws one actionable message. */
export function validateCacheArgs(args: CacheArgs): void {
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(args.identifier) || args.identifier.endsWith("-") || args.identifier.includes("--")) {
    throw new Error(`Cache: identifier "${args.identifier}" must be 1 to 40 lower-case letters, digits or single hyphens, starting with a letter (an ElastiCache replication group id)`);
  }
  if (args.replicas < 0 || args.replicas > 5 || !Number.isInteger(args.replicas)) {
    throw new Error(`Cache: replicas must be an integer from 0 to 5 (got ${args.replicas})`);
  }
  for (const client of args.clients ?? CACHE_DEFAULTS.clients) {
    if (!/^[a-z][a-z0-9-]*$/.test(client) || client === "default") {
      throw new Error(`Cache: client "${client}" must be a lower-case workload name other than "default"`);
    }
  }
}

export class Cache extends pulumi.ComponentResource {
  /** Primary endpoint: writes and reads. */
  readonly primaryEndpoint: pulumi.Output<string>;
  /** Reader endpoint: spreads reads over the replicas (the primary when there are none). */
  readonly readerEndpoint: pulumi.Output<string>;
  readonly port: number;
  readonly replicationGroupArn: pulumi.Output<string>;
  readonly authentication: CacheAuthentication;
  /** The RBAC user of each client workload, by workload name. */
  readonly users: Record<string, CacheUser>;
  /** With password authentication, the Secrets Manager secret ({"username","password"}) of each client workload. */
  readonly secretArns: Record<string, pulumi.Output<string>>;
  readonly keyArn: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;

  constructor(name: string, args: CacheArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:data:Cache", name, {}, opts);
    validateCacheArgs(args);
    const childOpts = { parent: this, provider: opts.provider };
    const port = CACHE_DEFAULTS.port;
    const authentication = args.authentication ?? CACHE_DEFAULTS.authentication;
    const clients = args.clients ?? CACHE_DEFAULTS.clients;
    const keyPrefix = args.keyPrefix ?? CACHE_DEFAULTS.keyPrefix;
    const highlyAvailable = args.replicas >= 1;

    const key = createDataKey(name, { description: `ElastiCache ${args.identifier}: data at rest, snapshots, user secrets`, alias: `${args.identifier}/cache` }, childOpts);
    const securityGroup = createDataSecurityGroup(
      name,
      { vpcId: args.vpcId, service: "ElastiCache for Valkey", port, clientSecurityGroupIds: args.clientSecurityGroupIds, tagName: `${args.identifier}-cache` },
      childOpts,
    );
    const subnetGroup = new aws.elasticache.SubnetGroup(
      `${name}-subnets`,
      { name: `${args.identifier}-cache`, description: `Isolated subnets of ${args.identifier}`, subnetIds: args.subnetIds },
      childOpts,
    );

    const password = (role: string) =>
      new random.RandomPassword(`${name}-${role}-password`, { length: CACHE_DEFAULTS.passwordLength, special: false }, { parent: this });

    // Every user group must hold a user named "default", which unauthenticated connections are logged in as.
    // This one is switched off and has a password nobody is given, so there is no anonymous access.
    const defaultUser = new aws.elasticache.User(
      `${name}-default-user`,
      {
        userId: `${args.identifier}-default`,
        userName: "default",
        engine: "valkey",
        accessString: "off -@all",
        authenticationMode: { type: "password", passwords: [pulumi.secret(password("default").result)] },
      },
      childOpts,
    );

    const users: Record<string, aws.elasticache.User> = {};
    const secrets: Record<string, aws.secretsmanager.Secret> = {};
    for (const client of clients) {
      // IAM authentication requires the user name to equal the user id; both modes use the same form.
      const userId = `${args.identifier}-${client}`;
      const pw = authentication === "password" ? password(client) : undefined;
      users[client] = new aws.elasticache.User(
        `${name}-${client}-user`,
        {
          userId,
          userName: userId,
          engine: "valkey",
          accessString: clientAccessString(keyPrefix),
          authenticationMode: pw ? { type: "password", passwords: [pulumi.secret(pw.result)] } : { type: "iam" },
        },
        childOpts,
      );
      if (pw) {
        const secret = new aws.secretsmanager.Secret(
          `${name}-${client}-secret`,
          {
            // A prefix, not a fixed name: a deleted secret keeps its name for its 7-30 day recovery window (Secrets
            // Manager API DeleteSecret, verified 2026-12-05), so a destroyed and recreated stack could not create it
            // again. The provider appends a unique suffix; workloads find the secret by its ARN (secretArns).
            namePrefix: `${args.identifier}/cache/${client}-`,
            description: `ElastiCache RBAC credentials of ${client} on ${args.identifier}`,
            kmsKeyId: key.arn,
          },
          childOpts,
        );
        new aws.secretsmanager.SecretVersion(
          `${name}-${client}-secret`,
          { secretId: secret.id, secretString: pulumi.secret(pulumi.jsonStringify({ username: userId, password: pw.result })) },
          childOpts,
        );
        secrets[client] = secret;
      }
    }

    const userGroup = new aws.elasticache.UserGroup(
      `${name}-users`,
      { userGroupId: args.identifier, engine: "valkey", userIds: [defaultUser.userId, ...Object.values(users).map((u) => u.userId)] },
      childOpts,
    );

    const group = new aws.elasticache.ReplicationGroup(
      `${name}-group`,
      {
        replicationGroupId: args.identifier,
        description: `Valkey cache of ${args.identifier}`,
        engine: "valkey",
        engineVersion: args.engineVersion,
        nodeType: args.nodeType,
        port,
        numCacheClusters: 1 + args.replicas,
        automaticFailoverEnabled: highlyAvailable,
        multiAzEnabled: highlyAvailable,
        subnetGroupName: subnetGroup.name,
        securityGroupIds: [securityGroup.id],
        atRestEncryptionEnabled: true,
        kmsKeyId: key.arn,
        transitEncryptionEnabled: true,
        transitEncryptionMode: "required",
        userGroupIds: [userGroup.userGroupId],
        snapshotRetentionLimit: args.snapshotRetentionDays,
        snapshotWindow: args.snapshotRetentionDays > 0 ? CACHE_DEFAULTS.snapshotWindow : undefined,
        maintenanceWindow: CACHE_DEFAULTS.maintenanceWindow,
        tags: { Name: args.identifier },
      },
      childOpts,
    );

    this.primaryEndpoint = group.primaryEndpointAddress;
    this.readerEndpoint = group.readerEndpointAddress;
    this.port = port;
    this.replicationGroupArn = group.arn;
    this.authentication = authentication;
    this.users = Object.fromEntries(Object.entries(users).map(([client, u]) => [client, { userId: u.userId, userName: u.userName, arn: u.arn }]));
    this.secretArns = Object.fromEntries(Object.entries(secrets).map(([client, s]) => [client, s.arn]));
    this.keyArn = key.arn;
    this.securityGroupId = securityGroup.id;
    this.registerOutputs();
  }
}
