import { loadConfig, type Config } from "./config.js";
import { ConfigError } from "./errors.js";
import { createLogger } from "./logger.js";
import { resolveSecrets } from "./secrets.js";
import { startService } from "./service.js";
import { startTracing } from "./tracing.js";

// Composition root: read config, start tracing, start the service, stop it on SIGTERM/SIGINT.
let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}

const log = createLogger(config.logLevel);
config = await resolveSecrets(config).catch((err) => {
  log.fatal({ err: { message: (err as Error).message } }, "reading secrets failed");
  process.exit(78);
});
const tracing = startTracing(config);
const service = await startService(config, log).catch((err) => {
  log.fatal({ err }, "start-up failed");
  process.exit(1);
});
log.info({ port: config.http.port, pid: process.pid }, "processor started");

let exitCode = 0;
async function shutdown(signal: string) {
  log.info({ signal }, "shutting down: finishing the current batch");
  const force = setTimeout(() => {
    log.error({ timeoutMs: config.shutdownTimeoutMs }, "graceful shutdown timed out; exiting");
    process.exit(1);
  }, config.shutdownTimeoutMs).unref();
  await service.stop();
  await tracing.shutdown().catch(() => undefined);
  clearTimeout(force);
  log.info("stopped");
  process.exit(exitCode);
}
process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));

// A consumer whose fetching failed (broker gone for longer than the client's retries) exits non-zero so the
// orchestrator restarts it; uncommitted records are redelivered and deduplicated.
service.processor.done.catch((err) => {
  log.fatal({ err }, "consumer stopped");
  exitCode = 1;
  void shutdown("consumer-failure");
});
