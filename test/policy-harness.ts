// Runs the policy pack's policies the way the Pulumi engine does (@pulumi/policy's server.js, v1.21), without a
// CLI: it builds the `args` a ResourceValidationPolicy or StackValidationPolicy receives, collects what they
// report, and resolves enforcement levels and config as the engine does.
//
// Mirrored from the engine: props go through a JSON round trip (as through a protobuf Struct: undefined values
// vanish) and the unknown-checking proxy; `isType`/`asType` compare type tokens; `getConfig()` returns the
// policy's entry of the pack config minus enforcementLevel, or {} (schema defaults are NOT applied, so the
// policies' own fallbacks are what is tested); `notApplicable()` throws; a type-filtered validation
// (`__pulumiType`) is skipped for other types; an UnknownValueError becomes an advisory "can't run" message.
//
// `programStack` turns a whole program run under test/mocks.ts into the resources a stack policy receives:
// URNs as the SDK builds them, parent and provider links, property dependencies, and props that are the
// recorded inputs for custom resources (what a preview's planned state holds) and the outputs for components.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { EnforcementLevel, Policies, PolicyPackConfig, PolicyProviderResource, PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { unknownCheckingProxy, UnknownValueError } from "@pulumi/policy";
import type { RecordingMocks } from "./mocks";
import { PROJECT, ROOT, runProgram } from "./program";

type AnyPolicy = Policies[number];

export interface FakeResource {
  type: string;
  name: string;
  props: Record<string, any>;
  /** Defaults to a URN built from type, name and parent. */
  urn?: string;
  /** Parent URN. */
  parent?: string;
  provider?: PolicyProviderResource;
  dependencies?: string[];
  propertyDependencies?: Record<string, string[]>;
}

export interface Violation {
  policy: string;
  enforcementLevel: EnforcementLevel;
  /** What the policy passed to reportViolation (the engine prefixes the description). */
  message: string;
  urn?: string;
}

export interface Outcome {
  violations: Violation[];
  /** Reasons given through notApplicable(), by policy. */
  notApplicable: { policy: string; reason?: string }[];
}

const STACK = "test";

/** A URN as the SDK builds it: the parent's type chain, then this type, then the name. */
export function urnOf(type: string, name: string, parentUrn?: string, stack = STACK): string {
  const parentChain = parentUrn ? parentUrn.split("::")[2] : undefined;
  return `urn:pulumi:${stack}::${PROJECT}::${parentChain ? `${parentChain}$${type}` : type}::${name}`;
}

/** The unknown value a preview holds for an output not known yet (the engine's sentinel for strings). */
export const UNKNOWN: string = (require("@pulumi/policy/proxy") as { unknownStringValue: string }).unknownStringValue;

const engineProps = (props: Record<string, any>) => unknownCheckingProxy(JSON.parse(JSON.stringify(props ?? {})));

const typeToken = (resourceClass: unknown) => (resourceClass as { __pulumiType?: string } | undefined)?.__pulumiType;

class NotApplicable extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? "Policy does not apply");
  }
}
const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason);
};

function enforcementOf(policy: AnyPolicy, config: PolicyPackConfig, packLevel: EnforcementLevel): EnforcementLevel {
  const configured = config[policy.name];
  const fromConfig = typeof configured === "string" ? configured : configured?.enforcementLevel;
  const level = fromConfig || policy.enforcementLevel || packLevel;
  return level === "remediate" ? "mandatory" : level;
}

function getConfigFor(policy: AnyPolicy, config: PolicyPackConfig) {
  return <T extends object>(): T => {
    const c = config[policy.name];
    if (!c || typeof c === "string") return {} as T;
    const { enforcementLevel: _ignored, ...properties } = c;
    return properties as T;
  };
}

