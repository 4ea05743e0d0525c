// The contract's RFC 3339 rule: what it accepts and why it refuses, and its two entry points (text and bytes)
// held to the same answers and the same instant.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseRfc3339, parseRfc3339Bytes, rfc3339Problem, type EpochTime } from "../src/index.js";

const why = (s: string) => {
  const r = parseRfc3339(s);
  return r.ok ? "accepted" : r.why;
};

describe("parseRfc3339", () => {
  test("agrees with Date for every millisecond timestamp it can print, with and without an offset", () => {
    for (let k = 0; k < 20_000; k++) {
      // 0001-01-01 .. 9999-12-31, the range PostgreSQL and RFC 3339 share
      const ms = Math.floor(-62_135_596_800_000 + Math.random() * (253_402_300_799_999 + 62_135_596_800_000));
      const iso = new Date(ms).toISOString();
      const r = parseRfc3339(iso);
      assert.ok(r.ok, iso);
      assert.equal(r.micros, BigInt(ms) * 1000n, iso);
      assert.equal(r.minuteMs, Math.floor(ms / 60_000) * 60_000, iso);
      const shifted = parseRfc3339(iso.replace("Z", "-09:30"));
      assert.ok(shifted.ok);
      assert.equal(shifted.micros, BigInt(ms + 570 * 60_000) * 1000n, iso);
    }
  });

  test("fractions of 1 to 9 digits to the microsecond (rounded half up), leap seconds, lower-case t and z", () => {
    const micros = (s: string) => {
      const r = parseRfc3339(s);
      return r.ok ? r.micros - BigInt(Date.UTC(2025, 0, 1)) * 1000n : r.why;
    };
    assert.equal(micros("2025-01-01T00:00:00.1234564Z"), 123_456n);
    assert.equal(micros("2025-01-01T00:00:00.1234565Z"), 123_457n);
    assert.equal(micros("2025-01-01T00:00:00.999999999Z"), 1_000_000n);
    assert.equal(micros("2025-01-01T00:00:00.1Z"), 100_000n);
    assert.equal(micros("2025-01-01t00:00:01z"), 1_000_000n);
    assert.equal(micros("2024-12-31T23:59:60Z"), 0n);
  });

  test("what PostgreSQL cannot hold or does not exist is refused with the field named", () => {
    assert.equal(why("0000-06-01T00:00:00Z"), "year 0000 is out of range 0001-9999");
    assert.equal(why("0001-01-01T00:00:00Z"), "accepted");
    assert.equal(why("9999-12-31T23:59:60-23:59"), "accepted");
    assert.equal(why("2025-01-01T00:00:00.1234567890Z"), "the fraction of a second has 10 digits, at most 9 are allowed");
    assert.equal(why("2025-01-01T00:00:00.123456789012Z"), "the fraction of a second has 12 digits, at most 9 are allowed");
    assert.equal(why("2025-01-01T00:00:00.123456789Z"), "accepted");
    assert.equal(why("2025-13-01T00:00:00Z"), "month 13 does not exist");
    assert.equal(why("2023-02-29T00:00:00Z"), "day 29 does not exist in 2023-02");
    assert.equal(why("2024-02-29T00:00:00Z"), "accepted");
    assert.equal(why("1900-02-29T00:00:00Z"), "day 29 does not exist in 1900-02");
    assert.equal(why("2000-02-29T00:00:00Z"), "accepted");
    assert.equal(why("2025-01-01T24:00:00Z"), "hour 24 is out of range 00-23");
    assert.equal(why("2025-01-01T00:60:00Z"), "minute 60 is out of range 00-59");
    assert.equal(why("2025-01-01T00:00:61Z"), "second 61 is out of range 00-60");
    assert.equal(why("2025-01-01T00:00:00+24:00"), "offset +24:00 is out of range");
    assert.equal(why("2025-01-01T00:00:00"), "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM");
    assert.equal(why("2025-01-01T00:00:00.Z"), "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM");
  });
});

