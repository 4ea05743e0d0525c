// Validates Kubernetes objects against their published schemas (kubernetes-models and its third-party
// packages). Those packages are ESM-only and jest runs CommonJS, so this runs as its own Node process:
//
//   node test/k8s-schema-check.mjs < objects.json    # a JSON array of objects with apiVersion, kind, metadata
//
// and prints a JSON array with one entry per object: {kind, name, error}, error null when the object is valid.
// An apiVersion/kind with no model is an error too, so nothing passes unchecked. test/k8s-schema.ts is the
// wrapper tests call.
//
// Only the group/version modules the objects use are imported (the whole core package takes seconds to load).
// To cover another CRD package, add its groups to THIRD_PARTY (and the package to devDependencies).
//
// Custom resources with no model package on npm (the AWS Load Balancer Controller's TargetGroupBinding, Linkerd's
// policy kinds) are checked against their CRD's published openAPIV3Schema, committed as test/fixtures/crds/*.json
// with the repository, path and commit it was taken from. Kubernetes prunes unknown fields instead of rejecting
// them, which would hide a misspelt field; here an unknown field is an error (additionalProperties: false wherever
// the schema lists properties and does not say x-kubernetes-preserve-unknown-fields).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";

/** API groups served by third-party model packages: group → package. Everything else is kubernetes-models. */
const THIRD_PARTY = {
  "karpenter.sh": "@kubernetes-models/karpenter",
  "karpenter.k8s.aws": "@kubernetes-models/karpenter",
  "keda.sh": "@kubernetes-models/keda",
  "eventing.keda.sh": "@kubernetes-models/keda",
};

/** The module that holds the models of an apiVersion: "apps/v1" → kubernetes-models/apps/v1, "v1" → kubernetes-models/v1. */
function moduleFor(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (!/^[a-z0-9.-]*$/.test(group) || !/^v[a-z0-9]+$/.test(version)) return undefined;
  if (group === "") return `kubernetes-models/${version}`;
  return `${THIRD_PARTY[group] ?? "kubernetes-models"}/${group}/${version}`;
}

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "crds");

/** Kubernetes' structural-schema extensions in JSON Schema terms, and unknown fields rejected. */
function strict(schema) {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== "object") return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    // OpenAPI formats such as int64 have no JSON Schema validator; the type still applies.
    if (k === "format") continue;
    out[k] = k === "properties" ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strict(s)])) : strict(v);
  }
  if (out["x-kubernetes-int-or-string"] && !out.anyOf) out.anyOf = [{ type: "integer" }, { type: "string" }];
  if (out.properties && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"]) out.additionalProperties = false;
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const crdSchemas = new Map(
  readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(path.join(FIXTURES, f), "utf8")))
    .map((fixture) => [`${fixture.apiVersion}/${fixture.kind}`, ajv.compile(strict(fixture.schema))]),
);

function validateCrd(object) {
  const check = crdSchemas.get(`${object?.apiVersion}/${object?.kind}`);
  if (!check) return undefined;
  if (check(object)) return null;
  return check.errors.map((e) => `${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`).join("; ");
}

const modules = new Map();
async function modelFor(apiVersion, kind) {
  const specifier = typeof apiVersion === "string" ? moduleFor(apiVersion) : undefined;
  if (!specifier) return undefined;
  if (!modules.has(specifier)) modules.set(specifier, await import(specifier).catch(() => null));
  const Model = modules.get(specifier)?.[kind];
  // The module must really define this kind at this apiVersion (not, say, a List or a nested type).
  return typeof Model === "function" && Model.apiVersion === apiVersion && Model.kind === kind ? Model : undefined;
}

async function validate(object) {
  const kind = object?.kind ?? "(no kind)";
  const name = object?.metadata?.name ?? "(no name)";
  const crdError = validateCrd(object);
  if (crdError !== undefined) return { kind, name, error: crdError };
  const Model = await modelFor(object?.apiVersion, object?.kind);
  if (!Model) return { kind, name, error: `no schema for apiVersion "${object?.apiVersion}" kind "${object?.kind}"` };
  try {
    new Model(object).validate();
    return { kind, name, error: null };
  } catch (e) {
    return { kind, name, error: e instanceof Error ? e.message : String(e) };
  }
}

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const objects = JSON.parse(input);
if (!Array.isArray(objects)) throw new Error("expected a JSON array of Kubernetes objects on stdin");
const results = [];
for (const object of objects) results.push(await validate(object));
process.stdout.write(JSON.stringify(results));
