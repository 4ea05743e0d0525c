// `npm run render:workloads -- --stack <stack> [--from <file.json>]`: writes the workloads' Kubernetes objects that
// Argo CD syncs (delivery mode "argocd") into the stack's delivery.gitPath, from the stack output
// `workloadManifests` (components/workload/render.ts).
//
// The objects need the stack's resolved values (endpoints, the target group, image digests), which exist only after
// `pulumi up`, so the script reads them from the stack: `pulumi stack output --stack <stack> --json
// workloadManifests` (the Pulumi CLI, logged in, as in the deploy workflow), or from a file holding that output.
// Secrets are never shown: an object holding one stops the rendering (checkWorkloadManifests).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { checkWorkloadManifests, writeWorkloadFiles } from "../components/workload/render";

const ROOT = path.resolve(__dirname, "..");

function main() {
  const { values } = parseArgs({ options: { stack: { type: "string" }, from: { type: "string" } } });
  const stack = values.stack;
  if (!stack || !/^[A-Za-z0-9_.-]+$/.test(stack)) throw new Error("--stack <stack> is required (dev, prod, ...)");
  const raw = values.from
    ? readFileSync(path.resolve(values.from), "utf8")
    : execFileSync("pulumi", ["stack", "output", "--stack", stack, "--json", "workloadManifests"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const manifests = checkWorkloadManifests(JSON.parse(raw), stack);
  for (const file of writeWorkloadFiles(ROOT, manifests, stack)) process.stdout.write(`${file}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`render:workloads: ${err instanceof Error ? err.message : err}\n`);
  process.exit(1);
}
