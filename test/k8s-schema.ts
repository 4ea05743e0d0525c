// Schema validation of Kubernetes objects for tests: every Deployment, NodePool, ScaledObject... the program
// declares is checked against its published schema (kubernetes-models, @kubernetes-models/karpenter,
// @kubernetes-models/keda). The models are ESM-only, so the check runs in a child Node process
// (test/k8s-schema-check.mjs); this wrapper hands it the objects and returns one result per object.
//
//   expect(validateK8sObjects([deployment, nodePool])).toEqual([
//     { kind: "Deployment", name: "ingest", error: null }, ...])
//
// An object whose apiVersion/kind has no model comes back with an error, never as valid.
import { execFileSync } from "node:child_process";
import path from "node:path";

export interface SchemaResult {
  kind: string;
  name: string;
  /** null when the object is valid; otherwise the validator's message (e.g. `data/spec must have required property 'selector'`). */
  error: string | null;
}

const SCRIPT = path.join(__dirname, "k8s-schema-check.mjs");

/** Validates every object in one child process (well under a second: it loads only the group/version modules used). */
export function validateK8sObjects(objects: object[]): SchemaResult[] {
  const out = execFileSync(process.execPath, [SCRIPT], { input: JSON.stringify(objects), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out) as SchemaResult[];
}

/** Pulumi's marker of a secret value in recorded inputs (sdk/nodejs/runtime/rpc.ts, specialSigKey). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Inputs with secret-wrapped values replaced by their plain value, as the API server receives them. */
function unwrapSecrets(v: any): any {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") return SECRET_SIG in v ? unwrapSecrets(v.value) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  return v;
}

/**
 * The Kubernetes object a recorded `kubernetes:<apiVersion>:<kind>` resource declares (inputs minus Pulumi's own keys,
 * secret values as the API server receives them).
 */
export function objectOf(inputs: Record<string, any>): Record<string, any> {
  const { apiVersion, kind, metadata, ...rest } = unwrapSecrets(inputs);
  const object: Record<string, any> = { apiVersion, kind, metadata, ...rest };
  for (const key of Object.keys(object)) if (key.startsWith("__")) delete object[key];
  return object;
}
