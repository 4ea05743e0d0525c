// Container logs to CloudWatch Logs: Fluent Bit on every node, into log groups the program owns.
//
// Creates:
//   - two log groups under the observability key's prefix, each with `logRetentionDays` and the observability key:
//     `<prefix>application` (the apps' namespace) and `<prefix>platform` (every other namespace). The agent may not
//     create groups (its policy has no logs:CreateLogGroup and its outputs say `auto_create_group Off`), so nothing
//     unbounded or unencrypted appears beside them;
//   - the Pod Identity role `observability/fluent-bit`: CreateLogStream, DescribeLogStreams and PutLogEvents on those
//     two groups only (./policies.ts);
//   - the fluent-bit chart as a DaemonSet that tolerates every taint (system and Karpenter nodes alike), tailing
//     /var/log/containers with the Kubernetes metadata filter. Fluent Bit reads Pod Identity credentials since
//     fluent/fluent-bit#10115 (Fluent Bit 4.0; the pin is 5.1.1).
//
// Expects from its caller: the cluster, the namespace, the key and prefix (Metrics.keyArn, Metrics.logGroupPrefix).
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Cluster } from "../cluster";
import { createPodIdentityRole } from "../pod-identity";
import { VERSIONS } from "../versions";
import { containerLogsPolicy } from "./policies";
import { CONTAINER_LOGS_DEFAULTS } from "../defaults/container-logs";
export { CONTAINER_LOGS_DEFAULTS };

export interface ContainerLogsArgs {
  cluster: Cluster;
  /** The namespace (Collector.namespace) and what its existence is (Collector.ready). */
  namespace: string;
  namespaceReady: pulumi.Resource[];
  /** The apps' namespace: its containers' logs go to the application group. */
  appsNamespace: string;
  /** The log group name prefix (Metrics.logGroupPrefix), which the key policy admits. */
  logGroupPrefix: string;
  /** The observability key (Metrics.keyArn). */
  keyArn: pulumi.Input<string>;
  /** Retention of both groups, in days. Config `logRetentionDays`. */
  logRetentionDays: number;
  region: string;
}

/**
 * Fluent Bit's pipeline (the chart's `config` sections). Records are tagged by the tail input with the file name,
 * `kube.var.log.containers.<pod>_<namespace>_<container>-<id>.log`, so the namespace decides the group by regex.
 */
export function fluentBitConfig(a: { appsNamespace: string; applicationGroup: string; platformGroup: string; region: string }) {
  const output = (matchRegex: string, group: string) =>
    [
      "[OUTPUT]",
      "    Name cloudwatch_logs",
      `    Match_Regex ${matchRegex}`,
      `    region ${a.region}`,
      `    log_group_name ${group}`,
      "    log_stream_prefix ${HOSTNAME}.",
      "    auto_create_group Off",
      "    retry_limit 5",
    ].join("\n");
  const apps = a.appsNamespace.replace(/[.]/g, "\\.");
  return {
    service: ["[SERVICE]", "    Daemon Off", "    Flush 5", "    Log_Level warn", "    Parsers_File /fluent-bit/etc/parsers.conf", "    HTTP_Server On", "    HTTP_Listen 0.0.0.0", "    HTTP_Port 2020", "    Health_Check On"].join("\n"),
    inputs: ["[INPUT]", "    Name tail", "    Path /var/log/containers/*.log", "    multiline.parser cri", "    Tag kube.*", "    Mem_Buf_Limit 16MB", "    Skip_Long_Lines On"].join("\n"),
    filters: ["[FILTER]", "    Name kubernetes", "    Match kube.*", "    Merge_Log On", "    Keep_Log Off", "    K8S-Logging.Parser On", "    K8S-Logging.Exclude On"].join("\n"),
    outputs: [
      output(`^kube\\.var\\.log\\.containers\\.[^_]+_${apps}_.*`, a.applicationGroup),
      output(`^kube\\.var\\.log\\.containers\\.[^_]+_(?!${apps}_)[^_]+_.*`, a.platformGroup),
    ].join("\n\n"),
  };
}

export class ContainerLogs extends pulumi.ComponentResource {
  readonly logGroupNames: { application: pulumi.Output<string>; platform: pulumi.Output<string> };
  readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: ContainerLogsArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:observability:ContainerLogs", name, {}, opts);
    const awsOpts = { parent: this, provider: opts.provider };
    const k8sOpts = { parent: this, provider: args.cluster.provider };
    const group = (kind: "application" | "platform") =>
      new aws.cloudwatch.LogGroup(`${name}-${kind}`, { name: `${args.logGroupPrefix}${kind}`, retentionInDays: args.logRetentionDays, kmsKeyId: args.keyArn }, awsOpts);
    const application = group("application");
    const platform = group("platform");

    const role = createPodIdentityRole(
      `${name}-fluent-bit`,
      {
        clusterName: args.cluster.name,
        clusterArn: args.cluster.clusterArn,
        namespace: args.namespace,
        serviceAccount: CONTAINER_LOGS_DEFAULTS.name,
        description: "Fluent Bit: container logs into the program's log groups",
        policies: { logs: pulumi.all([application.arn, platform.arn]).apply((arns) => containerLogsPolicy(arns)) },
      },
      awsOpts,
    );

    new k8s.helm.v3.Release(
      `${name}-fluent-bit`,
      {
        name: CONTAINER_LOGS_DEFAULTS.name,
        chart: VERSIONS.charts.fluentBit.chart,
        version: VERSIONS.charts.fluentBit.version,
        repositoryOpts: { repo: VERSIONS.charts.fluentBit.repo },
        namespace: args.namespace,
        values: pulumi.all([application.name, platform.name]).apply(([applicationGroup, platformGroup]) => ({
          kind: "DaemonSet",
          fullnameOverride: CONTAINER_LOGS_DEFAULTS.name,
          serviceAccount: { create: true, name: CONTAINER_LOGS_DEFAULTS.name },
          // Every node, the tainted system nodes included.
          tolerations: [{ operator: "Exists" }],
          env: [{ name: "AWS_REGION", value: args.region }],
          resources: CONTAINER_LOGS_DEFAULTS.resources,
          testFramework: { enabled: false },
          config: fluentBitConfig({ appsNamespace: args.appsNamespace, applicationGroup, platformGroup, region: args.region }),
        })),
      },
      { ...k8sOpts, dependsOn: [...args.namespaceReady, role.association, application, platform] },
    );

    this.logGroupNames = { application: application.name, platform: platform.name };
    this.roleArn = role.role.arn;
    this.registerOutputs({ logGroupNames: this.logGroupNames, roleArn: this.roleArn });
  }
}
