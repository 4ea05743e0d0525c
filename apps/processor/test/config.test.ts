// The environment is validated at start with messages that name the variable, what was expected and what was
// found. The texts are asserted exactly: they are the operator's interface. No services needed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DEFAULTS, loadConfig } from "../src/config.js";
import { ConfigError } from "@eventstack/runtime";
import { migrateJs, serverJs, spawnNode } from "./helpers.js";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, "loadConfig throws ConfigError");
    assert.equal(err.code, "PROCESSOR_CONFIG");
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:eventstack-dev/cache/processor-AbCdEf";

describe("loadConfig", () => {
  test("an empty environment gives the local defaults", () => {
    const c = loadConfig({});
    assert.deepEqual(c.kafka.brokers, [{ host: "127.0.0.1", port: 9092 }]);
    assert.equal(c.kafka.auth, "none");
    assert.equal(c.kafka.tls, false);
    assert.equal(c.kafka.eventsTopic, "events");
    assert.equal(c.kafka.dlqTopic, "events.dlq");
    assert.equal(c.kafka.groupId, "eventstack-processor");
    assert.equal(c.kafka.batchMaxRecords, 5000);
    assert.equal(c.pg.batchTransactions, 2);
    assert.equal(c.pg.poolMax, 10);
    assert.equal(c.kafka.fetchMaxBytes, 1024 * 1024);
    assert.equal(c.kafka.replication, undefined);
    assert.deepEqual(
      { host: c.pg.host, port: c.pg.port, database: c.pg.database, user: c.pg.user, auth: c.pg.auth, tls: c.pg.tls, secret: c.pg.passwordSecretArn },
      { host: "127.0.0.1", port: 5432, database: "postgres", user: "postgres", auth: "password", tls: "disable", secret: undefined },
    );
    assert.deepEqual(
      { host: c.redis.host, port: c.redis.port, tls: c.redis.tls, prefix: c.redis.keyPrefix, ttl: c.redis.ttlSeconds },
      { host: "127.0.0.1", port: 6379, tls: false, prefix: "eventstack:", ttl: 172_800 },
    );
    assert.deepEqual(c.http, { host: "0.0.0.0", port: 8081, maxBuckets: 1440 });
    assert.deepEqual(c.roles, { processor: DEFAULTS.DB_PROCESSOR_ROLE, reader: DEFAULTS.DB_READER_ROLE });
    assert.equal(c.faultAfterDbCommit, undefined);
  });

  test("every malformed variable is reported at once, each with the exact message", () => {
    assert.deepEqual(
      problems({
        KAFKA_BOOTSTRAP: "broker-1",
        KAFKA_AUTH: "iam",
        KAFKA_TLS: "yes",
        EVENTS_TOPIC: "events/raw",
        PG_TLS: "require",
        REDIS_USERNAME: "processor",
        PROCESSOR_FAULT_AFTER_DB_COMMIT: "crash",
        PROCESSOR_FAULT_BEFORE_CACHE_WRITE: "1",
        BATCH_MAX_RECORDS: "0",
        BATCH_TRANSACTIONS: "5",
        KAFKA_FETCH_MAX_BYTES: "1k",
        KAFKA_REQUEST_TIMEOUT_MS: "1000",
        PGPORT: "70000",
        CACHE_TTL_SECONDS: "10",
        PORT: "http",
        LOG_LEVEL: "verbose",
        DB_READER_ROLE: "Reader",
      }),
      [
        'KAFKA_BOOTSTRAP must be a comma-separated list of host:port, got "broker-1"',
        'KAFKA_AUTH must be one of none, msk-iam, got "iam"',
        'KAFKA_TLS must be "true" or "false", got "yes"',
        'EVENTS_TOPIC must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -), got "events/raw"',
        'PG_TLS must be one of disable, verify-full, got "require"',
        "REDIS_PASSWORD is required when REDIS_USERNAME is set (ElastiCache RBAC users authenticate with both)",
        'PROCESSOR_FAULT_AFTER_DB_COMMIT must be "exit" or unset, got "crash"',
        'PROCESSOR_FAULT_BEFORE_CACHE_WRITE must be "exit" or unset, got "1"',
        'BATCH_TRANSACTIONS must be an integer from 1 to 4, got "5"',
        'BATCH_MAX_RECORDS must be an integer from 1 to 100000, got "0"',
        'KAFKA_FETCH_MAX_BYTES must be an integer from 1024 to 268435456, got "1k"',
        'KAFKA_REQUEST_TIMEOUT_MS must be an integer from 1500 to 300000, got "1000"',
        'PGPORT must be an integer from 1 to 65535, got "70000"',
        'CACHE_TTL_SECONDS must be an integer from 60 to 7776000, got "10"',
        'PORT must be an integer from 0 to 65535, got "http"',
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
        'DB_READER_ROLE must be a lower-case PostgreSQL role name, got "Reader"',
      ],
    );
  });

  test("a pool too small for the batch transactions is refused; one transaction at a time fits the smallest pool", () => {
    assert.deepEqual(problems({ PG_POOL_MAX: "2" }), [
      "PG_POOL_MAX must be greater than BATCH_TRANSACTIONS (each batch transaction holds a connection; the read API and the cache sync need another), got 2 and 2",
    ]);
    assert.deepEqual(problems({ PG_POOL_MAX: "4", BATCH_TRANSACTIONS: "4" }), [
      "PG_POOL_MAX must be greater than BATCH_TRANSACTIONS (each batch transaction holds a connection; the read API and the cache sync need another), got 4 and 4",
    ]);
    const c = loadConfig({ PG_POOL_MAX: "2", BATCH_TRANSACTIONS: "1" });
    assert.deepEqual([c.pg.poolMax, c.pg.batchTransactions], [2, 1]);
  });

  test("combinations that cannot work are refused with the reason", () => {
    assert.deepEqual(problems({ KAFKA_AUTH: "msk-iam", KAFKA_TLS: "false", PG_AUTH: "iam", PG_TLS: "disable", DLQ_TOPIC: "events" }), [
      // The Kafka connection's problems come together (the runtime's EnvReader.kafkaConnection, as in ingest).
      'KAFKA_TLS cannot be "false" when KAFKA_AUTH is "msk-iam" (MSK serves IAM authentication on its TLS listener only)',
      'AWS_REGION is required when KAFKA_AUTH is "msk-iam" (the region that signs MSK auth tokens)',
      'DLQ_TOPIC must differ from EVENTS_TOPIC, both are "events"',
      'PG_TLS cannot be "disable" when PG_AUTH is "iam" (RDS accepts IAM auth tokens over TLS only)',
      'AWS_REGION is required when PG_AUTH is "iam" (the region that signs RDS auth tokens)',
    ]);
  });

  test("secret ARNs: the format, and what they cannot be combined with", () => {
    assert.deepEqual(problems({ REDIS_AUTH_SECRET_ARN: "eventstack-dev/cache/processor" }), [
      'REDIS_AUTH_SECRET_ARN must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>), got "eventstack-dev/cache/processor"',
    ]);
    assert.deepEqual(problems({ REDIS_AUTH_SECRET_ARN: ARN, REDIS_PASSWORD: "x" }), [
      "REDIS_AUTH_SECRET_ARN cannot be combined with REDIS_USERNAME or REDIS_PASSWORD (the secret holds both)",
    ]);
    assert.deepEqual(problems({ PG_MASTER_SECRET_ARN: ARN, PGPASSWORD: "x" }), ["PG_MASTER_SECRET_ARN cannot be combined with PGPASSWORD (the secret holds the password)"]);
    assert.deepEqual(problems({ PG_MASTER_SECRET_ARN: ARN, PG_AUTH: "iam", AWS_REGION: "eu-west-1" }), [
      'PG_MASTER_SECRET_ARN cannot be combined with PG_AUTH "iam" (IAM authentication uses no password)',
    ]);
    const c = loadConfig({ REDIS_AUTH_SECRET_ARN: ARN, PG_MASTER_SECRET_ARN: ARN });
    assert.equal(c.redis.authSecretArn, ARN);
    assert.equal(c.pg.passwordSecretArn, ARN);
    assert.equal(c.pg.userFromEnv, false);
  });

  test("msk-iam implies TLS, PG_AUTH=iam implies verify-full, the AWS region is taken from AWS_REGION", () => {
    const c = loadConfig({ KAFKA_AUTH: "msk-iam", PG_AUTH: "iam", AWS_REGION: "eu-west-1", KAFKA_BOOTSTRAP: "b-1.msk:9098,b-2.msk:9098" });
    assert.equal(c.kafka.tls, true);
    assert.equal(c.pg.tls, "verify-full");
    assert.equal(c.awsRegion, "eu-west-1");
    assert.deepEqual(c.kafka.brokers, [
      { host: "b-1.msk", port: 9098 },
      { host: "b-2.msk", port: 9098 },
    ]);
  });
});

describe("the entry points refuse a bad environment", () => {
  for (const [name, script] of [
    ["server", serverJs],
    ["migrate", migrateJs],
  ] as const) {
    test(`${name}: exit code 78 (EX_CONFIG, as ingest) and every problem on stderr, after the service's name`, async () => {
      const p = spawnNode(script, { PORT: "http", KAFKA_AUTH: "iam" });
      assert.deepEqual(await p.exited, { code: 78, signal: null });
      assert.equal(p.output(), 'eventstack-processor: invalid configuration:\n  - KAFKA_AUTH must be one of none, msk-iam, got "iam"\n  - PORT must be an integer from 0 to 65535, got "http"\n');
    });
  }
});
