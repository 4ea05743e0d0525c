// The steps of the GitHub workflows that compute something, kept here rather than inline in YAML so that
// test/workflows.test.ts runs them as the runner does (node scripts/workflow-steps.mjs <step> ...):
//
//   matrix                          images.yml: which images to build for which stack, for the architectures each
//                                   stack's NodePools launch (karpenter.architectures in Pulumi.<stack>.yaml, else
//                                   Pulumi.yaml's default). Prints `matrix=<json>` for $GITHUB_OUTPUT.
//   digests <dir>                   images.yml: merges the build jobs' digest files into image-digests.json's
//                                   content ({ <stack>: { <service>: "sha256:..." } }), refusing a gap or a bad digest.
//   summary <image-digests.json>    images.yml: the digests as a Markdown table for $GITHUB_STEP_SUMMARY.
//   deploy-images <image-digests.json> <stack>
//                                   deploy-stack.yml: writes the stack's digests into its stack file (STACK_FILE) as
//                                   images.<service>, so `pulumi up` deploys exactly what the images workflow pushed.
//   preview-images <stack-outputs.json>
//                                   preview.yml: the digests the stack runs now (its imageDigests output) into the
//                                   stack file, so a preview shows the pull request's change and not an image change;
//                                   a stack never deployed has none, and previews with images.build (a preview builds
//                                   nothing: buildOnPreview is false).
//   public-endpoint-cidrs           preview.yml, deploy-stack.yml: CIDRS (a JSON array) into the stack file's
//                                   cluster.publicEndpointCidrs, which pulumi/actions' config-map cannot set (an array);
//                                   CIDRS_SOURCE names where CIDRS comes from in the error.
//   delivery-mode <stack>           deploy-stack.yml: prints `mode=<delivery.mode>` ("pulumi" where the key is absent).
//
// Errors are printed as GitHub `::error::` lines and exit 1.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PROJECT = "eventstack";
/** The services whose images are built (components/config.ts SERVICES). */
export const SERVICES = ["ingest", "processor"];
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const PLATFORMS = { arm64: "linux/arm64", amd64: "linux/amd64" };

class StepError extends Error {}
const fail = (message) => {
  throw new StepError(message);
};

/** `yaml` is a devDependency: only the steps that read a stack file need `npm ci` first. */
const loadYaml = async () => (await import("yaml")).default;

/** A stack's value of a key: its stack file's, else Pulumi.yaml's default, else undefined. */
async function stackValue(stack, key) {
  const YAML = await loadYaml();
  const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
  const stackConfig = YAML.parse(readFileSync(file, "utf8"))?.config ?? {};
  if (`${PROJECT}:${key}` in stackConfig) return stackConfig[`${PROJECT}:${key}`];
  return YAML.parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")).config?.[key]?.default;
}

/** The stacks: one per Pulumi.<stack>.yaml. */
const stacks = () =>
  readdirSync(ROOT)
    .map((f) => /^Pulumi\.([a-z0-9-]+)\.yaml$/.exec(f)?.[1])
    .filter(Boolean)
    .sort();

async function matrix() {
  const include = [];
  for (const stack of stacks()) {
    const architectures = await stackValue(stack, "karpenter.architectures");
    if (!Array.isArray(architectures) || architectures.length === 0 || !architectures.every((a) => a in PLATFORMS))
      fail(`karpenter.architectures of stack ${stack} must be a non-empty array of "arm64" or "amd64" (got ${JSON.stringify(architectures)})`);
    const platforms = [...new Set(architectures.map((a) => PLATFORMS[a]))].join(",");
    for (const service of SERVICES) include.push({ stack, service, platforms, roleVariable: `IMAGE_PUSH_ROLE_ARN_${stack.toUpperCase().replace(/-/g, "_")}` });
  }
  return `matrix=${JSON.stringify({ include })}`;
}

/** Reads and checks image-digests.json's content. */
function readDigests(file) {
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    fail(`${file} must be a JSON object { <stack>: { <service>: "sha256:..." } }`);
  }
  for (const [stack, images] of Object.entries(parsed))
    for (const service of SERVICES)
      if (!DIGEST.test(images?.[service] ?? "")) fail(`${file}: ${stack}.${service} must be "sha256:" and 64 hex digits (got ${JSON.stringify(images?.[service] ?? null)})`);
  return parsed;
}

