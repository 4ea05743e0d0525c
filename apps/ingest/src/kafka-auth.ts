/**
 * How the producer reaches Kafka: plaintext locally, TLS, and SASL/OAUTHBEARER with an MSK IAM token on AWS.
 *
 * The token is signed by aws-msk-iam-sasl-signer-js from the AWS SDK's default credential chain, which on EKS
 * picks up Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI and its token file, injected by the Pod Identity
 * agent) or IRSA (AWS_WEB_IDENTITY_TOKEN_FILE); no key is configured. @platformatic/kafka calls `token` on every
 * (re-)authentication, and re-authenticates each connection at 80% of the session lifetime MSK returns
 * (KIP-368), so tokens (valid 15 minutes) are refreshed without reconnecting.
 */
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { SASLMechanisms, type SASLOptions } from "@platformatic/kafka";
import { generateAuthToken } from "aws-msk-iam-sasl-signer-js";
import type { Config } from "./config.js";

export interface KafkaSecurity {
  tls?: TlsOptions;
  tlsServerName?: boolean;
  sasl?: SASLOptions;
}

export function kafkaSecurity(kafka: Config["kafka"], awsRegion: string | undefined): KafkaSecurity {
  const security: KafkaSecurity = {};
  if (kafka.tls) {
    // The system trust store verifies MSK's certificates (Amazon Trust Services); SNI names the broker host.
    security.tls = { rejectUnauthorized: true };
    security.tlsServerName = true;
  }
  if (kafka.auth === "msk-iam") {
    const region = awsRegion as string; // loadConfig refuses msk-iam without a region
    security.sasl = {
      mechanism: SASLMechanisms.OAUTHBEARER,
      token: async () => (await generateAuthToken({ region })).token,
    };
  }
  return security;
}
