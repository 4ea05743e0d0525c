import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { Logger } from "pino";
import type { Metrics } from "./metrics.js";
import { InvalidParameter, parseStatsQuery, type StatsService } from "./stats.js";

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
// parseStatsQuery, so the 400 texts do not depend on the schema validator's wording.
const StatsQuerystring = Type.Object({
  type: Type.Optional(Type.String()),
  from: Type.Optional(Type.String()),
  to: Type.Optional(Type.String()),
  granularity: Type.Optional(Type.String()),
});

/** The read API and the operational endpoints, as a Fastify instance ready for `listen` or `inject`. */
export function buildApp(deps: AppDeps, opts: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log,
    connectionTimeout: APP_DEFAULTS.connectionTimeoutMs,
    requestTimeout: APP_DEFAULTS.requestTimeoutMs,
    keepAliveTimeout: APP_DEFAULTS.keepAliveTimeoutMs,
    bodyLimit: 1024,
    ...opts,
  }).withTypeProvider<TypeBoxTypeProvider>();

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
      return reply.code(status).type("application/problem+json").send({ type: "about:blank", title: "Internal Server Error", status, detail: "The request could not be completed." });
    }
    return reply.code(status).type("application/problem+json").send({ type: "about:blank", title: err.name, status, detail: err.message });
  });

  app.get(
    "/v1/stats",
    { schema: { querystring: StatsQuerystring, response: { 200: StatsResponse, 400: Problem } } },
    async (request) => deps.stats.query(parseStatsQuery(request.query, deps.maxBuckets)),
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
