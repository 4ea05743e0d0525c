// The config schema (components/config/schema.ts) is the one place a key is declared: its name and where its value
// sits in StackConfig, its TypeScript type, its default and its parser all come from its entry. These tests pin what
// is derived from it; Pulumi.yaml and the README are checked against it by pulumi-yaml.test.ts and readme.test.ts.
import { spawnSync } from "node:child_process";
import { type ConfigReader, FIELDS, loadConfig, REMOVED_KEYS, SCHEMA, type StackConfig } from "../components/config";
import { Invalid } from "../components/config/parsers";
import { isLeaf } from "../components/config/key";
import { githubCloneUrl } from "../components/defaults/github";
import { ROOT, TEST_IMAGE_DIGESTS, TEST_PUBLIC_ENDPOINT_CIDRS, TEST_REGION } from "./program";

/** A reader of the schema's defaults, with what only a deployer knows (the region, the CIDRs, the digests). */
function defaultsReader(overrides: Record<string, string> = {}): ConfigReader {
  const values: Record<string, string> = { "aws:region": TEST_REGION };
  for (const field of Object.values(FIELDS)) values[`eventstack:${field.name}`] = typeof field.default === "string" ? field.default : JSON.stringify(field.default);
  values["eventstack:cluster.publicEndpointCidrs"] = JSON.stringify(TEST_PUBLIC_ENDPOINT_CIDRS);
  for (const [service, digest] of Object.entries(TEST_IMAGE_DIGESTS)) values[`eventstack:images.${service}`] = digest;
  Object.assign(values, overrides);
  return (key) => values[key];
}

/** The tree of property names of an object: a leaf is `true`. */
function shape(node: unknown): unknown {
  if (isLeaf(node) || typeof node !== "object" || node === null || Array.isArray(node)) return true;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, shape(v)]));
}

/** Compile-time equality of two types (tsc --noEmit type-checks this file). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const derivedTypes: [
  Equals<StackConfig["network"]["natGateways"], "single" | "onePerAz">,
  Equals<StackConfig["karpenter"]["capacityTypes"], ("spot" | "on-demand")[]>,
  Equals<StackConfig["cluster"]["systemArchitecture"], "arm64" | "amd64">,
  Equals<StackConfig["aurora"]["minCapacity"], number>,
  Equals<StackConfig["images"]["digests"], { ingest: string; processor: string }>,
  Equals<StackConfig["delivery"]["gitRepository"], string>,
  Equals<StackConfig["region"], string>,
] = [true, true, true, true, true, true, true];

describe("what each key's entry decides", () => {
  test("a key is named by its path in the schema, unless it names itself", () => {
    expect(FIELDS["network.cidr"].path).toEqual(["network", "cidr"]);
    expect(FIELDS["logRetentionDays"].path).toEqual(["logRetentionDays"]);
    expect(FIELDS["images.ingest"].path).toEqual(["images", "digests", "ingest"]);
    expect(FIELDS["images.processor"].path).toEqual(["images", "digests", "processor"]);
    expect(FIELDS["delivery.githubRepository"].path).toEqual(["images", "githubRepository"]);
    expect(FIELDS["delivery.githubOidcProviderArn"].path).toEqual(["images", "githubOidcProviderArn"]);
    expect(Object.keys(FIELDS)).toHaveLength(83);
  });

  test("the loaded configuration has the schema's shape, plus the region and Argo CD's clone URL", () => {
    const loaded = loadConfig(defaultsReader(), {});
    const expected = shape(SCHEMA) as Record<string, Record<string, unknown>>;
    expect(shape(loaded)).toEqual({ ...expected, region: true, delivery: { ...expected.delivery, gitRepository: true } });
    expect(derivedTypes.every((t) => t)).toBe(true);
  });

  test("each default is accepted by its own parser, and loads as the parsed value", () => {
    for (const field of Object.values(FIELDS)) {
      const raw = typeof field.default === "string" ? field.default : JSON.stringify(field.default);
      expect([field.name, field.parse(raw) instanceof Invalid]).toEqual([field.name, false]);
    }
    const loaded = loadConfig(defaultsReader(), {});
    expect(loaded.aurora.minCapacity).toBe(2); // a string in Pulumi.yaml ("2"), a number of ACUs once parsed
    expect(loaded.karpenter.capacityTypes).toEqual(["spot", "on-demand"]);
    expect(loaded.images.digests).toEqual(TEST_IMAGE_DIGESTS);
    expect(loaded.observability.scrapeIntervalSeconds).toBe(30);
  });

  test("a value is stored where its key's path says, and a problem names the key", () => {
    const loaded = loadConfig(defaultsReader({ "eventstack:delivery.githubRepository": "acme/eventstack" }), {});
    expect(loaded.images.githubRepository).toBe("acme/eventstack");
    expect(() => loadConfig(defaultsReader({ "eventstack:images.ingest": "latest" }), {})).toThrow(
      'eventstack:images.ingest must be an image digest "sha256:" followed by 64 lower-case hex digits, or empty (got "latest")',
    );
  });

  test("a removed key is not a key the program reads", () => {
    for (const removed of Object.keys(REMOVED_KEYS)) expect([removed, removed in FIELDS]).toEqual([removed, false]);
  });
});

describe("Argo CD's repository follows from delivery.githubRepository", () => {
  test.each([
    ["acme/eventstack", "https://github.com/acme/eventstack.git"],
    ["acme@123456/eventstack@789012", "https://github.com/acme/eventstack.git"],
    ["acme-corp/event.stack_2", "https://github.com/acme-corp/event.stack_2.git"],
  ])("%s is cloned from %s", (repository, url) => {
    expect(githubCloneUrl(repository)).toBe(url);
    expect(loadConfig(defaultsReader({ "eventstack:delivery.githubRepository": repository }), {}).delivery.gitRepository).toBe(url);
  });
});

test("loading and validating the configuration loads no provider SDK, only @pulumi/pulumi to read the engine's config", () => {
  // A fresh Node process, as `pulumi preview` starts one: which packages did requiring components/config.ts load?
  const script = [
    'const { loadConfig } = require("./components/config");',
    "try { loadConfig(() => undefined, {}); } catch {}",
    'const loaded = new Set(Object.keys(require.cache).map((f) => /node_modules\\/(@pulumi\\/[^/]+)\\//.exec(f)?.[1]).filter(Boolean));',
    "process.stdout.write(JSON.stringify([...loaded].sort()));",
  ].join("\n");
  const run = spawnSync(process.execPath, ["-r", "./scripts/ts-register.cjs", "-e", script], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  expect([run.status, run.stderr]).toEqual([0, ""]);
  expect(JSON.parse(run.stdout)).toEqual(["@pulumi/pulumi"]);
});
