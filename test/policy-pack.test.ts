// The pack as a whole: what each policy declares, the per-stack config files against the policies' schemas,
// the package layout the Pulumi CLI loads, and that the harness treats a preview's unknowns as the engine does.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { vpcFlowLogs } from "../policy/network-iam";
import { packArgs, policies } from "../policy/pack";
import { UNKNOWN, validateResource, validateStack } from "./policy-harness";
import { ROOT } from "./program";
import { eksSecretsEncryption } from "../policy/eks";

const policyDir = path.join(ROOT, "policy");

describe("policy pack", () => {
  test("policy names are unique, and every policy states its level and its Checkov/Trivy equivalents", () => {
    const names = policies.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const p of policies) {
      expect([p.name, p.enforcementLevel]).toEqual([p.name, expect.stringMatching(/^(mandatory|advisory)$/)]);
      expect([p.name, /CKV2?_(AWS|K8S)_\d+|AVD-AWS-\d{4}|KSV\d{3}|No (direct )?Checkov\/Trivy equivalent/.test(p.description)]).toEqual([p.name, true]);
    }
    expect(packArgs.policies).toBe(policies);
  });

  test("only the probe rule is advisory; the rest are the baseline", () => {
    expect(policies.filter((p) => p.enforcementLevel === "advisory").map((p) => p.name)).toEqual(["k8s-probes"]);
  });

  test.each(readdirSync(path.join(policyDir, "config")))("config/%s names existing policies and only settings their schemas declare", (file) => {
    const config = JSON.parse(readFileSync(path.join(policyDir, "config", file), "utf8")) as Record<string, Record<string, unknown>>;
    for (const [name, settings] of Object.entries(config)) {
      const policy = policies.find((p) => p.name === name);
      expect([name, policy?.configSchema]).toEqual([name, expect.anything()]);
      for (const [key, value] of Object.entries(settings)) {
        const schema = policy!.configSchema!.properties[key];
        expect([name, key, schema?.type]).toEqual([name, key, typeof value === "number" ? "integer" : typeof value]);
      }
    }
  });

  test("dev relaxes availability and backups; prod keeps the pack's strict defaults", () => {
    const dev = JSON.parse(readFileSync(path.join(policyDir, "config/dev.json"), "utf8"));
    const prod = JSON.parse(readFileSync(path.join(policyDir, "config/prod.json"), "utf8"));
    expect(dev["aurora-multi-az"].requireHighAvailability).toBe(false);
    for (const [name, settings] of Object.entries<Record<string, unknown>>(prod)) {
      const schema = policies.find((p) => p.name === name)!.configSchema!.properties;
      for (const [key, value] of Object.entries(settings)) expect([name, key, value]).toEqual([name, key, schema[key]!.default]);
    }
  });

  test("the package is what `pulumi preview --policy-pack policy` loads: PulumiPolicy.yaml, a versioned package.json with a TypeScript main, no test script", () => {
    expect(parse(readFileSync(path.join(policyDir, "PulumiPolicy.yaml"), "utf8"))).toMatchObject({ runtime: "nodejs", description: expect.any(String) });
    const pkg = JSON.parse(readFileSync(path.join(policyDir, "package.json"), "utf8"));
    expect(pkg).toMatchObject({ name: "@eventstack/policy", private: true, version: expect.stringMatching(/^\d+\.\d+\.\d+$/), main: "index.ts" });
    expect(pkg.dependencies["@pulumi/policy"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.scripts?.test).toBeUndefined();
    const root = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    expect(root.workspaces).toContain("policy");
    expect(pkg.dependencies["@pulumi/pulumi"]).toBe(root.dependencies["@pulumi/pulumi"]);
  });
});

describe("the harness follows the engine", () => {
  test("a key ARN not known until the key exists counts as set; a value a rule cannot judge yet is an advisory \"can't run\"", async () => {
    const outcome = await validateResource(eksSecretsEncryption, { type: "eks:index:Cluster", name: "eks", props: { encryptionConfigKeyArn: UNKNOWN } });
    expect(outcome.violations).toEqual([]);
    const unknownFlag = await validateResource(eksSecretsEncryption, { type: "aws:eks/cluster:Cluster", name: "eks", props: { encryptionConfig: UNKNOWN } });
    expect(unknownFlag.violations).toEqual([
      { policy: "eks-secrets-encryption", enforcementLevel: "advisory", message: "can't run policy 'eks-secrets-encryption' during preview: string value at .encryptionConfig can't be known during preview" },
    ]);
  });

  test("a resource policy is skipped for other types, a stack policy says when nothing applies, and config can disable a policy", async () => {
    expect(await validateResource(eksSecretsEncryption, { type: "aws:s3/bucket:Bucket", name: "b", props: {} })).toEqual({
      violations: [],
      notApplicable: [{ policy: "eks-secrets-encryption", reason: "Policy only applies to resources of type 'eks:index:Cluster', 'aws:eks/cluster:Cluster'" }],
    });
    expect(await validateStack(vpcFlowLogs, [])).toEqual({ violations: [], notApplicable: [{ policy: "vpc-flow-logs", reason: "no VPC in the stack" }] });
    expect(await validateStack(vpcFlowLogs, [{ type: "aws:ec2/vpc:Vpc", name: "v", props: {} }], { "vpc-flow-logs": "disabled" })).toEqual({ violations: [], notApplicable: [] });
  });
});
