// Sharing program evaluations within a jest run (test/program-cache.ts): a key is evaluated once, later calls get its
// records back, and without the run's directory nothing is shared.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { RecordingMocks } from "./mocks";
import type { ProgramRun } from "./program";
import { PROGRAM_CACHE_ENV, sharedRun } from "./program-cache";

/** An evaluation that counts its calls and records one resource with a parent and a dependency. */
function countingEvaluation() {
  const calls = { count: 0 };
  const evaluate = async (): Promise<ProgramRun> => {
    calls.count += 1;
    const mocks = new RecordingMocks("eu-west-1");
    mocks.parents.set("aws:s3/bucket:Bucket::logs", "urn:pulumi:dev::eventstack::eventstack:data:Logs::logs");
    mocks.dependencies.set("aws:s3/bucket:Bucket::logs", ["urn:pulumi:dev::eventstack::aws:kms/key:Key::logs"]);
    mocks.transforms.set("aws:s3/bucket:Bucket::logs", 1);
    mocks.newResource({ type: "aws:s3/bucket:Bucket", name: "logs", inputs: { bucket: "logs" }, custom: true });
    return { mocks, outputs: { bucket: "logs", count: calls.count } };
  };
  return { calls, evaluate };
}

describe("sharedRun", () => {
  const before = process.env[PROGRAM_CACHE_ENV];
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "eventstack-program-cache-test-"));
    process.env[PROGRAM_CACHE_ENV] = dir;
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    if (before === undefined) delete process.env[PROGRAM_CACHE_ENV];
    else process.env[PROGRAM_CACHE_ENV] = before;
  });

  test("a key evaluated once is not evaluated again: later calls get its records back", async () => {
    const { calls, evaluate } = countingEvaluation();
    const first = await sharedRun(["program", "dev", {}], evaluate);
    const second = await sharedRun(["program", "dev", {}], evaluate);
    expect(calls.count).toBe(1);
    expect(second.outputs).toEqual({ bucket: "logs", count: 1 });
    expect(second.mocks.resources).toEqual(first.mocks.resources);
    expect(second.mocks.resources[0]!.parent).toBe("urn:pulumi:dev::eventstack::eventstack:data:Logs::logs");
    expect(second.mocks.dependencies.get("aws:s3/bucket:Bucket::logs")).toEqual(["urn:pulumi:dev::eventstack::aws:kms/key:Key::logs"]);
    expect(second.mocks.transforms.get("aws:s3/bucket:Bucket::logs")).toBe(1);
    expect(second.mocks.get("aws:s3/bucket:Bucket", "logs").inputs).toEqual({ bucket: "logs" });
  });

  test("calls that overlap evaluate once", async () => {
    const { calls, evaluate } = countingEvaluation();
    const runs = await Promise.all([sharedRun(["program", "prod", {}], evaluate), sharedRun(["program", "prod", {}], evaluate)]);
    expect(calls.count).toBe(1);
    expect(runs.map((r) => r.outputs)).toEqual([
      { bucket: "logs", count: 1 },
      { bucket: "logs", count: 1 },
    ]);
  });

  test("another key is evaluated on its own", async () => {
    const { calls, evaluate } = countingEvaluation();
    await sharedRun(["program", "dev", {}], evaluate);
    const other = await sharedRun(["program", "dev", { "eventstack:delivery.mode": "argocd" }], evaluate);
    expect(calls.count).toBe(2);
    expect(other.outputs).toEqual({ bucket: "logs", count: 2 });
  });

  test("without the run's directory every call evaluates", async () => {
    delete process.env[PROGRAM_CACHE_ENV];
    const { calls, evaluate } = countingEvaluation();
    await sharedRun(["program", "dev", {}], evaluate);
    await sharedRun(["program", "dev", {}], evaluate);
    expect(calls.count).toBe(2);
  });
});
