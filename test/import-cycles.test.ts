// scripts/import-cycles.mjs, the import cycle check `npm test` runs over the program, the packages and the services:
// it must name a cycle, type-only and NodeNext `.js` imports included, and an import it cannot resolve, and pass a
// tree without either. The repository itself is checked by the `npm test` step.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./program";

const SCRIPT = path.join(ROOT, "scripts/import-cycles.mjs");
const dirs: string[] = [];

/** Runs the check over a directory holding `files`. */
function check(files: Record<string, string>) {
  const dir = mkdtempSync(path.join(tmpdir(), "import-cycles-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const run = spawnSync(process.execPath, [SCRIPT, "."], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  return { status: run.status, lines: run.stdout.trim().split("\n"), stderr: run.stderr };
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test("a cycle through a NodeNext `.js` import and a type-only import is named, and fails the check", () => {
  const result = check({
    "a.ts": 'import { b } from "./b.js";\nexport const a = 1 + b;\n',
    "b.ts": 'import type { A } from "./c";\nexport const b: number = 2;\nexport type B = A;\n',
    "c.ts": 'import { a } from "./a";\nexport type A = typeof a;\n',
    "d.ts": 'import { a } from "./a";\nexport const d = a;\n',
  });
  expect(result).toEqual({ status: 1, lines: ["import cycle: a.ts > b.ts > c.ts > a.ts", "4 files, 1 import cycle, 0 unresolved imports"], stderr: "" });
});

test("an import that resolves to no file fails the check, since its edges would be missing from the graph", () => {
  const result = check({ "a.ts": 'import { b } from "./b";\nexport const a = b;\n', "b.ts": 'import { gone } from "./gone.js";\nexport const b = gone;\n' });
  expect(result).toEqual({ status: 1, lines: ["unresolved import: ./gone.js", "2 files, 0 import cycles, 1 unresolved import"], stderr: "" });
});

test("a tree without cycles passes", () => {
  const result = check({
    "a.ts": 'import { b } from "./b.js";\nimport type { C } from "./c";\nexport const a: C = b;\n',
    "b.ts": 'import type { C } from "./c";\nexport const b: C = 2;\n',
    "c.ts": "export type C = number;\n",
  });
  expect(result).toEqual({ status: 0, lines: ["3 files, 0 import cycles, 0 unresolved imports"], stderr: "" });
});
