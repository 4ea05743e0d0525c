/**
 * The CloudEvents HTTP protocol binding, receiving side: which content mode a request uses, and the events in it.
 *
 *   structured  Content-Type application/cloudevents+json        body = one event in the JSON format
 *   batched     Content-Type application/cloudevents-batch+json  body = JSON array of such events
 *   binary      a ce-specversion header, any other Content-Type   headers = attributes, body = data
 *
 * The outcome is either the events, or a rejection with its HTTP status, stable code and every problem found.
 */
import { batchDataSpans, structuredDataSpan } from "./json-spans.js";
import { decodeJsonEvent, decodeStringAttributes, type CloudEvent, type DecodeOptions, type EventProblem } from "@eventstack/contract";
import { ErrorCodes, type ErrorCode } from "./errors.js";

export const STRUCTURED = "application/cloudevents+json";
export const BATCH = "application/cloudevents-batch+json";

export type ContentMode = "structured" | "batch" | "binary";

export interface ParseLimits extends DecodeOptions {
  maxBatchEvents: number;
}

export type ParseResult =
  | { ok: true; mode: ContentMode; events: CloudEvent[] }
  | { ok: false; mode: ContentMode | undefined; status: 400 | 413 | 415; code: ErrorCode; detail: string; errors: EventProblem[] | undefined };

type Headers = Record<string, string | string[] | undefined>;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function mediaTypeOf(contentType: string | undefined): { essence: string | undefined; charset: string | undefined } {
  if (contentType === undefined) return { essence: undefined, charset: undefined };
  const [essence, ...params] = contentType.split(";");
  let charset: string | undefined;
  for (const p of params) {
    const [k, v] = p.split("=");
    if (k?.trim().toLowerCase() === "charset" && v !== undefined) charset = v.trim().replace(/^"(.*)"$/, "$1").toLowerCase();
  }
  return { essence: essence?.trim().toLowerCase(), charset };
}

function reject(mode: ContentMode | undefined, status: 400 | 413 | 415, code: ErrorCode, detail: string, errors?: EventProblem[]): ParseResult {
  return { ok: false, mode, status, code, detail, errors };
}

/** Problems of individual events: 413 when every one of them is about size, else 400 listing them all. */
function rejectEvents(mode: ContentMode, problems: EventProblem[], total: number): ParseResult {
  const errors = problems.map(({ index, attribute, detail }) => ({ index, attribute, detail }));
  const invalid = new Set(problems.map((p) => p.index)).size;
  const subject = mode === "batch" ? `${invalid} of ${total} events ${invalid === 1 ? "is" : "are"}` : "the event is";
  if (problems.every((p) => p.tooLarge)) {
    return reject(mode, 413, ErrorCodes.EVENT_TOO_LARGE, `${subject} too large; nothing was produced`, errors);
  }
  return reject(mode, 400, ErrorCodes.INVALID_EVENTS, `${subject} invalid; nothing was produced`, errors);
}

function parseJson(mode: ContentMode, body: Buffer | undefined): { ok: true; value: unknown } | { ok: false; result: ParseResult } {
  const malformed = (detail: string) => ({ ok: false as const, result: reject(mode, 400, ErrorCodes.MALFORMED_BODY, detail, [{ index: null, attribute: null, detail }]) });
  if (body === undefined || body.length === 0) return malformed("the body is empty; expected JSON");
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return malformed("the body is not valid UTF-8");
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return malformed("the body is not valid JSON");
  }
}

function parseStructured(body: Buffer | undefined, limits: ParseLimits): ParseResult {
  const json = parseJson("structured", body);
  if (!json.ok) return json.result;
  const raw = body as Buffer;
  // Only an object has a data member to slice; decodeJsonEvent reports anything else.
  const span = json.value !== null && typeof json.value === "object" && !Array.isArray(json.value) ? structuredDataSpan(raw) : undefined;
  const { event, problems } = decodeJsonEvent(json.value, span, 0, limits, "the body");
  return event ? { ok: true, mode: "structured", events: [event] } : rejectEvents("structured", problems, 1);
}

function parseBatch(body: Buffer | undefined, limits: ParseLimits): ParseResult {
  const json = parseJson("batch", body);
  if (!json.ok) return json.result;
  if (!Array.isArray(json.value)) {
    const detail = `the body must be a JSON array of CloudEvents, got ${json.value === null ? "null" : typeof json.value === "object" ? "object" : typeof json.value}`;
    return reject("batch", 400, ErrorCodes.MALFORMED_BODY, detail, [{ index: null, attribute: null, detail }]);
  }
  const items = json.value as unknown[];
  if (items.length > limits.maxBatchEvents) {
    const detail = `the batch holds ${items.length} events, more than the ${limits.maxBatchEvents} allowed`;
    return reject("batch", 413, ErrorCodes.BATCH_TOO_LARGE, detail, [{ index: null, attribute: null, detail }]);
  }
  const spans = batchDataSpans(body as Buffer);
  const events: CloudEvent[] = [];
  const problems: EventProblem[] = [];
  items.forEach((item, index) => {
    const decoded = decodeJsonEvent(item, spans[index], index, limits, "each batch element");
    if (decoded.event) events.push(decoded.event);
    else problems.push(...decoded.problems);
  });
  return problems.length > 0 ? rejectEvents("batch", problems, items.length) : { ok: true, mode: "batch", events };
}

