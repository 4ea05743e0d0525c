#!/usr/bin/env node
// `node scripts/import-cycles.mjs [file or directory ...]`: lists every import cycle among the TypeScript files given
// (by default the Pulumi program, its components, the shared packages and the two services' sources) and exits 1 if
// there is one, 0 if there is none. `npm test` runs it (scripts/test.mjs).
//
// Why it matters here: a cycle makes what a module sees at load time depend on which module was loaded first (an
// `undefined` import in CommonJS), and it hides weight: validating the stack configuration once loaded @pulumi/tls
// through config.ts → linkerd.ts → system-nodes.ts → config.ts. Type-only imports count too: they are how such
// cycles start, and a module that imports a type today imports a value tomorrow.
//
// madge builds the graph (TypeScript's own module resolution, so `./x.js` in the services' NodeNext sources is
// ./x.ts). An import madge cannot resolve would drop its edges without a word, so a relative import left unresolved
// is an error here too.
import path from "node:path";
import { fileURLToPath } from "node:url";
import madge from "madge";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_TARGETS = ["index.ts", "components", "packages", "apps/ingest/src", "apps/processor/src"];

/** The cycles among `targets` (paths relative to `baseDir`), and the relative imports that resolved to no file. */
export async function importCycles(targets, baseDir = root) {
  const graph = await madge(
    targets.map((t) => path.resolve(baseDir, t)),
    {
      baseDir,
      fileExtensions: ["ts"],
      // Build output (dist/*.d.ts mirrors src) and installed packages are not the sources.
      excludeRegExp: [/(^|[\\/])(node_modules|dist)[\\/]/, /\.d\.ts$/],
      detectiveOptions: { ts: { skipTypeImports: false, skipAsyncImports: false }, es6: { skipTypeImports: false } },
    },
  );
  const unresolved = graph.warnings().skipped.filter((dependency) => /^\.{1,2}\//.test(dependency));
  return { cycles: graph.circular(), unresolved, files: Object.keys(graph.obj()).length };
}

async function main() {
  const targets = process.argv.slice(2);
  const { cycles, unresolved, files } = await importCycles(targets.length > 0 ? targets : DEFAULT_TARGETS, targets.length > 0 ? process.cwd() : root);
  for (const dependency of unresolved) process.stdout.write(`unresolved import: ${dependency}\n`);
  for (const cycle of cycles) process.stdout.write(`import cycle: ${[...cycle, cycle[0]].join(" > ")}\n`);
  process.stdout.write(`${files} files, ${cycles.length} import cycle${cycles.length === 1 ? "" : "s"}, ${unresolved.length} unresolved import${unresolved.length === 1 ? "" : "s"}\n`);
  process.exit(cycles.length === 0 && unresolved.length === 0 ? 0 : 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
