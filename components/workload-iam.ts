// The IAM roles of the workloads that use the data services: `ingest`, `processor` and the processor's
// `migrate` Job. Each is assumed through EKS Pod Identity by exactly one service account of this cluster,
// and each inline policy names the exact ARNs that workload touches: never `*` for a data-plane action.
//
//   ingest     Kafka: connect; describe and (idempotently) write the events topic.
//   processor  Kafka: connect; read the events topic, write the dead-letter topic, use its own consumer group.
//              Aurora: connect as its own database role with an IAM auth token.
//              Cache: connect as its own RBAC user (IAM auth) or read its own credentials secret (password).
//   migrate    Kafka: connect and describe the two topics (they are created by Pulumi, see kafka.ts).
//              Aurora: read the RDS-managed master secret, to create the least-privilege database roles.
//
// The Pod Identity associations (cluster, namespace, service account → role) belong with the workloads'
// Kubernetes resources; this component exports the role ARNs and the service accounts they trust.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { CacheAuthentication } from "./cache";
import { mskGroupArn, mskTopicArn } from "./kafka";
import { podIdentityTrustPolicyJson } from "./pod-identity";
import type { Ready } from "./ready";

export const WORKLOADS = ["ingest", "processor", "migrate"] as const;
export type Workload = (typeof WORKLOADS)[number];

/** Defaults, in one place. */
export const WORKLOAD_IAM_DEFAULTS = {
  namespace: "eventstack",
  /** One service account per workload, named after it. */
  serviceAccounts: { ingest: "ingest", processor: "processor", migrate: "migrate" } satisfies Record<Workload, string>,
  /** The processor's DB_PROCESSOR_ROLE default: the PostgreSQL role the migrate Job creates and grants rds_iam. */
  processorDbUser: "eventstack_processor",
} as const;

/** What the policies need from the Kafka component (structural, so tests can pass plain values). */
export interface KafkaRefs {
  clusterArn: pulumi.Input<string>;
  eventsTopic: pulumi.Input<string>;
  deadLetterTopic: pulumi.Input<string>;
}

/** What the policies need from the Database component. */
export interface DatabaseRefs {
  masterSecretArn: pulumi.Input<string>;
  keyArn: pulumi.Input<string>;
  dbUserArn(dbUser: string): pulumi.Output<string>;
}

/** What the policies need from the Cache component. */
export interface CacheRefs {
  authentication: CacheAuthentication;
  replicationGroupArn: pulumi.Input<string>;
  users: Record<string, { arn: pulumi.Input<string> }>;
  secretArns: Record<string, pulumi.Input<string>>;
  keyArn: pulumi.Input<string>;
}

export interface WorkloadIamArgs {
  /** EKS cluster ARN; the roles trust Pod Identity sessions of this cluster only (components/pod-identity.ts). */
  clusterArn: pulumi.Input<string>;
  /** Kubernetes namespace of the workloads. Default "eventstack". */
  namespace?: string;
  /** Service account of each workload. Default: the workload's name. */
  serviceAccounts?: Partial<Record<Workload, string>>;
  /** The MSK cluster and topics (the Kafka component). */
  kafka: KafkaRefs;
  /** The processor's consumer group. Config `kafka.consumerGroup`. */
  consumerGroup: string;
  /** The Aurora cluster (the Database component). */
  database: DatabaseRefs;
  /** PostgreSQL role the processor logs in as. Default "eventstack_processor". */
  processorDbUser?: string;
  /** The cache (the Cache component); the processor's user must be among its users. */
  cache: CacheRefs;
}

/** Every ARN the policies name, resolved. */
export interface ResolvedRefs {
  region: string;
  kafkaClusterArn: string;
  eventsTopic: string;
  deadLetterTopic: string;
  consumerGroup: string;
  processorDbUserArn: string;
  masterSecretArn: string;
  databaseKeyArn: string;
  cache: { authentication: CacheAuthentication; replicationGroupArn: string; processorUserArn: string; processorSecretArn?: string; keyArn: string };
}

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}
export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

const allow = (Sid: string, Action: string[], Resource: string[], Condition?: PolicyStatement["Condition"]): PolicyStatement => ({
  Sid,
  Effect: "Allow",
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});

/** Decrypting with a data key only as Secrets Manager does when it hands out a secret, not directly. */
const viaSecretsManager = (region: string) => ({ StringEquals: { "kms:ViaService": `secretsmanager.${region}.amazonaws.com` } });

/** The inline policy of each workload. */
export function workloadPolicies(r: ResolvedRefs): Record<Workload, PolicyDocument> {
  const events = mskTopicArn(r.kafkaClusterArn, r.eventsTopic);
  const deadLetters = mskTopicArn(r.kafkaClusterArn, r.deadLetterTopic);
  const doc = (...Statement: PolicyStatement[]): PolicyDocument => ({ Version: "2012-10-17", Statement });

  const cache =
    r.cache.authentication === "iam"
      ? [allow("CacheConnectAsOwnUser", ["elasticache:Connect"], [r.cache.replicationGroupArn, r.cache.processorUserArn])]
      : [
          allow("ReadOwnCacheCredentials", ["secretsmanager:GetSecretValue"], [required(r.cache.processorSecretArn, "the processor's cache secret ARN")]),
          allow("DecryptOwnCacheCredentials", ["kms:Decrypt"], [r.cache.keyArn], viaSecretsManager(r.region)),
        ];

  return {
    ingest: doc(
      // WriteDataIdempotently is a cluster-level permission in MSK's model; ingest's producer is idempotent.
      allow("KafkaConnect", ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"], [r.kafkaClusterArn]),
      allow("WriteEvents", ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], [events]),
    ),
    processor: doc(
      allow("KafkaConnect", ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], [r.kafkaClusterArn]),
      allow("ReadEvents", ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], [events]),
      allow("WriteDeadLetters", ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], [deadLetters]),
      allow("OwnConsumerGroup", ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], [mskGroupArn(r.kafkaClusterArn, r.consumerGroup)]),
      allow("DatabaseConnectAsOwnRole", ["rds-db:connect"], [r.processorDbUserArn]),
      ...cache,
    ),
    migrate: doc(
      allow("KafkaConnect", ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], [r.kafkaClusterArn]),
      allow("DescribeTopics", ["kafka-cluster:DescribeTopic"], [events, deadLetters]),
      allow("ReadMasterSecret", ["secretsmanager:GetSecretValue"], [r.masterSecretArn]),
      allow("DecryptMasterSecret", ["kms:Decrypt"], [r.databaseKeyArn], viaSecretsManager(r.region)),
    ),
  };
}

