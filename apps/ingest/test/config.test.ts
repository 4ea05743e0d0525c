/**
 * The environment is validated at start with messages that name the variable, what was expected and what was
 * found. The texts are asserted exactly: they are the operator's interface.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, test } from "node:test";
import { DEFAULTS, loadConfig } from "../src/config.js";
import { ConfigError } from "@eventstack/runtime";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, "loadConfig throws ConfigError");
    assert.equal(err.code, "INGEST_CONFIG");
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

describe("loadConfig", () => {
  test("an empty environment gives the local defaults", () => {
    const c = loadConfig({});
    assert.equal(c.http.port, 8080);
    assert.equal(c.http.host, "0.0.0.0");
    assert.deepEqual(c.kafka.brokers, [{ host: "127.0.0.1", port: 9092 }]);
    assert.equal(c.kafka.topic, "events");
    assert.equal(c.kafka.auth, "none");
    assert.equal(c.kafka.tls, false);
    assert.equal(c.kafka.ackTimeoutMs, DEFAULTS.KAFKA_ACK_TIMEOUT_MS);
    assert.equal(c.kafka.producers, 4);
    assert.deepEqual(c.limits, { maxBodyBytes: 1048576, maxBatchEvents: 500, maxEventDataBytes: 65536, maxPendingEvents: 10000 });
    assert.equal(c.serviceName, "eventstack-ingest");
  });

  test("every malformed variable is reported at once, each with the exact message", () => {
    assert.deepEqual(
      problems({
        PORT: "http",
        KAFKA_BOOTSTRAP: "broker-1",
        KAFKA_AUTH: "iam",
        KAFKA_TLS: "yes",
        EVENTS_TOPIC: "events/raw",
        KAFKA_ACK_TIMEOUT_MS: "10",
        MAX_BATCH_EVENTS: "0",
        LOG_LEVEL: "verbose",
      }),
      [
        'KAFKA_BOOTSTRAP must be a comma-separated list of host:port, got "broker-1"',
        'KAFKA_AUTH must be one of none, msk-iam, got "iam"',
        'KAFKA_TLS must be "true" or "false", got "yes"',
        'MAX_BATCH_EVENTS must be an integer from 1 to 100000, got "0"',
        'PORT must be an integer from 0 to 65535, got "http"',
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
        'EVENTS_TOPIC must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -), got "events/raw"',
        'KAFKA_ACK_TIMEOUT_MS must be an integer from 100 to 120000, got "10"',
      ],
    );
  });

  test("msk-iam needs a region and refuses plaintext; it implies TLS", () => {
    assert.deepEqual(problems({ KAFKA_AUTH: "msk-iam", KAFKA_TLS: "false" }), [
      'KAFKA_TLS cannot be "false" when KAFKA_AUTH is "msk-iam" (MSK serves IAM authentication on its TLS listener only)',
      'AWS_REGION is required when KAFKA_AUTH is "msk-iam" (the region that signs MSK auth tokens)',
    ]);
    const c = loadConfig({ KAFKA_AUTH: "msk-iam", AWS_REGION: "eu-west-1", KAFKA_BOOTSTRAP: "b-1.msk:9098,b-2.msk:9098" });
    assert.equal(c.kafka.tls, true);
    assert.equal(c.awsRegion, "eu-west-1");
    assert.deepEqual(c.kafka.brokers, [{ host: "b-1.msk", port: 9098 }, { host: "b-2.msk", port: 9098 }]);
  });

  test("limits that contradict each other are refused", () => {
    assert.deepEqual(problems({ MAX_BATCH_EVENTS: "600", MAX_PENDING_EVENTS: "500", MAX_EVENT_DATA_BYTES: "2000000" }), [
      "MAX_PENDING_EVENTS (500) must be at least MAX_BATCH_EVENTS (600), or a full batch could never be accepted",
      "MAX_EVENT_DATA_BYTES (2000000) must be less than KAFKA_MAX_BATCH_BYTES (1000000), which must also hold the event's headers",
    ]);
    assert.deepEqual(problems({ SHUTDOWN_DELAY_MS: "5000", SHUTDOWN_TIMEOUT_MS: "5000" }), [
      "SHUTDOWN_DELAY_MS (5000) must be less than SHUTDOWN_TIMEOUT_MS (5000), or in-flight requests get no time to finish",
    ]);
  });

  test("KAFKA_PRODUCERS is 1 to 5 produce requests in flight (the batches a broker remembers per partition): out of range or not an integer is refused", () => {
    assert.deepEqual(problems({ KAFKA_PRODUCERS: "0" }), ['KAFKA_PRODUCERS must be an integer from 1 to 5, got "0"']);
    assert.deepEqual(problems({ KAFKA_PRODUCERS: "6" }), ['KAFKA_PRODUCERS must be an integer from 1 to 5, got "6"']);
    assert.deepEqual(problems({ KAFKA_PRODUCERS: "2.5" }), ['KAFKA_PRODUCERS must be an integer from 1 to 5, got "2.5"']);
    assert.equal(loadConfig({ KAFKA_PRODUCERS: "5" }).kafka.producers, 5);
    assert.equal(loadConfig({ KAFKA_PRODUCERS: "1" }).kafka.producers, 1);
  });

});

test("the server refuses to start on a bad environment: exit code 78 (EX_CONFIG, as the processor) and the problems on stderr", async () => {
  const child = spawn(process.execPath, ["dist/src/server.js"], {
    env: { PATH: process.env.PATH ?? "", PORT: "99999", KAFKA_AUTH: "msk-iam" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 78);
  assert.equal(
    stderr,
    "eventstack-ingest: invalid configuration:\n" +
      '  - AWS_REGION is required when KAFKA_AUTH is "msk-iam" (the region that signs MSK auth tokens)\n' +
      '  - PORT must be an integer from 0 to 65535, got "99999"\n',
  );
});
