// docs/policy.md lists every rule of the pack with its enforcement level and description (which names the
// Checkov/Trivy equivalents). The table is rendered from policy/pack.ts; this test fails when they drift, and
// `npm run docs:policy` rewrites it in place.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { policies } from "../policy/pack";
import { ROOT } from "./program";

const BEGIN = "<!-- policy-rules:begin (generated from policy/pack.ts by `npm run docs:policy`) -->";
const END = "<!-- policy-rules:end -->";
const DOC = path.join(ROOT, "docs/policy.md");

const escape = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

export function renderPolicyTable(): string {
  const rows = policies.map((p) => `| \`${p.name}\` | ${p.enforcementLevel} | ${escape(p.description)} |`);
  return [BEGIN, "| rule | level | what it requires (and its Checkov / Trivy equivalents) |", "|---|---|---|", ...rows, END].join("\n");
}

function currentTable(doc: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < 0) throw new Error(`docs/policy.md has no ${BEGIN} ... ${END} block`);
  return doc.slice(start, end + END.length);
}

test("docs/policy.md lists every rule of the pack, with its level and description", () => {
  const doc = readFileSync(DOC, "utf8");
  const expected = renderPolicyTable();
  if (process.env.UPDATE_DOCS === "1") writeFileSync(DOC, doc.replace(currentTable(doc), expected));
  else expect(currentTable(doc)).toBe(expected);
});

test("every rule appears in the table exactly once", () => {
  const table = currentTable(readFileSync(DOC, "utf8"));
  for (const p of policies) expect([p.name, table.split(`| \`${p.name}\` |`).length - 1]).toEqual([p.name, 1]);
});
