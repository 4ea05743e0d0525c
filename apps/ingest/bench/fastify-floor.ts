/**
 * The fastify floor for `npm run bench:ingest`: a fastify server configured like the service (raw-buffer body for
 * every content type, a response schema, no request logging) whose POST /v1/events answers 202 without looking at
 * the body. The difference between this and the bare Node server is what fastify itself costs per request; the
 * difference between this and the service is what CloudEvents decoding, Kafka and the hooks cost.
 */
import Fastify from "fastify";

const port = Number(process.argv[2]);
const app = Fastify({ logger: false, exposeHeadRoutes: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
app.get("/", async () => ({ status: "ok" }));
app.post(
  "/v1/events",
  { schema: { response: { 202: { type: "object", required: ["accepted"], properties: { accepted: { type: "integer" } } } } } },
  async (_request, reply) => reply.code(202).send({ accepted: 1 }),
);
await app.listen({ host: "127.0.0.1", port });
