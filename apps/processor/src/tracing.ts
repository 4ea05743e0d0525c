import { trace } from "@opentelemetry/api";

/**
 * The processor's tracer. server.ts starts tracing with the provider registered globally (@eventstack/runtime's
 * startTracing, `global: true`), so this returns its tracer; without an OTLP endpoint it is the no-op tracer, whose
 * spans still carry the producer's trace id into the log lines.
 */
export const tracer = () => trace.getTracer("eventstack-processor");

export { contextFromTraceHeaders } from "@eventstack/runtime";
