/**
 * Every error the ingest service raises on purpose carries a stable code. Logs, alerts, clients and tests match
 * on the code; the wording is for people and may improve without breaking anyone.
 *
 * The HTTP-facing codes are also the `code` member of the RFC 9457 problem documents the API returns (see
 * @eventstack/runtime's problem.ts and docs/problems.md). The error classes are the runtime's: CodedError and
 * ConfigError.
 */
import { CodedError } from "@eventstack/runtime";

export const ErrorCodes = {
  /** An environment variable is missing or malformed; the service refuses to start. */
  CONFIG: "INGEST_CONFIG",
  /** 400: one or more events of the request are not valid CloudEvents 1.0; nothing was produced. */
  INVALID_EVENTS: "INGEST_INVALID_EVENTS",
  /** 400: the body is not parseable as the declared format (for example, not JSON). */
  MALFORMED_BODY: "INGEST_MALFORMED_BODY",
  /** 400: the request is malformed at the HTTP level (for example, a wrong Content-Length). */
  BAD_REQUEST: "INGEST_BAD_REQUEST",
  /** 408: the whole request did not arrive within HTTP_REQUEST_TIMEOUT_MS of its first byte. */
  REQUEST_TIMEOUT: "INGEST_REQUEST_TIMEOUT",
  /** 413: the request body is larger than MAX_BODY_BYTES. */
  BODY_TOO_LARGE: "INGEST_BODY_TOO_LARGE",
  /** 413: a batch holds more than MAX_BATCH_EVENTS events. */
  BATCH_TOO_LARGE: "INGEST_BATCH_TOO_LARGE",
  /** 413: an event's data is larger than MAX_EVENT_DATA_BYTES. */
  EVENT_TOO_LARGE: "INGEST_EVENT_TOO_LARGE",
  /** 415: the request is neither a structured, batched nor binary-mode CloudEvent. */
  UNSUPPORTED_MEDIA_TYPE: "INGEST_UNSUPPORTED_MEDIA_TYPE",
  /** 429: more events are waiting for Kafka than MAX_PENDING_EVENTS allows; the request was shed. */
  OVERLOADED: "INGEST_OVERLOADED",
  /** 503: Kafka did not acknowledge the events within KAFKA_ACK_TIMEOUT_MS. */
  KAFKA_TIMEOUT: "INGEST_KAFKA_TIMEOUT",
  /** 503: Kafka refused or failed the produce request. */
  KAFKA_UNAVAILABLE: "INGEST_KAFKA_UNAVAILABLE",
  /** 503: the service is shutting down and takes no new events. */
  SHUTTING_DOWN: "INGEST_SHUTTING_DOWN",
  /** 404 / 405: no such route. */
  NOT_FOUND: "INGEST_NOT_FOUND",
  /** 500: a bug; the response carries no detail, the log does. */
  INTERNAL: "INGEST_INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * The events were not confirmed by Kafka. They may or may not have been written (a request can time out after
 * the broker appended it), which is why the answer is 503 "retry", never 202: a retry can only duplicate an
 * event, which consumers absorb by its (source, id); a false 202 would lose it.
 */
export class KafkaUnavailableError extends CodedError<ErrorCode> {
  constructor(code: typeof ErrorCodes.KAFKA_TIMEOUT | typeof ErrorCodes.KAFKA_UNAVAILABLE, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "KafkaUnavailableError";
  }
}

/** Load shedding: the producer's queue is full. Nothing of the request was queued. */
export class OverloadedError extends CodedError<ErrorCode> {
  constructor(message: string) {
    super(ErrorCodes.OVERLOADED, message);
    this.name = "OverloadedError";
  }
}

/** The producer was closed (shutdown) before the events were queued. */
export class ShuttingDownError extends CodedError<ErrorCode> {
  constructor() {
    super(ErrorCodes.SHUTTING_DOWN, "the service is shutting down");
    this.name = "ShuttingDownError";
  }
}