describe("parseRfc3339Bytes", () => {
  test("fills the object its caller passes: two results held at once stay each its own; a refusal leaves the object as it was", () => {
    const first: EpochTime = { seconds: 0, micros: 0 };
    const second: EpochTime = { seconds: 0, micros: 0 };
    const a = Buffer.from("2025-01-01T00:00:00.5Z");
    const b = Buffer.from("1970-01-01T00:01:00Z");
    assert.equal(parseRfc3339Bytes(a, 0, a.length, first), true);
    assert.equal(parseRfc3339Bytes(b, 0, b.length, second), true);
    assert.deepEqual(first, { seconds: 1_735_689_600, micros: 500_000 });
    assert.deepEqual(second, { seconds: 60, micros: 0 });
    const refused = Buffer.from("2025-02-30T00:00:00Z");
    assert.equal(parseRfc3339Bytes(refused, 0, refused.length, first), false);
    assert.deepEqual(first, { seconds: 1_735_689_600, micros: 500_000 });
  });

  test("accepts exactly what parseRfc3339 accepts, with the same instant; every refusal of the text entry point says why", () => {
    const seen = { accepted: 0, refused: 0 };
    const same = (text: string) => {
      // UTF-8, as in a Kafka header, parsed in the middle of a buffer, as in a record.
      const bytes = Buffer.from(`xx${text}yy`, "utf8");
      const parsed: EpochTime = { seconds: 0, micros: 0 };
      const fast = parseRfc3339Bytes(bytes, 2, 2 + Buffer.byteLength(text, "utf8"), parsed);
      const ref = parseRfc3339(text);
      assert.equal(rfc3339Problem(text), ref.ok ? undefined : ref.why, JSON.stringify(text));
      if (!ref.ok) {
        assert.equal(fast, false, `${JSON.stringify(text)} accepted by the byte parser only`);
        // Every refusal names the field at fault: the explanation agrees with the parser that refused.
        assert.notEqual(ref.why, "not an RFC 3339 timestamp", JSON.stringify(text));
        seen.refused++;
        return;
      }
      assert.equal(fast, true, `${JSON.stringify(text)} refused by the byte parser only`);
      assert.equal(BigInt(parsed.seconds) * 1_000_000n + BigInt(parsed.micros), ref.micros, text);
      assert.equal(Math.floor(parsed.seconds / 60) * 60_000, ref.minuteMs, text);
      seen.accepted++;
    };
    const fixed = [
      "2025-01-01T00:00:00.1234564Z", "2025-01-01T00:00:00.1234565Z", "2025-01-01T00:00:00.999999999Z", "2025-01-01T00:00:00.9999995+01:30",
      "2025-01-01t00:00:01z", "2024-12-31T23:59:60Z", "2024-02-29T12:00:00-00:00", "2023-02-29T00:00:00Z", "0000-06-01T00:00:00Z",
      "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z", "1715-06-01T00:00:00Z", "2286-01-01T00:00:00Z", "2025-01-01T00:00:00.Z",
      "2025-01-01T00:00:00.1234567890Z", "2025-01-01T00:00:00+24:00", "2025-01-01T00:00:00+23:59", "2025-01-01T00:00:00+2359",
      "2025-01-01T00:00:00Zx", "2025-01-01T00:00:00", "2025-01-01 00:00:00Z", "2025-1-01T00:00:00Z", "２025-01-01T00:00:00Z",
      "2025-01-01T00:00:00.5-09:30", "2025-01-01T00:00:00z ", "-025-01-01T00:00:00Z", "+2025-01-01T00:00:00Z", "",
      "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:60.999999999-23:59", "2025-01-01T00:00:0\u0130Z", "2025-01-01T00:00:00.1234567890123456789012345678901234567890123456789Z",
    ];
    for (const text of fixed) same(text);
    // Every fraction length from none to 12 digits.
    for (let n = 0; n <= 12; n++) same(`2025-06-30T23:59:60${n === 0 ? "" : `.${"987654321098".slice(0, n)}`}Z`);
    // Mutations of valid times: every character replaced by one of a set that includes the separators.
    const alphabet = "0123456789-:.TtZz+ \u00e9";
    for (let k = 0; k < 3_000; k++) {
      const ms = Math.floor(-62_135_596_800_000 + Math.random() * (253_402_300_799_999 + 62_135_596_800_000));
      let text = new Date(ms).toISOString();
      if (k % 3 === 1) text = text.replace("Z", k % 2 ? "+05:45" : "-11:00");
      if (k % 5 === 2) text = text.replace(/\.\d+/, `.${String(k).padEnd(1 + (k % 12), "7")}`);
      same(text);
      const i = k % text.length;
      same(text.slice(0, i) + (alphabet[k % alphabet.length] as string) + text.slice(i + 1));
    }
    assert.ok(seen.accepted > 2_000 && seen.refused > 300, JSON.stringify(seen));
  });
});
