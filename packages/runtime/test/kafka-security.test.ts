import assert from "node:assert/strict";
import { test } from "node:test";
import { kafkaSecurity } from "../src/index.js";

test("plaintext: no TLS, no SASL", () => {
  assert.deepEqual(kafkaSecurity({ auth: "none", tls: false }, undefined), {});
});

test("TLS: certificates verified, SNI on", () => {
  assert.deepEqual(kafkaSecurity({ auth: "none", tls: true }, undefined), { tls: { rejectUnauthorized: true }, tlsServerName: true });
});

test("msk-iam: OAUTHBEARER whose token is signed for the configured region on every call", async () => {
  const regions: string[] = [];
  const security = kafkaSecurity({ auth: "msk-iam", tls: true }, "eu-west-1", async (region) => (regions.push(region), `token-${regions.length}`));
  assert.equal(security.sasl?.mechanism, "OAUTHBEARER");
  assert.equal(await security.sasl?.token(), "token-1");
  assert.equal(await security.sasl?.token(), "token-2");
  assert.deepEqual(regions, ["eu-west-1", "eu-west-1"]);
  assert.throws(() => kafkaSecurity({ auth: "msk-iam", tls: true }, undefined), { message: "KAFKA_AUTH msk-iam needs an AWS region (AWS_REGION) to sign its tokens" });
});
