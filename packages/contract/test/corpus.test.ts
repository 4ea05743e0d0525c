// The corpus against the contract's own rules: every valid event decodes in the JSON format, every invalid one is
// refused with exactly its attribute and text (the services' tests run the same corpus through HTTP and Kafka).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeJsonEvent } from "../src/index.js";
import { dataBytes, loadCorpus } from "../testing/corpus.js";

const { valid, invalid } = loadCorpus();
const OPTIONS = { maxEventDataBytes: 64 * 1024 };

describe("the conformance corpus", () => {
  test("is not empty, and its names are unique", () => {
    assert.ok(valid.length >= 20 && invalid.length >= 25, `${valid.length} valid, ${invalid.length} invalid`);
    const names = [...valid, ...invalid].map((c) => c.name);
    assert.equal(new Set(names).size, names.length);
  });

  for (const c of valid) {
    test(`valid: ${c.name}`, () => {
      const { event, problems } = decodeJsonEvent(c.event, dataBytes(c.event), 0, OPTIONS, "the body");
      assert.deepEqual(problems, []);
      assert.equal(event?.id, c.event.id);
    });
  }

  for (const c of invalid) {
    test(`invalid: ${c.name}`, () => {
      const { event, problems } = decodeJsonEvent(c.event, dataBytes(c.event), 0, OPTIONS, "the body");
      assert.equal(event, undefined);
      assert.deepEqual(problems, [{ index: 0, attribute: c.attribute, detail: c.detail }]);
    });
  }
});