/** Runs `fn`, sorting the engine's special errors into the outcome. */
async function guard(policy: AnyPolicy, out: Outcome, fn: () => unknown) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof NotApplicable) out.notApplicable.push({ policy: policy.name, reason: e.reason });
    else if (e instanceof UnknownValueError) out.violations.push({ policy: policy.name, enforcementLevel: "advisory", message: `can't run policy '${policy.name}' during preview: ${(e as Error).message}` });
    else throw e;
  }
}

const isResourcePolicy = (p: AnyPolicy): p is ResourceValidationPolicy => "validateResource" in p && p.validateResource !== undefined;
const isStackPolicy = (p: AnyPolicy): p is StackValidationPolicy => "validateStack" in p && typeof p.validateStack === "function";

/** Runs resource policies against one resource, as the engine's Analyze call does. */
export async function validateResource(policies: AnyPolicy | AnyPolicy[], resource: FakeResource, config: PolicyPackConfig = {}, packLevel: EnforcementLevel = "advisory"): Promise<Outcome> {
  const out: Outcome = { violations: [], notApplicable: [] };
  const urn = resource.urn ?? urnOf(resource.type, resource.name, resource.parent);
  for (const policy of ([] as AnyPolicy[]).concat(policies)) {
    const level = enforcementOf(policy, config, packLevel);
    if (level === "disabled" || !isResourcePolicy(policy)) continue;
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
    const token = !Array.isArray(policy.validateResource) ? typeToken(policy.validateResource) : undefined;
    if (token && token !== resource.type) {
      out.notApplicable.push({ policy: policy.name, reason: `Policy only applies to resources of type '${token}'` });
      continue;
    }
    for (const validation of validations) {
      const props = engineProps(resource.props);
      const args = {
        type: resource.type,
        props,
        urn,
        name: resource.name,
        opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], parent: resource.parent },
        provider: resource.provider && { ...resource.provider, props: engineProps(resource.provider.props) },
        stackTags: new Map<string, string>(),
        isType: (cls: unknown) => typeToken(cls) === resource.type,
        asType: (cls: unknown) => (typeToken(cls) === resource.type ? props : undefined),
        getConfig: getConfigFor(policy, config),
        notApplicable,
      };
      await guard(policy, out, () => validation(args as any, (message: string) => out.violations.push({ policy: policy.name, enforcementLevel: level, message, urn })));
    }
  }
  return out;
}

/** Links fake resources into the PolicyResource graph the engine's AnalyzeStack call builds. */
export function toPolicyResources(resources: FakeResource[]): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  const built = resources.map((r) => {
    const props = engineProps(r.props);
    const pr: PolicyResource = {
      type: r.type,
      name: r.name,
      props,
      urn: r.urn ?? urnOf(r.type, r.name, r.parent),
      opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], parent: r.parent },
      provider: r.provider && { ...r.provider, props: engineProps(r.provider.props) },
      dependencies: [],
      propertyDependencies: {},
      isType: (cls) => typeToken(cls) === r.type,
      asType: (cls) => (typeToken(cls) === r.type ? (props as any) : undefined),
    };
    byUrn.set(pr.urn, pr);
    return pr;
  });
  resources.forEach((r, i) => {
    const pr = built[i]!;
    if (r.parent && byUrn.has(r.parent)) pr.parent = byUrn.get(r.parent);
    pr.dependencies = (r.dependencies ?? []).map((u) => byUrn.get(u)).filter((d): d is PolicyResource => d !== undefined);
    for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
      pr.propertyDependencies[k] = urns.map((u) => byUrn.get(u)).filter((d): d is PolicyResource => d !== undefined);
    }
  });
  return built;
}

