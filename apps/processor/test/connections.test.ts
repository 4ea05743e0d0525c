// How the processor connects when configured for AWS: PostgreSQL over verified TLS with an IAM auth token,
// Redis over TLS with an RBAC user (ElastiCache), MSK with IAM (OAUTHBEARER), and the two credentials read
// from Secrets Manager. AWS is not reachable here, so the far ends are small local servers that speak just
// enough of each protocol (TLS with a certificate made for the test, the PostgreSQL startup, RESP, the Secrets
// Manager JSON API) to see what the processor sends; signing uses throwaway static credentials.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import pg from "pg";
import { reconnectOnError, redisOptions } from "../src/cache.js";
import { loadConfig } from "../src/config.js";
import { fetchConnectionOptions } from "../src/consume/fetcher-setup.js";
import { kafkaBaseOptions } from "../src/kafka.js";
import { readCredentials, resolveSecrets, secretsManager } from "../src/secrets.js";
import { poolConfig } from "../src/store.js";

// Throwaway credentials: the SDKs sign locally with them; nothing reaches AWS.
process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLE";
process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:eventstack-dev/cache/processor-AbCdEf";
let dir: string;
let cert: { key: string; cert: string; file: string };

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "processor-tls-"));
  const key = path.join(dir, "key.pem");
  const file = path.join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", file, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"], { stdio: "ignore" });
  cert = { key: readFileSync(key, "utf8"), cert: readFileSync(file, "utf8"), file };
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function listen(server: net.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as net.AddressInfo).port;
}

/**
 * A PostgreSQL front door: accepts the SSLRequest, does TLS with the test certificate, reads the startup
 * message, asks for a cleartext password, records it, and ends with a FATAL error of its own.
 */
function fakePostgres() {
  const seen: { servername?: string | false; startup?: string; password?: string } = {};
  const server = net.createServer((socket) => {
    socket.once("data", () => {
      socket.write("S");
      const secure = new tls.TLSSocket(socket, { isServer: true, key: cert.key, cert: cert.cert });
      secure.on("secure", () => (seen.servername = (secure as tls.TLSSocket & { servername?: string | false }).servername));
      secure.on("error", () => undefined);
      let buf = Buffer.alloc(0);
      secure.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (seen.startup === undefined && buf.length >= 4 && buf.length >= buf.readInt32BE(0)) {
          seen.startup = buf.subarray(8, buf.readInt32BE(0)).toString("latin1");
          buf = buf.subarray(buf.readInt32BE(0));
          secure.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // AuthenticationCleartextPassword
        }
        if (seen.startup !== undefined && buf.length >= 5 && buf[0] === 0x70 && buf.length >= 1 + buf.readInt32BE(1)) {
          seen.password = buf.subarray(5, buf.readInt32BE(1)).toString("utf8");
          const fields = Buffer.from("SFATAL\0C28000\0Mtest server: stop here\0\0", "latin1");
          const err = Buffer.alloc(5);
          err[0] = 0x45;
          err.writeInt32BE(4 + fields.length, 1);
          secure.end(Buffer.concat([err, fields]));
        }
      });
    });
  });
  return { server, seen };
}

describe("PostgreSQL: TLS verify-full and IAM auth tokens", () => {
  test("the certificate is verified: an unknown CA fails the handshake before any credential is sent", async () => {
    const { server, seen } = fakePostgres();
    const port = await listen(server);
    try {
      const config = loadConfig({ PGHOST: "localhost", PGPORT: String(port), PG_TLS: "verify-full", PGPASSWORD: "not-sent" });
      const client = new pg.Client(poolConfig(config, "test"));
      await assert.rejects(client.connect(), /self-signed certificate/);
      assert.equal(seen.password, undefined);
    } finally {
      server.close();
    }
  });

  test("with PG_AUTH=iam: SNI names the host, the CA comes from PG_CA_FILE, the password is a fresh RDS token for the user", async () => {
    const { server, seen } = fakePostgres();
    const port = await listen(server);
    try {
      const config = loadConfig({ PGHOST: "localhost", PGPORT: String(port), PGUSER: "eventstack_processor", PGDATABASE: "eventstack", PG_AUTH: "iam", AWS_REGION: "eu-west-1", PG_CA_FILE: cert.file });
      const options = poolConfig(config, "test");
      assert.deepEqual(options.ssl, { rejectUnauthorized: true, servername: "localhost", ca: cert.cert });
      const client = new pg.Client(options);
      await assert.rejects(client.connect(), /test server: stop here/);
      assert.equal(seen.servername, "localhost");
      assert.match(seen.startup ?? "", /user\0eventstack_processor\0database\0eventstack\0/);
      const token = new URL(`https://${seen.password}`);
      assert.equal(token.host, `localhost:${port}`);
      assert.equal(token.searchParams.get("Action"), "connect");
      assert.equal(token.searchParams.get("DBUser"), "eventstack_processor");
      assert.match(token.searchParams.get("X-Amz-Credential") ?? "", /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/rds-db\/aws4_request$/);
      assert.equal(token.searchParams.get("X-Amz-Expires"), "900");
      assert.match(token.searchParams.get("X-Amz-Signature") ?? "", /^[0-9a-f]{64}$/);
    } finally {
      server.close();
    }
  });

  test("locally (the defaults): plain connection, password from the environment", () => {
    const options = poolConfig(loadConfig({ PGPASSWORD: "local" }), "test");
    assert.equal(options.ssl, false);
    assert.equal(options.password, "local");
  });
});

