import { ConfigError } from "./errors.js";

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
  OTEL_SERVICE_NAME: "eventstack-processor",
  SHUTDOWN_TIMEOUT_MS: 25_000,
  DB_PROCESSOR_ROLE: "eventstack_processor",
  DB_READER_ROLE: "eventstack_reader",
} as const;

export type KafkaAuth = "none" | "msk-iam";
export type PgAuth = "password" | "iam";
export type PgTls = "disable" | "verify-full";

export interface Broker {
  host: string;
  port: number;
}

export interface Config {
  kafka: {
    brokers: Broker[];
    auth: KafkaAuth;
    /** Always true with msk-iam: MSK only offers IAM on its TLS listener (port 9098). */
    tls: boolean;
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
    /** Batch transactions in flight at once (consumer.ts, pipeline.ts), each on a connection of the pool. */
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
  logLevel: string;
  otel: { endpoint: string | undefined; serviceName: string };
  shutdownTimeoutMs: number;
  roles: { processor: string; reader: string };
  /** Test-only fault injection, see docs/processor.md. */
  faultAfterDbCommit: "exit" | undefined;
  /** Test hook: SIGKILL right after a batch's offset commit, before its cache write (docs/processor.md). */
  faultBeforeCacheWrite: "exit" | undefined;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+$/;

/**
 * Reads and validates the environment. Every problem is collected and reported at once; each message names
 * the variable, what was expected and what was found (tests assert these texts).
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };

  const int = (name: keyof typeof DEFAULTS | string, fallback: number | undefined, min: number, max: number) => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };
  const bool = (name: string, fallback: boolean) => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (raw === "true") return true;
    if (raw === "false") return false;
    problems.push(`${name} must be "true" or "false", got "${raw}"`);
    return fallback;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
    return fallback;
  };
  const matching = (name: string, pattern: RegExp, what: string, fallback: string) => {
    const raw = read(name) ?? fallback;
    if (!pattern.test(raw)) problems.push(`${name} must be ${what}, got "${raw}"`);
    return raw;
  };

  const bootstrapRaw = read("KAFKA_BOOTSTRAP") ?? DEFAULTS.KAFKA_BOOTSTRAP;
  const brokers: Broker[] = [];
  for (const entry of bootstrapRaw.split(",").map((s) => s.trim())) {
    const m = /^([^\s:]+):(\d{1,5})$/.exec(entry);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) {
      problems.push(`KAFKA_BOOTSTRAP must be a comma-separated list of host:port, got "${bootstrapRaw}"`);
      brokers.length = 0;
      break;
    }
    brokers.push({ host: m[1] as string, port });
  }

  const kafkaAuth = oneOf<KafkaAuth>("KAFKA_AUTH", ["none", "msk-iam"], DEFAULTS.KAFKA_AUTH);
  const kafkaTls = bool("KAFKA_TLS", DEFAULTS.KAFKA_TLS);
  if (kafkaAuth === "msk-iam" && read("KAFKA_TLS") === "false") {
    problems.push(`KAFKA_TLS cannot be "false" when KAFKA_AUTH is "msk-iam" (MSK serves IAM authentication on its TLS listener only)`);
  }
  const eventsTopic = matching("EVENTS_TOPIC", TOPIC, "a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)", DEFAULTS.EVENTS_TOPIC);
  const dlqTopic = matching("DLQ_TOPIC", TOPIC, "a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)", DEFAULTS.DLQ_TOPIC);
  if (eventsTopic === dlqTopic) problems.push(`DLQ_TOPIC must differ from EVENTS_TOPIC, both are "${eventsTopic}"`);

  const pgAuth = oneOf<PgAuth>("PG_AUTH", ["password", "iam"], DEFAULTS.PG_AUTH);
  let pgTls = oneOf<PgTls>("PG_TLS", ["disable", "verify-full"], DEFAULTS.PG_TLS);
  if (pgAuth === "iam") {
    if (read("PG_TLS") === "disable") {
      problems.push(`PG_TLS cannot be "disable" when PG_AUTH is "iam" (RDS accepts IAM auth tokens over TLS only)`);
    }
    pgTls = "verify-full";
  }
  const awsRegion = read("AWS_REGION") ?? read("AWS_DEFAULT_REGION");
  if (pgAuth === "iam" && !awsRegion) problems.push(`AWS_REGION is required when PG_AUTH is "iam" (the region that signs RDS auth tokens)`);
  if (kafkaAuth === "msk-iam" && !awsRegion) problems.push(`AWS_REGION is required when KAFKA_AUTH is "msk-iam" (the region that signs MSK auth tokens)`);

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

  const poolMax = int("PG_POOL_MAX", DEFAULTS.PG_POOL_MAX, 2, 100) as number;
  const batchTransactions = int("BATCH_TRANSACTIONS", DEFAULTS.BATCH_TRANSACTIONS, 1, 4) as number;
  if (poolMax <= batchTransactions) {
    problems.push(`PG_POOL_MAX must be greater than BATCH_TRANSACTIONS (each batch transaction holds a connection; the read API and the cache sync need another), got ${poolMax} and ${batchTransactions}`);
  }

  const config: Config = {
    kafka: {
      brokers,
      auth: kafkaAuth,
      tls: kafkaTls || kafkaAuth === "msk-iam",
      clientId: read("KAFKA_CLIENT_ID") ?? DEFAULTS.KAFKA_CLIENT_ID,
      eventsTopic,
      dlqTopic,
      groupId: read("CONSUMER_GROUP") ?? DEFAULTS.CONSUMER_GROUP,
      partitions: int("KAFKA_TOPIC_PARTITIONS", DEFAULTS.KAFKA_TOPIC_PARTITIONS, 1, 10_000) as number,
      replication: int("KAFKA_TOPIC_REPLICATION", undefined, 1, 7),
      batchMaxRecords: int("BATCH_MAX_RECORDS", DEFAULTS.BATCH_MAX_RECORDS, 1, 100_000) as number,
      fetchMaxBytes: int("KAFKA_FETCH_MAX_BYTES", DEFAULTS.KAFKA_FETCH_MAX_BYTES, 1024, 256 * 1024 * 1024) as number,
      sessionTimeoutMs: int("KAFKA_SESSION_TIMEOUT_MS", DEFAULTS.KAFKA_SESSION_TIMEOUT_MS, 6_000, 300_000) as number,
      // Above the fetch long poll (1 s: consumer.ts), which the broker holds open when there is nothing to return.
      requestTimeoutMs: int("KAFKA_REQUEST_TIMEOUT_MS", DEFAULTS.KAFKA_REQUEST_TIMEOUT_MS, 1_500, 300_000) as number,
    },
    pg: {
      host: read("PGHOST") ?? DEFAULTS.PGHOST,
      port: int("PGPORT", DEFAULTS.PGPORT, 1, 65535) as number,
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
      port: int("REDIS_PORT", DEFAULTS.REDIS_PORT, 1, 65535) as number,
      tls: bool("REDIS_TLS", DEFAULTS.REDIS_TLS),
      username: redisUsername,
      password: redisPassword,
      authSecretArn: redisSecretArn,
      keyPrefix: env.REDIS_KEY_PREFIX ?? DEFAULTS.REDIS_KEY_PREFIX,
      ttlSeconds: int("CACHE_TTL_SECONDS", DEFAULTS.CACHE_TTL_SECONDS, 60, 90 * 24 * 3600) as number,
    },
    http: {
      host: read("HOST") ?? DEFAULTS.HOST,
      port: int("PORT", DEFAULTS.PORT, 0, 65535) as number,
      maxBuckets: int("STATS_MAX_BUCKETS", DEFAULTS.STATS_MAX_BUCKETS, 1, 100_000) as number,
    },
    awsRegion,
    logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, DEFAULTS.LOG_LEVEL),
    otel: {
      endpoint: read("OTEL_EXPORTER_OTLP_ENDPOINT") ?? read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
      serviceName: read("OTEL_SERVICE_NAME") ?? DEFAULTS.OTEL_SERVICE_NAME,
    },
    shutdownTimeoutMs: int("SHUTDOWN_TIMEOUT_MS", DEFAULTS.SHUTDOWN_TIMEOUT_MS, 1_000, 600_000) as number,
    roles: {
      processor: matching("DB_PROCESSOR_ROLE", ROLE, "a lower-case PostgreSQL role name", DEFAULTS.DB_PROCESSOR_ROLE),
      reader: matching("DB_READER_ROLE", ROLE, "a lower-case PostgreSQL role name", DEFAULTS.DB_READER_ROLE),
    },
    faultAfterDbCommit: fault === "exit" ? "exit" : undefined,
    faultBeforeCacheWrite: faultCache === "exit" ? "exit" : undefined,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
