// Evaluates the whole Pulumi program (index.ts) under resource mocks with a given stack's configuration,
// the way `pulumi preview` would hand it over: Pulumi.yaml's declared defaults, then the stack file's values,
// then any overrides, every value as the string the engine passes (arrays and objects as JSON).
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { RecordingMocks } from "./mocks";

export const ROOT = path.resolve(__dirname, "..");
export const PROJECT = "eventstack";
/** The region tests deploy to; any region works, the program names none itself. */
export const TEST_REGION = "eu-west-1";

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
 */
export async function runProgram(stack: string, overrides: Record<string, unknown> = {}): Promise<ProgramRun> {
  return runWithMocks(stack, overrides, () => require(path.join(ROOT, "index.ts")) as Record<string, unknown>);
}

/**
 * Runs `body` under the mocks with the stack's configuration, in a fresh module registry: for testing one
 * component on its own. `body` must `require` what it uses (components, @pulumi/*) inside itself, so that
 * it shares the registry the mocks were installed in, and returns what it wants resolved.
 */
export async function runWithMocks(
  stack: string,
  overrides: Record<string, unknown>,
  body: () => Record<string, unknown>,
): Promise<ProgramRun> {
  const config = engineConfig(stack, overrides);
  const region = config["aws:region"] ?? TEST_REGION;
  const mocks = new RecordingMocks(region);
  let outputs: Record<string, unknown> = {};
  await jestIsolated(async (pulumi) => {
    pulumi.runtime.setAllConfig(config);
    await pulumi.runtime.setMocks(mocks, PROJECT, stack, false);
    captureParents(pulumi, mocks);
    outputs = await resolveAll(pulumi, body());
    await settle(mocks);
  });
  return { mocks, outputs };
}

type Pulumi = typeof import("@pulumi/pulumi");

async function jestIsolated(body: (pulumi: Pulumi) => Promise<void>): Promise<void> {
  jest.resetModules();
  const pulumi = require("@pulumi/pulumi") as Pulumi;
  await body(pulumi);
}

/** Records each resource's parent URN and dependencies: the mock interface itself does not pass them on. */
function captureParents(pulumi: Pulumi, mocks: RecordingMocks) {
  const monitor = (pulumi.runtime as any).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    mocks.parents.set(`${req.getType()}::${req.getName()}`, req.getParent());
    mocks.dependencies.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList());
    return register(req, callback);
  };
}

async function resolveAll(pulumi: Pulumi, program: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) {
    // pulumi.output unwraps Outputs nested in plain objects too (e.g. a record of role ARNs), as the engine does.
    const resolved = pulumi.output(value as pulumi.Input<unknown>);
    out[key] = await new Promise((resolve) => resolved.apply(resolve));
  }
  return out;
}

/** Waits until no new resource has been registered for a few turns of the event loop. */
async function settle(mocks: RecordingMocks) {
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
