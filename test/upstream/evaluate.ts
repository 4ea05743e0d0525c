// Evaluates the program for one stack (with optional config overrides, as JSON) under the resource mocks in this process (no jest) and prints its
// ProgramFacts as JSON on stdout. Run by cli.ts once per stack, each in a process of its own, because the Pulumi
// runtime keeps one stack's state per process.
import path from "node:path";
import { evaluate, ROOT } from "../program";
import { programFacts } from "./program-facts";

async function main(stack: string, overrides: Record<string, unknown>) {
  const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
  const { mocks } = await evaluate(pulumi, stack, overrides, () => require(path.join(ROOT, "index.ts")) as Record<string, unknown>);
  process.stdout.write(JSON.stringify(programFacts(stack, mocks.resources)));
}

const stack = process.argv[2];
if (!stack) throw new Error("usage: evaluate.ts <stack> [overrides as JSON]");
main(stack, JSON.parse(process.argv[3] ?? "{}")).catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
