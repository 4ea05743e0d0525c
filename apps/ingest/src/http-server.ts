/**
 * What Node's HTTP server does before fastify sees a request: the time limit on receiving one, and the answer to
 * a request Node's parser refuses.
 *
 * **The time limit.** Node enforces `requestTimeout` (whole request) and `headersTimeout` (headers) only when it
 * sweeps its connections, every `connectionsCheckingInterval` (30 s by default), and `headersTimeout` defaults to
 * 60 s whatever `requestTimeout` is (node/lib/_http_server.js storeHTTPOptions and checkConnections, v20.19 and
 * v24; read 2026-12-05). With only fastify's `requestTimeout` set, a request whose body stalled was answered
 * after two sweeps: 60 s and more against the 30 s limit. Here all three come from the one limit, so a stalled
 * request is answered 408 at most one sweep (a tenth of the limit, at most 1 s) after it.
 *
 * **Refused requests.** A malformed `Content-Length`, two different ones, bad bytes in a header name or value,
 * headers over the size limit, or a request that did not arrive in time never reach fastify: Node emits
 * `clientError` on the server. fastify's default handler answered `{"error":"Bad Request",...}` without a request
 * id; `answerClientError` writes the service's own problem document instead (`INGEST_BAD_REQUEST`, or
 * `INGEST_REQUEST_TIMEOUT` for 408) with a new request id, logged with the parser's error code. As Node's own
 * handler does (socketOnError), it writes only when the socket is writable and no response was started on it,
 * then destroys the socket: after a framing error the rest of the stream cannot be trusted.
 */
import { randomUUID } from "node:crypto";
import type { ServerOptions } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { ErrorCodes } from "./errors.js";
import { PROBLEM_CONTENT_TYPE, problemDocument } from "./problem.js";

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

/** fastify's `clientErrorHandler`: called with the fastify instance as `this` for the server's `clientError`. */
export function answerClientError(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const { status, detail } = describe(err);
  const code = status === 408 ? ErrorCodes.REQUEST_TIMEOUT : ErrorCodes.BAD_REQUEST;
  const requestId = randomUUID();
  this.log.info({ requestId, statusCode: status, parserError: err.code }, "request refused by the HTTP parser");
  this.ingest?.metrics.httpRequests.inc({ method: "unparsed", route: "unparsed", status: String(status) });
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !started) {
    const body = JSON.stringify(problemDocument(status, code, detail, `urn:uuid:${requestId}`, requestId));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
  }
  socket.destroy();
}
