import { ROOT_CONTEXT, context, trace, type Context, type TextMapGetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import type { Config } from "./config.js";

/**
 * OpenTelemetry tracing. The exporter (OTLP over HTTP) is installed only when OTEL_EXPORTER_OTLP_ENDPOINT is
 * set; the exporter itself reads the standard OTEL_EXPORTER_OTLP_* variables (headers, timeout). Without it
 * the API stays a no-op and spans cost next to nothing, but trace context is still extracted so log lines
 * carry the producer's trace id.
 */
export function startTracing(config: Config): { shutdown(): Promise<void> } {
  if (!config.otel.endpoint) return { shutdown: async () => undefined };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": config.otel.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  return { shutdown: () => provider.shutdown() };
}

export const tracer = () => trace.getTracer("eventstack-processor");

// The W3C propagator is used directly rather than through the global API so extraction works whether or
// not an SDK is registered.
const w3c = new W3CTraceContextPropagator();
const carrierGetter: TextMapGetter<{ traceparent: string | null; tracestate: string | null }> = {
  keys: () => ["traceparent", "tracestate"],
  get: (carrier, key) => (key === "traceparent" ? carrier.traceparent : key === "tracestate" ? carrier.tracestate : null) ?? undefined,
};

/**
 * The producer's context from the record's W3C `traceparent`/`tracestate` (the Kafka headers, or the
 * CloudEvents distributed-tracing extension). ROOT_CONTEXT when the record carries none or a malformed one.
 */
export function contextFromTraceHeaders(traceparent: string | null, tracestate: string | null): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return w3c.extract(ROOT_CONTEXT, { traceparent, tracestate }, carrierGetter);
}

export { context, trace };
