/**
 * A CloudEvent as a Kafka record: the contract's binary-mode binding (@eventstack/contract: key, ce_* headers,
 * content-type, data as the value) plus the transport headers traceparent, tracestate and x-request-id, which
 * describe the HTTP request that carried the event, and the record's size bound for request sizing.
 */
import { eventHeaders, KAFKA_HEADERS, keyOf, type CloudEvent } from "@eventstack/contract";

export { keyOf };

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

export function toKafkaRecord(event: CloudEvent, transport: TransportContext): KafkaRecord {
  const headers = eventHeaders(event);
  if (transport.traceparent !== undefined) headers.set(KAFKA_HEADERS.traceparent, transport.traceparent);
  if (transport.tracestate !== undefined) headers.set(KAFKA_HEADERS.tracestate, transport.tracestate);
  headers.set(KAFKA_HEADERS.requestId, transport.requestId);

  const key = Buffer.from(keyOf(event), "utf8");
  const value = event.data ?? null;
  let size = RECORD_OVERHEAD + key.length + (value?.length ?? 0);
  for (const [k, v] of headers) size += HEADER_OVERHEAD + Buffer.byteLength(k) + Buffer.byteLength(v);
  return { key, value, headers, size };
}