/** A Redis that speaks TLS and just enough RESP for a client to authenticate and pass the ready check. */
function fakeRedis() {
  const seen: { servername?: string | false; commands: string[][] } = { commands: [] };
  const server = tls.createServer({ key: cert.key, cert: cert.cert }, (socket) => {
    seen.servername = (socket as tls.TLSSocket & { servername?: string | false }).servername;
    socket.on("error", () => undefined);
    let pending = "";
    socket.on("data", (d: Buffer) => {
      pending += d.toString("latin1");
      // Commands arrive as RESP arrays of bulk strings: *N\r\n$len\r\narg\r\n...
      for (;;) {
        const m = /^\*(\d+)\r\n/.exec(pending);
        if (!m) return;
        const args: string[] = [];
        let rest = pending.slice(m[0].length);
        for (let i = 0; i < Number(m[1]); i++) {
          const b = /^\$(\d+)\r\n/.exec(rest);
          if (!b || rest.length < b[0].length + Number(b[1]) + 2) return;
          args.push(rest.slice(b[0].length, b[0].length + Number(b[1])));
          rest = rest.slice(b[0].length + Number(b[1]) + 2);
        }
        pending = rest;
        seen.commands.push(args);
        const command = args[0]?.toUpperCase();
        if (command === "INFO") {
          const info = "# Server\r\nredis_version:7.2.4\r\nloading:0\r\n";
          socket.write(`$${info.length}\r\n${info}\r\n`);
        } else socket.write(command === "AUTH" ? "+OK\r\n" : "-ERR not in this test\r\n");
      }
    });
  });
  return { server, seen };
}

describe("Redis: TLS and an ElastiCache RBAC user", () => {
  test("options: TLS with SNI of the endpoint, username and password, no offline queue, reconnect on failover errors", () => {
    const o = redisOptions(loadConfig({ REDIS_HOST: "master.eventstack-prod.abc123.euw1.cache.amazonaws.com", REDIS_TLS: "true", REDIS_USERNAME: "processor", REDIS_PASSWORD: "s3cret" }));
    assert.deepEqual(o.tls, { servername: "master.eventstack-prod.abc123.euw1.cache.amazonaws.com" });
    assert.equal(o.username, "processor");
    assert.equal(o.password, "s3cret");
    assert.equal(o.enableOfflineQueue, false);
    assert.equal(redisOptions(loadConfig({})).tls, undefined);
    assert.equal(reconnectOnError(new Error("READONLY You can't write against a read only replica.")), true);
    assert.equal(reconnectOnError(new Error("LOADING Redis is loading the dataset in memory")), true);
    assert.equal(reconnectOnError(new Error("NOPERM this user has no permissions to run the 'flushdb' command")), false);
  });

  test("the client authenticates as the user over verified TLS, and refuses a certificate it cannot verify", async () => {
    const { server, seen } = fakeRedis();
    const port = await listen(server);
    const options = redisOptions(loadConfig({ REDIS_HOST: "localhost", REDIS_PORT: String(port), REDIS_TLS: "true", REDIS_USERNAME: "processor", REDIS_PASSWORD: "s3cret" }));
    const untrusted = new Redis({ ...options, retryStrategy: () => null });
    const trusted = new Redis({ ...options, tls: { ...options.tls, ca: cert.cert } });
    try {
      // ioredis reports the TLS failure as an error event (the connect promise only says the connection closed).
      const refused = once(untrusted, "error");
      untrusted.connect().catch(() => undefined);
      assert.match(((await refused)[0] as Error).message, /self-signed certificate/);
      await trusted.connect();
      assert.equal(trusted.status, "ready");
      assert.equal(seen.servername, "localhost");
      // AUTH before anything else, then (after ioredis's CLIENT SETINFO, allowed by +@connection) the INFO ready check.
      assert.deepEqual(seen.commands[0], ["auth", "processor", "s3cret"]);
      assert.deepEqual(seen.commands.at(-1), ["info"]);
    } finally {
      untrusted.disconnect();
      trusted.disconnect();
      server.close();
    }
  });
});

