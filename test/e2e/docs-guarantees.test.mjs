// docs/guarantees.md stays in step with the code: it quotes the current benchmark tables, every test it
// cites exists under the cited name, and every end-to-end and fault-injection test is cited in it.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { GUARANTEES, brokenCitations, citations, withCurrentBenchmarks } from "../../scripts/docs-guarantees.mjs";

const doc = readFileSync(GUARANTEES, "utf8");

test("docs/guarantees.md quotes the current benchmark tables (npm run docs:guarantees)", () => {
  assert.equal(withCurrentBenchmarks(doc), doc);
});

test("every test docs/guarantees.md cites exists, under the cited describe and test names", () => {
  assert.ok(citations(doc).length >= 30, `${citations(doc).length} citations`);
  assert.deepEqual(brokenCitations(doc), []);
});

test("the citation check finds a missing file and a renamed test", () => {
  const made = '- `test/e2e/nowhere.test.mjs` › "x"\n- `test/e2e/local.test.mjs` › "npm run local, as a user runs it" › "a test that was renamed"';
  assert.deepEqual(brokenCitations(made), ["test/e2e/nowhere.test.mjs: no such file", 'test/e2e/local.test.mjs: no test named "a test that was renamed"']);
});

test("every end-to-end and fault-injection test file is cited in docs/guarantees.md", () => {
  const cited = new Set(citations(doc).map((c) => c.file));
  const files = readdirSync(new URL(".", import.meta.url)).filter((f) => f.endsWith(".test.mjs") && f !== "docs-guarantees.test.mjs");
  assert.deepEqual(files.filter((f) => !cited.has(`test/e2e/${f}`)), []);
});
