/**
 * The ingest HTTP application: fastify with its hooks (request id, metrics, tracing, one log line per request),
 * the error handlers, and the routes. It owns the Kafka producer and closes it on `app.close()`, after fastify
 * has finished the in-flight requests (fastify runs onClose hooks once the server stopped and drained).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import {
  clientErrorAnswer,
  createLogger,
  frameworkErrorAnswer,
  httpServerOptions,
  installRequestLog,
  requestIdOptions,
  sendProblem,
  startTracing,
  type Env,
  type Tracing,
} from "@eventstack/runtime";
import type { Config } from "./config.js";
import { ErrorCodes } from "./errors.js";
import { rejectMalformedContentType } from "./http-binding.js";
import { EventProducer } from "./kafka.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { eventsRoute } from "./routes/events.js";
import { opsRoutes } from "./routes/ops.js";

export interface Ingest {
  config: Config;
  producer: EventProducer;
  metrics: Metrics;
  tracing: Tracing;
  /** Set when shutdown begins: /readyz answers 503 so the load balancer stops sending before the listener closes. */
  draining: boolean;
}

declare module "fastify" {
  interface FastifyInstance {
    ingest: Ingest;
  }
  interface FastifyRequest {
    routeLabel: string;
    events: number;
  }
}

const PROBES = new Set(["/healthz", "/readyz", "/metrics"]);

export interface BuildOptions {
  /** A logger instance (tests pass a silent or capturing one); by default pino JSON on stdout at config.logLevel. */
  logger?: FastifyBaseLogger;
  /** Where tracing finds its OTLP endpoint (OTEL_EXPORTER_OTLP_*ENDPOINT); default process.env. */
  env?: Env;
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const metrics = createMetrics();
  const app = Fastify({
    loggerInstance: options.logger ?? createLogger(config.logLevel, config.serviceName),
    // One line per request (@eventstack/runtime request-log.ts) instead of fastify's two; request ids from X-Request-Id.
    ...requestIdOptions(),
    bodyLimit: config.limits.maxBodyBytes,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // One limit for the whole request, held by Node's own server settings as well (@eventstack/runtime http-server.ts).
    requestTimeout: config.http.requestTimeoutMs,
    http: httpServerOptions(config.http.requestTimeoutMs),
    // A path fastify's router cannot decode (`/v1/events%`) answers problem+json like every other error.
    frameworkErrors: frameworkErrorAnswer(ErrorCodes.BAD_REQUEST),
    clientErrorHandler: clientErrorAnswer({
      badRequest: ErrorCodes.BAD_REQUEST,
      requestTimeout: ErrorCodes.REQUEST_TIMEOUT,
      onRefused: (status) => metrics.httpRequests.inc({ method: "unparsed", route: "unparsed", status: String(status) }),
    }),
    // During close, requests arriving on kept-alive connections get 503 + Connection: close.
    return503OnClosing: true,
    exposeHeadRoutes: false,
  });

  const tracing = startTracing({ serviceName: config.serviceName, env: options.env });
  const producer = new EventProducer({
    kafka: config.kafka,
    awsRegion: config.awsRegion,
    maxPendingEvents: config.limits.maxPendingEvents,
    metrics,
    logger: app.log,
  });
  app.decorate("ingest", { config, producer, metrics, tracing, draining: false } satisfies Ingest);
  app.decorateRequest("routeLabel", "");
  app.decorateRequest("events", 0);

  // Bodies are read raw for every content type: http-binding.ts decides what they are (and answers 415), and
  // JSON bodies must stay bytes so event data reaches Kafka exactly as sent (see json-spans.ts).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  installRequestLog(app, { tracing, probes: PROBES, fields: (request) => ({ events: request.events }), successEvery: config.requestLogEvery });

  app.addHook("onRequest", async (request) => {
    request.routeLabel = request.routeOptions.url ?? "unmatched";
    metrics.httpInFlight.inc({ route: request.routeLabel });
  });

  app.addHook("onResponse", async (request, reply) => {
    const seconds = Number(process.hrtime.bigint() - request.receivedAt) / 1e9;
    const labels = { method: request.method, route: request.routeLabel, status: String(reply.statusCode) };
    metrics.httpInFlight.dec({ route: request.routeLabel });
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
  });

  // While draining, close each connection after its response: a kept-alive idle connection would otherwise hold
  // the server open until the keep-alive timeout, and the load balancer should reconnect to another pod anyway.
  app.addHook("onSend", async (_request, reply) => {
    if (app.ingest.draining) reply.header("connection", "close");
  });

  app.setNotFoundHandler((request, reply) => {
    sendProblem(request, reply, 404, ErrorCodes.NOT_FOUND, `no route for ${request.method} ${request.url.split("?")[0]}`);
  });

  app.setErrorHandler((error, request, reply) => {
    const code = (error as { code?: string }).code;
    if (code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      metrics.eventsRejected.inc({ reason: "too_large" });
      return sendProblem(request, reply, 413, ErrorCodes.BODY_TOO_LARGE, `the body is larger than the ${config.limits.maxBodyBytes} bytes allowed`);
    }
    if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" && request.routeOptions.url === "/v1/events") {
      const refused = rejectMalformedContentType(request.headers, { maxBatchEvents: config.limits.maxBatchEvents, maxEventDataBytes: config.limits.maxEventDataBytes });
      if (!refused.ok) {
        metrics.eventsRejected.inc({ reason: "invalid" });
        return sendProblem(request, reply, refused.status, refused.code, refused.detail, refused.errors && { errors: refused.errors });
      }
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // fastify's own client errors (bad Content-Length, aborted body...) have safe, descriptive messages.
      return sendProblem(request, reply, status, ErrorCodes.BAD_REQUEST, error instanceof Error ? error.message : String(error));
    }
    // Never leak a 5xx cause to the client; the log line has it, and the request id ties the two together.
    request.log.error({ err: error }, "unhandled error");
    return sendProblem(request, reply, 500, ErrorCodes.INTERNAL, `internal error; the service log has the details under request id ${request.id}`);
  });

  await app.register(eventsRoute);
  await app.register(opsRoutes);

  app.addHook("onClose", async () => {
    // Every queued event belongs to a request fastify already answered or failed, so this is quick; the bound
    // only matters if Kafka hangs on the last acknowledgement.
    await producer.close(config.kafka.ackTimeoutMs);
    await tracing.shutdown();
  });

  return app;
}
