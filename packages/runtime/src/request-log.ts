/**
 * One log line per request, and the same fields on every log line of a request, in both services: `requestId`
 * (fastify's child logger, see requestIdOptions), `trace_id` and `span_id` (the request's SERVER span, or the
 * caller's context when the request gets no span; absent when there is neither). The request's logger is replaced
 * by a child carrying them as soon as the request arrives, so lines the handlers, the error handler and fastify
 * itself write through `request.log` or `reply.log` carry them too. Lines of successful requests are sampled
 * (`successEvery`); errors are always written.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { RequestTrace, Tracing } from "./tracing.js";

declare module "fastify" {
  interface FastifyRequest {
    trace: RequestTrace | null;
    receivedAt: bigint;
  }
}

export interface RequestLogOptions {
  tracing: Tracing;
  /** Routes that get no span and log at debug (health checks, metrics scrapes). */
  probes: ReadonlySet<string>;
  /** More members of the request's line (e.g. how many events it carried). */
  fields?: (request: FastifyRequest) => Record<string, unknown>;
  /**
   * Write the line of one in this many requests answered below 400 (the first, then every n-th); every 4xx and
   * 5xx is written. At 20,000 requests/s a line per request would cost more in log shipping and storage than the
   * requests; the metrics count every request, the lines are for reading. Default 1 (every request).
   */
  successEvery?: number;
}

export function installRequestLog(app: FastifyInstance, options: RequestLogOptions): void {
  const successEvery = options.successEvery ?? 1;
  let successes = 0;
  app.decorateRequest("trace", null);
  app.decorateRequest("receivedAt", 0n);

  app.addHook("onRequest", async (request, reply) => {
    request.receivedAt = process.hrtime.bigint();
    const route = request.routeOptions.url;
    request.trace = options.tracing.startRequest(request.method, route !== undefined && !options.probes.has(route) ? route : undefined, request.headers);
    if (request.trace.log.trace_id !== undefined) {
      const log = request.log.child(request.trace.log);
      request.log = log;
      reply.log = log;
    }
    reply.header("x-request-id", request.id);
  });

  app.addHook("onResponse", async (request, reply) => {
    request.trace?.end(reply.statusCode);
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(Number(process.hrtime.bigint() - request.receivedAt) / 1e3) / 1e3,
      ...options.fields?.(request),
    };
    const route = request.routeOptions.url;
    if (route !== undefined && options.probes.has(route)) request.log.debug(line, "request completed");
    else if (reply.statusCode >= 400 || successes++ % successEvery === 0) request.log.info(line, "request completed");
  });
}
