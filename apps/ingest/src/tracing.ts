/**
 * W3C trace context for each request, and OpenTelemetry spans exported over OTLP/HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set.
 *
 * With tracing on, a request gets a SERVER span (child of the caller's `traceparent`) and a PRODUCER span for the
 * Kafka write; the records carry the PRODUCER span's context, so a consumer's span links to the write. With tracing
 * off, the caller's `traceparent`/`tracestate` go onto the records unchanged (when well-formed), so the trace
 * still crosses Kafka even though this hop records nothing.
 *
 * The provider is not registered globally: each app instance owns one, and contexts are passed explicitly, so
 * nothing depends on async context propagation and tests can run several apps in one process.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import type { Config } from "./config.js";

type IncomingHeaders = Record<string, string | string[] | undefined>;

export interface TraceHeaders {
  traceparent: string | undefined;
  tracestate: string | undefined;
}

export interface ProduceSpan {
  headers: TraceHeaders;
  end(error?: unknown): void;
}

export interface RequestTrace {
  /** Opens the PRODUCER span for `events` events; its context is what the records carry. */
  produce(topic: string, events: number): ProduceSpan;
  end(statusCode: number): void;
  /** The trace id for log lines; undefined when the request carried no trace and tracing is off. */
  traceId: string | undefined;
}

export interface Tracing {
  enabled: boolean;
  startRequest(method: string, route: string, headers: IncomingHeaders): RequestTrace;
  /** Flushes pending spans; call on shutdown. */
  shutdown(): Promise<void>;
}

// version "00", 32 hex trace id and 16 hex span id, not all zeros, 2 hex flags (W3C Trace Context §3.2).
const TRACEPARENT = /^00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

const w3c = new W3CTraceContextPropagator();
const getter: TextMapGetter<IncomingHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function inject(ctx: Context): TraceHeaders {
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, { set: (c, k, v) => (c[k] = v) });
  return { traceparent: carrier.traceparent, tracestate: carrier.tracestate };
}

/** Tracing off: forward the caller's context as received, if it is well-formed. */
function passThrough(headers: IncomingHeaders): RequestTrace {
  const traceparent = single(headers.traceparent)?.trim().toLowerCase();
  const valid = traceparent !== undefined && TRACEPARENT.test(traceparent);
  const forwarded: TraceHeaders = valid ? { traceparent, tracestate: single(headers.tracestate) } : { traceparent: undefined, tracestate: undefined };
  return {
    traceId: valid ? traceparent.slice(3, 35) : undefined,
    produce: () => ({ headers: forwarded, end: () => undefined }),
    end: () => undefined,
  };
}

function traced(tracer: Tracer, method: string, route: string, headers: IncomingHeaders): RequestTrace {
  const parent = w3c.extract(ROOT_CONTEXT, headers, getter);
  const server: Span = tracer.startSpan(
    `${method} ${route}`,
    { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "http.route": route } },
    parent,
  );
  const serverContext = trace.setSpan(parent, server);
  return {
    traceId: server.spanContext().traceId,
    produce(topic, events) {
      const span = tracer.startSpan(
        `send ${topic}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: { "messaging.system": "kafka", "messaging.operation.type": "send", "messaging.destination.name": topic, "messaging.batch.message_count": events },
        },
        serverContext,
      );
      return {
        headers: inject(trace.setSpan(serverContext, span)),
        end(error) {
          if (error !== undefined) {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      };
    },
    end(statusCode) {
      server.setAttribute("http.response.status_code", statusCode);
      if (statusCode >= 500) server.setStatus({ code: SpanStatusCode.ERROR });
      server.end();
    },
  };
}

export function createTracing(otel: Config["otel"]): Tracing {
  if (otel.endpoint === undefined && otel.tracesEndpoint === undefined) {
    return { enabled: false, startRequest: (_m, _r, headers) => passThrough(headers), shutdown: async () => undefined };
  }
  // The exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression) itself.
  const url = otel.tracesEndpoint ?? `${(otel.endpoint as string).replace(/\/+$/, "")}/v1/traces`;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": otel.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  const tracer = provider.getTracer("eventstack-ingest");
  return {
    enabled: true,
    startRequest: (method, route, headers) => traced(tracer, method, route, headers),
    shutdown: () => provider.shutdown(),
  };
}
