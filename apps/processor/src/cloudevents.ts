/**
 * CloudEvents 1.0 from the Kafka protocol binding: binary content mode (`ce_*` headers, `content-type`
 * header, value = data) and structured content mode (`content-type: application/cloudevents+json`, value =
 * the whole event as JSON). Anything else is rejected with a reason and an exact error text, which end up in
 * the dead-letter record's headers.
 *
 * Validation goes a little beyond the spec where PostgreSQL would otherwise reject the row later and turn
 * one bad record into a stuck batch: no NUL characters (text and jsonb cannot hold them), and the event
 * contract's limits (@eventstack/contract: key attribute lengths, RFC 3339 times PostgreSQL can hold), which
 * ingest enforces too, so that nothing ingest accepts is refused here.
 */

import { ATTRIBUTE_NAME, attributeHeader, exceedsKeyBytes, KAFKA_HEADERS, LIMITS, parseRfc3339, STRUCTURED_CONTENT_TYPE } from "@eventstack/contract";

export type DecodeFailureReason = "undecodable" | "invalid_cloudevent";

export interface CloudEvent {
  id: string;
  source: string;
  type: string;
  specversion: "1.0";
  /** RFC 3339 text as sent, or the Kafka record timestamp when the event has no `time` (see docs). */
  time: string;
  /** `time` as epoch microseconds (what PostgreSQL stores). */
  timeMicros: bigint;
  /** Start of the UTC minute of `time`, epoch milliseconds: the event's rollup minute. */
  minuteMs: number;
  timeFromRecord: boolean;
  subject: string | null;
  datacontenttype: string | null;
  dataschema: string | null;
  data: Buffer | null;
  /** Extension attributes, excluding the W3C trace context (kept apart below). */
  extensions: Record<string, unknown>;
  traceparent: string | null;
  tracestate: string | null;
}

export type DecodeResult = { ok: true; event: CloudEvent } | { ok: false; reason: DecodeFailureReason; error: string };

/** The slice of a Kafka record that decoding needs; the consumer's messages satisfy it. */
export interface RecordLike {
  value: Buffer | undefined | null;
  /** Header pairs in record order: the fetcher's arrays, or a Map (tests). A null name or value is Kafka's null. */
  headers: Iterable<readonly [Buffer | string | null, Buffer | null | undefined]>;
  timestamp: bigint;
}

const STRUCTURED = STRUCTURED_CONTENT_TYPE;
const PREFIX = KAFKA_HEADERS.attributePrefix;
const SPECVERSION_HEADER = attributeHeader("specversion");
const CONTEXT_ATTRIBUTES = new Set(["specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema"]);
const EXTENSION_NAME = ATTRIBUTE_NAME;
const utf8 = new TextDecoder("utf-8", { fatal: true });

class Invalid extends Error {
  constructor(
    readonly reason: DecodeFailureReason,
    message: string,
  ) {
    super(message);
  }
}

export function decodeCloudEvent(record: RecordLike): DecodeResult {
  try {
    const headers = readHeaders(record.headers);
    const contentType = headers.get(KAFKA_HEADERS.contentType) ?? null;
    if (headers.has(SPECVERSION_HEADER)) return { ok: true, event: fromBinary(headers, contentType, record) };
    if (contentType !== null && contentType.toLowerCase().startsWith(STRUCTURED)) {
      return { ok: true, event: fromStructured(record) };
    }
    throw new Invalid(
      "undecodable",
      `not a CloudEvent: no ce_specversion header (binary mode) and content-type is ${contentType === null ? "absent" : `"${contentType}"`}, not ${STRUCTURED} (structured mode)`,
    );
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.reason, error: err.message };
    throw err;
  }
}

/**
 * The header names this reads, by length, as bytes: a header name is recognised by comparing bytes, which
 * costs less than decoding every name to a string first (this runs for every header of every record).
 */
const KNOWN_NAMES: (readonly [Buffer, string])[][] = [];
for (const name of [
  ...["specversion", "id", "source", "type", "time", "subject", "dataschema", "traceparent", "tracestate"].map(attributeHeader),
  KAFKA_HEADERS.contentType, KAFKA_HEADERS.traceparent, KAFKA_HEADERS.tracestate,
]) {
  (KNOWN_NAMES[name.length] ??= []).push([Buffer.from(name, "latin1"), name]);
}

