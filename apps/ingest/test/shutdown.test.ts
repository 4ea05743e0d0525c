/**
 * Graceful shutdown of the real server process: SIGTERM while a request is in flight. The listener closes (new
 * connections are refused), the in-flight request still gets its 202 after Kafka acknowledged it, the event is
 * on the topic, and the process exits 0.
 *
 * "In flight" is made deterministic without sleeping: the request's headers and half its body are sent, and the
 * server's own in-flight gauge confirms it has the request before SIGTERM is sent; the rest of the body follows
 * the signal.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { before, test } from "node:test";
import { BOOTSTRAP, createTopic, readTopic, sampleEvent, servicesUp, uniqueTopic } from "./helpers.js";

before(servicesUp);

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => ({ status: r.status, body: await r.text() }));
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

test("SIGTERM: stop accepting, finish the in-flight request (202, event on the topic), flush, exit 0", async (t) => {
  const topic = uniqueTopic("shutdown");
  await createTopic(topic);
  const child = spawn(process.execPath, ["dist/src/server.js"], {
    env: { PATH: process.env.PATH ?? "", KAFKA_BOOTSTRAP: BOOTSTRAP, EVENTS_TOPIC: topic, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", REQUEST_LOG_EVERY: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const exited = once(child, "exit") as Promise<[number | null]>;
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  let buffered = "";
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
        buffered = buffered.slice(nl + 1);
        logs.push(line);
        const m = /^Server listening at http:\/\/127\.0\.0\.1:(\d+)$/.exec(String(line.msg));
        if (m) resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
  });
  const port = await listening;

  // The in-flight request: headers and the first half of the body.
  const event = JSON.stringify(sampleEvent({ id: "in-flight" }));
  const half = Math.floor(event.length / 2);
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  let response = "";
  socket.setEncoding("utf8").on("data", (c: string) => (response += c));
  socket.write(
    `POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cloudevents+json\r\nX-Request-Id: req-in-flight\r\nContent-Length: ${Buffer.byteLength(event)}\r\n\r\n${event.slice(0, half)}`,
  );
  for (;;) {
    const metrics = await get(port, "/metrics");
    if (/^ingest_http_requests_in_flight\{route="\/v1\/events"\} 1$/m.test(metrics.body)) break;
  }

  child.kill("SIGTERM");
  // The listener closes: poll until a new connection is refused (bounded by the test runner, not a timing check).
  while (!(await refused(port))) await new Promise((r) => setImmediate(r));

  socket.write(event.slice(half));
  const [code] = await exited;
  if (!socket.closed) await once(socket, "close");

  assert.equal(code, 0, `exit code 0; stderr: ${stderr}`);
  const [head, body] = response.split("\r\n\r\n");
  assert.match(head ?? "", /^HTTP\/1\.1 202 Accepted\r\n/);
  assert.match(head ?? "", /\r\nconnection: close\r\n/i, "the connection is closed after the response while draining");
  assert.match(head ?? "", /\r\nx-request-id: req-in-flight\r\n/i);
  assert.equal(body, '{"accepted":1}');

  const records = await readTopic(topic);
  assert.deepEqual(records.map((r) => r.headers.ce_id), ["in-flight"]);

  const messages = logs.map((l) => l.msg);
  const shutdownAt = messages.indexOf("shutting down: not ready, finishing in-flight work");
  const completedAt = logs.findIndex((l) => l.msg === "request completed" && l.requestId === "req-in-flight");
  const doneAt = messages.indexOf("shutdown complete");
  // The 202 above and the exit code prove the request finished before the process ended. The access log line
  // is written by fastify's onResponse hook, which can run after the server's close callback, so its position
  // relative to "shutdown complete" is not part of the contract.
  assert.ok(shutdownAt >= 0 && completedAt > shutdownAt && doneAt > shutdownAt, `log order: ${JSON.stringify(messages)}`);
  assert.equal(logs[completedAt]?.statusCode, 202);
  assert.equal(logs[shutdownAt]?.signal, "SIGTERM");
});
