/**
 * A CloudEvent as a Kafka record, per the CloudEvents Kafka protocol binding in binary content mode:
 *
 *   key      the `partitionkey` extension if present, else `subject`, else `source`
 *   value    the event's data bytes as-is; no value when the event has no data (binding §3.2.2)
 *   headers  ce_<attribute> for every attribute but datacontenttype and data, as UTF-8 strings;
 *            content-type = datacontenttype; plus the transport headers traceparent, tracestate and
 *            x-request-id, which describe the HTTP request that carried the event, not the event.
 *
 * Why that key: the binding recommends `partitionkey`; without it, `subject` (the entity the event is about)
 * keeps one entity's events in order on one partition, and `source` still groups a producer's events. A key is
 * always present, so ordering never depends on the client remembering to send one.
 */
import type { CloudEvent } from "./cloudevents.js";

export interface TransportContext {
  requestId: string;
  /** The W3C trace context to propagate: our producer span when tracing is on, else the caller's as received. */
  traceparent: string | undefined;
  tracestate: string | undefined;
}

export interface KafkaRecord {
  key: Buffer;
  value: Buffer | null;
  headers: Map<string, string>;
  /** Upper bound of the record's size in a record batch, for request sizing. */
  size: number;
}

// Per record in a v2 batch: length, attributes, timestamp and offset deltas, key/value lengths, header count
// (varints, at most 5+1+10+5+5+5+5 bytes) and two length varints per header.
const RECORD_OVERHEAD = 36;
const HEADER_OVERHEAD = 10;

export function keyOf(event: CloudEvent): string {
  const partitionkey = event.extensions.get("partitionkey");
  if (typeof partitionkey === "string") return partitionkey;
  return event.subject ?? event.source;
}

export function toKafkaRecord(event: CloudEvent, transport: TransportContext): KafkaRecord {
  const headers = new Map<string, string>();
  headers.set("ce_specversion", event.specversion);
  headers.set("ce_id", event.id);
  headers.set("ce_source", event.source);
  headers.set("ce_type", event.type);
  if (event.dataschema !== undefined) headers.set("ce_dataschema", event.dataschema);
  if (event.subject !== undefined) headers.set("ce_subject", event.subject);
  if (event.time !== undefined) headers.set("ce_time", event.time);
  // Canonical string forms (CloudEvents type system): integers in decimal, booleans as true/false.
  for (const [name, value] of event.extensions) headers.set(`ce_${name}`, String(value));
  if (event.datacontenttype !== undefined) headers.set("content-type", event.datacontenttype);
  if (transport.traceparent !== undefined) headers.set("traceparent", transport.traceparent);
  if (transport.tracestate !== undefined) headers.set("tracestate", transport.tracestate);
  headers.set("x-request-id", transport.requestId);

  const key = Buffer.from(keyOf(event), "utf8");
  const value = event.data ?? null;
  let size = RECORD_OVERHEAD + key.length + (value?.length ?? 0);
  for (const [k, v] of headers) size += HEADER_OVERHEAD + Buffer.byteLength(k) + Buffer.byteLength(v);
  return { key, value, headers, size };
}
