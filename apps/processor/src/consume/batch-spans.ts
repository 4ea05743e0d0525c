import { SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import type { BatchRows } from "../wire/index.js";
import type { Config } from "../config.js";
import { contextFromTraceHeaders, tracer } from "../tracing.js";

/** The batch's CONSUMER span, "events process"; its trace_id and span_id go on the batch's log line (batch-log.ts). */
export function startBatchSpan(kafka: Pick<Config["kafka"], "eventsTopic" | "groupId">, records: number): Span {
  return tracer().startSpan("events process", {
    kind: SpanKind.CONSUMER,
    attributes: {
      "messaging.system": "kafka",
      "messaging.operation.type": "process",
      "messaging.destination.name": kafka.eventsTopic,
      "messaging.consumer.group.name": kafka.groupId,
      "messaging.batch.message_count": records,
    },
  });
}

/**
 * One span per event that carries W3C trace context, parented on the producer's span (so the trace
 * continues from the HTTP request that created the event) and linked to the batch span.
 */
export function startEventSpans(rows: BatchRows, batchSpan: Span, topic: string): Span[] {
  const spans: Span[] = [];
  for (const { row, traceparent, tracestate, id, source, type } of rows.traces) {
    const parent = contextFromTraceHeaders(traceparent, tracestate);
    if (!trace.getSpanContext(parent)) continue;
    spans.push(
      tracer().startSpan(
        `${topic} process`,
        {
          kind: SpanKind.CONSUMER,
          links: [{ context: batchSpan.spanContext() }],
          attributes: {
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": String(rows.partitions[row]),
            "messaging.kafka.offset": rows.offsets[row] as number,
            "cloudevents.event_id": id,
            "cloudevents.event_source": source,
            "cloudevents.event_type": type,
          },
        },
        parent,
      ),
    );
  }
  return spans;
}

/** Ends the batch's spans once it is committed. */
export function endBatchSpans(batchSpan: Span, eventSpans: Span[], inserted: number): void {
  batchSpan.setAttribute("eventstack.events.inserted", inserted);
  for (const s of [batchSpan, ...eventSpans]) s.end();
}

/** Ends the batch's spans as failed: its store stage gave up (only when stopping). */
export function failBatchSpans(batchSpan: Span, eventSpans: Span[], err: unknown): void {
  for (const s of [batchSpan, ...eventSpans]) s.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message }).end();
}
