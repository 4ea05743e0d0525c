// The binary COPY encoder's text fields: the ASCII copy loop and the UTF-8 encoder must produce the same
// bytes as Buffer.from for every kind of string (the round trip through PostgreSQL is in store.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { BinaryCopyWriter } from "../src/wire/index.js";

/** One row with one text field, and the field's bytes (length-prefixed) cut back out of the payload. */
function encodeText(v: string, jsonb = false): Buffer {
  const w = new BinaryCopyWriter(1);
  w.row(1).text(v, jsonb);
  const payload = w.finish();
  // 11-byte signature, 4 flags, 4 header extension, 2 field count, then the field: 4-byte length and bytes.
  const at = 11 + 4 + 4 + 2;
  const length = payload.readInt32BE(at);
  assert.equal(payload.readInt16BE(at + 4 + length), -1, "trailer right after the field");
  return payload.subarray(at + 4, at + 4 + length);
}

test("text fields are the UTF-8 bytes of the string: ASCII, non-ASCII at any position, long, empty", () => {
  for (const v of ["", "a", "/eventstack/bench", "ü", "/ünïcödé/🚀", "ascii then é", "é then ascii", "x".repeat(127) + "é", "x".repeat(128), "x".repeat(129), "y".repeat(5000), "tab\tquote\"backslash\\"]) {
    assert.deepEqual(encodeText(v), Buffer.from(v, "utf8"), JSON.stringify(v.slice(0, 40)));
  }
});

test("jsonb fields are the version byte 1 followed by the JSON text", () => {
  assert.deepEqual(encodeText("{}", true), Buffer.from([1, 0x7b, 0x7d]));
  assert.deepEqual(encodeText('{"k":"ö"}', true), Buffer.concat([Buffer.from([1]), Buffer.from('{"k":"ö"}')]));
});

test("a lone surrogate is encoded as the UTF-8 encoder does (U+FFFD), not as a raw code unit", () => {
  assert.deepEqual(encodeText("a\ud800b"), Buffer.from("a\ud800b", "utf8"));
});
