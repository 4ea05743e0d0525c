import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { Logger } from "pino";
import { clientErrorAnswer, frameworkErrorAnswer, httpServerOptions, installRequestLog, problemSchema, requestIdOptions, sendProblem, startTracing, type Tracing } from "@eventstack/runtime";
import { ErrorCodes } from "./errors.js";
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
  /** SERVER spans for the read API and trace ids on its log lines; default: tracing off (the caller's context only). */
  tracing?: Tracing;
  /** One request log line per this many successful requests (config REQUEST_LOG_EVERY). Default 1: every request. */
  requestLogEvery?: number;
}

const APP_DEFAULTS = {
  connectionTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  // Longer than the idle timeout of the proxies in front (Linkerd, load balancers: 60 s), so they close first.
  keepAliveTimeoutMs: 65_000,
  readinessCheckTimeoutMs: 2_000,
} as const;

const PROBES = new Set(["/healthz", "/readyz", "/metrics"]);

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
    // One line per request (@eventstack/runtime request-log.ts); request ids from X-Request-Id, logged as requestId.
    ...requestIdOptions(),
    connectionTimeout: APP_DEFAULTS.connectionTimeoutMs,
    requestTimeout,
    // Node's own request and headers limits held to the same timeout (@eventstack/runtime http-server.ts).
    http: httpServerOptions(requestTimeout),
    keepAliveTimeout: APP_DEFAULTS.keepAliveTimeoutMs,
    bodyLimit: 1024,
    // A path fastify's router cannot decode (`/v1/stats%`) answers the same problem+json as every other error.
    frameworkErrors: frameworkErrorAnswer(ErrorCodes.BAD_REQUEST),
    clientErrorHandler: clientErrorAnswer({ badRequest: ErrorCodes.BAD_REQUEST, requestTimeout: ErrorCodes.REQUEST_TIMEOUT }),
    ...opts,
  }).withTypeProvider<TypeBoxTypeProvider>();

  installRequestLog(app, { tracing: deps.tracing ?? startTracing({ serviceName: "eventstack-processor", env: {} }), probes: PROBES, successEvery: deps.requestLogEvery });

  // Every parameter of every route must be percent-encoded UTF-8 text, whether the route reads it or not.
  app.addHook("onRequest", async (request) => {
    readQuery(request.url);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: { instancePath?: string }[] }, request, reply) => {
    if (err instanceof InvalidParameter) return invalidParameter(request, reply, err.parameter, err.message);
    if (err.validation) {
      // Only repeated parameters get here (everything is an optional string): ?type=a&type=b.
      const name = err.validation[0]?.instancePath?.replace(/^\//, "") || "query";
      return invalidParameter(request, reply, name, `query parameter "${name}" must be given once`);
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err, url: request.url }, "request failed");
      return sendProblem(request, reply, 500, ErrorCodes.INTERNAL, `internal error; the service log has the details under request id ${request.id}`);
    }
    if (status === 413) return sendProblem(request, reply, 413, ErrorCodes.BODY_TOO_LARGE, err.message);
    return sendProblem(request, reply, status, ErrorCodes.BAD_REQUEST, err.message);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, 404, ErrorCodes.NOT_FOUND, `no route for ${request.method} ${shown(request.url.split("?")[0] as string)}`),
  );

  app.get(
    "/v1/stats",
    { schema: { querystring: StatsQuerystring, response: { 200: StatsResponse, "4xx": problemSchema, "5xx": problemSchema } } },
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

/** 400 for a query parameter, naming it in `invalid-params` (the RFC 9457 example's extension member). */
function invalidParameter(request: FastifyRequest, reply: Parameters<typeof sendProblem>[1], parameter: string, detail: string) {
  return sendProblem(request, reply, 400, ErrorCodes.INVALID_QUERY_PARAMETER, detail, { "invalid-params": [{ name: parameter, reason: detail }] });
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
