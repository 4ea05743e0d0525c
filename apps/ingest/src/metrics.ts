/**
 * Prometheus metrics, on a registry of our own (not prom-client's global one) so every app instance built in a
 * test starts from zero and two instances never share counters.
 *
 * Labels stay low-cardinality: `route` is the route pattern ("/v1/events"), or "unmatched" for 404s, never the
 * raw URL a client chose.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route" | "status">;
  httpInFlight: Gauge<"route">;
  eventsProduced: Counter;
  eventsRejected: Counter<"reason">;
  produceErrors: Counter<"reason">;
  pendingEvents: Gauge;
  sendDuration: Histogram;
  sendEvents: Histogram;
  producerResets: Counter<"reason">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: "ingest_http_requests_total",
      help: "HTTP requests answered, by method, route pattern and status code.",
      labelNames: ["method", "route", "status"],
      registers,
    }),
    httpDuration: new Histogram({
      name: "ingest_http_request_duration_seconds",
      help: "Time from receiving a request to sending its response; for POST /v1/events it includes waiting for Kafka's acknowledgement.",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    httpInFlight: new Gauge({
      name: "ingest_http_requests_in_flight",
      help: "HTTP requests received and not yet answered, by route pattern.",
      labelNames: ["route"],
      registers,
    }),
    eventsProduced: new Counter({
      name: "ingest_events_produced_total",
      help: "Events acknowledged by Kafka (acks=all).",
      registers,
    }),
    eventsRejected: new Counter({
      name: "ingest_events_rejected_total",
      help: "Requests refused before producing, by reason: invalid, too_large, unsupported_media_type, overloaded, shutting_down.",
      labelNames: ["reason"],
      registers,
    }),
    produceErrors: new Counter({
      name: "ingest_produce_errors_total",
      help: "Events answered 503 because Kafka did not acknowledge them, by reason: timeout, error.",
      labelNames: ["reason"],
      registers,
    }),
    pendingEvents: new Gauge({
      name: "ingest_events_pending",
      help: "Events waiting for Kafka's acknowledgement; requests are shed with 429 above MAX_PENDING_EVENTS.",
      registers,
    }),
    sendDuration: new Histogram({
      name: "ingest_kafka_send_duration_seconds",
      help: "Duration of one produce request to Kafka, from send to acknowledgement or failure.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    sendEvents: new Histogram({
      name: "ingest_kafka_send_events",
      help: "Events per produce request (requests arriving while one is in flight are batched into the next).",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers,
    }),
    producerResets: new Counter({
      name: "ingest_kafka_producer_resets_total",
      help: "Produce requests that failed (error) or were given up at KAFKA_ACK_TIMEOUT_MS (timeout), by reason; after a failed request the idempotent producer takes a new producer id.",
      labelNames: ["reason"],
      registers,
    }),
  };
}
