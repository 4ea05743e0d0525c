/**
 * Starts the ingest service: validate the environment, build the app, listen, and shut down gracefully
 * (@eventstack/runtime shutdown.ts: a bad environment exits 78 with every problem on stderr).
 *
 * On SIGTERM (Kubernetes) or SIGINT: /readyz turns 503 at once; after SHUTDOWN_DELAY_MS (time for the endpoint
 * removal to reach every load balancer) the listener closes, in-flight requests finish (each waits at most
 * KAFKA_ACK_TIMEOUT_MS for Kafka), the producer is flushed and closed, and the process exits 0. If all that takes
 * longer than SHUTDOWN_TIMEOUT_MS the process exits 1; keep that below the pod's terminationGracePeriodSeconds.
 */
import { handleShutdown, loadOrExit } from "@eventstack/runtime";
import { buildApp } from "./app.js";
import { loadConfig } from "./config.js";

const config = loadOrExit("eventstack-ingest", () => loadConfig());
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

handleShutdown({
  log,
  timeoutMs: config.shutdown.timeoutMs,
  delayMs: config.shutdown.delayMs,
  drain: () => (app.ingest.draining = true),
  // fastify stops listening, finishes in-flight requests, then runs onClose: the producer flushes and closes.
  stop: () => app.close(),
});

// The address goes into the log line (as `address`), which is how tests find a port chosen with PORT=0.
await app.listen({ host: config.http.host, port: config.http.port });
const ready = await app.ingest.producer.checkReady();
if (ready.ready) log.info({ kafka: ready.detail, topic: config.kafka.topic }, "Kafka reachable");
else log.warn({ kafka: ready.detail, topic: config.kafka.topic }, "Kafka not reachable yet; /readyz answers 503 until it is");
