/**
 * OpenTelemetry tracing and W3C trace context, the same in both services.
 *
 * Spans are exported over OTLP http/protobuf when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) or
 * OTEL_EXPORTER_OTLP_ENDPOINT (the base URL; /v1/traces is appended) is set, unless OTEL_SDK_DISABLED is "true" or
 * OTEL_TRACES_EXPORTER is "none". Everything else is read by the OpenTelemetry SDK itself from the environment, as
 * the specification defines it: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env resource detector),
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (the tracer provider), OTEL_BSP_* (the batch span processor),
 * OTEL_EXPORTER_OTLP_*_HEADERS, _TIMEOUT and _COMPRESSION (the exporter). The service's name is the default for
 * `service.name`; OTEL_SERVICE_NAME wins over it.
 *
 * Context always crosses the service, traced or not: with tracing off the tracer is OpenTelemetry's no-op tracer,
 * whose spans carry their parent's context, so a caller's valid `traceparent`/`tracestate` go on unchanged and log
 * lines still carry the caller's trace. Only the W3C Trace Context propagator is used.
 */
import { ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, isSpanContextValid, trace, type Context, type Span, type TextMapGetter, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import type { Env } from "./env.js";

export type IncomingHeaders = Record<string, string | string[] | undefined>;

export interface TraceHeaders {
  traceparent: string | undefined;
  tracestate: string | undefined;
}

/** The log fields of a trace context: both, or neither when there is no valid context. */
export interface TraceLogFields {
  trace_id?: string;
  span_id?: string;
}

export interface RequestTrace {
  /** The SERVER span's context (or, for a request that gets no span, the caller's): parent of the request's work. */
  context: Context;
  /** `trace_id` and `span_id` for the request's log lines. */
  log: TraceLogFields;
  end(statusCode: number): void;
}

export interface Tracing {
  enabled: boolean;
  tracer: Tracer;
  /**
   * A SERVER span for `method route`, child of the caller's context. Without a route (no route matched, or a
   * probe the caller does not want traced) there is no span: the request's context is the caller's.
   */
  startRequest(method: string, route: string | undefined, headers: IncomingHeaders): RequestTrace;
  /** Flushes pending spans; call on shutdown. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise. */
  serviceName: string;
  /** Where the OTLP endpoint variables are read; default process.env. */
  env?: Env;
  /**
   * Registers the provider as the global one, so `trace.getTracer()` anywhere returns its tracers. Off by default:
   * an app instance then owns its provider and passes contexts explicitly, and tests can run several in one process.
   */
  global?: boolean;
}

const w3c = new W3CTraceContextPropagator();
const getter: TextMapGetter<IncomingHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
// A provider with no delegate hands out the no-op tracer for good, whatever is registered globally later.
const noopTracer = new ProxyTracerProvider().getTracer("noop");

/** The caller's context from W3C `traceparent`/`tracestate`; ROOT_CONTEXT when absent or malformed. */
export function extractTraceContext(headers: IncomingHeaders): Context {
  return w3c.extract(ROOT_CONTEXT, headers, getter);
}

/** The context of a record's `traceparent`/`tracestate` (Kafka headers or the CloudEvents tracing extension). */
export function contextFromTraceHeaders(traceparent: string | null | undefined, tracestate: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return extractTraceContext({ traceparent, tracestate: tracestate ?? undefined });
}

/** W3C headers for `ctx`; both undefined when it holds no valid span context. */
export function injectTraceContext(ctx: Context): TraceHeaders {
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, { set: (c, k, v) => (c[k] = v) });
  return { traceparent: carrier.traceparent, tracestate: carrier.tracestate };
}

export function traceLogFields(ctx: Context): TraceLogFields {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** Records `error` on `span` and marks it failed. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** The OTLP traces URL the environment names, or undefined when traces are not exported. */
export function tracesUrl(env: Env): string | undefined {
  const read = (name: string) => (env[name]?.trim() ? env[name]?.trim() : undefined);
  if (read("OTEL_SDK_DISABLED")?.toLowerCase() === "true") return undefined;
  if (read("OTEL_TRACES_EXPORTER")?.toLowerCase() === "none") return undefined;
  const traces = read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (traces !== undefined) return traces;
  const base = read("OTEL_EXPORTER_OTLP_ENDPOINT");
  return base === undefined ? undefined : `${base.replace(/\/+$/, "")}/v1/traces`;
}

function requestTracer(tracer: Tracer) {
  return (method: string, route: string | undefined, headers: IncomingHeaders): RequestTrace => {
    const parent = extractTraceContext(headers);
    if (route === undefined) return { context: parent, log: traceLogFields(parent), end: () => undefined };
    const server = tracer.startSpan(
      `${method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "http.route": route } },
      parent,
    );
    const context = trace.setSpan(parent, server);
    return {
      context,
      log: traceLogFields(context),
      end(statusCode) {
        server.setAttribute("http.response.status_code", statusCode);
        if (statusCode >= 500) server.setStatus({ code: SpanStatusCode.ERROR });
        server.end();
      },
    };
  };
}

export function startTracing(options: TracingOptions): Tracing {
  const url = tracesUrl(options.env ?? process.env);
  if (url === undefined) {
    return { enabled: false, tracer: noopTracer, startRequest: requestTracer(noopTracer), shutdown: async () => undefined };
  }
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": options.serviceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))] });
  if (options.global === true) provider.register();
  const tracer = provider.getTracer(options.serviceName);
  return { enabled: true, tracer, startRequest: requestTracer(tracer), shutdown: () => provider.shutdown() };
}
