/**
 * RFC 3339 timestamps (the CloudEvents `time` attribute) to epoch microseconds, strictly: every field is
 * range-checked, so "2025-02-30" is refused here with a message saying why, instead of being moved to March
 * (what Date.parse does) or refused later by PostgreSQL as a row error. Microseconds because that is
 * PostgreSQL's timestamptz resolution; the value is written to it in binary (copy-binary.ts).
 */

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
/** PostgreSQL counts timestamps from 2000-01-01T00:00:00Z: its distance from the Unix epoch, in milliseconds. */
export const PG_EPOCH_MS = 946_684_800_000;
const PG_EPOCH_US = BigInt(PG_EPOCH_MS) * 1000n;

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
 * Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`. A fraction beyond microseconds is rounded to the
 * nearest microsecond (half up); second 60 (a leap second, which RFC 3339 allows) counts as the first second
 * of the next minute, as PostgreSQL does. Runs once per event, hence digits read by char code rather than
 * through regex groups.
 */
export function parseRfc3339(text: string): ParsedTime {
  if (!RFC3339.test(text)) return { ok: false, why: "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM" };
  const d = (i: number) => text.charCodeAt(i) - 48;
  const two = (i: number) => d(i) * 10 + d(i + 1);
  const year = two(0) * 100 + two(2);
  const [month, day, hour, minute, second] = [two(5), two(8), two(11), two(14), two(17)];
  // RFC 3339 admits 0000; PostgreSQL's calendar has no year 0 (1 BC is followed by AD 1).
  if (year < 1) return { ok: false, why: "year 0000 is out of range 0001-9999" };
  if (month < 1 || month > 12) return { ok: false, why: `month ${text.slice(5, 7)} does not exist` };
  if (day < 1 || day > daysInMonth(year, month)) return { ok: false, why: `day ${text.slice(8, 10)} does not exist in ${text.slice(0, 7)}` };
  if (hour > 23) return { ok: false, why: `hour ${text.slice(11, 13)} is out of range 00-23` };
  if (minute > 59) return { ok: false, why: `minute ${text.slice(14, 16)} is out of range 00-59` };
  if (second > 60) return { ok: false, why: `second ${text.slice(17, 19)} is out of range 00-60` };
  let i = 19;
  let fracMicros = 0;
  if (text.charCodeAt(i) === 46 /* . */) {
    let digits = 0;
    let roundUp = false;
    for (i = 20; d(i) >= 0 && d(i) <= 9; i++, digits++) {
      if (digits < 6) fracMicros = fracMicros * 10 + d(i);
      else if (digits === 6) roundUp = d(i) >= 5;
    }
    fracMicros = fracMicros * 10 ** Math.max(0, 6 - digits) + (roundUp ? 1 : 0);
  }
  let offsetMinutes = 0;
  const sign = text.charCodeAt(i);
  if (sign === 43 /* + */ || sign === 45 /* - */) {
    const oh = two(i + 1);
    const om = two(i + 4);
    if (oh > 23 || om > 59) return { ok: false, why: `offset ${text.slice(i)} is out of range` };
    offsetMinutes = (sign === 45 ? -1 : 1) * (oh * 60 + om);
  }
  let seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  if (fracMicros === 1_000_000) {
    seconds += 1;
    fracMicros = 0;
  }
  return { ok: true, micros: BigInt(seconds) * 1_000_000n + BigInt(fracMicros), minuteMs: Math.floor(seconds / 60) * 60_000 };
}

/** Epoch microseconds as PostgreSQL's binary timestamptz value (microseconds since 2000-01-01). */
export function toPgTimestamp(micros: bigint): bigint {
  return micros - PG_EPOCH_US;
}

/** Where parseRfc3339Bytes leaves a result: read it right after a call that returned true. */
export const parsedTime = {
  /** PostgreSQL's binary timestamptz value: microseconds since 2000-01-01T00:00:00Z. */
  pgMicros: 0,
  /** Start of the UTC minute, epoch milliseconds. */
  minuteMs: 0,
};

/** What a fraction of n digits (its first six at most) is multiplied by to be in microseconds. */
const SCALE_TO_MICROS = [1, 100_000, 10_000, 1_000, 100, 10, 1, 1, 1, 1];

/** Seconds from the Unix epoch to PostgreSQL's. */
const PG_EPOCH_S = PG_EPOCH_MS / 1000;

/**
 * parseRfc3339 over the bytes b[s, e), for the fast way of batch-rows.ts, which runs for every record: it accepts
 * exactly what parseRfc3339 accepts and gives the same instant (test/timestamp.test.ts compares the two), but
 * makes no string, no RegExp match and no BigInt. It returns false for anything parseRfc3339 refuses (the caller
 * then takes the full way, which says why), and for the few valid times whose PostgreSQL value is not a safe
 * integer in microseconds (before about 1715 or after 2285).
 */
export function parseRfc3339Bytes(b: Uint8Array, s: number, e: number): boolean {
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
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return false;
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
    if (digits < 1 || digits > 9) return false;
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
  const pgMicros = (seconds - PG_EPOCH_S) * 1_000_000 + fracMicros;
  if (!Number.isSafeInteger(pgMicros)) return false;
  parsedTime.pgMicros = pgMicros;
  parsedTime.minuteMs = Math.floor(seconds / 60) * 60_000;
  return true;
}
