// Evaluates the whole Pulumi program (index.ts) under resource mocks with a given stack's configuration,
// the way `pulumi preview` would hand it over: Pulumi.yaml's declared defaults (with the deployer's public endpoint
// CIDRs, TEST_PUBLIC_ENDPOINT_CIDRS, and the image digests, TEST_IMAGE_DIGESTS), then the stack file's values, then any overrides, every value as the string the
// engine passes (arrays and objects as JSON).
import { createHash } from "node:crypto";
import { existsSync, openSync, closeSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { RecordingMocks } from "./mocks";

export const ROOT = path.resolve(__dirname, "..");
export const PROJECT = "eventstack";
/** The region tests deploy to; any region works, the program names none itself. */
export const TEST_REGION = "eu-west-1";
/**
 * Where the tests' deployer runs from (a documentation range, RFC 5737): the committed stack files name no network,
 * as each deployer sets cluster.publicEndpointCidrs in its own stack or CI, so the tests set it like a deployer.
 */
export const TEST_PUBLIC_ENDPOINT_CIDRS = ["198.51.100.0/24"];
/**
 * The images the tests deploy, as the deploy workflow passes them (images.<service>, from the images workflow's
 * image-digests.json): the committed stack files name none, as every deployment names its own.
 */
export const TEST_IMAGE_DIGESTS = { ingest: `sha256:${"1a".repeat(32)}`, processor: `sha256:${"2b".repeat(32)}` };
/** The overrides of a deployment that builds the images in `pulumi up` instead (images.build). */
export const BUILD_IMAGES = { "eventstack:images.build": true, "eventstack:images.ingest": "", "eventstack:images.processor": "" };

export interface DeclaredKey {
  type: "string" | "integer" | "boolean" | "array";
  description?: string;
  default?: unknown;
  items?: { type: string };
}

/** The `config:` block of Pulumi.yaml. */
export function declaredConfig(): Record<string, DeclaredKey> {
  return parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")).config;
}

/** The `config:` block of Pulumi.<stack>.yaml, keys as written (namespaced). */
export function stackFileConfig(stack: string): Record<string, unknown> {
  return parse(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config ?? {};
}

const asEngineString = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** The flat config map (`namespace:key` → string) the engine would give the program for this stack. */
export function engineConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, string> {
  const out: Record<string, string> = { "aws:region": TEST_REGION };
  for (const [key, decl] of Object.entries(declaredConfig())) {
    if (decl.default !== undefined) out[`${PROJECT}:${key}`] = asEngineString(decl.default);
  }
  out[`${PROJECT}:cluster.publicEndpointCidrs`] = asEngineString(TEST_PUBLIC_ENDPOINT_CIDRS);
  for (const [service, digest] of Object.entries(TEST_IMAGE_DIGESTS)) out[`${PROJECT}:images.${service}`] = digest;
  for (const [key, value] of Object.entries({ ...stackFileConfig(stack), ...overrides })) {
    if (value === undefined) delete out[key];
    else out[key] = asEngineString(value);
  }
  return out;
}

export interface ProgramRun {
  mocks: RecordingMocks;
  /** The stack outputs, resolved. */
  outputs: Record<string, unknown>;
}

/**
 * Runs index.ts in a fresh module registry with the mocks installed and waits until every resource has been
 * registered. `overrides` replace stack values by full key; `undefined` removes a key.
 *
 * The program is deterministic under the mocks, and most test files evaluate it for the same stacks, so within one
 * jest run each (stack, overrides) is evaluated once and shared between files and workers through
 * PROGRAM_CACHE_DIR (set by test/global-setup.mjs, removed by the teardown). A worker that finds another one
 * evaluating the same run waits for its result. Without the variable (a file run on its own by another runner),
 * every call evaluates.
 */
export async function runProgram(stack: string, overrides: Record<string, unknown> = {}): Promise<ProgramRun> {
  return sharedRun(["program", stack, overrides], () => runWithMocks(stack, overrides, () => require(path.join(ROOT, "index.ts")) as Record<string, unknown>));
}

/**
 * Like runProgram, as one deployment `instance` of the stack: random results, prefixed names and Pulumi's auto-names
 * come out as that deployment's own (RecordingMocks' `instance`), so that two instances of one stack stand for a
 * stack destroyed and created again.
 */
export async function runProgramInstance(stack: string, instance: string, overrides: Record<string, unknown> = {}): Promise<ProgramRun> {
  // A deployment of one stack is never a deployment of another: the stack is part of what seeds it.
  return sharedRun(["program-instance", stack, instance, overrides], () =>
    runWithMocks(stack, overrides, () => require(path.join(ROOT, "index.ts")) as Record<string, unknown>, { instance: `${stack}/${instance}` }),
  );
}

/**
 * Evaluates once per jest run for a given key (a JSON-able description of what is evaluated), sharing the result
 * between test files and workers through PROGRAM_CACHE_ENV; see runProgram. Errors are not shared.
 */
export async function sharedRun(key: unknown, evaluate: () => Promise<ProgramRun>): Promise<ProgramRun> {
  const dir = process.env[PROGRAM_CACHE_ENV];
  if (!dir) return evaluate();
  const file = path.join(dir, `${createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 24)}.json`);
  const lock = `${file}.lock`;
  try {
    closeSync(openSync(lock, "wx"));
  } catch {
    // Another worker evaluates this run: wait for its result, or evaluate after all if it gave up.
    for (let waited = 0; waited < 180_000 && !existsSync(file) && existsSync(lock); waited += 100) await new Promise((r) => setTimeout(r, 100));
    if (existsSync(file)) return revive(JSON.parse(readFileSync(file, "utf8")));
    return evaluate();
  }
  try {
    const run = await evaluate();
    writeFileSync(`${file}.tmp`, JSON.stringify(serialize(run)));
    renameSync(`${file}.tmp`, file);
    return run;
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The environment variable naming the per-run directory runProgram shares evaluations through. */
export const PROGRAM_CACHE_ENV = "EVENTSTACK_PROGRAM_CACHE_DIR";

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

/**
 * Runs `body` under the mocks with the stack's configuration, in a fresh module registry: for testing one
 * component on its own. `body` must `require` what it uses (components, @pulumi/*) inside itself, so that
 * it shares the registry the mocks were installed in, and returns what it wants resolved. `instance`: see RecordingMocks; `callerArn` is who
 * sts:GetCallerIdentity says runs the program.
 */
export async function runWithMocks(
  stack: string,
  overrides: Record<string, unknown>,
  body: () => Record<string, unknown>,
  who: { instance?: string; callerArn?: string } = {},
): Promise<ProgramRun> {
  const config = engineConfig(stack, overrides);
  const region = config["aws:region"] ?? TEST_REGION;
  const mocks = new RecordingMocks(region, who.instance, who.callerArn);
  let outputs: Record<string, unknown> = {};
  await jestIsolated(async (pulumi) => {
    pulumi.runtime.setAllConfig(config);
    await setEngineMocks(pulumi, mocks, stack);
    captureParents(pulumi, mocks);
    outputs = await resolveAll(pulumi, body());
    await settle(mocks);
  });
  return { mocks, outputs };
}

type Pulumi = typeof import("@pulumi/pulumi");

/**
 * Installs the mocks as the monitor, with the features the Pulumi CLI has. The mock monitor does not report resource
 * transforms (it would apply none), so the SDK would refuse to register a resource that has one; registered, they are
 * recorded (mocks.transforms), and a transform's effect on the children of a packaged component is tested on the
 * transform itself. `pulumi` must be the instance the program will require.
 */
export async function setEngineMocks(pulumi: Pulumi, mocks: RecordingMocks, stack: string): Promise<void> {
  await pulumi.runtime.setMocks(mocks, PROJECT, stack, false);
  (require("@pulumi/pulumi/runtime/state") as { getStore(): { supportsTransforms: boolean } }).getStore().supportsTransforms = true;
}

async function jestIsolated(body: (pulumi: Pulumi) => Promise<void>): Promise<void> {
  jest.resetModules();
  const pulumi = require("@pulumi/pulumi") as Pulumi;
  await body(pulumi);
}

/** Records each resource's parent URN and dependencies (per resource and per property): the mock interface does not pass them on. */
function captureParents(pulumi: Pulumi, mocks: RecordingMocks) {
  const monitor = (pulumi.runtime as any).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    const key = `${req.getType()}::${req.getName()}`;
    mocks.parents.set(key, req.getParent());
    mocks.dependencies.set(key, req.getDependenciesList());
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((v: any, k: string) => {
      propertyDependencies[k] = v.getUrnsList();
    });
    mocks.propertyDependencies.set(key, propertyDependencies);
    mocks.transforms.set(key, req.getTransformsList().length);
    return register(req, callback);
  };
}

async function resolveAll(pulumi: Pulumi, program: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) {
    // pulumi.output unwraps Outputs nested in plain objects too (e.g. a record of role ARNs), as the engine does.
    const resolved = pulumi.output(value) as import("@pulumi/pulumi").Output<unknown>;
    out[key] = await new Promise((resolve) => resolved.apply(resolve));
  }
  return out;
}

/** Waits until no new resource has been registered for a few turns of the event loop. */
export async function settle(mocks: RecordingMocks) {
  let stable = 0;
  let seen = -1;
  while (stable < 20) {
    await new Promise((r) => setTimeout(r, 5));
    if (mocks.resources.length === seen) stable += 1;
    else {
      stable = 0;
      seen = mocks.resources.length;
    }
  }
}
