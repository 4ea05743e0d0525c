/**
 * The conformance corpus (corpus/*.json) and how to send its events: as an HTTP request in each content mode of
 * the CloudEvents HTTP binding (ingest's tests), or as a binary-mode Kafka record carrying the event's attributes
 * as they are (the processor's tests). Test support: no service imports it at run time.
 */
import { readFileSync } from "node:fs";
import { isJsonMediaType } from "../src/cloudevents.js";
import { attributeHeader, KAFKA_HEADERS } from "../src/kafka-binding.js";

export const MODES = ["structured", "batch", "binary"] as const;
export type Mode = (typeof MODES)[number];

export interface CorpusEvent {
  name: string;
  /** The event in the JSON event format, strings expanded. */
  event: Record<string, unknown>;
  /** The HTTP content modes it can be sent in (binary mode carries strings only). */
  modes: readonly Mode[];
}

export interface InvalidCorpusEvent extends CorpusEvent {
  /** The attribute ingest names, and its exact problem text. */
  attribute: string | null;
  detail: string;
  /**
   * The processor's exact reason for a binary-mode record with the same attributes; null where the rule is ingest's
   * alone (the processor stores such a record); undefined where the attributes have no binary-mode form.
   */
  processor: string | null | undefined;
}

/** `count` code points drawn from [first, last] by a fixed-seed generator: text no compressor shortens. */
function pseudorandom(first: number, last: number, count: number, seed: number): string {
  let x = seed;
  let out = "";
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // The high bits: a power-of-two LCG's low bits repeat with short periods.
    out += String.fromCodePoint(first + ((x >>> 8) % (last - first + 1)));
  }
  return out;
}

/**
 * Long attributes without kilobyte lines: `{"$repeat": [text, n]}` is text×n, `{"$random": [first, last, n, seed]}`
 * n code points from [first, last] (incompressible, as PostgreSQL's index entries are worst), each with an
 * optional `"$before"` and `"$after"`.
 */
function expand(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expand);
  if (value === null || typeof value !== "object") return value;
  const o = value as Record<string, unknown>;
  const around = (text: string) => `${(o.$before as string | undefined) ?? ""}${text}${(o.$after as string | undefined) ?? ""}`;
  if (Array.isArray(o.$repeat)) {
    const [text, times] = o.$repeat as [string, number];
    return around(text.repeat(times));
  }
  if (Array.isArray(o.$random)) {
    const [first, last, count, seed] = o.$random as [number, number, number, number];
    return around(pseudorandom(first, last, count, seed));
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, expand(v)]));
}

function read(file: string): Record<string, unknown>[] {
  const text = readFileSync(new URL(`../../corpus/${file}`, import.meta.url), "utf8");
  return (JSON.parse(text) as { events: Record<string, unknown>[] }).events.map((e) => ({ ...e, event: expand(e.event), modes: e.modes ?? MODES }));
}

export function loadCorpus(): { valid: CorpusEvent[]; invalid: InvalidCorpusEvent[] } {
  return { valid: read("valid.json") as unknown as CorpusEvent[], invalid: read("invalid.json") as unknown as InvalidCorpusEvent[] };
}

export interface HttpRequest {
  headers: Record<string, string>;
  body: Buffer;
}

/** The data of a JSON-format event as bytes: JSON data as its JSON text, a string with a non-JSON type as UTF-8, data_base64 decoded. */
export function dataBytes(event: Record<string, unknown>): Buffer | undefined {
  if (typeof event.data_base64 === "string") return Buffer.from(event.data_base64, "base64");
  if (event.data === undefined || event.data === null) return undefined;
  const type = typeof event.datacontenttype === "string" ? event.datacontenttype : undefined;
  if (!isJsonMediaType(type) && typeof event.data === "string") return Buffer.from(event.data, "utf8");
  return Buffer.from(JSON.stringify(event.data));
}

/**
 * The event as a POST /v1/events request in `mode`. Binary mode: every attribute a ce-<name> header, percent-encoded
 * (HTTP binding §3.1.3.2), datacontenttype as Content-Type (application/json for JSON data without one, as the JSON
 * format implies), the data as the body.
 */
export function httpRequest(event: Record<string, unknown>, mode: Mode): HttpRequest {
  if (mode === "structured") return { headers: { "content-type": "application/cloudevents+json" }, body: Buffer.from(JSON.stringify(event)) };
  if (mode === "batch") return { headers: { "content-type": "application/cloudevents-batch+json" }, body: Buffer.from(JSON.stringify([event])) };
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event)) {
    if (value === null || value === undefined || name === "data" || name === "data_base64" || name === "datacontenttype") continue;
    headers[`ce-${name}`] = encodeURIComponent(String(value));
  }
  const data = dataBytes(event);
  const type = typeof event.datacontenttype === "string" ? event.datacontenttype : event.data !== undefined && event.data !== null ? "application/json" : undefined;
  if (type !== undefined) headers["content-type"] = type;
  return { headers, body: data ?? Buffer.alloc(0) };
}

/** A binary-mode Kafka record carrying the event's attributes as they are, valid or not (no validation). */
export function rawKafkaRecord(event: Record<string, unknown>): { headers: Map<string, string>; value: Buffer | null } {
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(event)) {
    if (value === null || value === undefined || name === "data" || name === "data_base64" || name === "datacontenttype") continue;
    headers.set(attributeHeader(name), String(value));
  }
  if (typeof event.datacontenttype === "string") headers.set(KAFKA_HEADERS.contentType, event.datacontenttype);
  return { headers, value: dataBytes(event) ?? null };
}
