/**
 * Every error the processor raises on purpose carries a stable code, so logs, alerts and tests can match on
 * the code rather than on the wording. The wording is still exact and tested where an operator reads it.
 */
export const ErrorCodes = {
  /** An environment variable is missing or malformed (start-up refuses to run). */
  CONFIG: "PROCESSOR_CONFIG",
  /** A Kafka record could not be turned into a CloudEvent (bad bytes, bad JSON, not a CloudEvent). */
  UNDECODABLE: "PROCESSOR_UNDECODABLE",
  /** A record decoded, but is not a valid CloudEvents 1.0 event. */
  INVALID_EVENT: "PROCESSOR_INVALID_EVENT",
  /** PostgreSQL refused a single event for a reason retrying cannot fix (found by bisecting a batch). */
  STORE_REJECTED: "PROCESSOR_STORE_REJECTED",
  /** A migration failed; the transaction was rolled back. */
  MIGRATION: "PROCESSOR_MIGRATION",
  /** The consumer stopped abnormally (fetching failed for good). */
  CONSUMER: "PROCESSOR_CONSUMER",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class ProcessorError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProcessorError";
    this.code = code;
  }
}

/** Several configuration problems reported at once, so an operator fixes them in one round trip. */
export class ConfigError extends ProcessorError {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(ErrorCodes.CONFIG, `invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}