/** Runs stack policies over a set of resources, as the engine's AnalyzeStack call does. */
export async function validateStack(policies: AnyPolicy | AnyPolicy[], resources: FakeResource[], config: PolicyPackConfig = {}, packLevel: EnforcementLevel = "advisory"): Promise<Outcome> {
  const out: Outcome = { violations: [], notApplicable: [] };
  for (const policy of ([] as AnyPolicy[]).concat(policies)) {
    const level = enforcementOf(policy, config, packLevel);
    if (level === "disabled" || !isStackPolicy(policy)) continue;
    const token = typeToken(policy.validateStack);
    if (token && !resources.some((r) => r.type === token)) {
      out.notApplicable.push({ policy: policy.name, reason: `Policy only applies to resources of type '${token}'` });
      continue;
    }
    const args = { resources: toPolicyResources(resources), stackTags: new Map<string, string>(), getConfig: getConfigFor(policy, config), notApplicable };
    await guard(policy, out, () => policy.validateStack(args, (message: string, urn?: string) => out.violations.push({ policy: policy.name, enforcementLevel: level, message, urn })));
  }
  return out;
}

/** The whole pack over a stack: every resource through the resource policies, then the stack policies. */
export async function runPack(policies: AnyPolicy[], resources: FakeResource[], config: PolicyPackConfig = {}, packLevel: EnforcementLevel = "advisory"): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const r of resources) violations.push(...(await validateResource(policies, r, config, packLevel)).violations);
  violations.push(...(await validateStack(policies, resources, config, packLevel)).violations);
  return violations;
}

// ------------------------------------------------------------------ the program under mocks, as a stack

export interface Dependencies {
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
}

/**
 * Evaluates index.ts for a stack (runProgram, shared with the other test files) with what the SDK sends the engine
 * about each resource's dependencies: stack policies follow them to find the VPC a flow log names or the cluster an
 * instance joins when the value is an unknown id.
 */
export async function runProgramForPolicies(stack: string, overrides: Record<string, unknown> = {}) {
  const run = await runProgram(stack, overrides);
  const deps = new Map<string, Dependencies>();
  for (const [key, dependencies] of run.mocks.dependencies) deps.set(key, { dependencies, propertyDependencies: run.mocks.propertyDependencies.get(key) ?? {} });
  return { ...run, dependencies: deps };
}

/** The policy pack's config for a stack, as the preview workflow passes it (policy/config/<stack>.json). */
export function stackPolicyConfig(stack: string): PolicyPackConfig {
  return JSON.parse(readFileSync(path.join(ROOT, "policy/config", `${stack}.json`), "utf8"));
}

/** The default provider the engine gives a resource declared without one: the package's config, no default tags. */
function defaultProvider(type: string, stack: string): PolicyProviderResource {
  const pkg = type.split(":")[0]!;
  const name = `default_${pkg}`;
  return { type: `pulumi:providers:${pkg}`, name, urn: urnOf(`pulumi:providers:${pkg}`, name, undefined, stack), props: {} };
}

/** The resources a stack policy would receive for a program run under mocks. */
export function programStack(mocks: RecordingMocks, stack: string, deps: Map<string, Dependencies> = new Map()): FakeResource[] {
  const urnByKey = new Map<string, string>();
  for (const r of mocks.resources) urnByKey.set(`${r.type}::${r.name}`, urnOf(r.type, r.name, r.parent || undefined, stack));
  const providers = new Map(mocks.resources.filter((r) => r.type.startsWith("pulumi:providers:")).map((r) => [urnByKey.get(`${r.type}::${r.name}`)!, r]));
  return mocks.resources.map((r) => {
    let provider: PolicyProviderResource | undefined;
    if (r.custom && !r.type.startsWith("pulumi:providers:")) {
      const ref = r.provider ? r.provider.slice(0, r.provider.lastIndexOf("::")) : undefined;
      const p = ref ? providers.get(ref) : undefined;
      provider = p ? { type: p.type, name: p.name, urn: ref!, props: p.inputs } : defaultProvider(r.type, stack);
    }
    const d = deps.get(`${r.type}::${r.name}`);
    return {
      type: r.type,
      name: r.name,
      urn: urnByKey.get(`${r.type}::${r.name}`),
      parent: r.parent || undefined,
      props: r.custom ? r.inputs : r.state,
      provider,
      dependencies: d?.dependencies ?? [],
      propertyDependencies: d?.propertyDependencies ?? {},
    };
  });
}