/** pulumi.all over named string inputs, keeping the names in the resolved type. */
function allStrings<K extends string>(values: Record<K, pulumi.Input<string>>): pulumi.Output<Record<K, string>> {
  return pulumi.all(values as Record<string, pulumi.Input<string>>) as unknown as pulumi.Output<Record<K, string>>;
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new Error(`WorkloadIam: ${what} is missing; the Cache component creates it when authentication is "password"`);
  return value;
}

export class WorkloadIam extends pulumi.ComponentResource {
  /** Role ARN of each workload, for its Pod Identity association. */
  readonly roleArns: Record<Workload, pulumi.Output<string>>;
  /** The service account each role trusts. */
  readonly serviceAccounts: Record<Workload, { namespace: string; name: string }>;
  /**
   * Each role with its policy: a Pod Identity association made before the policy exists hands pods credentials that
   * are refused, and an SDK that caches its first failure keeps failing, so associations depend on this. One per role,
   * each a `Ready` (components/ready.ts), rather than the component's own: a workload waits for its role only.
   */
  readonly roleReady: Record<Workload, Ready>;

  constructor(name: string, args: WorkloadIamArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:data:WorkloadIam", name, {}, opts);
    const childOpts = { parent: this, provider: opts.provider };
    const namespace = args.namespace ?? WORKLOAD_IAM_DEFAULTS.namespace;
    const processorDbUser = args.processorDbUser ?? WORKLOAD_IAM_DEFAULTS.processorDbUser;
    const serviceAccounts = Object.fromEntries(
      WORKLOADS.map((w) => [w, { namespace, name: args.serviceAccounts?.[w] ?? WORKLOAD_IAM_DEFAULTS.serviceAccounts[w] }]),
    ) as Record<Workload, { namespace: string; name: string }>;

    const processorCacheUser = args.cache.users.processor;
    if (!processorCacheUser) throw new Error(`WorkloadIam: the cache has no "processor" user; add "processor" to the Cache component's clients`);

    const refs: pulumi.Output<ResolvedRefs> = allStrings({
      region: aws.getRegionOutput({}, childOpts).region,
      kafkaClusterArn: args.kafka.clusterArn,
      eventsTopic: args.kafka.eventsTopic,
      deadLetterTopic: args.kafka.deadLetterTopic,
      processorDbUserArn: args.database.dbUserArn(processorDbUser),
      masterSecretArn: args.database.masterSecretArn,
      databaseKeyArn: args.database.keyArn,
      cacheReplicationGroupArn: args.cache.replicationGroupArn,
      cacheUserArn: processorCacheUser.arn,
      // Empty with IAM authentication, where no secret exists and none is named.
      cacheSecretArn: args.cache.secretArns.processor ?? "",
      cacheKeyArn: args.cache.keyArn,
    }).apply((v) => ({
      region: v.region,
      kafkaClusterArn: v.kafkaClusterArn,
      eventsTopic: v.eventsTopic,
      deadLetterTopic: v.deadLetterTopic,
      consumerGroup: args.consumerGroup,
      processorDbUserArn: v.processorDbUserArn,
      masterSecretArn: v.masterSecretArn,
      databaseKeyArn: v.databaseKeyArn,
      cache: {
        authentication: args.cache.authentication,
        replicationGroupArn: v.cacheReplicationGroupArn,
        processorUserArn: v.cacheUserArn,
        processorSecretArn: v.cacheSecretArn || undefined,
        keyArn: v.cacheKeyArn,
      },
    }));
    const policies = refs.apply(workloadPolicies);

    const roles = {} as Record<Workload, aws.iam.Role>;
    const rolePolicies = {} as Record<Workload, aws.iam.RolePolicy>;
    for (const workload of WORKLOADS) {
      const sa = serviceAccounts[workload];
      roles[workload] = new aws.iam.Role(
        `${name}-${workload}`,
        {
          description: `eventstack ${workload}: assumed through EKS Pod Identity by ${sa.namespace}/${sa.name}`,
          assumeRolePolicy: podIdentityTrustPolicyJson(args.clusterArn, sa.namespace, sa.name),
        },
        childOpts,
      );
      rolePolicies[workload] = new aws.iam.RolePolicy(
        `${name}-${workload}`,
        { role: roles[workload].id, name: `${workload}-data-access`, policy: policies.apply((p) => JSON.stringify(p[workload])) },
        childOpts,
      );
    }

    this.roleArns = { ingest: roles.ingest.arn, processor: roles.processor.arn, migrate: roles.migrate.arn };
    this.serviceAccounts = serviceAccounts;
    this.roleReady = { ingest: [roles.ingest, rolePolicies.ingest], processor: [roles.processor, rolePolicies.processor], migrate: [roles.migrate, rolePolicies.migrate] };
    this.registerOutputs();
  }
}
