// The README's configuration reference is rendered from Pulumi.yaml and the stack files; this test fails
// when they drift. `npm run docs:config` rewrites the table in place.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { declaredConfig, ROOT, stackFileConfig } from "./program";

const BEGIN = "<!-- config-reference:begin (generated from Pulumi.yaml by `npm run docs:config`) -->";
const END = "<!-- config-reference:end -->";
const README = path.join(ROOT, "README.md");

const cell = (v: unknown) => (v === undefined ? "" : `\`${typeof v === "string" ? (v === "" ? '""' : v) : JSON.stringify(v)}\``);
const escape = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The Markdown table: key, type, default, dev and prod values where their stack files set one, description. */
export function renderConfigReference(): string {
  const dev = stackFileConfig("dev");
  const prod = stackFileConfig("prod");
  const rows = Object.entries(declaredConfig()).map(([key, decl]) => {
    const type = decl.type === "array" ? `array of ${decl.items?.type}` : decl.type;
    return `| \`${key}\` | ${type} | ${cell(decl.default)} | ${cell(dev[`eventstack:${key}`])} | ${cell(prod[`eventstack:${key}`])} | ${escape(decl.description ?? "")} |`;
  });
  return [BEGIN, "| key (`eventstack:`…) | type | default | dev | prod | what it does |", "|---|---|---|---|---|---|", ...rows, END].join("\n");
}

function currentTable(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < 0) throw new Error(`README.md has no ${BEGIN} ... ${END} block`);
  return readme.slice(start, end + END.length);
}

test("the README's config reference matches Pulumi.yaml and the stack files", () => {
  const readme = readFileSync(README, "utf8");
  const expected = renderConfigReference();
  if (process.env.UPDATE_README === "1") writeFileSync(README, readme.replace(currentTable(readme), expected));
  else expect(currentTable(readme)).toBe(expected);
});

test("every declared key appears in the README table exactly once", () => {
  const table = currentTable(readFileSync(README, "utf8"));
  for (const key of Object.keys(declaredConfig())) {
    expect([key, table.split(`| \`${key}\` |`).length - 1]).toEqual([key, 1]);
  }
});
