// Evaluates the whole Pulumi program (index.ts) under resource mocks with a given stack's configuration,
// the way `pulumi preview` would hand it over: Pulumi.yaml's declared defaults (with the deployer's public endpoint
// CIDRs, TEST_PUBLIC_ENDPOINT_CIDRS, and the image digests, TEST_IMAGE_DIGESTS), then the stack file's values, then any overrides, every value as the string the
// engine passes (arrays and objects as JSON).
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { RecordingMocks } from "./mocks";
import { sharedRun } from "./program-cache";
import { allowTransforms, recordRegistrations } from "./registrations";

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
/** The repository the tests' Argo CD deployments sync the workloads from. */
/** The repository as delivery.githubRepository names it. */
export const TEST_GITHUB_REPOSITORY = "example-org/eventstack";
/** The URL Argo CD clones, which follows from delivery.githubRepository. */
export const TEST_GIT_REPOSITORY = "https://github.com/example-org/eventstack.git";
/** The overrides of a deployment whose workloads Argo CD applies from Git (delivery.mode argocd, docs/delivery.md). */
export const ARGOCD_DELIVERY = { "eventstack:delivery.mode": "argocd", "eventstack:delivery.githubRepository": TEST_GITHUB_REPOSITORY };

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
 * registered. `overrides` replace stack values by full key; `undefined` removes a key. Shared within a jest run
 * (test/program-cache.ts).
 */
export async function runProgram(stack: string, overrides: Record<string, unknown> = {}): Promise<ProgramRun> {
  return sharedRun(["program", stack, overrides], () => runWithMocks(stack, overrides, requireProgram));
}

/**
 * Like runProgram, as one deployment `instance` of the stack: random results, prefixed names and Pulumi's auto-names
 * come out as that deployment's own (RecordingMocks' `instance`), so that two instances of one stack stand for a
 * stack destroyed and created again.
 */
export async function runProgramInstance(stack: string, instance: string, overrides: Record<string, unknown> = {}): Promise<ProgramRun> {
  // A deployment of one stack is never a deployment of another: the stack is part of what seeds it.
  return sharedRun(["program-instance", stack, instance, overrides], () => runWithMocks(stack, overrides, requireProgram, { instance: `${stack}/${instance}` }));
}

const requireProgram = () => require(path.join(ROOT, "index.ts")) as Record<string, unknown>;

/** Who runs the evaluation: see RecordingMocks (`instance`; `callerArn`, who sts:GetCallerIdentity says runs it). */
export interface Deployer {
  instance?: string;
  callerArn?: string;
}

/**
 * Runs `body` under the mocks with the stack's configuration, in a fresh module registry: for testing one
 * component on its own. `body` must `require` what it uses (components, @pulumi/*) inside itself, so that
 * it shares the registry the mocks were installed in, and returns what it wants resolved.
 */
export async function runWithMocks(stack: string, overrides: Record<string, unknown>, body: () => Record<string, unknown>, who: Deployer = {}): Promise<ProgramRun> {
  jest.resetModules();
  return evaluate(require("@pulumi/pulumi") as Pulumi, stack, overrides, body, who);
}

type Pulumi = typeof import("@pulumi/pulumi");

/**
 * Evaluates `body` the way the Pulumi CLI runs a program for `pulumi up` on this stack, with the engine replaced by
 * the mocks: the stack's configuration (pulumi.runtime.setAllConfig), the mocks as the engine (pulumi.runtime.setMocks,
 * with the project and stack names, not a preview), then the stack's outputs resolved, which is when resources
 * declared inside apply() exist, and a wait until no resource is registered any more. `pulumi` must be the instance
 * `body` requires. Outside jest too (test/upstream/evaluate.ts): the SDK keeps one evaluation's state per process or
 * module registry.
 */
export async function evaluate(pulumi: Pulumi, stack: string, overrides: Record<string, unknown>, body: () => Record<string, unknown>, who: Deployer = {}): Promise<ProgramRun> {
  const config = engineConfig(stack, overrides);
  const mocks = new RecordingMocks(config["aws:region"] ?? TEST_REGION, who.instance, who.callerArn);
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(mocks, PROJECT, stack, PREVIEW);
  allowTransforms();
  recordRegistrations(pulumi, mocks);
  const outputs = await resolveAll(pulumi, body());
  await settle(mocks);
  return { mocks, outputs };
}

/**
 * The tests assert what `pulumi up` creates. (Under mocks every value is known either way; a preview would only make
 * the program see pulumi.runtime.isDryRun() true.)
 */
const PREVIEW = false;

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
