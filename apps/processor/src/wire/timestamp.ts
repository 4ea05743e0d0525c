/**
 * Times as PostgreSQL's timestamptz holds them. The RFC 3339 rule itself (what a `time` may be, its text and byte
 * parsers) is the event contract's (@eventstack/contract); this adds PostgreSQL's epoch, which the binary COPY
 * format counts from (copy-binary.ts).
 */
import { parseRfc3339Bytes, type EpochTime } from "@eventstack/contract";

/** PostgreSQL counts timestamps from 2000-01-01T00:00:00Z: its distance from the Unix epoch, in milliseconds. */
export const PG_EPOCH_MS = 946_684_800_000;
const PG_EPOCH_US = BigInt(PG_EPOCH_MS) * 1000n;
/** Seconds from the Unix epoch to PostgreSQL's. */
const PG_EPOCH_S = PG_EPOCH_MS / 1000;

/** Epoch microseconds as PostgreSQL's binary timestamptz value (microseconds since 2000-01-01). */
export function toPgTimestamp(micros: bigint): bigint {
  return micros - PG_EPOCH_US;
}

/**
 * A time as the binary COPY format and the rollups take it (pgTimeFromBytes fills one its caller owns), with the
 * epoch instant the contract's parser leaves on the way (EpochTime).
 */
export interface PgTime extends EpochTime {
  /** PostgreSQL's binary timestamptz value: microseconds since 2000-01-01T00:00:00Z. */
  pgMicros: number;
  /** Start of the UTC minute, epoch milliseconds. */
  minuteMs: number;
}

/** A PgTime to fill, every field present from the start (one object shape for the hot path). */
export function emptyPgTime(): PgTime {
  return { seconds: 0, micros: 0, pgMicros: 0, minuteMs: 0 };
}

/**
 * The contract's byte parser over b[s, e), as PostgreSQL's value, for the fast way of fast-row.ts: fills `into` and
 * returns true, or returns false (leaving `pgMicros` and `minuteMs` as they were) for anything the contract refuses,
 * and for the few valid times whose PostgreSQL value is not a safe integer in microseconds (before about 1715 or after
 * 2285), which the full way (BigInt) then takes. The caller's object, not a returned one: this runs for every record.
 */
export function pgTimeFromBytes(b: Uint8Array, s: number, e: number, into: PgTime): boolean {
  if (!parseRfc3339Bytes(b, s, e, into)) return false;
  const seconds = into.seconds;
  const pgMicros = (seconds - PG_EPOCH_S) * 1_000_000 + into.micros;
  if (!Number.isSafeInteger(pgMicros)) return false;
  into.pgMicros = pgMicros;
  into.minuteMs = Math.floor(seconds / 60) * 60_000;
  return true;
}
