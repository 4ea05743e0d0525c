import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import pg from "pg";
import type { Logger } from "pino";
import { loadConfig, type Config } from "./config.js";
import { ConfigError, EXIT_CONFIG, createLogger, loadOrExit } from "@eventstack/runtime";
import { ErrorCodes, ProcessorError } from "./errors.js";
import { ensureTopics, type TopicPlan } from "./kafka.js";
import { resolveSecrets } from "./secrets.js";
import { poolConfig } from "./store.js";

/**
 * `npm run migrate` (the pre-deploy Job): applies the SQL files in migrations/ in order, each in its own
 * transaction and recorded in schema_migrations, under an advisory lock so concurrent runs serialise; then
 * makes sure the least-privilege roles and their grants exist, and creates the Kafka topics if missing.
 * Every step is idempotent: running it again changes nothing.
 */

/** dist/src/migrate.js → <package>/migrations, the same relative place in the repository and the image. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

// An arbitrary constant shared by every migrate run against the same database.
const ADVISORY_LOCK_KEY = 7_401_230_412;

/** Tables the processor writes, and which of them the read-only role may read. */
const TABLES = ["events", "rollup_minute", "rollup_minute_subjects", "rollup_cache_pending"] as const;

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
  roles: { processor: string; reader: string; rdsIam: boolean };
  topics: { created: TopicPlan[]; existing: string[] };
}

export async function migrate(config: Config, log: Logger, opts: { topics?: boolean } = {}): Promise<MigrationResult> {
  const client = new pg.Client({ ...poolConfig(config, "eventstack-migrate"), statement_timeout: 0 });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [ADVISORY_LOCK_KEY]);
    const { applied, alreadyApplied } = await applyMigrations(client, log);
    const roles = await ensureRoles(client, config);
    log.info({ roles }, "roles and grants in place");
    const topics = opts.topics === false ? { created: [], existing: [] } : await ensureTopics(config);
    log.info({ created: topics.created, existing: topics.existing }, "Kafka topics in place");
    return { applied, alreadyApplied, roles, topics };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [ADVISORY_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

async function applyMigrations(client: pg.Client, log: Logger): Promise<{ applied: string[]; alreadyApplied: string[] }> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version    text PRIMARY KEY,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  const done = new Map((await client.query<{ version: string; checksum: string }>("SELECT version, checksum FROM schema_migrations")).rows.map((r) => [r.version, r.checksum]));
  const files = readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{3,}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  for (const file of files) {
    const sql = readFileSync(path.join(MIGRATIONS_DIR, file), "utf8");
    const checksum = createHash("sha256").update(sql).digest("hex");
    const previous = done.get(file);
    if (previous !== undefined) {
      // Editing an applied migration would leave databases that differ silently; add a new file instead.
      if (previous !== checksum) {
        throw new ProcessorError(ErrorCodes.MIGRATION, `migration ${file} was changed after it was applied (recorded sha256 ${previous}, file sha256 ${checksum}); add a new migration instead`);
      }
      alreadyApplied.push(file);
      continue;
    }
    try {
      await client.query("BEGIN");
      await client.query(sql);
      await client.query("INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", [file, checksum]);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw new ProcessorError(ErrorCodes.MIGRATION, `migration ${file} failed and was rolled back: ${(err as Error).message}`, { cause: err });
    }
    applied.push(file);
    log.info({ migration: file }, "migration applied");
  }
  return { applied, alreadyApplied };
}

/**
 * Two login roles without passwords (on Aurora they authenticate with IAM tokens via rds_iam; locally trust
 * auth applies): the processor may SELECT/INSERT/UPDATE exactly its tables, DELETE only the cache marks (never
 * events or rollups), and no DDL outside its own session's temporary staging table; the reader may only SELECT. Role names are validated identifiers (config.ts) and quoted here.
 */
async function ensureRoles(client: pg.Client, config: Config): Promise<MigrationResult["roles"]> {
  const processor = client.escapeIdentifier(config.roles.processor);
  const reader = client.escapeIdentifier(config.roles.reader);
  const database = client.escapeIdentifier(config.pg.database);
  const rdsIam = (await client.query("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'")).rowCount === 1;
  for (const role of [processor, reader]) {
    // CREATE ROLE has no IF NOT EXISTS; a concurrent run creating it first is not an error either.
    await client.query(`DO $$ BEGIN CREATE ROLE ${role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await client.query(`GRANT CONNECT ON DATABASE ${database} TO ${role}`);
    await client.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
    if (rdsIam) await client.query(`GRANT rds_iam TO ${role}`);
  }
  const tables = TABLES.map((t) => client.escapeIdentifier(t)).join(", ");
  await client.query(`GRANT SELECT, INSERT, UPDATE ON ${tables} TO ${processor}`);
  await client.query(`GRANT DELETE ON rollup_cache_pending TO ${processor}`);
  // The processor stages each batch in a temporary table (store.ts). PUBLIC has TEMPORARY by default, but a
  // hardened database revokes it from PUBLIC, so the grant is explicit.
  await client.query(`GRANT TEMPORARY ON DATABASE ${database} TO ${processor}`);
  await client.query(`GRANT SELECT ON ${tables} TO ${reader}`);
  return { processor: config.roles.processor, reader: config.roles.reader, rdsIam };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config: Config = loadOrExit("eventstack-processor", () => loadConfig());
  const log = createLogger(config.logLevel, config.serviceName).child({ command: "migrate" });
  resolveSecrets(config)
    .then((resolved) => migrate(resolved, log))
    .then(
      (r) => {
        log.info({ applied: r.applied, alreadyApplied: r.alreadyApplied.length }, "migrate finished");
        process.exit(0);
      },
      (err) => {
        log.fatal({ err, code: (err as ProcessorError).code }, "migrate failed");
        process.exit(err instanceof ConfigError ? EXIT_CONFIG : 1);
      },
    );
}
