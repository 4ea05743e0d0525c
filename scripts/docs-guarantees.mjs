#!/usr/bin/env node
// `npm run docs:guarantees`: keeps docs/guarantees.md in step with what it quotes and cites.
//   - Between `<!-- bench:<name>:begin -->` and `<!-- bench:<name>:end -->` it puts the current tables of
//     docs/bench-<name>.md (or says that the benchmark has not been run yet).
//   - `--check` changes nothing: it exits 1 when a benchmark section is stale, or when a cited test does not
//     exist. A citation is `` `path/to/file.test.ts` › "describe name" › "test name" ``; every name must appear
//     verbatim in that file. test/e2e/docs-guarantees.test.mjs runs the same checks in `npm test`.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const GUARANTEES = path.join(root, "docs/guarantees.md");
const SECTION = /(<!-- bench:([a-z-]+):begin[^>]*-->\n)[\s\S]*?(<!-- bench:\2:end -->)/g;

/** The Markdown tables of a benchmark report, with the date it was generated, or a note that it is missing. */
export function benchSummary(name) {
  const file = `bench-${name}.md`;
  const full = path.join(root, "docs", file);
  if (!existsSync(full)) return `Not measured yet: docs/${file} does not exist (\`npm run bench:${name}\` writes it).\n`;
  const text = readFileSync(full, "utf8");
  const generated = /on (\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(text)?.[1];
  const tables = [];
  let current = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("|")) current.push(line);
    else if (current.length > 0) tables.push(current.join("\n")), (current = []);
  }
  if (current.length > 0) tables.push(current.join("\n"));
  const source = `From [${file}](${file})${generated ? `, generated ${generated}` : ""}; the method and the analysis are there.`;
  return `${source}\n\n${tables.length > 0 ? tables.join("\n\n") : `(docs/${file} holds no table)`}\n`;
}

/** The document with every benchmark section replaced by the current summary. */
export function withCurrentBenchmarks(doc) {
  return doc.replace(SECTION, (_, begin, name, end) => `${begin}\n${benchSummary(name)}\n${end}`);
}

/** Every citation of a test: its file and the chain of names (describe › test). */
export function citations(doc) {
  return [...doc.matchAll(/`([^`\s]+\.test\.(?:ts|mjs))`((?: › "[^"\n]+")+)/g)].map((m) => ({
    file: m[1],
    names: [...m[2].matchAll(/"([^"\n]+)"/g)].map((n) => n[1]),
  }));
}

/** Citations whose file is missing or does not contain one of the names, as readable strings. */
export function brokenCitations(doc) {
  const broken = [];
  for (const { file, names } of citations(doc)) {
    const full = path.join(root, file);
    if (!existsSync(full)) {
      broken.push(`${file}: no such file`);
      continue;
    }
    const source = readFileSync(full, "utf8");
    for (const name of names) if (!source.includes(name)) broken.push(`${file}: no test named "${name}"`);
  }
  return broken;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const doc = readFileSync(GUARANTEES, "utf8");
  const updated = withCurrentBenchmarks(doc);
  const broken = brokenCitations(updated);
  for (const b of broken) process.stderr.write(`[docs:guarantees] cited test not found: ${b}\n`);
  if (process.argv.includes("--check")) {
    if (updated !== doc) process.stderr.write("[docs:guarantees] docs/guarantees.md has stale benchmark tables: run npm run docs:guarantees\n");
    process.exit(updated === doc && broken.length === 0 ? 0 : 1);
  }
  if (updated !== doc) writeFileSync(GUARANTEES, updated);
  process.stdout.write(`[docs:guarantees] docs/guarantees.md ${updated === doc ? "already current" : "updated"}; ${citations(updated).length} test citations\n`);
  process.exit(broken.length === 0 ? 0 : 1);
}
