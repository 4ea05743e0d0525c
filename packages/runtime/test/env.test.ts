/**
 * The environment reader both services use: the exact texts an operator reads, and the Kafka connection rules.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, EnvReader, KAFKA_TOPIC, KAFKA_TOPIC_EXPECTED } from "../src/index.js";

const KAFKA = { KAFKA_BOOTSTRAP: "127.0.0.1:9092", KAFKA_AUTH: "none", KAFKA_TLS: false } as const;

function problems(env: Record<string, string>, read: (e: EnvReader) => void): string[] {
  const e = new EnvReader(env);
  read(e);
  try {
    e.finish("TEST_CONFIG");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, "TEST_CONFIG");
    assert.equal(err.message, `invalid configuration:\n  - ${err.problems.join("\n  - ")}`);
    return err.problems;
  }
  return [];
}

test("blank counts as unset; values are trimmed", () => {
  const e = new EnvReader({ A: "  ", B: " x " });
  assert.equal(e.read("A"), undefined);
  assert.equal(e.read("B"), "x");
  assert.equal(e.int("A", 7, 0, 10), 7);
});

test("every malformed value is reported, each naming the variable, what was expected and what was found", () => {
  assert.deepEqual(
    problems({ N: "1.5", M: "11", B: "yes", L: "loud", LOG_LEVEL: "chatty", T: "bad topic" }, (e) => {
      e.int("N", 1, 0, 10);
      e.int("M", 1, 0, 10);
      e.bool("B", false);
      e.oneOf("L", ["a", "b"], "a");
      e.logLevel("info");
      e.matching("T", KAFKA_TOPIC, KAFKA_TOPIC_EXPECTED, "events");
    }),
    [
      'N must be an integer from 0 to 10, got "1.5"',
      'M must be an integer from 0 to 10, got "11"',
      'B must be "true" or "false", got "yes"',
      'L must be one of a, b, got "loud"',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "chatty"',
      'T must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -), got "bad topic"',
    ],
  );
  assert.deepEqual(problems({}, (e) => e.int("N", 1, 0, 10)), []);
});

test("Kafka connection: brokers, msk-iam implies TLS and needs a region; the region from AWS_REGION, else AWS_DEFAULT_REGION", () => {
  const e = new EnvReader({ KAFKA_BOOTSTRAP: "b-1:9098, b-2:9098", KAFKA_AUTH: "msk-iam", AWS_DEFAULT_REGION: "eu-west-1" });
  assert.deepEqual(e.kafkaConnection(KAFKA), {
    brokers: [
      { host: "b-1", port: 9098 },
      { host: "b-2", port: 9098 },
    ],
    auth: "msk-iam",
    tls: true,
  });
  assert.equal(e.awsRegion(), "eu-west-1");
  assert.equal(new EnvReader({ AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: "eu-west-1" }).awsRegion(), "us-east-1");
  assert.deepEqual(new EnvReader({}).kafkaConnection(KAFKA), { brokers: [{ host: "127.0.0.1", port: 9092 }], auth: "none", tls: false });
  assert.deepEqual(
    problems({ KAFKA_BOOTSTRAP: "a:1,b", KAFKA_AUTH: "msk-iam", KAFKA_TLS: "false" }, (r) => r.kafkaConnection(KAFKA)),
    [
      'KAFKA_BOOTSTRAP must be a comma-separated list of host:port, got "a:1,b"',
      'KAFKA_TLS cannot be "false" when KAFKA_AUTH is "msk-iam" (MSK serves IAM authentication on its TLS listener only)',
      'AWS_REGION is required when KAFKA_AUTH is "msk-iam" (the region that signs MSK auth tokens)',
    ],
  );
  assert.deepEqual(problems({ KAFKA_BOOTSTRAP: "a:70000" }, (r) => r.kafkaConnection(KAFKA)), ['KAFKA_BOOTSTRAP must be a comma-separated list of host:port, got "a:70000"']);
});
