/**
 * Requests Node's HTTP parser refuses before fastify sees them, and requests that stall, sent byte for byte on raw
 * sockets to a listening server: each is answered with the documented problem document (a request id, a
 * `Connection: close`), and a stalled request is answered within the configured limit instead of a minute later.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { loadConfig } from "../src/config.js";
import { ConfigError } from "@eventstack/runtime";
import { servicesUp, testApp, uniqueTopic } from "./helpers.js";

before(servicesUp);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function listening(t: { after: (fn: () => Promise<void>) => void }, env: Record<string, string> = {}): Promise<{ app: FastifyInstance; port: number }> {
  const app = await testApp(uniqueTopic("framing"), env);
  t.after(() => app.close());
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, port: (app.server.address() as net.AddressInfo).port };
}

interface Answer {
  statusLine: string;
  headers: Map<string, string>;
  body: string;
  /** Milliseconds from the first byte sent to the connection closing. */
  closedAfterMs: number;
}

/**
 * Sends `request` (and leaves the connection open, as a stalled client would) and resolves when the server closes
 * the connection. `guardMs` only keeps a broken server from hanging the test; it is a generous bound, not a timing.
 */
function exchange(port: number, request: string | Buffer, guardMs = 15_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server neither answered nor closed within ${guardMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString("latin1"))}`));
    }, guardMs);
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(guard);
      const raw = Buffer.concat(chunks).toString("utf8");
      const split = raw.indexOf("\r\n\r\n");
      const [statusLine, ...lines] = (split < 0 ? raw : raw.slice(0, split)).split("\r\n");
      const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ statusLine: statusLine ?? "", headers, body: split < 0 ? "" : raw.slice(split + 4), closedAfterMs: Date.now() - started });
    });
    socket.write(request);
  });
}

/** Asserts the documented problem response on a raw socket and returns its body. */
function assertProblem(answer: Answer, status: number, statusLine: string, code: string, detail: string) {
  assert.equal(answer.statusLine, statusLine, answer.body);
  assert.equal(answer.headers.get("content-type"), "application/problem+json");
  assert.equal(answer.headers.get("connection"), "close");
  assert.equal(answer.headers.get("content-length"), String(Buffer.byteLength(answer.body)));
  const body = JSON.parse(answer.body);
  assert.match(body.requestId, UUID);
  assert.equal(answer.headers.get("x-request-id"), body.requestId);
  assert.deepEqual(body, {
    type: `urn:eventstack:problem:${code.replace(/^INGEST_/, "").toLowerCase().replace(/_/g, "-")}`,
    title: code === "INGEST_REQUEST_TIMEOUT" ? "Request timeout" : "Bad request",
    status,
    detail,
    instance: `urn:uuid:${body.requestId}`,
    code,
    requestId: body.requestId,
  });
}

const FRAMING = "the request's Content-Length or Transfer-Encoding is not valid: not a number, given twice, or both given";

describe("HTTP framing errors answer the INGEST_BAD_REQUEST problem", () => {
  const head = "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cloudevents+json\r\n";
  const cases: [string, string | Buffer, number, string, string][] = [
    ["Content-Length: abc", `${head}Content-Length: abc\r\n\r\n{}`, 400, "HTTP/1.1 400 Bad Request", FRAMING],
    [
      "two different Content-Length headers",
      `${head}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      400,
      "HTTP/1.1 400 Bad Request",
      FRAMING,
    ],
    [
      "Content-Length, then Transfer-Encoding: chunked",
      `${head}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      400,
      "HTTP/1.1 400 Bad Request",
      FRAMING,
    ],
    [
      "Transfer-Encoding: chunked, then Content-Length",
      `${head}Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      400,
      "HTTP/1.1 400 Bad Request",
      FRAMING,
    ],
    [
      "a control byte in a header name",
      Buffer.concat([Buffer.from(`${head}X-Bad`), Buffer.from([0x01]), Buffer.from(": 1\r\nContent-Length: 2\r\n\r\n{}")]),
      400,
      "HTTP/1.1 400 Bad Request",
      "a header name or value holds a character HTTP does not allow",
    ],
    [
      "a space before the colon of a header name",
      `${head}Content-Length : 2\r\n\r\n{}`,
      400,
      "HTTP/1.1 400 Bad Request",
      "a header name or value holds a character HTTP does not allow",
    ],
    ["headers over Node's 16 KiB limit", `${head}X-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431, "HTTP/1.1 431 Request Header Fields Too Large", "the request headers are larger than allowed"],
    ["not HTTP at all", "HELLO\r\n\r\n", 400, "HTTP/1.1 400 Bad Request", "the request is not valid HTTP/1.1 (HPE_INVALID_METHOD)"],
  ];
  for (const [name, request, status, statusLine, detail] of cases) {
    test(name, async (t) => {
      const { port } = await listening(t);
      assertProblem(await exchange(port, request), status, statusLine, "INGEST_BAD_REQUEST", detail);
    });
  }

  test("each refused request is counted", async (t) => {
    const { app, port } = await listening(t);
    await exchange(port, `${head}Content-Length: abc\r\n\r\n`);
    const metrics = await app.ingest.metrics.httpRequests.get();
    assert.deepEqual(
      metrics.values.map((v) => [v.labels, v.value]),
      [[{ method: "unparsed", route: "unparsed", status: "400" }, 1]],
    );
  });
});

describe("a stalled request is answered 408 within HTTP_REQUEST_TIMEOUT_MS", () => {
  test("Node's server holds the configured limit for headers and whole requests", async (t) => {
    const { app } = await listening(t, { HTTP_REQUEST_TIMEOUT_MS: "1500" });
    assert.equal(app.server.requestTimeout, 1500);
    assert.equal(app.server.headersTimeout, 1500);
  });

  test("headers sent, body stalled halfway: 408 problem and the connection closed", async (t) => {
    const { port } = await listening(t, { HTTP_REQUEST_TIMEOUT_MS: "1500" });
    const event = JSON.stringify({ specversion: "1.0", id: "stalled", source: "/t", type: "t.stalled" });
    const answer = await exchange(
      port,
      `POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cloudevents+json\r\nContent-Length: ${event.length}\r\n\r\n${event.slice(0, 10)}`,
      10_000,
    );
    assertProblem(answer, 408, "HTTP/1.1 408 Request Timeout", "INGEST_REQUEST_TIMEOUT", "the request did not arrive within the time allowed");
    assert.ok(answer.closedAfterMs >= 1500, `answered after ${answer.closedAfterMs} ms, before the limit`);
  });

  test("headers stalled: 408 problem and the connection closed", async (t) => {
    const { port } = await listening(t, { HTTP_REQUEST_TIMEOUT_MS: "1500" });
    const answer = await exchange(port, "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty", 10_000);
    assertProblem(answer, 408, "HTTP/1.1 408 Request Timeout", "INGEST_REQUEST_TIMEOUT", "the request did not arrive within the time allowed");
  });

  test("HTTP_REQUEST_TIMEOUT_MS is checked", () => {
    assert.throws(
      () => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: "500" }),
      (err: unknown) => err instanceof ConfigError && err.problems.join("|") === 'HTTP_REQUEST_TIMEOUT_MS must be an integer from 1000 to 300000, got "500"',
    );
    assert.equal(loadConfig({}).http.requestTimeoutMs, 30_000);
  });
});
