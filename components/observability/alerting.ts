// Where alerts go: one SNS topic for the stack, fed by the AMP alert manager (Prometheus rules) and by the CloudWatch
// alarms (./alarms.ts).
//
// Creates:
//   - the topic `<identifier>-alerts`, encrypted with the observability key;
//   - its policy: AMP may publish for this workspace only, CloudWatch for this stack's alarms only (./policies.ts);
//   - an email subscription per address in `alertEmails` (each must be confirmed from the mail SNS sends);
//   - the workspace's alert manager definition: every alert to the topic, grouped by alert name, signed with SigV4 in
//     the workspace's region.
//
// Expects from its caller: the Metrics component's workspace and key, the region and the addresses.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { alertTopicPolicy } from "./policies";

export const ALERTING_DEFAULTS = {
  alertEmails: [] as string[],
  /** How long the alert manager waits to batch the first alerts of a group, and between repeats of one still firing. */
  groupWait: "30s",
  repeatInterval: "4h",
};

export interface AlertingArgs {
  /** The stack's name: the topic is `<identifier>-alerts`, the alarms `<identifier>-…`. */
  identifier: string;
  /** The AMP workspace (Metrics.workspaceId / workspaceArn). */
  workspaceId: pulumi.Input<string>;
  workspaceArn: pulumi.Input<string>;
  /** The observability key (Metrics.keyArn): the topic's encryption key. */
  keyArn: pulumi.Input<string>;
  /** Email addresses subscribed to the topic. Default []. Config `observability.alertEmails`. */
  alertEmails?: string[];
}

/** The alert manager definition AMP takes: Alertmanager's configuration under `alertmanager_config`. */
export function alertManagerDefinition(topicArn: string, region: string): string {
  const config = {
    route: { receiver: "sns", group_by: ["alertname"], group_wait: ALERTING_DEFAULTS.groupWait, repeat_interval: ALERTING_DEFAULTS.repeatInterval },
    receivers: [{ name: "sns", sns_configs: [{ topic_arn: topicArn, sigv4: { region }, attributes: { severity: "{{ .CommonLabels.severity }}" } }] }],
  };
  return stringify({ alertmanager_config: stringify(config) });
}

export class Alerting extends pulumi.ComponentResource {
  /** The alert topic: where every alarm and alert of the stack is published. */
  readonly topicArn: pulumi.Output<string>;
  /** The prefix every CloudWatch alarm of the stack is named with, which the topic policy admits. */
  readonly alarmPrefix: string;

  constructor(name: string, args: AlertingArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:observability:Alerting", name, {}, opts);
    const alertEmails = args.alertEmails ?? ALERTING_DEFAULTS.alertEmails;
    const childOpts = { parent: this, provider: opts.provider };
    const identity = aws.getCallerIdentityOutput({}, childOpts);
    const partition = aws.getPartitionOutput({}, childOpts).partition;
    const region = aws.getRegionOutput({}, childOpts).region;
    this.alarmPrefix = `${args.identifier}-`;

    const topic = new aws.sns.Topic(`${name}-topic`, { name: `${args.identifier}-alerts`, kmsMasterKeyId: args.keyArn, tags: { Name: `${args.identifier}-alerts` } }, childOpts);
    const policy = new aws.sns.TopicPolicy(
      `${name}-topic-policy`,
      {
        arn: topic.arn,
        policy: pulumi
          .all([partition, region, identity.accountId, topic.arn, args.workspaceArn])
          .apply(([p, r, account, topicArn, workspaceArn]) =>
            JSON.stringify(alertTopicPolicy({ partition: p, region: r, account, topicArn, workspaceArn, alarmPrefix: this.alarmPrefix })),
          ),
      },
      childOpts,
    );
    alertEmails.forEach((email, i) => new aws.sns.TopicSubscription(`${name}-email-${i + 1}`, { topic: topic.arn, protocol: "email", endpoint: email }, childOpts));
    new aws.amp.AlertManagerDefinition(
      `${name}-alert-manager`,
      { workspaceId: args.workspaceId, definition: pulumi.all([topic.arn, region]).apply(([arn, r]) => alertManagerDefinition(arn, r)) },
      // AMP checks that it may publish when the definition is applied.
      { ...childOpts, dependsOn: [policy] },
    );

    this.topicArn = topic.arn;
    this.registerOutputs({ topicArn: this.topicArn, alarmPrefix: this.alarmPrefix });
  }
}
