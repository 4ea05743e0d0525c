// MSK: clients authenticate with IAM and nothing else, every client connection is TLS, data at rest is
// encrypted with our own KMS key, and broker logs go somewhere.
import type * as aws from "@pulumi/aws";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asArray, forType, forTypes, present, Props } from "./lib";

export const MSK_CLUSTER = "aws:msk/cluster:Cluster";
export const MSK_SERVERLESS = "aws:msk/serverlessCluster:ServerlessCluster";

type Cluster = Props<aws.msk.ClusterArgs>;
type Serverless = Props<aws.msk.ServerlessClusterArgs>;

export const mskIamOnly: ResourceValidationPolicy = {
  name: "msk-iam-authentication-only",
  description:
    "Kafka clients authenticate with IAM only: no unauthenticated access, no SCRAM secrets, no mutual-TLS certificates to leak or rotate. No direct Checkov/Trivy equivalent (Checkov CKV_AWS_81 and Trivy AVD-AWS-0073 cover the transport).",
  enforcementLevel: "mandatory",
  validateResource: forTypes<any>({
    [MSK_CLUSTER]: (c: Cluster, _args, report) => {
      const auth = c.clientAuthentication;
      const problems = [
        auth?.sasl?.iam !== true ? "clientAuthentication.sasl.iam is not true" : undefined,
        auth?.unauthenticated === true ? "clientAuthentication.unauthenticated is true" : undefined,
        auth?.sasl?.scram === true ? "clientAuthentication.sasl.scram is true" : undefined,
        asArray(auth?.tls?.certificateAuthorityArns).length > 0 ? "clientAuthentication.tls sets certificate authorities" : undefined,
      ].filter((p) => p !== undefined);
      if (problems.length) report(`${problems.join("; ")}: use clientAuthentication: { sasl: { iam: true }, unauthenticated: false } and nothing else.`);
    },
    [MSK_SERVERLESS]: (c: Serverless, _args, report) => {
      if (c.clientAuthentication?.sasl?.iam?.enabled !== true) report("clientAuthentication.sasl.iam.enabled is not true: set it to true.");
    },
  }),
};

export const mskTls: ResourceValidationPolicy = {
  name: "msk-tls-in-transit",
  description: "Client-broker traffic is TLS only and brokers encrypt traffic between themselves. Checkov CKV_AWS_81; Trivy AVD-AWS-0073.",
  enforcementLevel: "mandatory",
  validateResource: forType<Cluster>(MSK_CLUSTER, (c, _args, report) => {
    // AWS's defaults are TLS and in-cluster encryption, so absent values pass.
    const transit = c.encryptionInfo?.encryptionInTransit;
    const clientBroker = transit?.clientBroker ?? "TLS";
    if (clientBroker !== "TLS") report(`encryptionInfo.encryptionInTransit.clientBroker is "${clientBroker}": set it to "TLS".`);
    if (transit?.inCluster === false) report("encryptionInfo.encryptionInTransit.inCluster is false: set it to true.");
  }),
};

export const mskCmk: ResourceValidationPolicy = {
  name: "msk-encryption-at-rest-cmk",
  description: "Broker storage is encrypted with a customer-managed KMS key (not the AWS-managed default), so key use is ours to audit and revoke. Checkov CKV_AWS_81; Trivy AVD-AWS-0179.",
  enforcementLevel: "mandatory",
  validateResource: forType<Cluster>(MSK_CLUSTER, (c, _args, report) => {
    if (!present(() => c.encryptionInfo?.encryptionAtRestKmsKeyArn)) report("encryptionInfo.encryptionAtRestKmsKeyArn is not set, so AWS's managed key is used: set it to the ARN of our KMS key.");
  }),
};

export const mskBrokerLogs: ResourceValidationPolicy = {
  name: "msk-broker-logging",
  description: "Broker logs are delivered to CloudWatch Logs, Firehose or S3. Checkov CKV_AWS_80; Trivy AVD-AWS-0074.",
  enforcementLevel: "mandatory",
  validateResource: forType<Cluster>(MSK_CLUSTER, (c, _args, report) => {
    const logs = c.loggingInfo?.brokerLogs;
    if (!(logs?.cloudwatchLogs?.enabled || logs?.firehose?.enabled || logs?.s3?.enabled)) {
      report("loggingInfo.brokerLogs delivers to no destination: enable brokerLogs.cloudwatchLogs with a log group.");
    }
  }),
};

export const mskPolicies = [mskIamOnly, mskTls, mskCmk, mskBrokerLogs];