function digests(dir) {
  const out = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const { stack, service, digest } = JSON.parse(readFileSync(path.join(dir, f), "utf8"));
    if (!SERVICES.includes(service)) fail(`${f}: unknown service ${JSON.stringify(service)}`);
    if (!DIGEST.test(digest ?? "")) fail(`${f}: the digest of ${stack}/${service} must be "sha256:" and 64 hex digits (got ${JSON.stringify(digest ?? null)})`);
    (out[stack] ??= {})[service] = digest;
  }
  if (Object.keys(out).length === 0) fail(`no digest file in ${dir}`);
  for (const [stack, images] of Object.entries(out))
    for (const service of SERVICES) if (!images[service]) fail(`stack ${stack} has no ${service} digest: its build did not push`);
  return JSON.stringify(out, null, 2);
}

function summary(file) {
  const all = readDigests(file);
  const rows = Object.entries(all).flatMap(([stack, images]) => SERVICES.map((s) => `| ${stack} | ${s} | \`${images[s]}\` |`));
  return ["### Image digests", "", "| stack | service | digest |", "| --- | --- | --- |", ...rows].join("\n");
}

/** Sets keys of the stack file named by STACK_FILE, keeping its comments and every other key. */
async function setInStackFile(values) {
  const file = process.env.STACK_FILE ?? fail("STACK_FILE must name the stack file to change");
  const YAML = await loadYaml();
  const doc = YAML.parseDocument(readFileSync(file, "utf8"));
  for (const [key, value] of Object.entries(values)) doc.setIn(["config", `${PROJECT}:${key}`], value);
  writeFileSync(file, doc.toString());
}

async function deployImages(file, stack) {
  const images = readDigests(file)[stack] ?? fail(`${file} has no digests for stack ${stack}`);
  await setInStackFile({ "images.build": false, ...Object.fromEntries(SERVICES.map((s) => [`images.${s}`, images[s]])) });
  return `deploying ${SERVICES.map((s) => `${s}@${images[s]}`).join(", ")}`;
}

async function previewImages(file) {
  let outputs = {};
  try {
    outputs = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // No outputs: a stack never deployed (pulumi stack output fails, and the file is empty).
  }
  const deployed = outputs?.imageDigests;
  if (deployed && SERVICES.every((s) => DIGEST.test(deployed[s] ?? ""))) {
    await setInStackFile({ "images.build": false, ...Object.fromEntries(SERVICES.map((s) => [`images.${s}`, deployed[s]])) });
    return `previewing with the deployed images: ${SERVICES.map((s) => `${s}@${deployed[s]}`).join(", ")}`;
  }
  await setInStackFile({ "images.build": true, ...Object.fromEntries(SERVICES.map((s) => [`images.${s}`, ""])) });
  return "::notice::the stack has no deployed image digests (never deployed): previewing with images.build, which builds nothing in a preview";
}

async function publicEndpointCidrs() {
  let cidrs;
  try {
    cidrs = JSON.parse(process.env.CIDRS ?? "");
  } catch {
    cidrs = undefined;
  }
  if (!Array.isArray(cidrs) || cidrs.length === 0 || !cidrs.every((c) => typeof c === "string"))
    fail(
      `the ${process.env.CIDRS_SOURCE ?? "repository variable PREVIEW_PUBLIC_ENDPOINT_CIDRS"} must be a non-empty JSON array of CIDRs, such as ["198.51.100.0/24"]: the networks pulumi up runs from, which the public Kubernetes API endpoint admits`,
    );
  await setInStackFile({ "cluster.publicEndpointCidrs": cidrs });
  return undefined;
}

async function deliveryMode(stack) {
  return `mode=${(await stackValue(stack, "delivery.mode")) ?? "pulumi"}`;
}

const STEPS = {
  matrix: () => matrix(),
  digests: ([dir]) => digests(dir ?? fail("usage: digests <dir>")),
  summary: ([file]) => summary(file ?? fail("usage: summary <image-digests.json>")),
  "deploy-images": ([file, stack]) => deployImages(file ?? fail("usage: deploy-images <image-digests.json> <stack>"), stack ?? fail("usage: deploy-images <image-digests.json> <stack>")),
  "preview-images": ([file]) => previewImages(file ?? fail("usage: preview-images <stack-outputs.json>")),
  "public-endpoint-cidrs": () => publicEndpointCidrs(),
  "delivery-mode": ([stack]) => deliveryMode(stack ?? fail("usage: delivery-mode <stack>")),
};

const [step, ...args] = process.argv.slice(2);
try {
  const run = STEPS[step] ?? fail(`unknown step ${JSON.stringify(step)}; one of ${Object.keys(STEPS).join(", ")}`);
  const out = await run(args);
  if (out !== undefined) console.log(out);
} catch (err) {
  if (!(err instanceof StepError)) throw err;
  console.log(`::error::${err.message}`);
  process.exit(1);
}
