/**
 * One `type` scheme for both services: the URN of the code without its service prefix, and one title per type.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PROBLEM_TITLES, problemDocument, problemSchema, problemType, sendProblem } from "../src/index.js";

test("type: urn:eventstack:problem:<the code without its service prefix, lower-case, dashes>", () => {
  assert.equal(problemType("INGEST_INVALID_EVENTS"), "urn:eventstack:problem:invalid-events");
  assert.equal(problemType("PROCESSOR_INVALID_QUERY_PARAMETER"), "urn:eventstack:problem:invalid-query-parameter");
  // The same problem has the same type in both services; `code` tells them apart.
  assert.equal(problemType("INGEST_NOT_FOUND"), problemType("PROCESSOR_NOT_FOUND"));
});

test("a problem document has every member, the title of its type, and refuses a code with no type", () => {
  assert.deepEqual(problemDocument(404, "PROCESSOR_NOT_FOUND", "no route for GET /x", "/x?a=1", "req-1"), {
    type: "urn:eventstack:problem:not-found",
    title: "Not found",
    status: 404,
    detail: "no route for GET /x",
    instance: "/x?a=1",
    code: "PROCESSOR_NOT_FOUND",
    requestId: "req-1",
  });
  assert.throws(() => problemDocument(400, "INGEST_NO_SUCH_THING", "d", "/", "r"), {
    message: 'no problem type for code INGEST_NO_SUCH_THING: add "no-such-thing" to PROBLEM_TITLES and docs/problems.md',
  });
  assert.deepEqual(problemSchema.required, ["type", "title", "status", "detail", "instance", "code", "requestId"]);
  assert.ok(Object.values(PROBLEM_TITLES).every((t) => /^[A-Z][a-z]/.test(t)));
});

test("sendProblem answers application/problem+json with the type's extension member", () => {
  const sent: { status?: number; type?: string; body?: unknown } = {};
  const reply = {
    code(status: number) {
      sent.status = status;
      return { type: (type: string) => ((sent.type = type), { send: (body: unknown) => ((sent.body = body), reply) }) };
    },
  };
  const errors = [{ index: 0, attribute: "id", detail: "id must not be empty" }];
  assert.equal(sendProblem({ url: "/v1/events", id: "r" }, reply, 400, "INGEST_INVALID_EVENTS", "the event is invalid", { errors }), reply);
  assert.deepEqual(sent, {
    status: 400,
    type: "application/problem+json",
    body: { type: "urn:eventstack:problem:invalid-events", title: "Invalid CloudEvents", status: 400, detail: "the event is invalid", instance: "/v1/events", code: "INGEST_INVALID_EVENTS", requestId: "r", errors },
  });
});
