import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { Logger } from "pino";
import type { Metrics } from "./metrics.js";
import { InvalidParameter, readQuery, shown } from "./query-params.js";
import { parseStatsQuery, type StatsService } from "./stats.js";

export interface AppDeps {
  log: Logger;
  stats: StatsService;
  metrics: Metrics;
  maxBuckets: number;
  /** Named readiness checks; the service is ready when all pass. */
  readiness: Record<string, () => Promise<boolean> | boolean>;
}

const APP_DEFAULTS = {
  connectionTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  // Longer than the idle timeout of the proxies in front (Linkerd, load balancers: 60 s), so they close first.
  keepAliveTimeoutMs: 65_000,
  readinessCheckTimeoutMs: 2_000,
} as const;

const PROBLEM_TYPE = "https://eventstack.dev/problems/invalid-query-parameter";

const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  "invalid-params": Type.Optional(Type.Array(Type.Object({ name: Type.String(), reason: Type.String() }))),
});

const StatsResponse = Type.Object({
  type: Type.String(),
  granularity: Type.Union([Type.Literal("minute"), Type.Literal("hour")]),
  buckets: Type.Array(Type.Object({ start: Type.String(), count: Type.Integer(), subjects: Type.Integer() })),
  total: Type.Integer(),
});

// Every parameter is declared as an optional string: the semantic checks (and their exact messages) live in
// parseStatsQuery, which reads the raw URL itself (query-params.ts), so the 400 texts do not depend on the
// schema validator's wording.
const StatsQuerystring = Type.Object({
  type: Type.Optional(Type.String()),
  from: Type.Optional(Type.String()),
  to: Type.Optional(Type.String()),
  granularity: Type.Optional(Type.String()),
});

/** The read API and the operational endpoints, as a Fastify instance ready for `listen` or `inject`. */
export function buildApp(deps: AppDeps, opts: FastifyServerOptions = {}): FastifyInstance {
  const requestTimeout = opts.requestTimeout ?? APP_DEFAULTS.requestTimeoutMs;
  const app = Fastify({
    loggerInstance: deps.log,
    connectionTimeout: APP_DEFAULTS.connectionTimeoutMs,
    requestTimeout,
    // Node enforces its request and headers limits only when it sweeps its connections (every 30 s by default),
    // and its headers limit defaults to 60 s: with fastify's requestTimeout alone a trickling request was held
    // up to a minute past it. Both limits equal and a sweep every tenth of it (at most 1 s) hold the request
    // timeout to about a second (node/lib/_http_server.js storeHTTPOptions and checkConnections, v20.19 and
    // v24; read 2026-12-05).
    http: {
      requestTimeout,
      headersTimeout: requestTimeout,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(requestTimeout / 10))),
    },
    keepAliveTimeout: APP_DEFAULTS.keepAliveTimeoutMs,
    bodyLimit: 1024,
    // A path fastify's router cannot decode (`/v1/stats%`) answers the same problem+json as every other error.
    frameworkErrors: (err, _request, reply) => {
      sendStatus(reply, 400, err.message);
    },
    clientErrorHandler: answerClientError,
    ...opts,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Every parameter of every route must be percent-encoded UTF-8 text, whether the route reads it or not.
  app.addHook("onRequest", async (request) => {
    readQuery(request.url);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: { instancePath?: string }[] }, request, reply) => {
    if (err instanceof InvalidParameter) return sendProblem(reply, err.parameter, err.message);
    if (err.validation) {
      // Only repeated parameters get here (everything is an optional string): ?type=a&type=b.
      const name = err.validation[0]?.instancePath?.replace(/^\//, "") || "query";
      return sendProblem(reply, name, `query parameter "${name}" must be given once`);
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err, url: request.url }, "request failed");
      return sendStatus(reply, status, "The request could not be completed.");
    }
    return sendStatus(reply, status, err.message);
  });

  app.setNotFoundHandler((request, reply) => sendStatus(reply, 404, `no route for ${request.method} ${shown(request.url.split("?")[0] as string)}`));

  app.get(
    "/v1/stats",
    { schema: { querystring: StatsQuerystring, response: { 200: StatsResponse, 400: Problem } } },
    async (request) => deps.stats.query(parseStatsQuery(request.url, deps.maxBuckets)),
  );

  // Liveness: the event loop answers. Dependencies are deliberately not checked here, so an outage of
  // PostgreSQL does not get every pod restarted.
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const results = await Promise.all(
      Object.entries(deps.readiness).map(async ([name, check]) => [name, await withTimeout(check, APP_DEFAULTS.readinessCheckTimeoutMs)] as const),
    );
    const checks = Object.fromEntries(results.map(([name, ok]) => [name, ok ? "ok" : "failing"]));
    const ready = results.every(([, ok]) => ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });

  app.get("/metrics", async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  return app;
}

/**
 * A problem of no more specific type: `about:blank`, whose title is the status's reason phrase (RFC 9457
 * section 4.2.1).
 */
function sendStatus(reply: Pick<FastifyReply, "code">, status: number, detail: string) {
  return reply.code(status).type("application/problem+json").send({ type: "about:blank", title: STATUS_CODES[status] ?? "Error", status, detail });
}

/**
 * Requests Node's HTTP parser refuses before fastify sees them (a malformed Content-Length, bad header bytes,
 * a request that did not arrive within the request timeout) get the same problem+json instead of fastify's
 * default JSON. Node calls this on the server's `clientError` event; the response is written only when the
 * socket can still take it and no response was started on it, as Node's own handler does (lib/_http_server.js
 * socketOnError, v20 and v24: write the answer, then destroy the socket; read 2026-12-05).
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, detail] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "the request did not arrive in time"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "the request headers are too large"]
        : [400, `the request is not valid HTTP/1.1 (${err.code ?? "parse error"})`];
  const body = JSON.stringify({ type: "about:blank", title: STATUS_CODES[status], status, detail });
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !started) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function sendProblem(reply: { code(n: number): { type(t: string): { send(b: unknown): unknown } } }, parameter: string, detail: string) {
  return reply.code(400).type("application/problem+json").send({
    type: PROBLEM_TYPE,
    title: "Invalid query parameter",
    status: 400,
    detail,
    "invalid-params": [{ name: parameter, reason: detail }],
  });
}

async function withTimeout(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(check),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
