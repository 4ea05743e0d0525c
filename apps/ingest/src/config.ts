import { EnvReader, KAFKA_CLIENT_ID, KAFKA_CLIENT_ID_EXPECTED, KAFKA_TOPIC, KAFKA_TOPIC_EXPECTED, type Env, type KafkaConnection, type LogLevel } from "@eventstack/runtime";
import { ErrorCodes } from "./errors.js";

/**
 * Every default in one place. Local defaults point at the services `scripts/services.mjs` starts, so `npm start`
 * works on a laptop; the Kubernetes Deployment overrides what differs in AWS. docs/ingest.md lists each variable.
 */
/**
 * The most produce requests the one idempotent producer may have in flight. Each request carries a batch for every
 * partition it writes, so this is also the batches in flight per partition. A broker remembers the last 5 batches of
 * each producer and partition (`ProducerStateEntry.NUM_BATCHES_TO_RETAIN`, read with javap in the kafka-storage 3.9.1
 * (MSK's) and 4.1.1 (the local broker's) jars from Maven Central on 2026-12-06; Java's producer refuses `max.in.flight.requests.per.connection` above 5 with
 * idempotence for the same reason): a batch resent after more than 5 later ones landed is no longer recognised as a
 * duplicate and is refused out of order, so it would be answered 503 although it was stored.
 */
export const MAX_IN_FLIGHT_PER_PARTITION = 5;

export const DEFAULTS = {
  HOST: "0.0.0.0",
  PORT: 8080,
  LOG_LEVEL: "info",
  // One "request completed" line per this many successful requests; every 4xx/5xx is logged (runtime request-log.ts).
  REQUEST_LOG_EVERY: 100,
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
  // Not configurable: longer than the 60 s idle timeout of AWS load balancers, so the balancer, not us, closes
  // idle connections (closing first races with a request the balancer is already sending).
  HTTP_KEEP_ALIVE_TIMEOUT_MS: 65_000,
  // The whole request (headers and body) must arrive within this of its first byte; slow clients are cut off
  // with 408 (src/http-server.ts makes Node hold to it).
  HTTP_REQUEST_TIMEOUT_MS: 30_000,
} as const;

export interface Config {
  http: {
    host: string;
    port: number;
    keepAliveTimeoutMs: number;
    requestTimeoutMs: number;
  };
  /** The `service` of every log line and the default OpenTelemetry service.name. */
  serviceName: string;
  logLevel: LogLevel;
  /** One request log line per this many requests answered below 400; errors are always logged. */
  requestLogEvery: number;
  kafka: KafkaConnection & {
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
  shutdown: { timeoutMs: number; delayMs: number };
}

const SERVICE_NAME = "eventstack-ingest";

/**
 * Reads and validates the environment. Every problem is collected and reported at once; each message names the
 * variable, what was expected and what was found (test/config.test.ts asserts these texts; @eventstack/runtime's
 * EnvReader writes them, the same for both services).
 */
export function loadConfig(env: Env = process.env): Config {
  const e = new EnvReader(env);
  const int = (name: string, fallback: number, min: number, max: number) => e.int(name, fallback, min, max);
  const read = (name: string) => e.read(name);
  const problems = e.problems;
  const kafka = e.kafkaConnection(DEFAULTS);

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
    serviceName: SERVICE_NAME,
    logLevel: e.logLevel(DEFAULTS.LOG_LEVEL),
    requestLogEvery: int("REQUEST_LOG_EVERY", DEFAULTS.REQUEST_LOG_EVERY, 1, 1_000_000),
    kafka: {
      ...kafka,
      clientId: e.matching("KAFKA_CLIENT_ID", KAFKA_CLIENT_ID, KAFKA_CLIENT_ID_EXPECTED, DEFAULTS.KAFKA_CLIENT_ID),
      topic: e.matching("EVENTS_TOPIC", KAFKA_TOPIC, KAFKA_TOPIC_EXPECTED, DEFAULTS.EVENTS_TOPIC),
      ackTimeoutMs: int("KAFKA_ACK_TIMEOUT_MS", DEFAULTS.KAFKA_ACK_TIMEOUT_MS, 100, 120_000),
      connectTimeoutMs: int("KAFKA_CONNECT_TIMEOUT_MS", DEFAULTS.KAFKA_CONNECT_TIMEOUT_MS, 100, 60_000),
      maxBatchBytes,
      producers: int("KAFKA_PRODUCERS", DEFAULTS.KAFKA_PRODUCERS, 1, MAX_IN_FLIGHT_PER_PARTITION),
    },
    limits: {
      maxBodyBytes: int("MAX_BODY_BYTES", DEFAULTS.MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
      maxBatchEvents,
      maxEventDataBytes,
      maxPendingEvents,
    },
    retryAfterSeconds: int("RETRY_AFTER_SECONDS", DEFAULTS.RETRY_AFTER_SECONDS, 1, 3600),
    awsRegion: e.awsRegion(),
    shutdown: {
      timeoutMs: int("SHUTDOWN_TIMEOUT_MS", DEFAULTS.SHUTDOWN_TIMEOUT_MS, 1_000, 600_000),
      delayMs: int("SHUTDOWN_DELAY_MS", DEFAULTS.SHUTDOWN_DELAY_MS, 0, 60_000),
    },
  };
  if (config.shutdown.delayMs >= config.shutdown.timeoutMs) {
    problems.push(`SHUTDOWN_DELAY_MS (${config.shutdown.delayMs}) must be less than SHUTDOWN_TIMEOUT_MS (${config.shutdown.timeoutMs}), or in-flight requests get no time to finish`);
  }
  e.finish(ErrorCodes.CONFIG);
  return config;
}
