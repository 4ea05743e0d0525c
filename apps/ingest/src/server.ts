/**
 * Starts the ingest service: validate the environment, build the app, listen, and shut down gracefully.
 *
 * On SIGTERM (Kubernetes) or SIGINT: /readyz turns 503 at once; after SHUTDOWN_DELAY_MS (time for the endpoint
 * removal to reach every load balancer) the listener closes, in-flight requests finish (each waits at most
 * KAFKA_ACK_TIMEOUT_MS for Kafka), the producer is flushed and closed, and the process exits 0. If all that takes
 * longer than SHUTDOWN_TIMEOUT_MS the process exits 1; keep that below the pod's terminationGracePeriodSeconds.
 */
import { buildApp } from "./app.js";
import { loadConfig } from "./config.js";
import { ConfigError } from "./errors.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`eventstack-ingest: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const app = await buildApp(config);
  const log = app.log;
  process.on("uncaughtException", (err) => {
    log.fatal({ err }, "uncaught exception; exiting");
    process.exit(1);
  });
  process.on("unhandledRejection", (err) => {
    log.fatal({ err }, "unhandled rejection; exiting");
    process.exit(1);
  });

  let shuttingDown = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const { timeoutMs, delayMs } = config.shutdown;
    log.info({ signal, timeoutMs, delayMs }, "shutting down: not ready, finishing in-flight requests, flushing Kafka");
    setTimeout(() => {
      log.error({ timeoutMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, timeoutMs).unref();
    app.ingest.draining = true;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    try {
      await app.close();
    } catch (err) {
      log.error({ err }, "error during shutdown");
      process.exit(1);
    }
    log.info("shutdown complete");
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));

  // The address goes into the log line (as `address`), which is how tests find a port chosen with PORT=0.
  await app.listen({ host: config.http.host, port: config.http.port });
  const ready = await app.ingest.producer.checkReady();
  if (ready.ready) log.info({ kafka: ready.detail, topic: config.kafka.topic }, "Kafka reachable");
  else log.warn({ kafka: ready.detail, topic: config.kafka.topic }, "Kafka not reachable yet; /readyz answers 503 until it is");
}

await main();
