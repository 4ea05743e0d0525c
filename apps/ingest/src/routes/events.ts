/**
 * POST /v1/events: CloudEvents in, Kafka records out, 202 only once Kafka acknowledged every one of them.
 *
 *   202 {"accepted": N}       all N events acknowledged by Kafka (acks=all, idempotent producer)
 *   400 problem+json          invalid events or malformed body, every problem listed; nothing produced
 *   413 problem+json          body, batch or event too large; nothing produced
 *   415 problem+json          not a CloudEvents content mode
 *   429 problem+json          too many events already waiting for Kafka (Retry-After: 1); nothing produced
 *   503 problem+json          Kafka did not acknowledge in time, failed, or we are shutting down (Retry-After)
 */
import type { FastifyInstance } from "fastify";
import type { EventProblem } from "@eventstack/contract";
import { failSpan, injectTraceContext, problemSchema, sendProblem } from "@eventstack/runtime";
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { ErrorCodes, KafkaUnavailableError, OverloadedError, ShuttingDownError } from "../errors.js";
import { parseRequest } from "../http-binding.js";
import { toKafkaRecord, type KafkaRecord } from "../kafka-record.js";

export interface Accepted {
  accepted: number;
}

const acceptedSchema = {
  type: "object",
  required: ["accepted"],
  properties: { accepted: { type: "integer", minimum: 0 } },
} as const;

const REJECT_REASON = { 400: "invalid", 413: "too_large", 415: "unsupported_media_type" } as const;

export async function eventsRoute(app: FastifyInstance): Promise<void> {
  const { config, producer, metrics, tracing } = app.ingest;
  const limits = {
    maxBatchEvents: config.limits.maxBatchEvents,
    maxEventDataBytes: config.limits.maxEventDataBytes,
  };

  app.post<{ Body: Buffer | undefined; Reply: Accepted | unknown }>(
    "/v1/events",
    {
      schema: {
        response: {
          202: acceptedSchema,
          "4xx": problemSchema,
          "5xx": problemSchema,
        },
      },
    },
    async (request, reply) => {
      const parsed = parseRequest(request.headers, request.body, limits);
      if (!parsed.ok) {
        metrics.eventsRejected.inc({ reason: REJECT_REASON[parsed.status] });
        return sendProblem(request, reply, parsed.status, parsed.code, parsed.detail, parsed.errors && { errors: parsed.errors });
      }
      const { events, mode } = parsed;
      request.events = events.length;

      // The PRODUCER span's context is what the records carry, so a consumer's span links to the write. With tracing
      // off it is the caller's context, passed on unchanged (runtime tracing.ts).
      const span = tracing.tracer.startSpan(
        `send ${config.kafka.topic}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: { "messaging.system": "kafka", "messaging.operation.type": "send", "messaging.destination.name": config.kafka.topic, "messaging.batch.message_count": events.length },
        },
        request.trace?.context,
      );
      const transport = { requestId: request.id, ...injectTraceContext(trace.setSpan(request.trace?.context ?? ROOT_CONTEXT, span)) };
      const records: KafkaRecord[] = [];
      const oversized: EventProblem[] = [];
      events.forEach((event, i) => {
        const record = toKafkaRecord(event, transport);
        if (record.size > config.kafka.maxBatchBytes) {
          // Its data fits MAX_EVENT_DATA_BYTES but its attributes make the record too big for one Kafka batch.
          const detail = `the event's Kafka record would be ${record.size} bytes, more than the ${config.kafka.maxBatchBytes} allowed (KAFKA_MAX_BATCH_BYTES)`;
          oversized.push({ index: mode === "batch" ? i : 0, attribute: null, detail });
        } else {
          records.push(record);
        }
      });
      if (oversized.length > 0) {
        span.end();
        metrics.eventsRejected.inc({ reason: "too_large" });
        const subject = mode === "batch" ? `${oversized.length} of ${events.length} events ${oversized.length === 1 ? "is" : "are"}` : "the event is";
        return sendProblem(request, reply, 413, ErrorCodes.EVENT_TOO_LARGE, `${subject} too large; nothing was produced`, { errors: oversized });
      }

      try {
        await producer.produce(records);
        span.end();
      } catch (error) {
        failSpan(span, error);
        span.end();
        if (error instanceof OverloadedError) {
          metrics.eventsRejected.inc({ reason: "overloaded" });
          reply.header("retry-after", "1");
          return sendProblem(request, reply, 429, error.code, `${error.message}; nothing was produced, retry later`);
        }
        if (error instanceof ShuttingDownError) {
          metrics.eventsRejected.inc({ reason: "shutting_down" });
          reply.header("retry-after", String(config.retryAfterSeconds));
          return sendProblem(request, reply, 503, error.code, "the service is shutting down; nothing was produced, retry (another instance will take it)");
        }
        if (error instanceof KafkaUnavailableError) {
          reply.header("retry-after", String(config.retryAfterSeconds));
          // "may have been written": a timed-out request can still land, so a retry can duplicate, never lose.
          return sendProblem(request, reply, 503, error.code, `${error.message}; the events may or may not have been written, retry them`);
        }
        throw error;
      }
      return reply.code(202).send({ accepted: records.length });
    },
  );
}
