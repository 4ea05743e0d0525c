/**
 * The CloudEvents Kafka protocol binding as eventstack uses it, binary content mode:
 *
 *   key      the `partitionkey` extension if present, else `subject`, else `source`
 *   value    the event's data bytes as-is; no value when the event has no data (binding §3.2.2)
 *   headers  ce_<attribute> for every attribute but datacontenttype and data, as UTF-8 strings;
 *            content-type = datacontenttype
 *
 * Ingest writes records this way; the processor reads them (and also structured mode). The transport headers
 * (traceparent, tracestate, x-request-id) describe the HTTP request that carried an event, not the event.
 *
 * Why that key: the binding recommends `partitionkey`; without it, `subject` (the entity the event is about)
 * keeps one entity's events in order on one partition, and `source` still groups a producer's events. A key is
 * always present, so ordering never depends on the client remembering to send one.
 */
import type { CloudEvent } from "./cloudevents.js";

export const KAFKA_HEADERS = {
  /** Prefix of an attribute's header: ce_id, ce_source... (binding §3.2.3). */
  attributePrefix: "ce_",
  /** datacontenttype travels as the record's content-type header (binding §3.2.1). */
  contentType: "content-type",
  traceparent: "traceparent",
  tracestate: "tracestate",
  requestId: "x-request-id",
} as const;

/** The header that carries attribute `name`. */
export function attributeHeader(name: string): string {
  return `${KAFKA_HEADERS.attributePrefix}${name}`;
}

/** The media type of a structured-mode record's value (binding §3.3). */
export const STRUCTURED_CONTENT_TYPE = "application/cloudevents+json";

export function keyOf(event: Pick<CloudEvent, "extensions" | "subject" | "source">): string {
  const partitionkey = event.extensions.get("partitionkey");
  if (typeof partitionkey === "string") return partitionkey;
  return event.subject ?? event.source;
}

/** The event's headers in binary content mode, in a fixed order; transport headers are the caller's to add. */
export function eventHeaders(event: CloudEvent): Map<string, string> {
  const headers = new Map<string, string>();
  headers.set(attributeHeader("specversion"), event.specversion);
  headers.set(attributeHeader("id"), event.id);
  headers.set(attributeHeader("source"), event.source);
  headers.set(attributeHeader("type"), event.type);
  if (event.dataschema !== undefined) headers.set(attributeHeader("dataschema"), event.dataschema);
  if (event.subject !== undefined) headers.set(attributeHeader("subject"), event.subject);
  if (event.time !== undefined) headers.set(attributeHeader("time"), event.time);
  // Canonical string forms (CloudEvents type system): integers in decimal, booleans as true/false.
  for (const [name, value] of event.extensions) headers.set(attributeHeader(name), String(value));
  if (event.datacontenttype !== undefined) headers.set(KAFKA_HEADERS.contentType, event.datacontenttype);
  return headers;
}
