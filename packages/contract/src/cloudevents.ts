/**
 * CloudEvents 1.0 attributes as the contract admits them: the event model, the rules of the core specification
 * plus the contract's limits (limits.ts: what PostgreSQL can store), and decoding of one event from the JSON event
 * format or from attributes that arrived as strings. Ingest validates every event with this; HTTP concerns
 * (content modes, header decoding) live in ingest's http-binding.ts.
 *
 * Validation never stops at the first problem: every problem of every event is reported, each with the event's
 * index, the attribute, and why, so a client fixes a batch in one round trip.
 */
import { LIMITS } from "./limits.js";
import { rfc3339Problem } from "./rfc3339.js";


/** An extension attribute value: JSON strings, integers and booleans; binary-mode headers are always strings. */
export type ExtensionValue = string | number | boolean;

export interface CloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  datacontenttype: string | undefined;
  dataschema: string | undefined;
  subject: string | undefined;
  time: string | undefined;
  /** Extension attributes by name, in the order they were sent. */
  extensions: Map<string, ExtensionValue>;
  /** The data exactly as it goes into the Kafka record value; undefined when the event has no data. */
  data: Buffer | undefined;
}

export interface EventProblem {
  /** Position of the event in the batch (0 for structured and binary mode); null for a problem of the whole body. */
  index: number | null;
  /** The attribute at fault, as named in the event; null when the problem is not one attribute's. */
  attribute: string | null;
  detail: string;
  /** True when the only fault is size: decides between 413 and 400 (ingest's http-binding.ts). */
  tooLarge?: true;
}

export const CORE_ATTRIBUTES = ["specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"] as const;
type CoreAttribute = (typeof CORE_ATTRIBUTES)[number];
const CORE = new Set<string>(CORE_ATTRIBUTES);

/** The attributes that are btree index keys in PostgreSQL, bounded by LIMITS.keyAttributeBytes. */
export const KEY_ATTRIBUTES: ReadonlySet<string> = new Set(["id", "source", "type", "subject"]);

