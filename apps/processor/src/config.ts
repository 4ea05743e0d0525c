import { EnvReader, KAFKA_TOPIC, KAFKA_TOPIC_EXPECTED, type Env, type KafkaConnection, type LogLevel } from "@eventstack/runtime";
import { ErrorCodes } from "./errors.js";

/**
 * Every default in one place. Local defaults point at the services `scripts/services.mjs` starts, so
 * `npm start` works on a laptop; the Kubernetes Deployment overrides what differs in AWS.
 */
export const DEFAULTS = {
  KAFKA_BOOTSTRAP: "127.0.0.1:9092",
  KAFKA_AUTH: "none",
  KAFKA_TLS: false,
  KAFKA_CLIENT_ID: "eventstack-processor",
  EVENTS_TOPIC: "events",
  DLQ_TOPIC: "events.dlq",
  CONSUMER_GROUP: "eventstack-processor",
  KAFKA_TOPIC_PARTITIONS: 6,
  BATCH_MAX_RECORDS: 5000,
  BATCH_TRANSACTIONS: 2,
  KAFKA_FETCH_MAX_BYTES: 1024 * 1024,
  KAFKA_SESSION_TIMEOUT_MS: 30_000,
  KAFKA_REQUEST_TIMEOUT_MS: 30_000,
  PGHOST: "127.0.0.1",
  PGPORT: 5432,
  PGDATABASE: "postgres",
  PGUSER: "postgres",
  PG_AUTH: "password",
  PG_TLS: "disable",
  PG_POOL_MAX: 10,
  REDIS_HOST: "127.0.0.1",
  REDIS_PORT: 6379,
  REDIS_TLS: false,
  REDIS_KEY_PREFIX: "eventstack:",
  CACHE_TTL_SECONDS: 2 * 24 * 3600,
  HOST: "0.0.0.0",
  PORT: 8081,
  STATS_MAX_BUCKETS: 1440,
  LOG_LEVEL: "info",
  // One "request completed" line per this many successful requests; every 4xx/5xx is logged (runtime request-log.ts).
  REQUEST_LOG_EVERY: 100,
  SHUTDOWN_TIMEOUT_MS: 25_000,
  DB_PROCESSOR_ROLE: "eventstack_processor",
  DB_READER_ROLE: "eventstack_reader",
} as const;

export type PgAuth = "password" | "iam";
export type PgTls = "disable" | "verify-full";

export interface Config {
  kafka: KafkaConnection & {
    clientId: string;
    eventsTopic: string;
    dlqTopic: string;
    groupId: string;
    /** Used by `migrate` only. */
    partitions: number;
    /** Used by `migrate` only; undefined means min(3, number of brokers). */
    replication: number | undefined;
    batchMaxRecords: number;
    fetchMaxBytes: number;
    sessionTimeoutMs: number;
    /** How long a request to a broker may go unanswered before it fails (and a Fetch is tried again). */
    requestTimeoutMs: number;
  };
  pg: {
    host: string;
    port: number;
    database: string;
    user: string;
    password: string | undefined;
    auth: PgAuth;
    /** verify-full whenever auth is iam: RDS rejects IAM tokens over plaintext. */
    tls: PgTls;
    caFile: string | undefined;
    poolMax: number;
    /** Batch transactions in flight at once (consume/processor.ts, pipeline.ts), each on a connection of the pool. */
    batchTransactions: number;
    /** Secrets Manager secret {"username","password"} to log in with (secrets.ts); the migrate Job's master secret. */
    passwordSecretArn: string | undefined;
    /** Whether PGUSER was given (otherwise the user comes from the secret, or the default). */
    userFromEnv: boolean;
  };
  redis: {
    host: string;
    port: number;
    tls: boolean;
    username: string | undefined;
    password: string | undefined;
    /** Secrets Manager secret {"username","password"} of the ElastiCache RBAC user (secrets.ts). */
    authSecretArn: string | undefined;
    keyPrefix: string;
    ttlSeconds: number;
  };
  http: { host: string; port: number; maxBuckets: number };
  awsRegion: string | undefined;
  /** The `service` of every log line and the default OpenTelemetry service.name. */
  serviceName: string;
  logLevel: LogLevel;
  /** One request log line per this many requests answered below 400; errors are always logged. */
  requestLogEvery: number;
  shutdownTimeoutMs: number;
  roles: { processor: string; reader: string };
  /** Test-only fault injection, see docs/processor.md. */
  faultAfterDbCommit: "exit" | undefined;
  /** Test hook: SIGKILL right after a batch's offset commit, before its cache write (docs/processor.md). */
  faultBeforeCacheWrite: "exit" | undefined;
}

