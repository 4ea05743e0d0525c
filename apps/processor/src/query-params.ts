/**
 * The read API's query strings, read strictly from the raw URL, and the checks every parameter of every route
 * goes through before it is used.
 *
 * fastify's own query parser keeps a malformed escape (`%FF`, `%zz`) as the literal text, so a type named
 * "%FF" and a broken request could not be told apart; and it decodes `%00` into a NUL, which PostgreSQL cannot
 * take in a text parameter (a 500). Here, each name and value is decoded with decodeURIComponent (which refuses
 * a malformed escape and any byte sequence that is not UTF-8, encoded surrogates included) and must then be
 * CloudEvents text: the CloudEvents 1.0.2 type system disallows in a String the control characters
 * U+0000-U+001F and U+007F-U+009F, Unicode noncharacters and unpaired surrogates (cloudevents/spec,
 * cloudevents/spec.md "Type System", read 2026-12-05). No stored `type` can hold one, so a parameter that does
 * is refused with 400 instead of being looked up.
 */

/** A query parameter the read API refuses, with the exact text the 400 response carries. */
export class InvalidParameter extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
  }
}

// \p{Cc} is exactly U+0000-U+001F and U+007F-U+009F.
const NOT_TEXT = /[\p{Cc}\p{Noncharacter_Code_Point}]/u;

/** Long values are shortened in error texts, so a 400 never echoes kilobytes of a request. */
export function shown(value: string, max = 64): string {
  const chars = Array.from(value);
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : value;
}

function decode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

function checkText(name: string, value: string): void {
  const found = NOT_TEXT.exec(value);
  if (found) {
    const cp = (found[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0");
    const at = Array.from(value.slice(0, found.index)).length + 1;
    throw new InvalidParameter(
      name,
      `query parameter "${name}" must be text without control characters (U+0000-U+001F, U+007F-U+009F) or Unicode noncharacters, got U+${cp} at character ${at}`,
    );
  }
}

/**
 * Every parameter of `url`'s query string, decoded and checked, in order of appearance (a name given twice
 * has two values). Throws InvalidParameter naming the first parameter that is not percent-encoded UTF-8 text.
 */
export function readQuery(url: string): Map<string, string[]> {
  const params = new Map<string, string[]>();
  const q = url.indexOf("?");
  if (q < 0) return params;
  for (const piece of url.slice(q + 1).split("&")) {
    if (piece === "") continue;
    const eq = piece.indexOf("=");
    const rawName = eq < 0 ? piece : piece.slice(0, eq);
    const rawValue = eq < 0 ? "" : piece.slice(eq + 1);
    const name = decode(rawName);
    if (name === undefined) throw new InvalidParameter(shown(rawName), `query parameter name "${shown(rawName)}" must be percent-encoded UTF-8`);
    checkText(name, name);
    const value = decode(rawValue);
    if (value === undefined) throw new InvalidParameter(name, `query parameter "${shown(name)}" must be percent-encoded UTF-8, got "${shown(rawValue)}"`);
    checkText(name, value);
    const list = params.get(name);
    if (list) list.push(value);
    else params.set(name, [value]);
  }
  return params;
}

/** The one value of `name`, undefined when absent; a parameter given twice is refused. */
export function single(params: Map<string, string[]>, name: string): string | undefined {
  const values = params.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) throw new InvalidParameter(name, `query parameter "${name}" must be given once`);
  return values[0];
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

const daysIn = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * An ISO 8601 timestamp with a time zone, checked against the calendar: Date.parse alone rolls an impossible
 * date over (2025-02-30 would become March 2), so every field is range-checked before it is trusted.
 */
export function readTimestamp(name: string, raw: string): Date {
  const expected = `query parameter "${name}" must be an ISO 8601 timestamp with a time zone, e.g. 2025-01-31T10:00:00Z, got "${shown(raw)}"`;
  const m = TIMESTAMP.exec(raw);
  if (!m) throw new InvalidParameter(name, expected);
  const [year, month, day, hour, minute, second, offH, offM] = m.slice(1).map((g) => (g === undefined ? 0 : Number(g))) as number[] as [
    number, number, number, number, number, number, number, number,
  ];
  let reason: string | undefined;
  if (month < 1 || month > 12) reason = "the month must be 01-12";
  else if (day < 1 || day > daysIn(year, month)) {
    const max = daysIn(year, month);
    reason = `the day must be 01-${max} (${m[1]}-${m[2]} has ${max} days)`;
  } else if (hour > 23) reason = "the hour must be 00-23";
  else if (minute > 59) reason = "the minute must be 00-59";
  else if (second > 59) reason = "the second must be 00-59";
  else if (offH > 23 || offM > 59) reason = "the offset must be at most 23:59";
  if (reason) throw new InvalidParameter(name, `query parameter "${name}" must be a valid date and time, got "${shown(raw)}": ${reason}`);
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new InvalidParameter(name, expected);
  return new Date(ms);
}
