/**
 * How a Kafka client reaches the brokers: plaintext locally, TLS, and SASL/OAUTHBEARER with an MSK IAM token on AWS.
 *
 * The token is signed by aws-msk-iam-sasl-signer-js from the AWS SDK's default credential chain, which on EKS picks
 * up Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI and its token file) or IRSA (AWS_WEB_IDENTITY_TOKEN_FILE); no
 * key is configured. The Kafka client calls `token` on every (re-)authentication and re-authenticates each
 * connection before the session lifetime MSK returns ends (KIP-368), so tokens (valid 15 minutes) are refreshed
 * without reconnecting.
 *
 * The result is plain data in @platformatic/kafka's option names (`tls`, `tlsServerName`, `sasl`), without
 * importing the client, so each service spreads it into the options of the client version it uses.
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { generateAuthToken } from "aws-msk-iam-sasl-signer-js";
import type { KafkaConnection } from "./env.js";

export interface KafkaSecurity {
  tls?: TlsOptions;
  /** SNI: present the broker's host name, which MSK's certificates are issued for. */
  tlsServerName?: boolean;
  sasl?: { mechanism: "OAUTHBEARER"; token: () => Promise<string> };
}

/** Signs an MSK IAM token for `region`; replaceable in tests. */
export type MskTokenSigner = (region: string) => Promise<string>;

const signMskToken: MskTokenSigner = async (region) => (await generateAuthToken({ region })).token;

/** `awsRegion` signs the MSK IAM tokens; required with msk-iam (EnvReader.kafkaConnection refuses msk-iam without it). */
export function kafkaSecurity(kafka: Pick<KafkaConnection, "auth" | "tls">, awsRegion: string | undefined, sign: MskTokenSigner = signMskToken): KafkaSecurity {
  const security: KafkaSecurity = {};
  if (kafka.tls) {
    // The system trust store verifies MSK's certificates (Amazon Trust Services).
    security.tls = { rejectUnauthorized: true };
    security.tlsServerName = true;
  }
  if (kafka.auth === "msk-iam") {
    if (awsRegion === undefined) throw new Error("KAFKA_AUTH msk-iam needs an AWS region (AWS_REGION) to sign its tokens");
    const region = awsRegion;
    security.sasl = { mechanism: "OAUTHBEARER", token: () => sign(region) };
  }
  return security;
}
