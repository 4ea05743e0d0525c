import { createLogger, handleShutdown, loadOrExit, startTracing } from "@eventstack/runtime";
import { loadConfig } from "./config.js";
import { resolveSecrets } from "./secrets.js";
import { startService } from "./service.js";

// Composition root: read config, start tracing, start the service, stop it on SIGTERM/SIGINT
// (@eventstack/runtime shutdown.ts: a bad environment exits 78 with every problem on stderr).
let config = loadOrExit("eventstack-processor", () => loadConfig());

const log = createLogger(config.logLevel, config.serviceName);
config = await resolveSecrets(config).catch((err) => {
  log.fatal({ err: { message: (err as Error).message } }, "reading secrets failed");
  process.exit(78);
});
// Registered globally: the consumer's spans come from trace.getTracer (tracing.ts).
const tracing = startTracing({ serviceName: config.serviceName, global: true });
const service = await startService(config, log, { tracing }).catch((err) => {
  log.fatal({ err }, "start-up failed");
  process.exit(1);
});
log.info({ port: config.http.port, pid: process.pid }, "processor started");

// The HTTP listener closes, the consumer finishes its batch and leaves its group, the pools close, spans flush.
const shutdown = handleShutdown({
  log,
  timeoutMs: config.shutdownTimeoutMs,
  stop: async () => {
    await service.stop();
    await tracing.shutdown().catch(() => undefined);
  },
});

// A consumer whose fetching failed (broker gone for longer than the client's retries) exits non-zero so the
// orchestrator restarts it; uncommitted records are redelivered and deduplicated.
service.processor.done.catch((err) => {
  log.fatal({ err }, "consumer stopped");
  void shutdown.begin("consumer-failure", 1);
});