/**
 * HTTP binding §3.1.3.2: a header value is first unquoted if it is a quoted-string, then percent-decoded once;
 * byte sequences that are not valid UTF-8 (such as the overlong %C0%A0) are rejected.
 */
export function decodeHeaderValue(raw: string): string | undefined {
  let value = raw;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, "$1");
  if (!value.includes("%") && /^[\x20-\x7e]*$/.test(value)) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0xff) {
      return undefined; // cannot happen with Node's latin1 header strings, but never guess
    } else {
      bytes.push(c);
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

function parseBinary(headers: Headers, contentType: string | undefined, body: Buffer | undefined, limits: ParseLimits): ParseResult {
  const attributes = new Map<string, string>();
  const problems: EventProblem[] = [];
  for (const [header, rawValue] of Object.entries(headers)) {
    if (!header.startsWith("ce-") || rawValue === undefined) continue;
    const name = header.slice(3);
    if (name === "datacontenttype") {
      problems.push({ index: 0, attribute: "datacontenttype", detail: "the ce-datacontenttype header must not be sent in binary mode; Content-Type carries datacontenttype" });
      continue;
    }
    const value = decodeHeaderValue(Array.isArray(rawValue) ? rawValue.join(",") : rawValue);
    if (value === undefined) {
      problems.push({ index: 0, attribute: name, detail: `the ce-${name} header is not valid percent-encoded UTF-8` });
      continue;
    }
    attributes.set(name, value);
  }
  const data = body !== undefined && body.length > 0 ? body : undefined;
  const decoded = decodeStringAttributes(attributes, contentType, data, limits);
  problems.push(...decoded.problems);
  return problems.length === 0 && decoded.event ? { ok: true, mode: "binary", events: [decoded.event] } : rejectEvents("binary", problems, 1);
}

/** Reads the events of one POST /v1/events request. */
export function parseRequest(headers: Headers, body: Buffer | undefined, limits: ParseLimits): ParseResult {
  const contentType = typeof headers["content-type"] === "string" ? headers["content-type"] : undefined;
  const { essence, charset } = mediaTypeOf(contentType);
  const json = essence === STRUCTURED || essence === BATCH;
  if (json && charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    return reject(undefined, 415, ErrorCodes.UNSUPPORTED_MEDIA_TYPE, `charset ${JSON.stringify(charset)} is not supported; CloudEvents JSON is UTF-8`);
  }
  if (essence === STRUCTURED) return parseStructured(body, limits);
  if (essence === BATCH) return parseBatch(body, limits);
  if (essence?.startsWith("application/cloudevents")) {
    return reject(undefined, 415, ErrorCodes.UNSUPPORTED_MEDIA_TYPE, `event format ${JSON.stringify(essence)} is not supported; use ${STRUCTURED} or ${BATCH}`);
  }
  if (headers["ce-specversion"] !== undefined) return parseBinary(headers, contentType, body, limits);
  const got = contentType === undefined ? "no Content-Type" : `Content-Type ${JSON.stringify(contentType)}`;
  return reject(
    undefined,
    415,
    ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
    `${got} and no ce-specversion header: send ${STRUCTURED}, ${BATCH}, or a binary-mode event with ce-* headers`,
  );
}

/**
 * The answer to a request whose Content-Type is not a media type at all (fastify refuses to parse such a header
 * before any route runs; src/app.ts sends it here). That is malformed input, 400, never 415: in binary mode the
 * header is the event's datacontenttype, so the problem names that attribute (with every other problem of the
 * ce-* headers; the body is not read); otherwise it names the Content-Type header. 415 stays for well-formed
 * media types that are not a CloudEvents content mode.
 */
export function rejectMalformedContentType(headers: Headers, limits: ParseLimits): ParseResult {
  const contentType = typeof headers["content-type"] === "string" ? headers["content-type"] : "";
  if (headers["ce-specversion"] !== undefined) {
    const parsed = parseBinary(headers, contentType, undefined, limits);
    const named = !parsed.ok && parsed.errors?.some((e) => e.attribute === "datacontenttype");
    if (!parsed.ok && named) return parsed;
    // The contract's media-type rule took what fastify's parser refused: name the header all the same.
    const detail = `datacontenttype must be a media type such as application/json (RFC 2046), got ${JSON.stringify(contentType)}`;
    return rejectEvents("binary", [{ index: 0, attribute: "datacontenttype", detail }, ...(parsed.ok ? [] : (parsed.errors ?? []))], 1);
  }
  const detail = `the Content-Type header must be a media type such as ${STRUCTURED} (RFC 9110 section 8.3), got ${JSON.stringify(contentType)}`;
  return reject(undefined, 400, ErrorCodes.BAD_REQUEST, detail);
}
