/**
 * Finds the exact bytes of the `data` member of CloudEvents in a JSON body that JSON.parse already accepted.
 *
 * Why: JSON.parse turns numbers into doubles, so re-serializing `data` would silently change integers beyond
 * 2^53 and reformat numbers such as 1.50. The Kafka record value must be the data the client sent, so we slice
 * it out of the body instead. Because the input is known-valid JSON, the scanner only tracks strings and
 * nesting; it never has to report syntax errors. It works on bytes: every structural character of JSON is
 * ASCII, and no byte of a multi-byte UTF-8 sequence is below 0x80, so they cannot be confused.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const DATA_KEY = Buffer.from('"data"');

function skipWhitespace(buf: Buffer, i: number): number {
  for (;;) {
    const b = buf[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return i;
    i++;
  }
}

/** `i` is at an opening quote; returns the index after the closing quote. */
function skipString(buf: Buffer, i: number): number {
  i++;
  for (;;) {
    const b = buf[i];
    if (b === BACKSLASH) i += 2;
    else if (b === QUOTE) return i + 1;
    else i++;
  }
}

/** `i` is at the first byte of a value; returns the index after it. */
function skipValue(buf: Buffer, i: number): number {
  const first = buf[i];
  if (first === QUOTE) return skipString(buf, i);
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    let depth = 0;
    for (;;) {
      const b = buf[i];
      if (b === QUOTE) {
        i = skipString(buf, i);
        continue;
      }
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
      else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
  }
  // number, true, false, null: up to the next delimiter
  for (;;) {
    const b = buf[i];
    if (b === undefined || b === COMMA || b === CLOSE_OBJECT || b === CLOSE_ARRAY || b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) return i;
    i++;
  }
}

function isDataKey(buf: Buffer, start: number, end: number): boolean {
  if (end - start === DATA_KEY.length && buf.compare(DATA_KEY, 0, DATA_KEY.length, start, end) === 0) return true;
  // An escaped spelling such as "\u0064ata" is still the key "data" to JSON.parse; decode the rare escaped key.
  // The search stays inside the key: buf.indexOf would scan to the end of the body for every key of every event,
  // which made a 100-event batch quadratic in its size.
  for (let i = start + 1; i < end - 1; i++) {
    if (buf[i] === BACKSLASH) return JSON.parse(buf.toString("utf8", start, end)) === "data";
  }
  return false;
}

/** `i` is at `{`; returns the bytes of its last `data` member (JSON.parse keeps the last duplicate) and the end. */
function objectData(buf: Buffer, i: number): { data: Buffer | undefined; end: number } {
  let data: Buffer | undefined;
  i = skipWhitespace(buf, i + 1);
  if (buf[i] === CLOSE_OBJECT) return { data, end: i + 1 };
  for (;;) {
    const keyStart = i;
    const keyEnd = skipString(buf, i);
    i = skipWhitespace(buf, keyEnd);
    i = skipWhitespace(buf, i + 1); // the colon
    const valueStart = i;
    i = skipValue(buf, i);
    if (isDataKey(buf, keyStart, keyEnd)) data = buf.subarray(valueStart, i);
    i = skipWhitespace(buf, i);
    if (buf[i] === CLOSE_OBJECT) return { data, end: i + 1 };
    i = skipWhitespace(buf, i + 1); // the comma
  }
}

/** The raw `data` of a structured-mode body (a JSON object), or undefined when it has none or is not an object. */
export function structuredDataSpan(body: Buffer): Buffer | undefined {
  const i = skipWhitespace(body, 0);
  return body[i] === OPEN_OBJECT ? objectData(body, i).data : undefined;
}

/** The raw `data` of each element of a batch body (a JSON array), by index. */
export function batchDataSpans(body: Buffer): (Buffer | undefined)[] {
  const spans: (Buffer | undefined)[] = [];
  let i = skipWhitespace(body, 0);
  if (body[i] !== OPEN_ARRAY) return spans;
  i = skipWhitespace(body, i + 1);
  if (body[i] === CLOSE_ARRAY) return spans;
  for (;;) {
    if (body[i] === OPEN_OBJECT) {
      const { data, end } = objectData(body, i);
      spans.push(data);
      i = end;
    } else {
      spans.push(undefined);
      i = skipValue(body, i);
    }
    i = skipWhitespace(body, i);
    if (body[i] === CLOSE_ARRAY) return spans;
    i = skipWhitespace(body, i + 1);
  }
}
