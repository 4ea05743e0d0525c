import { ConfigError } from "./errors.js";

/**
 * Every default in one place. Local defaults point at the services `scripts/services.mjs` starts, so `npm start`
 * works on a laptop; the Kubernetes Deployment overrides what differs in AWS. docs/ingest.md lists each variable.
 */
export const DEFAULTS = {
  HOST: "0.0.0.0",
  PORT: 8080,
  LOG_LEVEL: "info",
  KAFKA_BOOTSTRAP: "127.0.0.1:9092",
  KAFKA_AUTH: "none",
  KAFKA_TLS: false,
  KAFKA_CLIENT_ID: "eventstack-ingest",
  EVENTS_TOPIC: "events",
  KAFKA_ACK_TIMEOUT_MS: 5_000,
  KAFKA_CONNECT_TIMEOUT_MS: 3_000,
  // Below Kafka's default message.max.bytes (1048588, also MSK's), which bounds one partition's record batch;
  // capping the whole produce request below it keeps every batch inside it whatever the partitioning.
  KAFKA_MAX_BATCH_BYTES: 1_000_000,
  // Produce requests in flight at once from the one idempotent producer (src/kafka.ts has the measurement).
  KAFKA_PRODUCERS: 4,
  MAX_BODY_BYTES: 1024 * 1024,
  MAX_BATCH_EVENTS: 500,
  MAX_EVENT_DATA_BYTES: 64 * 1024,
  MAX_PENDING_EVENTS: 10_000,
  RETRY_AFTER_SECONDS: 5,
  SHUTDOWN_TIMEOUT_MS: 25_000,
  SHUTDOWN_DELAY_MS: 0,
  OTEL_SERVICE_NAME: "eventstack-ingest",
  // Not configurable: longer than the 60 s idle timeout of AWS load balancers, so the balancer, not us, closes
  // idle connections (closing first races with a request the balancer is already sending).
  HTTP_KEEP_ALIVE_TIMEOUT_MS: 65_000,
  // The whole request (headers and body) must arrive within this of its first byte; slow clients are cut off
  // with 408 (src/http-server.ts makes Node hold to it).
  HTTP_REQUEST_TIMEOUT_MS: 30_000,
} as const;

export type KafkaAuth = "none" | "msk-iam";

export interface Broker {
  host: string;
  port: number;
}

