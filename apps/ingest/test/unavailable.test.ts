/**
 * When Kafka cannot acknowledge, the answer is 503 with Retry-After, never 202; when too much is waiting, 429.
 *
 * Two ways to make Kafka unavailable: a "black hole" (a TCP server that accepts and never answers, so requests
 * time out, deterministically and fast) and the real thing: the shared local broker stopped with stopKafka() and
 * started again afterwards, whatever happens in between.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { BATCH, STRUCTURED, createTopic, loadServices, readTopic, sampleEvent, servicesUp, testApp, uniqueTopic } from "./helpers.js";

before(servicesUp);

/** A broker that accepts connections and never says a word. */
async function blackHole(): Promise<{ bootstrap: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    bootstrap: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const post = (app: FastifyInstance, headers: Record<string, string>, payload: string) => app.inject({ method: "POST", url: "/v1/events", headers, payload });

describe("Kafka does not answer (black-hole broker)", () => {
  let hole: Awaited<ReturnType<typeof blackHole>>;
  before(async () => {
    hole = await blackHole();
  });
  after(() => hole.close());

  test("503 with Retry-After and the timeout named, never 202", async (t) => {
    const app = await testApp("events", { KAFKA_BOOTSTRAP: hole.bootstrap, KAFKA_ACK_TIMEOUT_MS: "500", RETRY_AFTER_SECONDS: "7" });
    t.after(() => app.close());
    const res = await post(app, { ...STRUCTURED, "x-request-id": "req-timeout" }, JSON.stringify(sampleEvent()));
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers["retry-after"], "7");
    assert.deepEqual(res.json(), {
      type: "urn:eventstack:problem:kafka-timeout",
      title: "Kafka did not acknowledge in time",
      status: 503,
      detail: "Kafka did not acknowledge the events within 500 ms; the events may or may not have been written, retry them",
      instance: "/v1/events",
      code: "INGEST_KAFKA_TIMEOUT",
      requestId: "req-timeout",
    });
    assert.equal(app.ingest.producer.pendingEvents, 0, "a failed request releases its place in the queue");
    const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
    assert.match(metrics, /^ingest_produce_errors_total\{reason="timeout"\} 1$/m);
    assert.match(metrics, /^ingest_http_requests_total\{method="POST",route="\/v1\/events",status="503"\} 1$/m);
  });

  test("/readyz is 503 and says why", async (t) => {
    const app = await testApp("events", { KAFKA_BOOTSTRAP: hole.bootstrap, KAFKA_ACK_TIMEOUT_MS: "500" });
    t.after(() => app.close());
    const res = await app.inject({ method: "GET", url: "/readyz" });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { status: "unavailable", kafka: "no metadata from Kafka within 500 ms" });
  });

  test("429 with Retry-After: 1 when MAX_PENDING_EVENTS are already waiting; nothing of it is queued", async (t) => {
    const app = await testApp("events", { KAFKA_BOOTSTRAP: hole.bootstrap, KAFKA_ACK_TIMEOUT_MS: "3000", MAX_PENDING_EVENTS: "2", MAX_BATCH_EVENTS: "2" });
    t.after(() => app.close());
    const first = post(app, BATCH, JSON.stringify([sampleEvent(), sampleEvent()]));
    // Wait until the first request's two events are queued (not a timing assertion: it only orders the two).
    while (app.ingest.producer.pendingEvents < 2) await new Promise((r) => setImmediate(r));
    const shed = await post(app, { ...STRUCTURED, "x-request-id": "req-shed" }, JSON.stringify(sampleEvent()));
    assert.equal(shed.statusCode, 429);
    assert.equal(shed.headers["retry-after"], "1");
    assert.deepEqual(shed.json(), {
      type: "urn:eventstack:problem:overloaded",
      title: "Too many events waiting",
      status: 429,
      detail: "2 events are already waiting for Kafka; at most 2 may wait; nothing was produced, retry later",
      instance: "/v1/events",
      code: "INGEST_OVERLOADED",
      requestId: "req-shed",
    });
    assert.equal(app.ingest.producer.pendingEvents, 2, "the shed request added nothing");
    assert.equal((await first).statusCode, 503);
  });
});

test("broker stopped: every request is answered 503, none 202; after the restart, 202 again", async (t) => {
  const services = await loadServices();
  const topic = uniqueTopic("outage");
  await createTopic(topic);
  // 10 s: the first write after a restart initialises a new producer id, which a busy machine can make slow.
  const app = await testApp(topic, { KAFKA_ACK_TIMEOUT_MS: "10000" });
  t.after(() => app.close());

  const warm = await post(app, STRUCTURED, JSON.stringify(sampleEvent({ id: "before-outage" })));
  assert.equal(warm.statusCode, 202);

  const stopped = await services.stopKafka();
  assert.ok(stopped === "stopped" || stopped === "killed", `stopKafka() must stop the shared broker, it said "${stopped}"`);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(app, STRUCTURED, JSON.stringify(sampleEvent({ id: `during-outage-${i}` })));
      statuses.push(res.statusCode);
      assert.equal(res.headers["retry-after"], "5");
      const problem = res.json() as { code: string; detail: string };
      // Refused connections fail the produce request; a connection that hangs instead runs into the timeout.
      assert.ok(
        (problem.code === "INGEST_KAFKA_UNAVAILABLE" && problem.detail === "Kafka did not accept the events; the events may or may not have been written, retry them") ||
          (problem.code === "INGEST_KAFKA_TIMEOUT" && problem.detail === "Kafka did not acknowledge the events within 10000 ms; the events may or may not have been written, retry them"),
        `unexpected problem ${JSON.stringify(problem)}`,
      );
    }
    assert.deepEqual(statuses, [503, 503, 503, 503, 503]);
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().status, "unavailable");
  } finally {
    await services.startKafka();
  }

  // The broker is back: readiness returns (polled, bounded), and the producer (a new producer id) writes again.
  let readiness = 503;
  for (let i = 0; i < 60 && readiness !== 200; i++) {
    readiness = (await app.inject({ method: "GET", url: "/readyz" })).statusCode;
    if (readiness !== 200) await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(readiness, 200);
  const recovered = await post(app, STRUCTURED, JSON.stringify(sampleEvent({ id: "after-outage" })));
  assert.equal(recovered.statusCode, 202, `after the restart: ${recovered.body}`);
  const ids = (await readTopic(topic)).map((r) => r.headers.ce_id).sort();
  assert.deepEqual(ids, ["after-outage", "before-outage"], "the events answered 503 were not written later behind the client's back");
});
