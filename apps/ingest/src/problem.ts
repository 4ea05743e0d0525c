/**
 * RFC 9457 problem details (`application/problem+json`), the body of every 4xx and 5xx answer.
 *
 * Members: the RFC's `type`, `title`, `status`, `detail`, `instance`, plus two extensions: `code` (the stable
 * error code from errors.ts) and `requestId` (also in the X-Request-Id response header and in the log line), and,
 * for event problems, `errors`: one entry per problem with the event's `index` in the batch (0 outside batch
 * mode, null when the problem concerns the whole body), the `attribute` and the `detail`.
 *
 * `type` is a URN per code rather than a URL: it identifies the problem without promising a page; docs/ingest.md
 * documents each.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { EventProblem } from "@eventstack/contract";
import { ErrorCodes, type ErrorCode } from "./errors.js";

export interface ProblemError {
  index: number | null;
  attribute: string | null;
  detail: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ErrorCode;
  requestId: string;
  errors?: ProblemError[];
}

const TITLES: Record<ErrorCode, string> = {
  [ErrorCodes.CONFIG]: "Invalid configuration",
  [ErrorCodes.INVALID_EVENTS]: "Invalid CloudEvents",
  [ErrorCodes.MALFORMED_BODY]: "Malformed request body",
  [ErrorCodes.BAD_REQUEST]: "Bad request",
  [ErrorCodes.REQUEST_TIMEOUT]: "Request timeout",
  [ErrorCodes.BODY_TOO_LARGE]: "Request body too large",
  [ErrorCodes.BATCH_TOO_LARGE]: "Batch too large",
  [ErrorCodes.EVENT_TOO_LARGE]: "Event too large",
  [ErrorCodes.UNSUPPORTED_MEDIA_TYPE]: "Unsupported media type",
  [ErrorCodes.OVERLOADED]: "Too many events waiting",
  [ErrorCodes.KAFKA_TIMEOUT]: "Kafka did not acknowledge in time",
  [ErrorCodes.KAFKA_UNAVAILABLE]: "Kafka unavailable",
  [ErrorCodes.SHUTTING_DOWN]: "Shutting down",
  [ErrorCodes.NOT_FOUND]: "Not found",
  [ErrorCodes.INTERNAL]: "Internal error",
};

/** `INGEST_INVALID_EVENTS` → `urn:eventstack:problem:invalid-events` */
export function problemType(code: ErrorCode): string {
  return `urn:eventstack:problem:${code.replace(/^INGEST_/, "").toLowerCase().replace(/_/g, "-")}`;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** JSON schema of a problem response, for fastify's serializer and as the contract's documentation. */
export const problemSchema = {
  type: "object",
  required: ["type", "title", "status", "detail", "instance", "code", "requestId"],
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    instance: { type: "string" },
    code: { type: "string" },
    requestId: { type: "string" },
    errors: {
      type: "array",
      items: {
        type: "object",
        required: ["index", "attribute", "detail"],
        properties: {
          index: { type: ["integer", "null"] },
          attribute: { type: ["string", "null"] },
          detail: { type: "string" },
        },
      },
    },
  },
} as const;

/** The members every problem has; `sendProblem` adds `errors`, and src/http-server.ts writes it on a raw socket. */
export function problemDocument(status: number, code: ErrorCode, detail: string, instance: string, requestId: string): Problem {
  return { type: problemType(code), title: TITLES[code], status, detail, instance, code, requestId };
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  detail: string,
  errors?: EventProblem[] | ProblemError[],
): FastifyReply {
  const body = problemDocument(status, code, detail, request.url, request.id);
  if (errors !== undefined) body.errors = errors.map(({ index, attribute, detail: d }) => ({ index, attribute, detail: d }));
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(body);
}