const SERVICE_NAME = "eventstack-processor";
const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+$/;

/**
 * Reads and validates the environment. Every problem is collected and reported at once; each message names
 * the variable, what was expected and what was found (tests assert these texts; @eventstack/runtime's EnvReader
 * writes them, the same for both services).
 */
export function loadConfig(env: Env = process.env): Config {
  const e = new EnvReader(env);
  const problems = e.problems;
  const read = (name: string) => e.read(name);
  const int = (name: string, fallback: number, min: number, max: number) => e.int(name, fallback, min, max);
  const bool = (name: string, fallback: boolean) => e.bool(name, fallback);
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => e.oneOf(name, allowed, fallback);
  const matching = (name: string, pattern: RegExp, what: string, fallback: string) => e.matching(name, pattern, what, fallback);

  const kafka = e.kafkaConnection(DEFAULTS);
  const eventsTopic = matching("EVENTS_TOPIC", KAFKA_TOPIC, KAFKA_TOPIC_EXPECTED, DEFAULTS.EVENTS_TOPIC);
  const dlqTopic = matching("DLQ_TOPIC", KAFKA_TOPIC, KAFKA_TOPIC_EXPECTED, DEFAULTS.DLQ_TOPIC);
  if (eventsTopic === dlqTopic) problems.push(`DLQ_TOPIC must differ from EVENTS_TOPIC, both are "${eventsTopic}"`);

  const pgAuth = oneOf<PgAuth>("PG_AUTH", ["password", "iam"], DEFAULTS.PG_AUTH);
  let pgTls = oneOf<PgTls>("PG_TLS", ["disable", "verify-full"], DEFAULTS.PG_TLS);
  if (pgAuth === "iam") {
    if (read("PG_TLS") === "disable") {
      problems.push(`PG_TLS cannot be "disable" when PG_AUTH is "iam" (RDS accepts IAM auth tokens over TLS only)`);
    }
    pgTls = "verify-full";
  }
  const awsRegion = e.awsRegion();
  if (pgAuth === "iam" && !awsRegion) problems.push(`AWS_REGION is required when PG_AUTH is "iam" (the region that signs RDS auth tokens)`);

  const redisUsername = read("REDIS_USERNAME");
  const redisPassword = read("REDIS_PASSWORD");
  if (redisUsername && !redisPassword) problems.push(`REDIS_PASSWORD is required when REDIS_USERNAME is set (ElastiCache RBAC users authenticate with both)`);
  const secretArn = (name: string) => {
    const raw = read(name);
    if (raw !== undefined && !SECRET_ARN.test(raw)) problems.push(`${name} must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>), got "${raw}"`);
    return raw;
  };
  const redisSecretArn = secretArn("REDIS_AUTH_SECRET_ARN");
  if (redisSecretArn && (redisUsername || redisPassword)) {
    problems.push(`REDIS_AUTH_SECRET_ARN cannot be combined with REDIS_USERNAME or REDIS_PASSWORD (the secret holds both)`);
  }
  const pgSecretArn = secretArn("PG_MASTER_SECRET_ARN");
  if (pgSecretArn && read("PGPASSWORD")) problems.push(`PG_MASTER_SECRET_ARN cannot be combined with PGPASSWORD (the secret holds the password)`);
  if (pgSecretArn && pgAuth === "iam") problems.push(`PG_MASTER_SECRET_ARN cannot be combined with PG_AUTH "iam" (IAM authentication uses no password)`);

  const fault = read("PROCESSOR_FAULT_AFTER_DB_COMMIT");
  if (fault !== undefined && fault !== "exit") problems.push(`PROCESSOR_FAULT_AFTER_DB_COMMIT must be "exit" or unset, got "${fault}"`);
  const faultCache = read("PROCESSOR_FAULT_BEFORE_CACHE_WRITE");
  if (faultCache !== undefined && faultCache !== "exit") problems.push(`PROCESSOR_FAULT_BEFORE_CACHE_WRITE must be "exit" or unset, got "${faultCache}"`);

  const poolMax = int("PG_POOL_MAX", DEFAULTS.PG_POOL_MAX, 2, 100);
  const batchTransactions = int("BATCH_TRANSACTIONS", DEFAULTS.BATCH_TRANSACTIONS, 1, 4);
  if (poolMax <= batchTransactions) {
    problems.push(`PG_POOL_MAX must be greater than BATCH_TRANSACTIONS (each batch transaction holds a connection; the read API and the cache sync need another), got ${poolMax} and ${batchTransactions}`);
  }

  const config: Config = {
    kafka: {
      ...kafka,
      clientId: read("KAFKA_CLIENT_ID") ?? DEFAULTS.KAFKA_CLIENT_ID,
      eventsTopic,
      dlqTopic,
      groupId: read("CONSUMER_GROUP") ?? DEFAULTS.CONSUMER_GROUP,
      partitions: int("KAFKA_TOPIC_PARTITIONS", DEFAULTS.KAFKA_TOPIC_PARTITIONS, 1, 10_000),
      replication: e.int("KAFKA_TOPIC_REPLICATION", undefined, 1, 7),
      batchMaxRecords: int("BATCH_MAX_RECORDS", DEFAULTS.BATCH_MAX_RECORDS, 1, 100_000),
      fetchMaxBytes: int("KAFKA_FETCH_MAX_BYTES", DEFAULTS.KAFKA_FETCH_MAX_BYTES, 1024, 256 * 1024 * 1024),
      sessionTimeoutMs: int("KAFKA_SESSION_TIMEOUT_MS", DEFAULTS.KAFKA_SESSION_TIMEOUT_MS, 6_000, 300_000),
      // Above the fetch long poll (1 s: consume/defaults.ts), which the broker holds open when there is nothing to return.
      requestTimeoutMs: int("KAFKA_REQUEST_TIMEOUT_MS", DEFAULTS.KAFKA_REQUEST_TIMEOUT_MS, 1_500, 300_000),
    },
    pg: {
      host: read("PGHOST") ?? DEFAULTS.PGHOST,
      port: int("PGPORT", DEFAULTS.PGPORT, 1, 65535),
      database: read("PGDATABASE") ?? DEFAULTS.PGDATABASE,
      user: read("PGUSER") ?? DEFAULTS.PGUSER,
      password: read("PGPASSWORD"),
      auth: pgAuth,
      tls: pgTls,
      caFile: read("PG_CA_FILE"),
      poolMax,
      batchTransactions,
      passwordSecretArn: pgSecretArn,
      userFromEnv: read("PGUSER") !== undefined,
    },
    redis: {
      host: read("REDIS_HOST") ?? DEFAULTS.REDIS_HOST,
      port: int("REDIS_PORT", DEFAULTS.REDIS_PORT, 1, 65535),
      tls: bool("REDIS_TLS", DEFAULTS.REDIS_TLS),
      username: redisUsername,
      password: redisPassword,
      authSecretArn: redisSecretArn,
      keyPrefix: env.REDIS_KEY_PREFIX ?? DEFAULTS.REDIS_KEY_PREFIX,
      ttlSeconds: int("CACHE_TTL_SECONDS", DEFAULTS.CACHE_TTL_SECONDS, 60, 90 * 24 * 3600),
    },
    http: {
      host: read("HOST") ?? DEFAULTS.HOST,
      port: int("PORT", DEFAULTS.PORT, 0, 65535),
      maxBuckets: int("STATS_MAX_BUCKETS", DEFAULTS.STATS_MAX_BUCKETS, 1, 100_000),
    },
    awsRegion,
    serviceName: SERVICE_NAME,
    logLevel: e.logLevel(DEFAULTS.LOG_LEVEL),
    requestLogEvery: int("REQUEST_LOG_EVERY", DEFAULTS.REQUEST_LOG_EVERY, 1, 1_000_000),
    shutdownTimeoutMs: int("SHUTDOWN_TIMEOUT_MS", DEFAULTS.SHUTDOWN_TIMEOUT_MS, 1_000, 600_000),
    roles: {
      processor: matching("DB_PROCESSOR_ROLE", ROLE, "a lower-case PostgreSQL role name", DEFAULTS.DB_PROCESSOR_ROLE),
      reader: matching("DB_READER_ROLE", ROLE, "a lower-case PostgreSQL role name", DEFAULTS.DB_READER_ROLE),
    },
    faultAfterDbCommit: fault === "exit" ? "exit" : undefined,
    faultBeforeCacheWrite: faultCache === "exit" ? "exit" : undefined,
  };
  e.finish(ErrorCodes.CONFIG);
  return config;
}
