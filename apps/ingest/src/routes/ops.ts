/**
 * Operations endpoints for Kubernetes and Prometheus.
 *
 *   GET /healthz  liveness: the process serves HTTP. Deliberately independent of Kafka: restarting the pod does
 *                 not fix a broker outage, and killing every pod during one would only add a cold start to it.
 *   GET /readyz   readiness: Kafka answers metadata for the topic and every partition has a leader, and we are
 *                 not shutting down. 503 takes the pod out of the Service so clients go to a pod that can write.
 *   GET /metrics  Prometheus text exposition.
 */
import type { FastifyInstance } from "fastify";

const statusSchema = {
  type: "object",
  required: ["status"],
  properties: { status: { type: "string" }, kafka: { type: "string" } },
} as const;

export async function opsRoutes(app: FastifyInstance): Promise<void> {
  const { producer, metrics } = app.ingest;

  app.get("/healthz", { schema: { response: { 200: statusSchema } } }, async () => ({ status: "ok" }));

  app.get("/readyz", { schema: { response: { 200: statusSchema, 503: statusSchema } } }, async (_request, reply) => {
    if (app.ingest.draining) return reply.code(503).send({ status: "draining", kafka: "not checked: the service is shutting down" });
    const { ready, detail } = await producer.checkReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "unavailable", kafka: detail });
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}
