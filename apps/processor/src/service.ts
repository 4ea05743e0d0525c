import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Tracing } from "@eventstack/runtime";
import { buildApp } from "./app.js";
import { Cache } from "./cache.js";
import type { Config } from "./config.js";
import { Processor } from "./consume/processor.js";
import { faultHooks } from "./consume/test-faults.js";
import { Metrics } from "./metrics.js";
import { StatsService } from "./stats.js";
import { Store } from "./store.js";

export interface Service {
  app: FastifyInstance;
  processor: Processor;
  store: Store;
  cache: Cache;
  metrics: Metrics;
  /** Graceful stop: HTTP stops accepting, the consumer finishes its batch and leaves, pools close. */
  stop(): Promise<void>;
}

/**
 * Wires the service from a validated config: the stores, the consumer and the HTTP API. Used by
 * `server.ts` and by the tests that run the service in-process.
 */
export async function startService(config: Config, log: Logger, opts: { listen?: boolean; tracing?: Tracing } = {}): Promise<Service> {
  const metrics = new Metrics();
  const store = new Store(config, log.child({ component: "store" }));
  const cache = new Cache(config, log.child({ component: "cache" }));
  cache.start();
  // Resolved once, here: the consumer holds no test code, and runs NO_FAULTS unless a test set PROCESSOR_FAULT_*.
  const processor = new Processor({ config, log: log.child({ component: "consumer" }), store, cache, metrics, faults: faultHooks(config) });
  const stats = new StatsService(store, cache, metrics, log.child({ component: "stats" }));
  const app = buildApp({
    log,
    stats,
    metrics,
    maxBuckets: config.http.maxBuckets,
    requestLogEvery: config.requestLogEvery,
    tracing: opts.tracing,
    readiness: {
      consumer: () => processor.ready,
      postgres: () => store.ping().then(() => true),
    },
  });
  await processor.start();
  if (opts.listen ?? true) await app.listen({ host: config.http.host, port: config.http.port });
  else await app.ready();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await app.close().catch((err) => log.warn({ err }, "closing HTTP failed"));
      await processor.stop();
      await Promise.allSettled([store.close(), cache.close()]);
    })());
  return { app, processor, store, cache, metrics, stop };
}
