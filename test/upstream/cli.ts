// `npm run verify:upstream [-- options]`: see verify.ts for what is checked. Needs the network (charts from
// their repositories, the manifests the program applies) and read-only AWS credentials for the AMI and add-on
// checks; the pull-request preview workflow runs it. Options:
//   --stacks dev,prod     the stacks to evaluate (default: every Pulumi.<stack>.yaml)
//   --charts DIR          charts from DIR/<chart>-<version>/ instead of `helm pull`
//   --manifests DIR       manifests from DIR/<basename of the URL> instead of downloading them
//   --region REGION       region for the AWS checks (default: AWS_REGION or AWS_DEFAULT_REGION)
//   --skip-aws            report the AWS checks as skipped (no credentials at hand)
// Exits 1 when any check fails.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { awsCli } from "./aws-facts";
import type { ChartSource } from "./charts";
import { helmBinary } from "./helm";
import type { ProgramFacts } from "./program-facts";
import { formatFindings, verifyStack, type Finding } from "./verify";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * The configuration of delivery.mode "argocd" (docs/delivery.md), which adds the Argo CD release: evaluated beside
 * each stack's own, so that its chart is checked too. The repository is a placeholder; nothing reads it here.
 */
const ARGOCD_MODE = { "eventstack:delivery.mode": "argocd", "eventstack:delivery.githubRepository": "example-org/eventstack" };

/** Each stack's facts, evaluated in a process of its own (evaluate.ts). */
function evaluate(stack: string, overrides: Record<string, unknown> = {}): ProgramFacts {
  const out = execFileSync(process.execPath, ["-r", path.join(ROOT, "scripts", "ts-register.cjs"), path.join(__dirname, "evaluate.ts"), stack, JSON.stringify(overrides)], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out) as ProgramFacts;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stacks: { type: "string" },
      charts: { type: "string" },
      manifests: { type: "string" },
      region: { type: "string" },
      "skip-aws": { type: "boolean", default: false },
    },
  });
  const stacks = values.stacks?.split(",") ?? readdirSync(ROOT).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!values["skip-aws"] && !region) throw new Error("--region (or AWS_REGION) is required for the AWS checks; pass --skip-aws to report them as skipped");
  const helm = helmBinary();
  const charts: ChartSource = values.charts ? { kind: "local", dir: path.resolve(values.charts) } : { kind: "pull", cacheDir: path.join(ROOT, "node_modules", ".cache", "eventstack-charts") };
  const manifestsDir = values.manifests;
  const readManifest = async (file: string) => {
    if (manifestsDir) return readFileSync(path.join(path.resolve(manifestsDir), path.basename(new URL(file, "file:///").pathname)), "utf8");
    if (!/^https?:/.test(file)) return readFileSync(path.resolve(ROOT, file), "utf8");
    const res = await fetch(file);
    if (!res.ok) throw new Error(`GET ${file}: ${res.status}`);
    return res.text();
  };
  const all: Finding[] = [];
  for (const stack of stacks) {
    // The stack as configured, then in delivery mode "argocd" for what that mode adds (the AWS checks once).
    for (const [label, overrides] of [[stack, {}], [`${stack}+argocd`, ARGOCD_MODE]] as const) {
      const facts = { ...evaluate(stack, overrides), stack: label };
      const aws = values["skip-aws"] || label !== stack ? undefined : { run: awsCli, region: region! };
      const findings = (await verifyStack(facts, { helm, charts, readManifest, aws })).filter((f) => aws || label === stack || !["ami", "addon"].includes(f.check));
      process.stdout.write(`${formatFindings(findings)}\n`);
      all.push(...findings);
    }
  }
  const failed = all.filter((f) => f.status === "fail").length;
  const skipped = all.filter((f) => f.status === "skipped").length;
  process.stdout.write(`verify:upstream: ${all.length - failed - skipped} ok, ${failed} failed, ${skipped} skipped (${stacks.join(", ")})\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`verify:upstream: ${err instanceof Error ? err.message : err}\n`);
    process.exit(2);
  },
);
