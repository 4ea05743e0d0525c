// Helpers every rule file shares: dispatch by resource type, reading values that may be unknown during a
// preview, policy documents, CIDRs, tags, and how a stack policy finds the resource another one refers to.
//
// Rules are written against resource type tokens ("aws:rds/cluster:Cluster") and the providers' own input
// property names, never against eventstack's components, so they keep holding as components are added. The
// property shapes come from the providers' published types through `import type` (erased at run time), so the
// pack itself depends on nothing but @pulumi/policy.
import type { Unwrap } from "@pulumi/pulumi";
import {
  PolicyResource,
  ReportViolation,
  ResourceValidation,
  ResourceValidationArgs,
  StackValidationArgs,
  UnknownValueError,
} from "@pulumi/policy";

/** The plain (resolved) inputs of a resource whose args type is `TArgs`, all optional as a policy sees them. */
export type Props<TArgs> = Partial<Unwrap<TArgs>>;

type TypedValidation<P> = (props: P, args: ResourceValidationArgs, report: ReportViolation) => void;

/**
 * A resource validation that runs only for the given type tokens, like @pulumi/policy's validateResourceOfType
 * but without importing the provider SDK. With a single type the engine filters before calling (`__pulumiType`).
 */
export function forTypes<P = Record<string, any>>(types: Record<string, TypedValidation<P>>): ResourceValidation {
  const tokens = Object.keys(types);
  const fn: ResourceValidation & { __pulumiType?: string } = (args, report) => {
    const validate = types[args.type];
    if (!validate) return args.notApplicable(`Policy only applies to resources of type ${tokens.map((t) => `'${t}'`).join(", ")}`);
    return validate(args.props as P, args, report);
  };
  if (tokens.length === 1) fn.__pulumiType = tokens[0];
  return fn;
}

export function forType<P = Record<string, any>>(type: string, validate: TypedValidation<P>): ResourceValidation {
  return forTypes<P>({ [type]: validate });
}

/**
 * Reads a value that may be unknown during a preview (an output of a resource not yet created). The engine's
 * props throw UnknownValueError on such a read; `known` turns that into `undefined` for rules that can decide
 * without the value (matching by dependency instead). Rules that cannot decide let the error through, and the
 * engine reports "can't run policy during preview" as advisory.
 */
export function known<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e instanceof UnknownValueError) return undefined;
    throw e;
  }
}

export const asArray = <T>(v: T | T[] | undefined | null): T[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

export const ANY_IPV4 = "0.0.0.0/0";
export const ANY_IPV6 = "::/0";
export const isAnyAddress = (cidr: unknown) => cidr === ANY_IPV4 || cidr === ANY_IPV6;

// ------------------------------------------------------------------ IAM policy documents

export interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: string | Record<string, string | string[]>;
  Condition?: Record<string, Record<string, unknown>>;
}

/**
 * The statements of a policy document given as JSON text (how our components pass it) or as an object (how
 * @pulumi/aws's PolicyDocument type allows it). Text that is not JSON yields no statements: the provider rejects it.
 */
export function statements(doc: unknown): Statement[] {
  let parsed: unknown = doc;
  if (typeof doc === "string") {
    try {
      parsed = JSON.parse(doc);
    } catch {
      return [];
    }
  }
  if (!parsed || typeof parsed !== "object") return [];
  return asArray((parsed as { Statement?: Statement | Statement[] }).Statement).filter((s) => s && typeof s === "object");
}

/** `Principal: "*"` or `{ AWS: "*" }` (alone or in a list): anyone, in any account. */
export function hasWildcardPrincipal(s: Statement): boolean {
  const p = s.Principal;
  if (p === "*") return true;
  if (p && typeof p === "object") return asArray(p.AWS).includes("*");
  return false;
}

/**
 * Condition keys that narrow who a statement applies to, to one account, organization, principal or source.
 * A wildcard principal constrained by one of these is how AWS documents cross-service and org-wide access.
 */
export const IDENTITY_CONDITION_KEYS = [
  "aws:principalaccount",
  "aws:principalarn",
  "aws:principalorgid",
  "aws:principalorgpaths",
  "aws:sourceaccount",
  "aws:sourcearn",
  "aws:sourceorgid",
  "aws:sourceorgpaths",
  "aws:sourceowner",
  "aws:sourcevpc",
  "aws:sourcevpce",
  "kms:calleraccount",
];

