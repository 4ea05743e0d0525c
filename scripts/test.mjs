#!/usr/bin/env node
// `npm test`: the whole suite, from a fresh clone after `npm ci`, with no manual step.
//   1. type-check the Pulumi program (strict), check that no import cycle is left, and build both services;
//   2. bring up the local services (PostgreSQL, Redis, a real Kafka broker);
//   3. run the infrastructure tests (jest over Pulumi mocks, test/);
//   4. run each service's tests (node:test against the real services);
//   5. run the end-to-end and fault-injection tests (test/e2e/*.test.mjs, node:test): the built services as
//      processes through scripts/local.mjs, with faults injected into Kafka, the processor, PostgreSQL, Redis;
//   6. print one closing line `N passed, N failed` and exit non-zero on any failure.
// What this run started (the broker, Redis, PostgreSQL) is stopped at the end; what was already running is left running.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, existsSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { unsupportedNode } from "./node-version.mjs";
import { down, startedBy, up } from "./services.mjs";

// Before anything runs: on an older Node the failures would be obscure (missing APIs, engine mismatches).
const unsupported = unsupportedNode();
if (unsupported) {
  process.stderr.write(`[test] ${unsupported}\n`);
  process.stdout.write("0 passed, 1 failed\n");
  process.exit(1);
}
// Which Node this run uses, and so every process it starts (npm puts the same node_modules/.bin first on PATH).
process.stdout.write(`[test] Node.js ${process.version} (${process.execPath})\n`);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const workspaces = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).workspaces;
const stateDir = path.join(root, ".local");
mkdirSync(stateDir, { recursive: true });

let passed = 0;
let failed = 0;

function run(title, cmd, args, opts = {}) {
  process.stdout.write(`\n=== ${title}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: opts.capture ? ["ignore", "pipe", "inherit"] : "inherit", encoding: "utf8", ...opts });
  if (opts.capture) process.stdout.write(r.stdout ?? "");
  return r;
}

/** A node:test run, counted by its closing summary: `# pass N` / `# fail N` (TAP) or `ℹ pass N` / `ℹ fail N` (spec). */
function nodeTests(title, cmd, args, env) {
  const r = run(title, cmd, args, { capture: true, env });
  const count = (word) => Number(r.stdout.match(new RegExp(`^(?:#|ℹ) ${word} (\\d+)`, "m"))?.[1] ?? NaN);
  const [p, f] = [count("pass"), count("fail")];
  if (Number.isNaN(p) || Number.isNaN(f)) {
    failed += 1;
    return;
  }
  passed += p;
  failed += f;
  // A failing hook or a crashed file is not in the counts, but makes the run exit non-zero.
  if (r.status !== 0 && f === 0) failed += 1;
  if (p + f === 0) failed += 1;
}

function step(title, cmd, args) {
  const r = run(title, cmd, args);
  if (r.status === 0) passed += 1;
  else failed += 1;
  return r.status === 0;
}

const services = await up().catch((err) => {
  process.stderr.write(`[test] ${err.message}\n`);
  process.stdout.write("0 passed, 1 failed\n");
  process.exit(1);
});

try {
  step("type-check: Pulumi program and tests (tsc --noEmit, strict)", "npx", ["tsc", "--noEmit", "-p", "tsconfig.json"]);
  step("import cycles: the program, packages and services (scripts/import-cycles.mjs, madge)", process.execPath, ["scripts/import-cycles.mjs"]);
  const built = step("build: services (tsc)", "npm", ["run", "build", "--workspaces", "--if-present"]);

  const jestOut = path.join(stateDir, "jest-results.json");
  rmSync(jestOut, { force: true });
  run("infrastructure tests (jest, Pulumi mocks)", "npx", ["jest", "--json", `--outputFile=${jestOut}`]);
  if (existsSync(jestOut)) {
    const j = JSON.parse(readFileSync(jestOut, "utf8"));
    passed += j.numPassedTests;
    failed += j.numFailedTests + j.numRuntimeErrorTestSuites + (j.numTotalTests === 0 ? 1 : 0);
  } else {
    failed += 1;
  }

  const env = { ...process.env, KAFKA_BOOTSTRAP: process.env.KAFKA_BOOTSTRAP ?? services.kafkaBootstrap };
  for (const ws of workspaces) {
    if (!built) {
      failed += 1;
      continue;
    }
    const pkg = JSON.parse(readFileSync(path.join(root, ws, "package.json"), "utf8"));
    if (!pkg.scripts?.test) continue;
    nodeTests(`${pkg.name} tests (node:test, real Kafka/PostgreSQL/Redis)`, "npm", ["test", "-w", ws], env);
  }

  // One file at a time: the fault tests restart the machine's PostgreSQL and flush Redis.
  const e2e = readdirSync(path.join(root, "test/e2e")).filter((f) => f.endsWith(".test.mjs")).sort().map((f) => `test/e2e/${f}`);
  if (built) nodeTests("end-to-end and fault-injection tests (node:test, the built services as processes)", process.execPath, ["--test", "--test-concurrency=1", ...e2e], env);
  else failed += 1;
} finally {
  await down(undefined, startedBy(services));
}

process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