// CloudEvents 1.0.2 §3.1.1: lower-case ASCII letters and digits. The spec says names SHOULD NOT exceed 20
// characters; the contract makes it a MUST (LIMITS.attributeNameLength).
export const ATTRIBUTE_NAME = new RegExp(`^[a-z0-9]{1,${LIMITS.attributeNameLength}}$`);
// The String type forbids control characters (U+0000-001F, U+007F-009F), lone surrogates and non-characters.
const FORBIDDEN_CHARS = /[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/u;
// RFC 3986 URI-reference, by character set and percent-encoding; structure is not checked beyond that.
const URI_CHARS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// RFC 2046 / RFC 9110 media type: type "/" subtype *( OWS ";" OWS parameter ).
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[^"\\\\]|\\\\.)*"))*[ \\t]*$`);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT32_MIN = LIMITS.integerMin;
const INT32_MAX = LIMITS.integerMax;

/** JSON-formatted content per the JSON format §3.1: subtype `json` or a `+json` suffix, parameters ignored. */
export function isJsonMediaType(mediaType: string | undefined): boolean {
  if (mediaType === undefined) return true; // the JSON format implies application/json when absent
  const essence = (mediaType.split(";")[0] ?? "").trim().toLowerCase();
  const subtype = essence.slice(essence.indexOf("/") + 1);
  return essence.includes("/") && (subtype === "json" || subtype.endsWith("+json"));
}

/** Name of a JSON value's type for messages: "array", "null", "object", "string"... */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * Whether `value` is more than LIMITS.keyAttributeBytes of UTF-8. A UTF-16 code unit takes at most 3 UTF-8 bytes,
 * so a short string needs no byte count (this runs for every key attribute of every event).
 */
export function exceedsKeyBytes(value: string): boolean {
  return value.length * 3 > LIMITS.keyAttributeBytes && Buffer.byteLength(value) > LIMITS.keyAttributeBytes;
}

/**
 * Collects problems for one event; `problem` records them, the checks return the validated value or undefined.
 */
export class AttributeChecker {
  readonly problems: EventProblem[] = [];

  constructor(private readonly index: number | null) {}

  problem(attribute: string | null, detail: string, tooLarge?: true): undefined {
    this.problems.push(tooLarge ? { index: this.index, attribute, detail, tooLarge } : { index: this.index, attribute, detail });
    return undefined;
  }

  /** A String-typed attribute: a string, without forbidden characters, non-empty unless allowed. */
  string(name: string, value: unknown, required: boolean): string | undefined {
    if (value === undefined || value === null) return required ? this.problem(name, `${name} is required`) : undefined;
    if (typeof value !== "string") return this.problem(name, `${name} must be a string, got ${jsonTypeOf(value)}`);
    if (value === "") return this.problem(name, `${name} must not be empty`);
    if (FORBIDDEN_CHARS.test(value)) return this.problem(name, `${name} must not contain control characters, lone surrogates or non-characters`);
    return value;
  }

  core(name: CoreAttribute, value: unknown): string | undefined {
    const required = name === "specversion" || name === "id" || name === "source" || name === "type";
    const s = this.string(name, value, required);
    if (s === undefined) return undefined;
    if (KEY_ATTRIBUTES.has(name) && exceedsKeyBytes(s)) {
      return this.problem(name, `${name} must be at most ${LIMITS.keyAttributeBytes} bytes of UTF-8, got ${Buffer.byteLength(s)}`);
    }
    switch (name) {
      case "specversion":
        return s === "1.0" ? s : this.problem(name, `specversion must be "1.0", got ${JSON.stringify(s)}`);
      case "source":
        return URI_CHARS.test(s) ? s : this.problem(name, `source must be a URI-reference (RFC 3986), got ${JSON.stringify(s)}`);
      case "dataschema":
        return URI_CHARS.test(s) && URI_SCHEME.test(s) ? s : this.problem(name, `dataschema must be an absolute URI (RFC 3986), got ${JSON.stringify(s)}`);
      case "datacontenttype":
        return MEDIA_TYPE.test(s) ? s : this.problem(name, `datacontenttype must be a media type such as application/json (RFC 2046), got ${JSON.stringify(s)}`);
      case "time": {
        const why = rfc3339Problem(s);
        return why === undefined ? s : this.problem(name, `time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (${why}), got ${JSON.stringify(s)}`);
      }
      default:
        return s;
    }
  }

  /** An extension attribute: its name, and a value of a type the JSON format can carry. */
  extension(name: string, value: unknown): ExtensionValue | undefined {
    if (!ATTRIBUTE_NAME.test(name)) {
      return this.problem(name, `attribute names must be 1-${LIMITS.attributeNameLength} lower-case letters (a-z) or digits (0-9), got ${JSON.stringify(name)}`);
    }
    // The Partitioning extension defines partitionkey as a non-empty String; it becomes the Kafka key.
    if (name === "partitionkey") return this.string(name, value, true);
    if (typeof value === "boolean") return value;
    if (typeof value === "number") {
      if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return value;
      return this.problem(name, `${name} must be an integer from ${INT32_MIN} to ${INT32_MAX}, got ${value}`);
    }
    if (typeof value === "string") {
      // Unlike the required core attributes, an extension may carry an empty string.
      if (FORBIDDEN_CHARS.test(value)) return this.problem(name, `${name} must not contain control characters, lone surrogates or non-characters`);
      return value;
    }
    return this.problem(name, `${name} must be a string, an integer or a boolean, got ${jsonTypeOf(value)}`);
  }

  dataSize(attribute: string, data: Buffer | undefined, maxBytes: number): Buffer | undefined {
    if (data !== undefined && data.length > maxBytes) {
      return this.problem(attribute, `${attribute} is ${data.length} bytes, more than the ${maxBytes} allowed per event`, true);
    }
    return data;
  }
}

export interface DecodeOptions {
  maxEventDataBytes: number;
}

/**
 * One event of the JSON event format. `rawData` is the exact bytes of the `data` member in the request body
 * (ingest's json-spans.ts): JSON data goes to Kafka as sent, never re-serialized, so numbers beyond 2^53, key order
 * and formatting survive.
 */
export function decodeJsonEvent(
  value: unknown,
  rawData: Buffer | undefined,
  index: number,
  options: DecodeOptions,
  what: "the body" | "each batch element",
): { event?: CloudEvent; problems: EventProblem[] } {
  const check = new AttributeChecker(index);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const hint = what === "the body" && Array.isArray(value) ? "; send batches as application/cloudevents-batch+json" : "";
    check.problem(null, `${what} must be a JSON object (a CloudEvent), got ${jsonTypeOf(value)}${hint}`);
    return { problems: check.problems };
  }
  const obj = value as Record<string, unknown>;
  const core: Partial<Record<CoreAttribute, string>> = {};
  for (const name of CORE_ATTRIBUTES) core[name] = check.core(name, obj[name]);

  const extensions = new Map<string, ExtensionValue>();
  for (const [name, v] of Object.entries(obj)) {
    if (CORE.has(name) || name === "data" || name === "data_base64") continue;
    if (v === null && ATTRIBUTE_NAME.test(name)) continue; // JSON format §2.2: null means unset
    const ext = check.extension(name, v);
    if (ext !== undefined) extensions.set(name, ext);
  }

  let data: Buffer | undefined;
  const hasData = obj.data !== undefined;
  const hasBase64 = obj.data_base64 !== undefined && obj.data_base64 !== null;
  if (hasData && hasBase64) {
    check.problem("data", "data and data_base64 are mutually exclusive");
  } else if (hasBase64) {
    const b64 = obj.data_base64;
    if (typeof b64 !== "string") check.problem("data_base64", `data_base64 must be a string, got ${jsonTypeOf(b64)}`);
    else if (!BASE64.test(b64)) check.problem("data_base64", "data_base64 must be base64 (RFC 4648 §4, with padding)");
    else data = check.dataSize("data_base64", Buffer.from(b64, "base64"), options.maxEventDataBytes);
  } else if (hasData) {
    if (isJsonMediaType(core.datacontenttype)) {
      data = check.dataSize("data", rawData, options.maxEventDataBytes);
    } else if (typeof obj.data === "string") {
      data = check.dataSize("data", Buffer.from(obj.data, "utf8"), options.maxEventDataBytes);
    } else {
      check.problem("data", `data must be a string when datacontenttype (${core.datacontenttype}) is not JSON; send binary data as data_base64`);
    }
  }

  if (check.problems.length > 0) return { problems: check.problems };
  return {
    event: {
      specversion: "1.0",
      id: core.id as string,
      source: core.source as string,
      type: core.type as string,
      // JSON format §3.1.2: an event with JSON data and no datacontenttype keeps the implied application/json
      // when re-encoded for another binding, so the Kafka consumer knows how to read the value.
      datacontenttype: core.datacontenttype ?? (hasData ? "application/json" : undefined),
      dataschema: core.dataschema,
      subject: core.subject,
      time: core.time,
      extensions,
      data,
    },
    problems: [],
  };
}

/** Validates attributes that arrived as strings (binary mode headers) into an event. */
export function decodeStringAttributes(
  attributes: Map<string, string>,
  datacontenttype: string | undefined,
  data: Buffer | undefined,
  options: DecodeOptions,
): { event?: CloudEvent; problems: EventProblem[] } {
  const check = new AttributeChecker(0);
  const core: Partial<Record<CoreAttribute, string>> = {};
  for (const name of CORE_ATTRIBUTES) {
    core[name] = check.core(name, name === "datacontenttype" ? datacontenttype : attributes.get(name));
  }
  const extensions = new Map<string, ExtensionValue>();
  for (const [name, v] of attributes) {
    if (CORE.has(name)) continue;
    const ext = check.extension(name, v);
    if (ext !== undefined) extensions.set(name, ext);
  }
  const checkedData = check.dataSize("data", data, options.maxEventDataBytes);
  if (check.problems.length > 0) return { problems: check.problems };
  return {
    event: {
      specversion: "1.0",
      id: core.id as string,
      source: core.source as string,
      type: core.type as string,
      datacontenttype: core.datacontenttype,
      dataschema: core.dataschema,
      subject: core.subject,
      time: core.time,
      extensions,
      data: checkedData,
    },
    problems: [],
  };
}
