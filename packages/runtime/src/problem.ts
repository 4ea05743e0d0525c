/**
 * RFC 9457 problem details (`application/problem+json`), the body of every 4xx and 5xx answer of both services.
 *
 * One scheme for `type`: `urn:eventstack:problem:<slug>`, where the slug is the error code without its service
 * prefix, lower-case, `_` as `-` (`INGEST_NOT_FOUND` and `PROCESSOR_NOT_FOUND` → `urn:eventstack:problem:not-found`).
 * The same problem has the same type in both services; `code` says which service raised it. A URN identifies the
 * problem without promising a page; docs/problems.md is the one table of types, titles and codes.
 *
 * Members: `type`, `title`, `status`, `detail`, `instance` (the request's path and query, or `urn:uuid:<id>` for a
 * request refused before routing), and two extensions on every problem: `code` (the stable error code) and
 * `requestId` (also the X-Request-Id response header and the `requestId` of the request's log lines). Some types
 * add one more member, listed in docs/problems.md: `errors` (ingest's event problems) or `invalid-params`
 * (the processor's query parameter problems).
 */

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Every problem type of either service, by slug, with its title (the same for every occurrence of the type). */
export const PROBLEM_TITLES = {
  "invalid-events": "Invalid CloudEvents",
  "malformed-body": "Malformed request body",
  "invalid-query-parameter": "Invalid query parameter",
  "bad-request": "Bad request",
  "not-found": "Not found",
  "request-timeout": "Request timeout",
  "body-too-large": "Request body too large",
  "batch-too-large": "Batch too large",
  "event-too-large": "Event too large",
  "unsupported-media-type": "Unsupported media type",
  overloaded: "Too many events waiting",
  "kafka-timeout": "Kafka did not acknowledge in time",
  "kafka-unavailable": "Kafka unavailable",
  "shutting-down": "Shutting down",
  internal: "Internal error",
  config: "Invalid configuration",
} as const;

export type ProblemSlug = keyof typeof PROBLEM_TITLES;

/** `INGEST_INVALID_EVENTS` → `invalid-events` (the code without its service prefix). */
export function problemSlug(code: string): string {
  return code.replace(/^[A-Z0-9]+_/, "").toLowerCase().replace(/_/g, "-");
}

/** `INGEST_INVALID_EVENTS` → `urn:eventstack:problem:invalid-events` */
export function problemType(code: string): string {
  return `urn:eventstack:problem:${problemSlug(code)}`;
}

/** The title of `code`'s type; throws for a code with no type in PROBLEM_TITLES (a bug, caught by the tests). */
export function problemTitle(code: string): string {
  const title = (PROBLEM_TITLES as Record<string, string>)[problemSlug(code)];
  if (title === undefined) throw new Error(`no problem type for code ${code}: add "${problemSlug(code)}" to PROBLEM_TITLES and docs/problems.md`);
  return title;
}

export interface ProblemError {
  index: number | null;
  attribute: string | null;
  detail: string;
}

export interface InvalidParam {
  name: string;
  reason: string;
}

export interface Problem<Code extends string = string> {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: Code;
  requestId: string;
  errors?: ProblemError[];
  "invalid-params"?: InvalidParam[];
}

/** The members every problem has. */
export function problemDocument<Code extends string>(status: number, code: Code, detail: string, instance: string, requestId: string): Problem<Code> {
  return { type: problemType(code), title: problemTitle(code), status, detail, instance, code, requestId };
}

/** JSON schema of a problem response, for fastify's serializer (which drops members it does not list). */
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
    "invalid-params": {
      type: "array",
      items: {
        type: "object",
        required: ["name", "reason"],
        properties: { name: { type: "string" }, reason: { type: "string" } },
      },
    },
  },
} as const;

interface ProblemRequest {
  url: string;
  id: string;
}
/** A fastify reply (any type provider: the problem document is not one of a route's typed replies). */
interface ProblemReply {
  code(status: number): unknown;
}
interface Sendable<R> {
  type(contentType: string): { send(body: unknown): R };
}

/** Answers `status` with the problem document of `code`; `extension` adds the type's own member, if it has one. */
export function sendProblem<R extends ProblemReply>(
  request: ProblemRequest,
  reply: R,
  status: number,
  code: string,
  detail: string,
  extension?: Pick<Problem, "errors" | "invalid-params">,
): R {
  const body: Problem = { ...problemDocument(status, code, detail, request.url, request.id), ...extension };
  return (reply.code(status) as Sendable<R>).type(PROBLEM_CONTENT_TYPE).send(body);
}
