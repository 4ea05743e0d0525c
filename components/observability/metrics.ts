// Where the cluster's metrics are kept and evaluated: an Amazon Managed Service for Prometheus workspace.
//
// Creates:
//   - the stack's observability KMS key (rotating, alias `<identifier>/observability`), whose policy lets CloudWatch Logs
//     use it for the container log groups and AMP and CloudWatch publish to the alert topic it encrypts
//     (./policies.ts, observabilityKeyPolicy);
//   - the workspace, encrypted with that key (`kmsKeyArn`, @pulumi/aws 7.48.0 amp.Workspace; a customer-managed key
//     can only be chosen when the workspace is created, so changing it replaces the workspace and its data);
//   - one rule groups namespace per Prometheus rule file in `rulesDir` (`<name>.rules.yaml` → namespace `<name>`),
//     each file's text as AMP takes it (the Prometheus rule-file format). A file that is not such a document fails
//     the program with its name, before anything is declared.
//
// Expects from its caller: the stack identifier and the AWS provider.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { createDataKey } from "../kms";
import { observabilityKeyPolicy } from "./policies";

export const METRICS_DEFAULTS = {
  /** The repository's rule files (observability/rules/*.rules.yaml). */
  rulesDir: path.resolve(__dirname, "..", "..", "observability", "rules"),
  rulesSuffix: ".rules.yaml",
};

export interface MetricsArgs {
  /** The stack's name (`eventstack-prod`): the workspace alias, the key alias, the log group prefix. */
  identifier: string;
  /** Where the rule files are. Default: observability/rules of this repository. */
  rulesDir?: string;
}

/** One Prometheus rule file, ready for AMP: its namespace name and its text. */
export interface RuleFile {
  namespace: string;
  file: string;
  data: string;
}

/**
 * The rule files of a directory, sorted by name. Each must hold a Prometheus rule-file document (a `groups` list, each
 * group with a `name` and a `rules` list); anything else throws naming the file and what was expected. A directory
 * without rule files throws too: a workspace with no rules alerts on nothing, and that is a wiring mistake.
 */
export function readRuleFiles(dir: string, suffix = METRICS_DEFAULTS.rulesSuffix): RuleFile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort();
  if (files.length === 0) throw new Error(`Metrics: no Prometheus rule files (*${suffix}) in ${dir}`);
  return files.map((file) => {
    const data = readFileSync(path.join(dir, file), "utf8");
    let doc: unknown;
    try {
      doc = parse(data);
    } catch (e) {
      throw new Error(`Metrics: ${file} is not YAML: ${(e as Error).message.split("\n")[0]}`);
    }
    const groups = (doc as { groups?: unknown } | null)?.groups;
    const valid = Array.isArray(groups) && groups.length > 0 && groups.every((g) => typeof g?.name === "string" && Array.isArray(g?.rules));
    if (!valid) throw new Error(`Metrics: ${file} must be a Prometheus rule file: a non-empty \`groups\` list, each group with a \`name\` and a \`rules\` list`);
    const namespace = file.slice(0, -suffix.length);
    // AMP namespace names: 1 to 64 of [0-9A-Za-z_-] (the console's rule; the API reference says only "string").
    if (!/^[0-9A-Za-z_-]{1,64}$/.test(namespace)) throw new Error(`Metrics: ${file}: the namespace name "${namespace}" must be 1 to 64 letters, digits, _ or -`);
    return { namespace, file, data };
  });
}

export class Metrics extends pulumi.ComponentResource {
  readonly workspaceId: pulumi.Output<string>;
  readonly workspaceArn: pulumi.Output<string>;
  /** `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/`: remote write and query URLs start here. */
  readonly prometheusEndpoint: pulumi.Output<string>;
  /** The observability key: the workspace's, the alert topic's and the container log groups'. */
  readonly keyArn: pulumi.Output<string>;
  /** The log group name prefix the key policy admits (ContainerLogs names its groups under it). */
  readonly logGroupPrefix: string;
  /** The rule namespaces, by name. */
  readonly ruleNamespaces: string[];

  constructor(name: string, args: MetricsArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:observability:Metrics", name, {}, opts);
    const rulesDir = args.rulesDir ?? METRICS_DEFAULTS.rulesDir;
    const rules = readRuleFiles(rulesDir);
    const childOpts = { parent: this, provider: opts.provider };
    const identity = aws.getCallerIdentityOutput({}, childOpts);
    const partition = aws.getPartitionOutput({}, childOpts).partition;
    const region = aws.getRegionOutput({}, childOpts).region;
    this.logGroupPrefix = `/eventstack/${args.identifier}/containers/`;

    const key = createDataKey(
      name,
      {
        description: `eventstack ${args.identifier}: metrics workspace, alert topic, container logs`,
        alias: `${args.identifier}/observability`,
        policy: pulumi
          .all([partition, region, identity.accountId])
          .apply(([p, r, account]) => JSON.stringify(observabilityKeyPolicy({ partition: p, region: r, account, logGroupPrefix: this.logGroupPrefix }))),
      },
      childOpts,
    );
    const workspace = new aws.amp.Workspace(`${name}-workspace`, { alias: args.identifier, kmsKeyArn: key.arn, tags: { Name: args.identifier } }, childOpts);
    for (const rule of rules) {
      new aws.amp.RuleGroupNamespace(`${name}-rules-${rule.namespace}`, { workspaceId: workspace.id, name: rule.namespace, data: rule.data }, childOpts);
    }

    this.workspaceId = workspace.id;
    this.workspaceArn = workspace.arn;
    this.prometheusEndpoint = workspace.prometheusEndpoint;
    this.keyArn = key.arn;
    this.ruleNamespaces = rules.map((r) => r.namespace);
    this.registerOutputs({ workspaceId: this.workspaceId, workspaceArn: this.workspaceArn, prometheusEndpoint: this.prometheusEndpoint, keyArn: this.keyArn });
  }
}
