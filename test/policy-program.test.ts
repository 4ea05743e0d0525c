// The whole pack over the dev and prod stacks as the program declares them today, with each stack's policy
// config (policy/config/<stack>.json, what the preview workflow passes): no mandatory violation.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { PolicyPackConfig } from "@pulumi/policy";
import { policies } from "../policy/pack";
import { programStack, runPack, runProgramForPolicies, Violation } from "./policy-harness";
import { ROOT } from "./program";

const packConfig = (stack: string): PolicyPackConfig => JSON.parse(readFileSync(path.join(ROOT, "policy/config", `${stack}.json`), "utf8"));

/** Delivery mode "argocd" (docs/delivery.md): the program then declares Argo CD and its Application instead of the workloads. */
const ARGOCD = { "eventstack:delivery.mode": "argocd", "eventstack:delivery.githubRepository": "example-org/eventstack" };

describe.each([
  ["dev", "pulumi"],
  ["prod", "pulumi"],
  ["dev", "argocd"],
  ["prod", "argocd"],
])("the policy pack over the %s stack, delivery.mode %s", (stack, mode) => {
  let violations: Violation[];
  beforeAll(async () => {
    const { mocks, dependencies } = await runProgramForPolicies(stack, mode === "argocd" ? ARGOCD : {});
    violations = await runPack(policies, programStack(mocks, stack, dependencies), packConfig(stack));
  });

  test("no mandatory violation", () => {
    expect(violations.filter((v) => v.enforcementLevel === "mandatory")).toEqual([]);
  });

  test("advisory findings are listed, not hidden", () => {
    const advisory = violations.filter((v) => v.enforcementLevel === "advisory");
    if (advisory.length) console.info(`${stack}: ${advisory.length} advisory finding(s)\n${advisory.map((v) => `  [${v.policy}] ${v.message}`).join("\n")}`);
    for (const v of advisory) expect(policies.find((p) => p.name === v.policy)?.enforcementLevel).toBe("advisory");
  });
});
