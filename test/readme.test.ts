// The README's configuration reference is rendered from the config schema (components/config/schema.ts) and the
// stack files; this test fails when they drift. `npm run docs:config` rewrites the table in place.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FIELDS } from "../components/config";
import { ROOT, stackFileConfig } from "./program";

const BEGIN = "<!-- config-reference:begin (generated from components/config/schema.ts by `npm run docs:config`) -->";
const END = "<!-- config-reference:end -->";
const README = path.join(ROOT, "README.md");

const cell = (v: unknown) => (v === undefined ? "" : `\`${typeof v === "string" ? (v === "" ? '""' : v) : JSON.stringify(v)}\``);
const escape = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The Markdown table: key, type, default, dev and prod values where their stack files set one, description. */
export function renderConfigReference(): string {
  const dev = stackFileConfig("dev");
  const prod = stackFileConfig("prod");
  const rows = Object.values(FIELDS).map((field) => {
    const type = field.type === "array" ? "array of string" : field.type;
    return `| \`${field.name}\` | ${type} | ${cell(field.default)} | ${cell(dev[`eventstack:${field.name}`])} | ${cell(prod[`eventstack:${field.name}`])} | ${escape(field.doc)} |`;
  });
  return [BEGIN, "| key (`eventstack:`…) | type | default | dev | prod | what it does |", "|---|---|---|---|---|---|", ...rows, END].join("\n");
}

function currentTable(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < 0) throw new Error(`README.md has no ${BEGIN} ... ${END} block`);
  return readme.slice(start, end + END.length);
}

test("the README's config reference matches the config schema and the stack files", () => {
  const readme = readFileSync(README, "utf8");
  const expected = renderConfigReference();
  if (process.env.UPDATE_DOCS === "1") writeFileSync(README, readme.replace(currentTable(readme), expected));
  else expect(currentTable(readme)).toBe(expected);
});

// Against the schema, not Pulumi.yaml, which `npm run docs:config` may be rewriting meanwhile (pulumi-yaml.test.ts
// checks that the two declare the same keys).
test("every key appears in the README table exactly once", () => {
  const table = currentTable(readFileSync(README, "utf8"));
  for (const key of Object.keys(FIELDS)) {
    expect([key, table.split(`| \`${key}\` |`).length - 1]).toEqual([key, 1]);
  }
});