export interface Config {
  http: {
    host: string;
    port: number;
    keepAliveTimeoutMs: number;
    requestTimeoutMs: number;
  };
  logLevel: string;
  kafka: {
    brokers: Broker[];
    auth: KafkaAuth;
    /** Always true with msk-iam: MSK only offers IAM on its TLS listener (port 9098). */
    tls: boolean;
    clientId: string;
    topic: string;
    ackTimeoutMs: number;
    connectTimeoutMs: number;
    maxBatchBytes: number;
    /** Produce requests in flight at once from the one idempotent producer (KAFKA_PRODUCERS). */
    producers: number;
  };
  limits: {
    maxBodyBytes: number;
    maxBatchEvents: number;
    maxEventDataBytes: number;
    maxPendingEvents: number;
  };
  retryAfterSeconds: number;
  awsRegion: string | undefined;
  /** OTLP/HTTP: `endpoint` is the base URL (/v1/traces is appended), `tracesEndpoint` the full traces URL. */
  otel: { endpoint: string | undefined; tracesEndpoint: string | undefined; serviceName: string };
  shutdown: { timeoutMs: number; delayMs: number };
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
// Kafka client ids travel in every request header and end up in broker quotas and logs: keep them tame.
const CLIENT_ID = /^[a-zA-Z0-9._-]{1,255}$/;

/**
 * Reads and validates the environment. Every problem is collected and reported at once; each message names the
 * variable, what was expected and what was found (test/config.test.ts asserts these texts).
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
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
  const matching = (name: string, pattern: RegExp, what: string, fallback: string): string => {
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
  const awsRegion = read("AWS_REGION") ?? read("AWS_DEFAULT_REGION");
  if (kafkaAuth === "msk-iam" && awsRegion === undefined) {
    problems.push(`AWS_REGION is required when KAFKA_AUTH is "msk-iam" (the region that signs MSK auth tokens)`);
  }

  const maxBatchBytes = int("KAFKA_MAX_BATCH_BYTES", DEFAULTS.KAFKA_MAX_BATCH_BYTES, 64 * 1024, 64 * 1024 * 1024);
  const maxBatchEvents = int("MAX_BATCH_EVENTS", DEFAULTS.MAX_BATCH_EVENTS, 1, 100_000);
  const maxEventDataBytes = int("MAX_EVENT_DATA_BYTES", DEFAULTS.MAX_EVENT_DATA_BYTES, 1, 64 * 1024 * 1024);
  const maxPendingEvents = int("MAX_PENDING_EVENTS", DEFAULTS.MAX_PENDING_EVENTS, 1, 10_000_000);
  if (maxPendingEvents < maxBatchEvents) {
    problems.push(`MAX_PENDING_EVENTS (${maxPendingEvents}) must be at least MAX_BATCH_EVENTS (${maxBatchEvents}), or a full batch could never be accepted`);
  }
  if (maxEventDataBytes >= maxBatchBytes) {
    problems.push(`MAX_EVENT_DATA_BYTES (${maxEventDataBytes}) must be less than KAFKA_MAX_BATCH_BYTES (${maxBatchBytes}), which must also hold the event's headers`);
  }

  const config: Config = {
    http: {
      host: read("HOST") ?? DEFAULTS.HOST,
      port: int("PORT", DEFAULTS.PORT, 0, 65535),
      keepAliveTimeoutMs: DEFAULTS.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      requestTimeoutMs: int("HTTP_REQUEST_TIMEOUT_MS", DEFAULTS.HTTP_REQUEST_TIMEOUT_MS, 1_000, 300_000),
    },
    logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, DEFAULTS.LOG_LEVEL),
    kafka: {
      brokers,
      auth: kafkaAuth,
      tls: kafkaTls || kafkaAuth === "msk-iam",
      clientId: matching("KAFKA_CLIENT_ID", CLIENT_ID, "1-255 of a-z A-Z 0-9 . _ -", DEFAULTS.KAFKA_CLIENT_ID),
      topic: matching("EVENTS_TOPIC", TOPIC, "a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)", DEFAULTS.EVENTS_TOPIC),
      ackTimeoutMs: int("KAFKA_ACK_TIMEOUT_MS", DEFAULTS.KAFKA_ACK_TIMEOUT_MS, 100, 120_000),
      connectTimeoutMs: int("KAFKA_CONNECT_TIMEOUT_MS", DEFAULTS.KAFKA_CONNECT_TIMEOUT_MS, 100, 60_000),
      maxBatchBytes,
      producers: int("KAFKA_PRODUCERS", DEFAULTS.KAFKA_PRODUCERS, 1, 16),
    },
    limits: {
      maxBodyBytes: int("MAX_BODY_BYTES", DEFAULTS.MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
      maxBatchEvents,
      maxEventDataBytes,
      maxPendingEvents,
    },
    retryAfterSeconds: int("RETRY_AFTER_SECONDS", DEFAULTS.RETRY_AFTER_SECONDS, 1, 3600),
    awsRegion,
    otel: {
      endpoint: read("OTEL_EXPORTER_OTLP_ENDPOINT"),
      tracesEndpoint: read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
      serviceName: read("OTEL_SERVICE_NAME") ?? DEFAULTS.OTEL_SERVICE_NAME,
    },
    shutdown: {
      timeoutMs: int("SHUTDOWN_TIMEOUT_MS", DEFAULTS.SHUTDOWN_TIMEOUT_MS, 1_000, 600_000),
      delayMs: int("SHUTDOWN_DELAY_MS", DEFAULTS.SHUTDOWN_DELAY_MS, 0, 60_000),
    },
  };
  if (config.shutdown.delayMs >= config.shutdown.timeoutMs) {
    problems.push(`SHUTDOWN_DELAY_MS (${config.shutdown.delayMs}) must be less than SHUTDOWN_TIMEOUT_MS (${config.shutdown.timeoutMs}), or in-flight requests get no time to finish`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
