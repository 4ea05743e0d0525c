/**
 * Every error the processor raises on purpose carries a stable code, so logs, alerts and tests can match on
 * the code rather than on the wording. The wording is still exact and tested where an operator reads it.
 *
 * The HTTP-facing codes are also the `code` member of the read API's RFC 9457 problem documents
 * (@eventstack/runtime's problem.ts; docs/problems.md is the one table of types, titles and codes).
 */
import { CodedError } from "@eventstack/runtime";

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
  /** 400: a query parameter of the read API is missing, malformed, given twice or out of range. */
  INVALID_QUERY_PARAMETER: "PROCESSOR_INVALID_QUERY_PARAMETER",
  /** 400 / 431: the request is malformed at the HTTP level (a bad Content-Length, an undecodable path, headers too large). */
  BAD_REQUEST: "PROCESSOR_BAD_REQUEST",
  /** 404: no such route. */
  NOT_FOUND: "PROCESSOR_NOT_FOUND",
  /** 408: the whole request did not arrive within the request timeout (15 s). */
  REQUEST_TIMEOUT: "PROCESSOR_REQUEST_TIMEOUT",
  /** 413: the request body is larger than the read API takes (1 KiB: no route reads a body). */
  BODY_TOO_LARGE: "PROCESSOR_BODY_TOO_LARGE",
  /** 500: a bug or an unavailable store; the response carries no detail, the log does. */
  INTERNAL: "PROCESSOR_INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The processor's coded errors (CodedError with the processor's codes). */
export class ProcessorError extends CodedError<ErrorCode> {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ProcessorError";
  }
}
