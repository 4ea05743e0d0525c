// The environment components/service-env.ts gives each container is exactly what the service's own config loader
// reads: every name it passes is read by loadConfig of the app that runs in that container (ingest; the processor,
// whose loader the migrate Job uses too), and the loader accepts the values. The loaders are the apps' TypeScript
// sources, transpiled here as they are (no build needed), and run on an environment that records each name read.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as ts from "typescript";
import { DATABASE_ROLES, ingestEnv, migrateEnv, processorEnv } from "../components/service-env";
import { engineConfig, ROOT, TEST_REGION } from "./program";

interface LoaderRun {
  /** Every variable loadConfig looked up, in order of first read. */
  read: string[];
  /** The ConfigError's message when loadConfig refused the environment. */
  error?: string;
  config?: any;
}

/**
 * Transpiles apps/<app>/src/config.ts and the modules it imports relatively into a directory of ES modules, and
 * runs loadConfig on `env` in a fresh Node, through a proxy that records every name looked up.
 */
function runLoader(app: "ingest" | "processor", env: Record<string, string>): LoaderRun {
  const src = path.join(ROOT, "apps", app, "src");
  const out = mkdtempSync(path.join(tmpdir(), `service-env-${app}-`));
  try {
    writeFileSync(path.join(out, "package.json"), '{ "type": "module" }\n');
    const pending = ["config.ts"];
    const done = new Set<string>();
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (done.has(file)) continue;
      done.add(file);
      const text = readFileSync(path.join(src, file), "utf8");
      // The shared runtime's environment reader and errors stand beside the app's modules (runtime/), so the config
      // loads with no build and no other dependency.
      const { outputText } = ts.transpileModule(text.replaceAll('from "@eventstack/runtime"', 'from "./runtime/index.js"'), {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      });
      writeFileSync(path.join(out, file.replace(/\.ts$/, ".js")), outputText);
      for (const m of text.matchAll(/from "\.\/([\w-]+)\.js"/g)) pending.push(`${m[1]}.ts`);
    }
    mkdirSync(path.join(out, "runtime"));
    for (const file of ["env.ts", "errors.ts"]) {
      const text = readFileSync(path.join(ROOT, "packages", "runtime", "src", file), "utf8");
      const { outputText } = ts.transpileModule(text, { fileName: file, compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } });
      writeFileSync(path.join(out, "runtime", file.replace(/\.ts$/, ".js")), outputText);
    }
    writeFileSync(path.join(out, "runtime", "index.js"), 'export * from "./env.js";\nexport * from "./errors.js";\n');
    const code = `
      import { loadConfig } from "./config.js";
      const env = ${JSON.stringify(env)};
      const read = [];
      const recording = new Proxy(env, { get: (target, name) => { if (typeof name === "string" && !read.includes(name)) read.push(name); return target[name]; } });
      try {
        const config = loadConfig(recording);
        console.log(JSON.stringify({ read, config }));
      } catch (err) {
        console.log(JSON.stringify({ read, error: err.message }));
      }`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: out, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`loadConfig of ${app} did not run: ${r.stderr}`);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const config = engineConfig("prod");
const num = (key: string) => Number(config[`eventstack:${key}`]);
const kafka = { bootstrapBrokers: "b-1.eventstack.abc123.c2.kafka.eu-west-1.amazonaws.com:9098,b-2.eventstack.abc123.c2.kafka.eu-west-1.amazonaws.com:9098", region: TEST_REGION, eventsTopic: "events" };
const db = { host: "eventstack.cluster-abc123.eu-west-1.rds.amazonaws.com", port: 5432, database: "eventstack" };
const CACHE_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:eventstack-cache-processor-AbCdEf";
const MASTER_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-0a1b2c3d-AbCdEf";

/** The builders' values are plain strings here; Pulumi resolves its Inputs to strings the same way. */
const strings = (env: Record<string, unknown>) => env as Record<string, string>;

const CONTAINERS = {
  ingest: {
    app: "ingest" as const,
    env: strings(ingestEnv({ ...kafka, maxBodyBytes: num("ingest.maxBodyBytes"), maxBatchEvents: num("ingest.maxBatchEvents"), maxEventDataBytes: num("ingest.maxEventDataBytes") })),
  },
  processor: {
    app: "processor" as const,
    env: strings(
      processorEnv({
        ...kafka,
        deadLetterTopic: "events.dlq",
        consumerGroup: "eventstack-processor",
        db,
        dbUser: DATABASE_ROLES.processor,
        cache: { host: "master.eventstack.abc123.euw1.cache.amazonaws.com", port: 6379, authSecretArn: CACHE_SECRET },
      }),
    ),
  },
  migrate: {
    app: "processor" as const,
    env: strings(
      migrateEnv({
        ...kafka,
        deadLetterTopic: "events.dlq",
        eventsPartitions: num("kafka.eventsPartitions"),
        replicationFactor: 3,
        db,
        masterUser: "postgres",
        masterSecretArn: MASTER_SECRET,
        processorRole: DATABASE_ROLES.processor,
        readerRole: DATABASE_ROLES.reader,
      }),
    ),
  },
};

describe("components/service-env.ts and the services' config loaders", () => {
  test.each(Object.keys(CONTAINERS) as (keyof typeof CONTAINERS)[])("%s: every name it is given is read by its app's loadConfig, which accepts the values", (name) => {
    const { app, env } = CONTAINERS[name];
    const run = runLoader(app, env);
    expect(run.error).toBeUndefined();
    expect(Object.keys(env).filter((k) => !run.read.includes(k))).toEqual([]);
  });

  test("the two secrets are read by ARN: the cache user's by the processor, the RDS master secret by the migrate Job", () => {
    const processor = runLoader("processor", CONTAINERS.processor.env);
    expect(processor.config.redis.authSecretArn).toBe(CACHE_SECRET);
    expect(processor.config.pg.passwordSecretArn).toBeUndefined();
    const migrate = runLoader("processor", CONTAINERS.migrate.env);
    expect(migrate.config.pg.passwordSecretArn).toBe(MASTER_SECRET);
    expect(migrate.config.redis.authSecretArn).toBeUndefined();
  });

  test("the check can fail: a name no loader reads is found", () => {
    const run = runLoader("ingest", { ...CONTAINERS.ingest.env, INGEST_NOT_A_SETTING: "1" });
    expect(Object.keys({ ...CONTAINERS.ingest.env, INGEST_NOT_A_SETTING: "1" }).filter((k) => !run.read.includes(k))).toEqual(["INGEST_NOT_A_SETTING"]);
  });

  test("the text says the services read both secret ARNs", () => {
    const text = read("components/service-env.ts") + read("docs/mesh.md");
    expect(text).not.toMatch(/not read by the services|do not read these two variables/);
    expect(read("docs/mesh.md")).toContain("The processor reads `REDIS_AUTH_SECRET_ARN` and the migrate Job `PG_MASTER_SECRET_ARN`");
  });
});

function read(file: string) {
  return readFileSync(path.join(ROOT, file), "utf8");
}
