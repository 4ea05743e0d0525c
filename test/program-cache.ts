// Shares program evaluations between the test files and workers of one jest run.
//
// The program is deterministic under the mocks, and most test files evaluate it for the same stacks, so within one
// jest run each evaluation (a key: a JSON-able description of what is evaluated) runs once and its records are shared
// through the directory PROGRAM_CACHE_ENV names (set by test/global-setup.mjs, removed by its teardown). A worker that
// finds another one evaluating the same key waits for its result. Without the variable (a file run on its own by
// another runner, or jest with another global setup), every call evaluates. Errors are not shared.
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { RecordingMocks } from "./mocks";
import type { ProgramRun } from "./program";

/** The environment variable naming the per-run directory evaluations are shared through. */
export const PROGRAM_CACHE_ENV = "EVENTSTACK_PROGRAM_CACHE_DIR";

/** How long a worker waits for another one's evaluation before it evaluates after all. */
const WAIT_MS = 180_000;

/** Evaluates once per jest run for a given key, sharing the result between test files and workers. */
export async function sharedRun(key: unknown, evaluate: () => Promise<ProgramRun>): Promise<ProgramRun> {
  const dir = process.env[PROGRAM_CACHE_ENV];
  if (!dir) return evaluate();
  const file = path.join(dir, `${createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 24)}.json`);
  const shared = () => revive(JSON.parse(readFileSync(file, "utf8")));
  if (existsSync(file)) return shared();
  const lock = `${file}.lock`;
  try {
    closeSync(openSync(lock, "wx"));
  } catch {
    // Another worker evaluates this key: wait for its result, or evaluate after all if it gave up.
    for (let waited = 0; waited < WAIT_MS && !existsSync(file) && existsSync(lock); waited += 100) await new Promise((r) => setTimeout(r, 100));
    return existsSync(file) ? shared() : evaluate();
  }
  try {
    // It may have finished between the look above and taking the lock.
    if (existsSync(file)) return shared();
    const run = await evaluate();
    writeFileSync(`${file}.tmp`, JSON.stringify(serialize(run)));
    renameSync(`${file}.tmp`, file);
    return run;
  } finally {
    rmSync(lock, { force: true });
  }
}

interface SerializedRun {
  region: string;
  callerArn: string;
  resources: RecordingMocks["resources"];
  calls: RecordingMocks["calls"];
  parents: [string, string][];
  dependencies: [string, string[]][];
  propertyDependencies: [string, Record<string, string[]>][];
  transforms: [string, number][];
  outputs: Record<string, unknown>;
}

function serialize(run: ProgramRun): SerializedRun {
  const m = run.mocks;
  return {
    region: m.region,
    callerArn: m.callerArn,
    resources: m.resources,
    calls: m.calls,
    parents: [...m.parents],
    dependencies: [...m.dependencies],
    propertyDependencies: [...m.propertyDependencies],
    transforms: [...m.transforms],
    outputs: run.outputs,
  };
}

function revive(s: SerializedRun): ProgramRun {
  const mocks = new RecordingMocks(s.region, undefined, s.callerArn);
  mocks.resources.push(...s.resources);
  mocks.calls.push(...s.calls);
  for (const [k, v] of s.parents) mocks.parents.set(k, v);
  for (const [k, v] of s.dependencies) mocks.dependencies.set(k, v);
  for (const [k, v] of s.propertyDependencies) mocks.propertyDependencies.set(k, v);
  for (const [k, v] of s.transforms) mocks.transforms.set(k, v);
  return { mocks, outputs: s.outputs };
}