describe("MSK: IAM authentication", () => {
  test("TLS with SNI and SASL OAUTHBEARER whose token is a signed kafka-cluster:Connect request for the region", async () => {
    const o = kafkaBaseOptions(loadConfig({ KAFKA_AUTH: "msk-iam", AWS_REGION: "eu-west-1", KAFKA_BOOTSTRAP: "b-1.msk:9098" }), "consumer");
    // @eventstack/runtime's kafkaSecurity, the same as ingest's: certificates verified (Node's default, stated).
    assert.deepEqual(o.tls, { rejectUnauthorized: true });
    assert.equal(o.tlsServerName, true);
    assert.equal(o.sasl?.mechanism, "OAUTHBEARER");
    const token = await (o.sasl?.token as () => Promise<string>)();
    const url = new URL(Buffer.from(token, "base64url").toString("utf8"));
    assert.equal(url.host, "kafka.eu-west-1.amazonaws.com");
    assert.equal(url.searchParams.get("Action"), "kafka-cluster:Connect");
    assert.match(url.searchParams.get("X-Amz-Credential") ?? "", /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/);
    assert.equal(kafkaBaseOptions(loadConfig({}), "consumer").sasl, undefined);
    // The fetch loop's own connections (src/wire/fetcher.ts) carry the same TLS, SNI and SASL settings.
    const fetch = fetchConnectionOptions(loadConfig({ KAFKA_AUTH: "msk-iam", AWS_REGION: "eu-west-1", KAFKA_BOOTSTRAP: "b-1.msk:9098" }));
    assert.deepEqual(fetch.tls, o.tls);
    assert.equal(fetch.tlsServerName, true);
    assert.equal(fetch.sasl?.mechanism, "OAUTHBEARER");
    assert.equal(typeof fetch.sasl?.token, "function");
    assert.deepEqual(fetchConnectionOptions(loadConfig({})), { tls: undefined, tlsServerName: undefined, sasl: undefined, requestTimeout: 30_000 });
    // The request timeout applies to every Kafka connection, the fetch loop's included.
    const timeouts = loadConfig({ KAFKA_REQUEST_TIMEOUT_MS: "2000" });
    assert.deepEqual([kafkaBaseOptions(timeouts, "dlq").requestTimeout, fetchConnectionOptions(timeouts).requestTimeout], [2000, 2000]);
  });
});

describe("credentials from Secrets Manager", () => {
  const secret = JSON.stringify({ username: "eventstack-prod-processor", password: "p@ss" });

  test("REDIS_AUTH_SECRET_ARN fills the Redis user; PG_MASTER_SECRET_ARN the PostgreSQL password (and the user unless PGUSER is set)", async () => {
    const asked: string[] = [];
    const fetch = async (arn: string) => {
      asked.push(arn);
      return arn.includes("cache") ? secret : JSON.stringify({ username: "eventstack_admin", password: "master" });
    };
    const master = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-1234-AbCdEf";
    const c = await resolveSecrets(loadConfig({ REDIS_AUTH_SECRET_ARN: ARN, PG_MASTER_SECRET_ARN: master }), fetch);
    assert.deepEqual(asked, [ARN, master]);
    assert.deepEqual([c.redis.username, c.redis.password], ["eventstack-prod-processor", "p@ss"]);
    assert.deepEqual([c.pg.user, c.pg.password], ["eventstack_admin", "master"]);
    const withUser = await resolveSecrets(loadConfig({ PG_MASTER_SECRET_ARN: master, PGUSER: "postgres" }), fetch);
    assert.deepEqual([withUser.pg.user, withUser.pg.password], ["postgres", "master"]);
    const none = loadConfig({});
    assert.equal(await resolveSecrets(none, fetch), none);
  });

  test("a secret that cannot be read, or is not the expected JSON, is a configuration error that does not echo it", async () => {
    await assert.rejects(readCredentials(ARN, "REDIS_AUTH_SECRET_ARN", async () => Promise.reject(new Error("AccessDeniedException"))), {
      message: `invalid configuration:\n  - REDIS_AUTH_SECRET_ARN: reading secret ${ARN} failed: AccessDeniedException`,
    });
    for (const text of ["hunter2", JSON.stringify({ user: "x", password: "hunter2" }), undefined]) {
      await assert.rejects(readCredentials(ARN, "REDIS_AUTH_SECRET_ARN", async () => text), {
        message: `invalid configuration:\n  - REDIS_AUTH_SECRET_ARN: secret ${ARN} must be a JSON object with non-empty string fields "username" and "password"`,
      });
    }
  });

  test("the real client: a signed GetSecretValue for the ARN, in the ARN's region", async () => {
    const requests: { target?: string; authorization?: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        requests.push({ target: req.headers["x-amz-target"] as string, authorization: req.headers.authorization, body });
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify({ ARN, Name: "eventstack-dev/cache/processor", SecretString: secret, VersionId: "v1" }));
      });
    });
    const port = await listen(server);
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = `http://127.0.0.1:${port}`;
    try {
      assert.equal(await secretsManager(ARN), secret);
      assert.equal(requests.length, 1);
      assert.equal(requests[0]?.target, "secretsmanager.GetSecretValue");
      assert.deepEqual(JSON.parse(requests[0]?.body ?? ""), { SecretId: ARN });
      assert.match(requests[0]?.authorization ?? "", /Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
      server.close();
    }
  });
});


