// The environment of each service container, by the names the services read (apps/ingest/src/config.ts,
// apps/processor/src/config.ts). Every value is an endpoint, a name, a mode or an ARN: never a secret. Secrets stay
// in Secrets Manager, named here by ARN, and are read by the workload with its own Pod Identity role; Aurora and MSK
// take IAM authentication, so the services hold no password for them at all.
//
// The two credentials that exist are passed by ARN (docs/mesh.md, "Secrets"): REDIS_AUTH_SECRET_ARN (the processor's
// ElastiCache RBAC user, a {"username","password"} secret) and PG_MASTER_SECRET_ARN (the RDS-managed master secret the
// migrate Job logs in with); the processor's loader reads both and fetches them at start (apps/processor/src/secrets.ts).
// test/service-env.test.ts runs each service's loadConfig on what these functions return: every name is read.
import type * as pulumi from "@pulumi/pulumi";
import type { Env } from "./workload/pod";
import { WORKLOAD_IAM_DEFAULTS } from "./workload-iam";

/** The services' HTTP ports (apps/*\/src/config.ts DEFAULTS). */
export const SERVICE_PORTS = { ingest: 8080, processor: 8081 } as const;

/**
 * How each service drains when its pod terminates. `preStopSleepSeconds`: the pod keeps serving while it leaves the
 * Service's endpoints and (ingest) the NLB's target group; the AWS Load Balancer Controller deregisters it within a
 * few seconds and the NLB stops opening new flows to it. Then SIGTERM: the service stops taking requests, finishes what
 * it has (ingest: every accepted event acknowledged by Kafka; processor: the batch committed, the group left) within
 * its SHUTDOWN_TIMEOUT_MS default of 25 s. The grace period adds a margin before SIGKILL.
 */
export const SERVICE_DRAIN = {
  ingest: { preStopSleepSeconds: 20, shutdownSeconds: 25, marginSeconds: 10 },
  processor: { preStopSleepSeconds: 5, shutdownSeconds: 25, marginSeconds: 10 },
} as const;

export const terminationGracePeriodSeconds = (d: { preStopSleepSeconds: number; shutdownSeconds: number; marginSeconds: number }) =>
  d.preStopSleepSeconds + d.shutdownSeconds + d.marginSeconds;

/**
 * The NLB's deregistration delay for ingest: as long as a deregistered pod still serves (preStop and shutdown), so the
 * NLB closes leftover flows exactly when ingest has finished, never while it is still answering.
 */
export const INGEST_DEREGISTRATION_DELAY_SECONDS = SERVICE_DRAIN.ingest.preStopSleepSeconds + SERVICE_DRAIN.ingest.shutdownSeconds;

/**
 * The PostgreSQL roles the migrate Job creates (apps/processor DB_PROCESSOR_ROLE, DB_READER_ROLE): the processor's,
 * which its IAM policy may log in as, and a read-only one for people and tools.
 */
export const DATABASE_ROLES = { processor: WORKLOAD_IAM_DEFAULTS.processorDbUser, reader: "eventstack_reader" } as const;

export interface KafkaEnvRefs {
  bootstrapBrokers: pulumi.Input<string>;
  region: string;
  eventsTopic: pulumi.Input<string>;
}

/** Where a service sends its spans: the collector's OTLP/HTTP endpoint (components/observability/collector.ts). */
export interface TracingEnvRefs {
  /** `http://otel-collector.observability.svc.cluster.local:4318`; the exporters append /v1/traces. Default: no tracing. */
  otlpEndpoint?: string;
}

/** OTLP over HTTP with protobuf, the one protocol both services' exporters (@opentelemetry/exporter-trace-otlp-http) speak. */
function tracingEnv(r: TracingEnvRefs): Env {
  return r.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: r.otlpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" } : {};
}

/** MSK with IAM authentication: SASL OAUTHBEARER signed with the pod's Pod Identity credentials, over TLS (9098). */
function kafkaEnv(r: KafkaEnvRefs): Env {
  return { KAFKA_BOOTSTRAP: r.bootstrapBrokers, KAFKA_AUTH: "msk-iam", KAFKA_TLS: "true", AWS_REGION: r.region, EVENTS_TOPIC: r.eventsTopic };
}

export interface IngestEnvRefs extends KafkaEnvRefs, TracingEnvRefs {
  maxBodyBytes: number;
  maxBatchEvents: number;
  maxEventDataBytes: number;
}

export function ingestEnv(r: IngestEnvRefs): Env {
  return {
    PORT: String(SERVICE_PORTS.ingest),
    ...kafkaEnv(r),
    KAFKA_CLIENT_ID: "eventstack-ingest",
    MAX_BODY_BYTES: String(r.maxBodyBytes),
    MAX_BATCH_EVENTS: String(r.maxBatchEvents),
    MAX_EVENT_DATA_BYTES: String(r.maxEventDataBytes),
    ...tracingEnv(r),
  };
}

export interface DatabaseEnvRefs {
  host: pulumi.Input<string>;
  port: number;
  database: string;
}

export interface ProcessorEnvRefs extends KafkaEnvRefs, TracingEnvRefs {
  deadLetterTopic: pulumi.Input<string>;
  consumerGroup: string;
  db: DatabaseEnvRefs;
  /** The PostgreSQL role the processor logs in as with an IAM token (the migrate Job creates it). */
  dbUser: string;
  cache: { host: pulumi.Input<string>; port: number; authSecretArn: pulumi.Input<string> };
}

const pgEnv = (db: DatabaseEnvRefs): Env => ({ PGHOST: db.host, PGPORT: String(db.port), PGDATABASE: db.database, PG_TLS: "verify-full" });

export function processorEnv(r: ProcessorEnvRefs): Env {
  return {
    PORT: String(SERVICE_PORTS.processor),
    ...kafkaEnv(r),
    KAFKA_CLIENT_ID: "eventstack-processor",
    DLQ_TOPIC: r.deadLetterTopic,
    CONSUMER_GROUP: r.consumerGroup,
    ...pgEnv(r.db),
    PGUSER: r.dbUser,
    PG_AUTH: "iam",
    REDIS_HOST: r.cache.host,
    REDIS_PORT: String(r.cache.port),
    REDIS_TLS: "true",
    REDIS_AUTH_SECRET_ARN: r.cache.authSecretArn,
    ...tracingEnv(r),
  };
}

export interface MigrateEnvRefs extends KafkaEnvRefs {
  deadLetterTopic: pulumi.Input<string>;
  eventsPartitions: number;
  replicationFactor: number;
  db: DatabaseEnvRefs;
  masterUser: string;
  masterSecretArn: pulumi.Input<string>;
  /** The roles the Job creates: the processor's (IAM login) and the read-only one. */
  processorRole: string;
  readerRole: string;
}

export function migrateEnv(r: MigrateEnvRefs): Env {
  return {
    ...kafkaEnv(r),
    KAFKA_CLIENT_ID: "eventstack-migrate",
    DLQ_TOPIC: r.deadLetterTopic,
    KAFKA_TOPIC_PARTITIONS: String(r.eventsPartitions),
    KAFKA_TOPIC_REPLICATION: String(r.replicationFactor),
    ...pgEnv(r.db),
    PGUSER: r.masterUser,
    PG_AUTH: "password",
    PG_MASTER_SECRET_ARN: r.masterSecretArn,
    DB_PROCESSOR_ROLE: r.processorRole,
    DB_READER_ROLE: r.readerRole,
  };
}
