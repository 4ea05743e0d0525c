// Pulumi.yaml's `config:` block is generated from the config schema (components/config/schema.ts), which is where a
// key is declared; the Pulumi CLI reads the block (types, defaults) before the program runs. This test fails when the
// two differ; `npm run docs:config` rewrites the block in place.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse, stringify } from "yaml";
import { FIELDS } from "../components/config";
import type { Field } from "../components/config/schema";
import { ROOT } from "./program";

const PULUMI_YAML = path.join(ROOT, "Pulumi.yaml");
/** The block starts at this line and runs to the end of the file; what comes before it is written by hand. */
const START = "\nconfig:\n";

/** A key as Pulumi.yaml declares it. */
const declaration = (field: Field) => ({
  type: field.type,
  ...(field.type === "array" ? { items: { type: "string" } } : {}),
  description: field.doc,
  default: field.default,
});

/** The `config:` block: each key of the schema in its order, with a comment line where a group of keys starts. */
export function renderConfigBlock(fields: Field[] = Object.values(FIELDS)): string {
  const lines = ["config:"];
  let group: string | undefined;
  for (const field of fields) {
    const top = field.path.length > 1 ? field.path[0] : undefined;
    if (top !== undefined && top !== group) {
      if (lines.length > 1) lines.push("");
      lines.push(`  # ${"-".repeat(64)} ${top}`);
      group = top;
    }
    const yaml = stringify({ [field.name]: declaration(field) }, { lineWidth: 0 });
    lines.push(...yaml.trimEnd().split("\n").map((line) => `  ${line}`));
  }
  return `${lines.join("\n")}\n`;
}

test("Pulumi.yaml's config block is the one the schema declares", () => {
  const text = readFileSync(PULUMI_YAML, "utf8");
  const at = text.indexOf(START);
  expect(at).toBeGreaterThan(0);
  const expected = renderConfigBlock();
  if (process.env.UPDATE_DOCS === "1") writeFileSync(PULUMI_YAML, text.slice(0, at + 1) + expected);
  else expect(text.slice(at + 1)).toBe(expected);
});

test("as YAML, the block declares exactly the schema's keys with their types, items, descriptions and defaults", () => {
  const declared = parse(readFileSync(PULUMI_YAML, "utf8")).config;
  expect(Object.keys(declared)).toEqual(Object.keys(FIELDS));
  for (const field of Object.values(FIELDS)) expect([field.name, declared[field.name]]).toEqual([field.name, declaration(field)]);
});

test("a group's keys follow one comment line naming it; a key outside any group has none", () => {
  const field = (name: string, pathInSchema: string[]): Field => ({ name: name as Field["name"], path: pathInSchema, type: "integer", default: 1, doc: "d", parse: Number });
  expect(renderConfigBlock([field("a.x", ["a", "x"]), field("a.y", ["a", "y"]), field("top", ["top"]), field("b.z", ["b", "z"])])).toBe(
    [
      "config:",
      `  # ${"-".repeat(64)} a`,
      "  a.x:",
      "    type: integer",
      "    description: d",
      "    default: 1",
      "  a.y:",
      "    type: integer",
      "    description: d",
      "    default: 1",
      "  top:",
      "    type: integer",
      "    description: d",
      "    default: 1",
      "",
      `  # ${"-".repeat(64)} b`,
      "  b.z:",
      "    type: integer",
      "    description: d",
      "    default: 1",
      "",
    ].join("\n"),
  );
});
