/**
 * The contract's RFC 3339 rule for the CloudEvents `time` attribute, strictly: every field is range-checked, so
 * "2025-02-30" is refused with a message saying why instead of being moved to March (what Date.parse does), and
 * only what PostgreSQL's timestamptz can hold is accepted (years 0001-9999, at most nanoseconds; LIMITS).
 *
 * One implementation, two entry points: `parseRfc3339Bytes` over bytes in place (the processor's fast way, run for
 * every record: no string, no RegExp match, no BigInt) decides; `parseRfc3339` over text (ingest's validation, the
 * processor's full way) runs it on the text's bytes and, on refusal, says which field is wrong.
 * test/rfc3339.test.ts holds the two to the same answers.
 */
import { LIMITS } from "./limits.js";

const SHAPE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

export type ParsedTime =
  | {
      ok: true;
      /** Epoch microseconds. */
      micros: bigint;
      /** Start of the UTC minute the timestamp falls in, epoch milliseconds. */
      minuteMs: number;
    }
  | { ok: false; why: string };

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`: the text entry point of the byte parser below (one rule), and
 * on refusal, which field is wrong. A fraction beyond microseconds is rounded to the nearest microsecond (half up);
 * second 60 (a leap second, which RFC 3339 allows) counts as the first second of the next minute, as PostgreSQL does.
 */
export function parseRfc3339(text: string): ParsedTime {
  const time: EpochTime = { seconds: 0, micros: 0 };
  if (accepts(text, time)) {
    const { seconds, micros } = time;
    return { ok: true, micros: BigInt(seconds) * 1_000_000n + BigInt(micros), minuteMs: Math.floor(seconds / 60) * 60_000 };
  }
  return { ok: false, why: whyRefused(text) };
}

/** Where rfc3339Problem's parse leaves an instant nobody reads: validation only, so it allocates nothing. */
const discarded: EpochTime = { seconds: 0, micros: 0 };

/** Why the contract refuses `text` as a time, or undefined when it accepts it (validation only: no BigInt, no allocation). */
export function rfc3339Problem(text: string): string | undefined {
  return accepts(text, discarded) ? undefined : whyRefused(text);
}

/** The longest time the rule can accept is 35 characters (a 9-digit fraction and an offset); longer ones are refused. */
const scratch = new Uint8Array(64);

/** The byte parser over the text's characters, copied into a reused buffer; the rule is ASCII, anything else is refused. */
function accepts(text: string, into: EpochTime): boolean {
  const n = text.length;
  if (n > scratch.length) return false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7e) return false;
    scratch[i] = c;
  }
  return parseRfc3339Bytes(scratch, 0, n, into);
}

/** Why parseRfc3339Bytes refused `text`: the first field out of range, in the order the parser reads them. */
function whyRefused(text: string): string {
  if (!SHAPE.test(text)) return "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM";
  const num = (from: number, to: number) => Number(text.slice(from, to));
  const year = num(0, 4);
  const month = num(5, 7);
  if (year < LIMITS.timeMinYear) return `year ${text.slice(0, 4)} is out of range 0001-9999`;
  if (month < 1 || month > 12) return `month ${text.slice(5, 7)} does not exist`;
  const day = num(8, 10);
  if (day < 1 || day > daysInMonth(year, month)) return `day ${text.slice(8, 10)} does not exist in ${text.slice(0, 7)}`;
  if (num(11, 13) > 23) return `hour ${text.slice(11, 13)} is out of range 00-23`;
  if (num(14, 16) > 59) return `minute ${text.slice(14, 16)} is out of range 00-59`;
  if (num(17, 19) > 60) return `second ${text.slice(17, 19)} is out of range 00-60`;
  const digits = /^\.(\d+)/.exec(text.slice(19))?.[1]?.length ?? 0;
  if (digits > LIMITS.timeFractionDigits) return `the fraction of a second has ${digits} digits, at most ${LIMITS.timeFractionDigits} are allowed`;
  const offset = text.slice(digits > 0 ? 20 + digits : 19);
  if (offset.length === 6 && (num(text.length - 5, text.length - 3) > 23 || num(text.length - 2, text.length) > 59)) return `offset ${offset} is out of range`;
  // Unreachable while whyRefused and parseRfc3339Bytes agree (test/rfc3339.test.ts holds them to it).
  return "not an RFC 3339 timestamp";
}

/** An instant as parseRfc3339Bytes fills it, in an object its caller owns (it runs for every record of the hot path). */
export interface EpochTime {
  /** Whole seconds since the Unix epoch (negative before 1970). */
  seconds: number;
  /** Microseconds within the second, 0-999999. */
  micros: number;
}

/** What a fraction of n digits (its first six at most) is multiplied by to be in microseconds. */
const SCALE_TO_MICROS = [1, 100_000, 10_000, 1_000, 100, 10, 1, 1, 1, 1];

/**
 * The rule over the bytes b[s, e): true when they are a time the contract accepts, the instant then in `into`;
 * false otherwise, `into` left as it was (parseRfc3339 on the same text says why).
 */
export function parseRfc3339Bytes(b: Uint8Array, s: number, e: number, into: EpochTime): boolean {
  const len = e - s;
  if (len < 20) return false;
  // YYYY-MM-DDTHH:MM:SS: each digit checked as it is read (a non-digit makes the value out of 0-9).
  const dg = (i: number): number => (b[s + i] as number) - 48;
  const two = (i: number): number => {
    const x = dg(i);
    const y = dg(i + 1);
    return x >= 0 && x <= 9 && y >= 0 && y <= 9 ? x * 10 + y : -1;
  };
  const t = b[s + 10];
  if (b[s + 4] !== 45 || b[s + 7] !== 45 || (t !== 84 && t !== 116) || b[s + 13] !== 58 || b[s + 16] !== 58) return false;
  const century = two(0);
  const yy = two(2);
  const month = two(5);
  const day = two(8);
  const hour = two(11);
  const minute = two(14);
  const second = two(17);
  if (century < 0 || yy < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return false;
  const year = century * 100 + yy;
  if (year < LIMITS.timeMinYear || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return false;
  let i = 19;
  let fracMicros = 0;
  if (b[s + i] === 46 /* . */) {
    let digits = 0;
    let roundUp = false;
    for (i = 20; i < len; i++, digits++) {
      const x = dg(i);
      if (x < 0 || x > 9) break;
      if (digits < 6) fracMicros = fracMicros * 10 + x;
      else if (digits === 6) roundUp = x >= 5;
    }
    if (digits < 1 || digits > LIMITS.timeFractionDigits) return false;
    fracMicros = fracMicros * (SCALE_TO_MICROS[digits] as number) + (roundUp ? 1 : 0);
  }
  let offsetMinutes = 0;
  const z = b[s + i];
  if (z === 90 || z === 122) {
    if (i + 1 !== len) return false;
  } else if (z === 43 || z === 45) {
    if (i + 6 !== len || b[s + i + 3] !== 58) return false;
    const oh = two(i + 1);
    const om = two(i + 4);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return false;
    offsetMinutes = (z === 45 ? -1 : 1) * (oh * 60 + om);
  } else return false;
  let seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  if (fracMicros === 1_000_000) {
    seconds += 1;
    fracMicros = 0;
  }
  into.seconds = seconds;
  into.micros = fracMicros;
  return true;
}