function knownName(k: Buffer): string | undefined {
  const candidates = KNOWN_NAMES[k.length];
  if (candidates === undefined) return undefined;
  outer: for (const [bytes, name] of candidates) {
    for (let i = k.length - 1; i >= 0; i--) if (k[i] !== bytes[i]) continue outer;
    return name;
  }
  return undefined;
}

function readHeaders(raw: RecordLike["headers"]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of raw) {
    if (k === null) continue;
    // Every header this reads starts with c (ce_*, content-type) or t (traceparent, tracestate): others
    // (x-request-id, an application's own) are skipped without decoding.
    const first = typeof k === "string" ? k.charCodeAt(0) : k[0];
    if (first !== 0x63 && first !== 0x74) continue;
    let key: string;
    if (typeof k === "string") key = k;
    else {
      // Only the other names starting with c or t (extensions, mostly) are decoded.
      key = knownName(k) ?? decodeUtf8(k, "a header name");
    }
    // Kafka header names are case-sensitive, the binding's ce_ prefix and content-type are lower case.
    if (!key.startsWith(PREFIX) && key !== KAFKA_HEADERS.contentType && key !== KAFKA_HEADERS.traceparent && key !== KAFKA_HEADERS.tracestate) continue;
    out.set(key, v === undefined || v === null ? "" : decodeUtf8(v, `header ${key}`));
  }
  return out;
}

function decodeUtf8(bytes: Buffer, what: string): string {
  // toString replaces every invalid sequence with U+FFFD, so a result without one proves the bytes valid;
  // only then (invalid bytes, or a genuine U+FFFD) does the slower strict decoder decide.
  const text = bytes.toString("utf8");
  if (!text.includes("\uFFFD")) return text;
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Invalid("undecodable", `${what} is not valid UTF-8`);
  }
}

function fromBinary(headers: Map<string, string>, contentType: string | null, record: RecordLike): CloudEvent {
  const attr = (name: string) => headers.get(attributeHeader(name));
  const label = (name: string) => `header ${attributeHeader(name)}`;
  const extensions: Record<string, unknown> = {};
  for (const [key, value] of headers) {
    if (!key.startsWith(PREFIX)) continue;
    const name = key.slice(PREFIX.length);
    if (CONTEXT_ATTRIBUTES.has(name) || name === "traceparent" || name === "tracestate") continue;
    if (!EXTENSION_NAME.test(name)) throw new Invalid("invalid_cloudevent", `header ${key}: extension names must be 1-${LIMITS.attributeNameLength} lower-case letters or digits`);
    noNul(value, `header ${key}`);
    extensions[name] = value;
  }
  return validate(
    {
      specversion: attr("specversion"),
      id: attr("id"),
      source: attr("source"),
      type: attr("type"),
      time: attr("time"),
      subject: attr("subject"),
      datacontenttype: contentType ?? undefined,
      dataschema: attr("dataschema"),
    },
    label,
    record,
    record.value ?? null,
    extensions,
    headers.get(KAFKA_HEADERS.traceparent) ?? attr("traceparent") ?? null,
    headers.get(KAFKA_HEADERS.tracestate) ?? attr("tracestate") ?? null,
  );
}