export function constrainsIdentity(s: Statement): boolean {
  return Object.values(s.Condition ?? {}).some(
    (byKey) => byKey && typeof byKey === "object" && Object.keys(byKey).some((k) => IDENTITY_CONDITION_KEYS.includes(k.toLowerCase())),
  );
}

// ------------------------------------------------------------------ tags

export type Tags = Record<string, string>;

/** A resource's own tags: a map on nearly every type, a `{ key, value }` list on a few (autoscaling groups). */
export function ownTags(props: Record<string, any>): Tags {
  const t = known(() => props.tags);
  if (Array.isArray(t)) return Object.fromEntries(t.filter((x) => x && typeof x.key === "string").map((x) => [x.key, String(x.value)]));
  if (t && typeof t === "object") return { ...t };
  return {};
}

/** The aws provider's `defaultTags.tags`: JSON text in a provider's config, an object where the engine decodes it. */
export function providerDefaultTags(providerProps: Record<string, any> | undefined): Tags {
  let d: unknown = providerProps ? known(() => providerProps.defaultTags) : undefined;
  if (typeof d === "string") {
    try {
      d = JSON.parse(d);
    } catch {
      return {};
    }
  }
  const tags = d && typeof d === "object" ? (d as { tags?: unknown }).tags : undefined;
  return tags && typeof tags === "object" ? { ...(tags as Tags) } : {};
}

// ------------------------------------------------------------------ references between resources (stack policies)

/**
 * True when `from`'s property `property` refers to `target`: by a known value equal to one of `targetValues`
 * (an id or name the target exposes), or, when the value is unknown (preview of a new stack), by the property
 * dependency the Pulumi SDK records for it. A dependency on a component (the awsx Vpc) counts as one on its
 * children and vice versa, since the SDK records a remote component where its output was used.
 */
export function refersTo(from: PolicyResource, property: string, target: PolicyResource, targetValues: unknown[]): boolean {
  const value = known(() => from.props[property]);
  if (typeof value === "string" && value !== "" && targetValues.includes(value)) return true;
  const deps = from.propertyDependencies?.[property] ?? [];
  return deps.some((d) => d.urn === target.urn || isAncestor(d, target) || isAncestor(target, d));
}

/** True when `ancestor` is `r`'s parent, grandparent, ... */
export function isAncestor(ancestor: PolicyResource, r: PolicyResource): boolean {
  for (let p = r.parent; p; p = p.parent) if (p.urn === ancestor.urn) return true;
  return false;
}

/** A string property's value, or undefined when unknown or absent. */
export function knownString(props: Record<string, any>, key: string): string | undefined {
  const v = known(() => props[key]);
  return typeof v === "string" && v !== "" ? v : undefined;
}

export const ofTypes = (args: StackValidationArgs, ...types: string[]) => args.resources.filter((r) => types.includes(r.type));

// ------------------------------------------------------------------ per-stack settings (policy config)

/**
 * The pack's defaults are production's: a stack that passes no policy config is held to the strict baseline.
 * A stack that may be less available (dev) says so in its own file, policy/config/<stack>.json, passed with
 * `--policy-pack-config`. Each policy that reads a setting declares it in its configSchema with this default.
 */
export const DEFAULTS = { requireHighAvailability: true, minimumBackupRetentionDays: 7 } as const;

export const highAvailabilitySchema = {
  properties: {
    requireHighAvailability: {
      type: "boolean" as const,
      default: DEFAULTS.requireHighAvailability,
      description: "Hold the stack to the production availability baseline (multi-AZ, failover, deletion protection).",
    },
  },
};

/** Whether this stack's policy config asks for high availability; the engine's config, or the pack default. */
export function requiresHighAvailability(args: { getConfig<T extends object>(): T }): boolean {
  return args.getConfig<{ requireHighAvailability?: boolean }>().requireHighAvailability ?? DEFAULTS.requireHighAvailability;
}

export const NOT_REQUIRED_HERE = "requireHighAvailability is false in this stack's policy config";

/**
 * True when a property holds a value: a non-empty one, or one not known until the preview's resources exist
 * (a key's ARN, a log group's ARN), which is set by construction. For "is X configured?" rules.
 */
export function present(read: () => unknown): boolean {
  try {
    const v = read();
    return v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0);
  } catch (e) {
    if (e instanceof UnknownValueError) return true;
    throw e;
  }
}
