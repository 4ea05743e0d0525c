/**
 * What Node's HTTP server does before fastify sees a request, the same in both services: the time limit on
 * receiving one, the answer to a request Node's parser refuses, and the request id.
 *
 * **The time limit.** Node enforces `requestTimeout` (whole request) and `headersTimeout` (headers) only when it
 * sweeps its connections, every `connectionsCheckingInterval` (30 s by default), and `headersTimeout` defaults to
 * 60 s whatever `requestTimeout` is (node/lib/_http_server.js storeHTTPOptions and checkConnections, v20.19 and
 * v24; read 2026-12-05). With only fastify's `requestTimeout` set, a request whose body stalled was answered
 * after two sweeps. Here all three come from the one limit, so a stalled request is answered 408 at most one
 * sweep (a tenth of the limit, at most 1 s) after it.
 *
 * **Refused requests.** A malformed `Content-Length`, two different ones, bad bytes in a header name or value,
 * headers over the size limit, or a request that did not arrive in time never reach fastify: Node emits
 * `clientError` on the server. `clientErrorAnswer` writes the service's problem document (its bad-request code,
 * or its request-timeout code for 408) with a new request id, logged with the parser's error code. As Node's own
 * handler does (socketOnError), it writes only when the socket is writable and no response was started on it,
 * then destroys the socket: after a framing error the rest of the stream cannot be trusted.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerOptions } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { LogController, type FastifyInstance } from "fastify";
import { PROBLEM_CONTENT_TYPE, problemDocument, sendProblem } from "./problem.js";

/** Node's server options for a limit of `requestTimeoutMs` on receiving a whole request. */
export function httpServerOptions(requestTimeoutMs: number): ServerOptions {
  return {
    requestTimeout: requestTimeoutMs,
    // Equal, not longer: Node refuses a headersTimeout above requestTimeout, and a shorter one would be a second,
    // undocumented limit.
    headersTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(requestTimeoutMs / 10))),
  };
}

// A caller's X-Request-Id is reused only if it is short and plain, so it cannot forge log lines or bloat headers.
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The caller's X-Request-Id when it is short and plain, else a new UUID. */
export function requestId(req: Pick<IncomingMessage, "headers">): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * fastify options for the request id and request logging: ids from `requestId`, logged as `requestId`, and
 * fastify's own two lines per request ("incoming request", "request completed") off: request-log.ts writes one.
 */
export function requestIdOptions() {
  return {
    requestIdHeader: false as const,
    genReqId: requestId,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "requestId" }),
  };
}

/** The request's status and the detail a client sees, by Node's error code. */
function describe(err: Error & { code?: string }): { status: number; detail: string } {
  switch (err.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, detail: "the request did not arrive within the time allowed" };
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, detail: "the request headers are larger than allowed" };
    // One text for the three: which of them llhttp reports for a given mix of the two headers depends on their
    // order and on its version.
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
    case "HPE_INVALID_TRANSFER_ENCODING":
      return { status: 400, detail: "the request's Content-Length or Transfer-Encoding is not valid: not a number, given twice, or both given" };
    case "HPE_INVALID_HEADER_TOKEN":
      return { status: 400, detail: "a header name or value holds a character HTTP does not allow" };
    default:
      return { status: 400, detail: `the request is not valid HTTP/1.1 (${err.code ?? "parse error"})` };
  }
}

export interface ClientErrorCodes {
  /** The code of 400 and 431 answers (`INGEST_BAD_REQUEST`, `PROCESSOR_BAD_REQUEST`). */
  badRequest: string;
  /** The code of 408 answers (`INGEST_REQUEST_TIMEOUT`, `PROCESSOR_REQUEST_TIMEOUT`). */
  requestTimeout: string;
  /** Called once per refused request, e.g. to count it. */
  onRefused?: (status: number) => void;
}

/** fastify's `clientErrorHandler`: called with the fastify instance as `this` for the server's `clientError`. */
export function clientErrorAnswer(codes: ClientErrorCodes) {
  return function answerClientError(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
    // A reset connection has nobody left to answer.
    if (err.code === "ECONNRESET" || socket.destroyed) return;
    const { status, detail } = describe(err);
    const code = status === 408 ? codes.requestTimeout : codes.badRequest;
    const id = randomUUID();
    this.log.info({ requestId: id, statusCode: status, parserError: err.code }, "request refused by the HTTP parser");
    codes.onRefused?.(status);
    const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !started) {
      const body = JSON.stringify(problemDocument(status, code, detail, `urn:uuid:${id}`, id));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Request-Id: ${id}\r\n` +
          "Connection: close\r\n\r\n" +
          body,
      );
    }
    socket.destroy();
  };
}

/**
 * fastify's `frameworkErrors`: a request its router refuses before any hook runs (a path it cannot decode, such as
 * `/v1/events%`) is answered 400 with the service's bad-request problem, its request id in X-Request-Id as always.
 */
export function frameworkErrorAnswer(badRequest: string) {
  return (err: Error, request: { url: string; id: string }, reply: { header(name: string, value: string): unknown; code(status: number): unknown }): void => {
    reply.header("x-request-id", request.id);
    sendProblem(request, reply, 400, badRequest, err.message);
  };
}
