/**
 * fast-check generators of JSON-format events around the contract's edges (limits.ts): key attributes of 1 byte to
 * just past 1024 bytes in one-, two-, three- and four-byte UTF-8 characters; times with 0-12 fractional digits,
 * years 0000-9999, leap days and seconds, offsets up to ±24:59, and fields just out of range; extension names up to
 * 22 characters and integers just past int32. Roughly half of what they generate is valid.
 */
import fc from "fast-check";

const CHARS = ["a", "é", "€", "😀"] as const;

/** A string of exactly `bytes` UTF-8 bytes: `char` repeated, padded with ASCII. */
function ofBytes(char: string, bytes: number): string {
  const width = Buffer.byteLength(char);
  return char.repeat(Math.floor(bytes / width)) + "x".repeat(bytes % width);
}

/** Byte lengths: mostly short, often at the limit of 1024 and just below, sometimes just past it. */
const keyBytes = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 3, arbitrary: fc.oneof(fc.integer({ min: 1018, max: 1024 }), fc.constant(1024)) },
  { weight: 1, arbitrary: fc.integer({ min: 1025, max: 1030 }) },
);

/** Mostly `valid`, one time in 25 `edge` (a value just out of range). */
const mostly = <T>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<T>) => fc.oneof({ weight: 24, arbitrary: valid }, { weight: 1, arbitrary: edge });

/** A key attribute (id, type, subject): any of the four character widths, at the byte length drawn. */
const keyShape = fc.tuple(fc.constantFrom(...CHARS), keyBytes);
const keyText = keyShape.map(([c, n]) => ofBytes(c, n));

/** A source: a URI-reference, so ASCII (non-ASCII travels percent-encoded), at the byte length drawn. */
const sourceText = keyBytes.map((n) => `/${"s".repeat(Math.max(0, n - 1))}`);

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** RFC 3339 times and near misses: every field at and just beyond its range, 0-12 fractional digits. */
export const edgeTime = fc
  .record({
    year: mostly(fc.oneof(fc.integer({ min: 1, max: 9999 }), fc.constantFrom(1, 1600, 1900, 2000, 2016, 2024, 2100, 9999)), fc.constant(0)),
    month: mostly(fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 12 }) }, { weight: 1, arbitrary: fc.constant(2) }), fc.constantFrom(0, 13)),
    // 29-31 exist in some months only: leap days, 31 April and the like.
    day: fc.oneof({ weight: 16, arbitrary: fc.integer({ min: 1, max: 28 }) }, { weight: 4, arbitrary: fc.constantFrom(29, 30, 31) }, { weight: 1, arbitrary: fc.constantFrom(0, 32) }),
    hour: mostly(fc.integer({ min: 0, max: 23 }), fc.constant(24)),
    minute: mostly(fc.integer({ min: 0, max: 59 }), fc.constant(60)),
    // 60 is a leap second, valid.
    second: fc.oneof({ weight: 7, arbitrary: fc.integer({ min: 0, max: 59 }) }, { weight: 2, arbitrary: fc.constant(60) }, { weight: 1, arbitrary: fc.constant(61) }),
    fraction: fc.oneof(
      { weight: 3, arbitrary: fc.constant("") },
      { weight: 6, arbitrary: fc.stringMatching(/^[0-9]{1,9}$/) },
      { weight: 1, arbitrary: fc.stringMatching(/^[0-9]{10,12}$/) },
    ),
    offset: mostly(
      fc.oneof(
        fc.constantFrom("Z", "z", "+00:00", "-00:00", "+23:59", "-23:59"),
        fc.tuple(fc.constantFrom("+", "-"), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([s, h, m]) => `${s}${pad(h, 2)}:${pad(m, 2)}`),
      ),
      fc.constantFrom("+24:00", "-00:60"),
    ),
    t: fc.constantFrom("T", "t"),
  })
  .map((f) => `${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}${f.t}${pad(f.hour, 2)}:${pad(f.minute, 2)}:${pad(f.second, 2)}${f.fraction ? `.${f.fraction}` : ""}${f.offset}`);

const extensionValue = mostly(
  fc.oneof(
    fc.string({ maxLength: 20, unit: "grapheme" }).filter((s) => !/[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/u.test(s)),
    fc.boolean(),
    fc.integer({ min: -2147483648, max: 2147483647 }),
  ),
  fc.constantFrom(-2147483649, 2147483648),
);
const extensionName = mostly(fc.stringMatching(/^[a-z0-9]{1,20}$/), fc.stringMatching(/^[a-z0-9]{21,22}$/));

/**
 * A JSON-format event whose id starts with a unique `#<seq()>-` (so a test can tell the events it sent apart); the
 * id's byte length is what was drawn, the prefix included.
 */
export function edgeEvent(seq: () => number): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record(
      {
        id: keyShape,
        source: sourceText,
        type: keyText,
        subject: keyText,
        time: edgeTime,
        extensions: fc.dictionary(extensionName, extensionValue, { maxKeys: 2 }),
        data: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })),
      },
      { requiredKeys: ["id", "source", "type"] },
    )
    .map(({ extensions, id: [char, bytes], ...rest }) => {
      const tag = `#${seq()}-`;
      const event: Record<string, unknown> = { specversion: "1.0", id: tag + ofBytes(char, Math.max(0, bytes - tag.length)), ...rest };
      // Extension names never shadow the core attributes or data (those have rules of their own).
      for (const [k, v] of Object.entries(extensions ?? {})) if (!(k in event) && !["specversion", "datacontenttype", "dataschema", "data", "partitionkey"].includes(k)) event[k] = v;
      if (event.data === undefined) delete event.data;
      return event;
    });
}
