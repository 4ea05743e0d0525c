// The IAM and resource policies of the observability components, as pure functions of the ARNs they name, so that
// test/iam-simulation-*.test.ts evaluates exactly what the program hands to AWS.
import type { PolicyDocument } from "../karpenter/policy";

/** The parts of an ARN every policy below is built from. */
export interface AccountRefs {
  partition: string;
  region: string;
  account: string;
}

/** What the collector writes with: samples to one workspace. */
export function remoteWritePolicy(workspaceArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [{ Sid: "RemoteWriteToTheWorkspace", Effect: "Allow", Action: "aps:RemoteWrite", Resource: workspaceArn }],
  };
}

/**
 * Spans to X-Ray. xray:PutTraceSegments and xray:PutTelemetryRecords take no resource ARN (the Service Authorization
 * Reference lists no resource type for either, read 2026-12-06), so `Resource` must be "*". What can be pinned is the
 * region the spans are sent to, through aws:RequestedRegion.
 */
export function xrayPolicy(region: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "SendSpansToXRayInThisRegion",
        Effect: "Allow",
        Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        Resource: "*",
        Condition: { StringEquals: { "aws:RequestedRegion": region } },
      },
    ],
  };
}

/**
 * What the CloudWatch exporter (YACE) reads with. cloudwatch:GetMetricData, cloudwatch:ListMetrics and tag:GetResources
 * cannot be narrowed by resource: a classic CloudWatch metric has no ARN (the only resource type the Service
 * Authorization Reference lists for the two CloudWatch actions, optional, is an OTLP `dataset`, which YACE does not
 * read), and GetResources has none at all (read 2026-12-06, and so in the simulator's data), so `Resource` must be "*".
 * What can be pinned is the region the exporter asks, through aws:RequestedRegion, a global key every request carries. The tags that limit what is exported are in YACE's configuration (./cloudwatch-exporter-config.ts),
 * not in IAM: the data read is metrics and tags, never the resources themselves.
 *
 * YACE's AWS/ApiGateway job maps each tagged API to its metrics with apigateway GetRestApis and apigatewayv2 GetApis
 * (pkg/clients/tagging/filters.go at v0.67.0), which authorize as apigateway:GET on the two collections' ARNs
 * (`/restapis`, `/apis`) of the region; nothing below them (no API's routes, integrations or authorizers).
 */
export function cloudWatchExporterPolicy(a: Pick<AccountRefs, "partition" | "region">): PolicyDocument {
  const inRegion = { StringEquals: { "aws:RequestedRegion": a.region } };
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadCloudWatchMetricsInThisRegion", Effect: "Allow", Action: ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], Resource: "*", Condition: inRegion },
      { Sid: "FindTaggedResourcesInThisRegion", Effect: "Allow", Action: "tag:GetResources", Resource: "*", Condition: inRegion },
      {
        Sid: "ListApiGatewayApisOfThisRegion",
        Effect: "Allow",
        Action: "apigateway:GET",
        Resource: [`arn:${a.partition}:apigateway:${a.region}::/restapis`, `arn:${a.partition}:apigateway:${a.region}::/apis`],
      },
    ],
  };
}

/** What Grafana's datasource reads with: queries, series, labels and metadata of one workspace. */
export function queryPolicy(workspaceArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "QueryTheWorkspace",
        Effect: "Allow",
        Action: ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"],
        Resource: workspaceArn,
      },
    ],
  };
}

/**
 * What the log agent writes with: streams and events in the program's own container log groups only. DescribeLogStreams
 * acts on the log group, CreateLogStream and PutLogEvents on a stream of it (Service Authorization Reference, CloudWatch
 * Logs, read 2026-12-06; the simulator's data says the same). No logs:CreateLogGroup: the program creates the groups,
 * with their retention and key, so the agent cannot create one that never expires.
 */
export function containerLogsPolicy(logGroupArns: string[]): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "FindStreamsOfTheContainerLogGroups", Effect: "Allow", Action: "logs:DescribeLogStreams", Resource: logGroupArns },
      { Sid: "WriteStreamsOfThoseGroups", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: logGroupArns.map((arn) => `${arn}:log-stream:*`) },
    ],
  };
}

/** The ARN prefix of the CloudWatch alarms the program creates (components/observability/alarms.ts names them so). */
export function alarmArnPattern(a: AccountRefs, alarmPrefix: string): string {
  return `arn:${a.partition}:cloudwatch:${a.region}:${a.account}:alarm:${alarmPrefix}*`;
}

/**
 * The alert topic's policy: Amazon Managed Service for Prometheus may publish for this workspace only, and CloudWatch
 * for the program's own alarms only (aws:SourceArn and aws:SourceAccount, the confused-deputy guard both services
 * document: AMP user guide "Permission to publish alert messages to your Amazon SNS topic", CloudWatch user guide
 * "Using Amazon SNS for alarm actions", read 2026-12-06). The account's own principals keep the default owner rights
 * through IAM; nothing else may publish or subscribe.
 */
export function alertTopicPolicy(a: AccountRefs & { topicArn: string; workspaceArn: string; alarmPrefix: string }): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "PrometheusAlertManagerOfThisWorkspace",
        Effect: "Allow",
        Principal: { Service: "aps.amazonaws.com" },
        Action: ["sns:Publish", "sns:GetTopicAttributes"],
        Resource: a.topicArn,
        Condition: { StringEquals: { "aws:SourceAccount": a.account }, ArnEquals: { "aws:SourceArn": a.workspaceArn } },
      },
      {
        Sid: "CloudWatchAlarmsOfThisStack",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: "sns:Publish",
        Resource: a.topicArn,
        Condition: { StringEquals: { "aws:SourceAccount": a.account }, ArnLike: { "aws:SourceArn": alarmArnPattern(a, a.alarmPrefix) } },
      },
    ],
  };
}

/**
 * The observability key's policy. The account administers and uses it through IAM (the default key policy's
 * statement). CloudWatch Logs may encrypt and decrypt the program's container log groups only (the encryption context
 * it sends names the log group: CloudWatch Logs user guide, "Encrypt log data using AWS KMS", read 2026-12-06). AMP and
 * CloudWatch, as publishers to the encrypted alert topic, may generate data keys and decrypt, for this account only
 * (SNS user guide, "Enable compatibility between event sources from AWS services and encrypted topics").
 */
export function observabilityKeyPolicy(a: AccountRefs & { logGroupPrefix: string }): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "AccountAdministersViaIam", Effect: "Allow", Principal: { AWS: `arn:${a.partition}:iam::${a.account}:root` }, Action: "kms:*", Resource: "*" },
      {
        Sid: "CloudWatchLogsForTheContainerLogGroups",
        Effect: "Allow",
        Principal: { Service: `logs.${a.region}.amazonaws.com` },
        Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        Resource: "*",
        // StringLike, not the ArnLike of AWS's example: the key is string-typed (kms:EncryptionContext:${key}), and a
        // trailing wildcard on the whole ARN matches the same log groups either way.
        Condition: { StringLike: { "kms:EncryptionContext:aws:logs:arn": `arn:${a.partition}:logs:${a.region}:${a.account}:log-group:${a.logGroupPrefix}*` } },
      },
      {
        Sid: "AlertPublishersToTheEncryptedTopic",
        Effect: "Allow",
        Principal: { Service: ["aps.amazonaws.com", "cloudwatch.amazonaws.com"] },
        Action: ["kms:GenerateDataKey*", "kms:Decrypt"],
        Resource: "*",
        Condition: { StringEquals: { "aws:SourceAccount": a.account } },
      },
    ],
  };
}
