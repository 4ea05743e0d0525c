// Observability: alert topics and metric workspaces are encrypted with our own KMS key, and log groups never keep
// data forever.
import type * as aws from "@pulumi/aws";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { forType, present, Props } from "./lib";

export const SNS_TOPIC = "aws:sns/topic:Topic";
export const AMP_WORKSPACE = "aws:amp/workspace:Workspace";
export const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";

type Topic = Props<aws.sns.TopicArgs>;
type Workspace = Props<aws.amp.WorkspaceArgs>;
type LogGroup = Props<aws.cloudwatch.LogGroupArgs>;

export const snsTopicCmk: ResourceValidationPolicy = {
  name: "sns-topic-encrypted-cmk",
  description:
    "SNS topics are encrypted with a customer-managed KMS key: alert messages name resources and thresholds, and AWS service publishers (CloudWatch, AMP) cannot use the AWS-managed alias/aws/sns key. Checkov CKV_AWS_26; Trivy AVD-AWS-0095 and AVD-AWS-0136.",
  enforcementLevel: "mandatory",
  validateResource: forType<Topic>(SNS_TOPIC, (t, _args, report) => {
    if (!present(() => t.kmsMasterKeyId)) report("kmsMasterKeyId is not set, so the topic is not encrypted: set it to the ARN of our KMS key.");
    else if (t.kmsMasterKeyId === "alias/aws/sns") report('kmsMasterKeyId is "alias/aws/sns", the AWS-managed key, which CloudWatch and AMP cannot publish with: use our KMS key.');
  }),
};

export const ampWorkspaceCmk: ResourceValidationPolicy = {
  name: "amp-workspace-encrypted-cmk",
  description:
    "Amazon Managed Service for Prometheus workspaces are encrypted with a customer-managed KMS key (AWS-owned otherwise), so key use is ours to audit and revoke. The key is fixed at creation. No Checkov/Trivy equivalent.",
  enforcementLevel: "mandatory",
  validateResource: forType<Workspace>(AMP_WORKSPACE, (w, _args, report) => {
    if (!present(() => w.kmsKeyArn)) report("kmsKeyArn is not set, so an AWS-owned key encrypts the workspace: set it to the ARN of our KMS key (this replaces an existing workspace).");
  }),
};

export const logGroupRetention: ResourceValidationPolicy = {
  name: "log-group-retention",
  description: "CloudWatch log groups set a retention period (never-expire is the default). Checkov CKV_AWS_338 (at least a year, stricter); no Trivy equivalent.",
  enforcementLevel: "mandatory",
  validateResource: forType<LogGroup>(LOG_GROUP, (g, _args, report) => {
    if (!present(() => g.retentionInDays) || g.retentionInDays === 0) report("retentionInDays is not set, so the logs never expire: set it (the logRetentionDays config key).");
  }),
};

export const observabilityPolicies = [snsTopicCmk, ampWorkspaceCmk, logGroupRetention];