function fromStructured(record: RecordLike): CloudEvent {
  if (!record.value || record.value.length === 0) throw new Invalid("undecodable", "structured-mode record has an empty value");
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeUtf8(record.value, "the value"));
  } catch (err) {
    if (err instanceof Invalid) throw err;
    throw new Invalid("undecodable", `value is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Invalid("undecodable", "value is not a JSON object");
  }
  const obj = parsed as Record<string, unknown>;
  const label = (name: string) => `attribute ${name}`;
  const str = (name: string): string | undefined => {
    const v = obj[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") throw new Invalid("invalid_cloudevent", `${label(name)} must be a string`);
    return v;
  };
  let data: Buffer | null = null;
  if (obj.data_base64 !== undefined && obj.data !== undefined) {
    throw new Invalid("invalid_cloudevent", "attributes data and data_base64 are mutually exclusive");
  }
  if (typeof obj.data_base64 === "string") {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(obj.data_base64)) throw new Invalid("undecodable", "attribute data_base64 is not valid base64");
    data = Buffer.from(obj.data_base64, "base64");
  } else if (obj.data !== undefined) {
    // Kept byte-for-byte as JSON so a reader gets what a binary-mode producer would have sent.
    data = Buffer.from(JSON.stringify(obj.data));
  }
  const extensions: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(obj)) {
    if (CONTEXT_ATTRIBUTES.has(name) || name === "data" || name === "data_base64" || name === "traceparent" || name === "tracestate") continue;
    if (!EXTENSION_NAME.test(name)) throw new Invalid("invalid_cloudevent", `attribute ${name}: extension names must be 1-${LIMITS.attributeNameLength} lower-case letters or digits`);
    if (typeof value === "string") noNul(value, `attribute ${name}`);
    else if (typeof value !== "number" && typeof value !== "boolean") {
      throw new Invalid("invalid_cloudevent", `attribute ${name}: extension values must be strings, numbers or booleans`);
    }
    extensions[name] = value;
  }
  return validate(
    {
      specversion: str("specversion"),
      id: str("id"),
      source: str("source"),
      type: str("type"),
      time: str("time"),
      subject: str("subject"),
      datacontenttype: str("datacontenttype") ?? (obj.data !== undefined ? "application/json" : undefined),
      dataschema: str("dataschema"),
    },
    label,
    record,
    data,
    extensions,
    str("traceparent") ?? null,
    str("tracestate") ?? null,
  );
}

interface RawAttributes {
  specversion: string | undefined;
  id: string | undefined;
  source: string | undefined;
  type: string | undefined;
  time: string | undefined;
  subject: string | undefined;
  datacontenttype: string | undefined;
  dataschema: string | undefined;
}

function validate(
  a: RawAttributes,
  label: (name: string) => string,
  record: RecordLike,
  data: Buffer | null,
  extensions: Record<string, unknown>,
  traceparent: string | null,
  tracestate: string | null,
): CloudEvent {
  if (a.specversion === undefined) throw new Invalid("invalid_cloudevent", `${label("specversion")} is missing`);
  if (a.specversion !== "1.0") throw new Invalid("invalid_cloudevent", `${label("specversion")} is "${a.specversion}", expected "1.0"`);
  const required = (name: "id" | "source" | "type"): string => {
    const v = a[name];
    if (v === undefined || v === "") throw new Invalid("invalid_cloudevent", `${label(name)} is missing`);
    return keyAttribute(v, label(name));
  };
  const id = required("id");
  const source = required("source");
  const type = required("type");
  let subject: string | null = null;
  if (a.subject !== undefined) {
    if (a.subject === "") throw new Invalid("invalid_cloudevent", `${label("subject")} must not be empty when present`);
    subject = keyAttribute(a.subject, label("subject"));
  }
  let time: string;
  let timeMicros: bigint;
  let minuteMs: number;
  let timeFromRecord = false;
  if (a.time !== undefined) {
    const parsed = parseRfc3339(a.time);
    if (!parsed.ok) throw new Invalid("invalid_cloudevent", `${label("time")} is not an RFC 3339 timestamp (${parsed.why}): "${a.time}"`);
    time = a.time;
    timeMicros = parsed.micros;
    minuteMs = parsed.minuteMs;
  } else {
    const ms = Number(record.timestamp);
    time = new Date(ms).toISOString();
    timeMicros = record.timestamp * 1000n;
    minuteMs = Math.floor(ms / 60_000) * 60_000;
    timeFromRecord = true;
  }
  for (const [name, v] of [["datacontenttype", a.datacontenttype], ["dataschema", a.dataschema]] as const) {
    if (v !== undefined) noNul(v, name === "datacontenttype" ? "content-type" : label(name));
  }
  return {
    id,
    source,
    type,
    specversion: "1.0",
    time,
    timeMicros,
    minuteMs,
    timeFromRecord,
    subject,
    datacontenttype: a.datacontenttype ?? null,
    dataschema: a.dataschema ?? null,
    data,
    extensions,
    traceparent,
    tracestate,
  };
}

function keyAttribute(value: string, what: string): string {
  noNul(value, what);
  if (exceedsKeyBytes(value)) {
    throw new Invalid("invalid_cloudevent", `${what} is longer than ${LIMITS.keyAttributeBytes} bytes`);
  }
  return value;
}

function noNul(value: string, what: string): void {
  if (value.includes("\u0000")) throw new Invalid("invalid_cloudevent", `${what} contains a NUL character`);
}
