// One customer-managed KMS key per data service (Aurora, ElastiCache, MSK), so that each key's grants and
// audit trail cover one service, and a workload that may decrypt one service's secret (the migrate Job and
// the database master secret) gains nothing on the others.
//
// The key policy is AWS's default one (the account's root principal may use and manage the key), which
// delegates every use of the key to IAM: the data services use it through their service-linked roles and
// grants, and a workload may decrypt only where its own IAM policy names this key's ARN.
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

/** Defaults of every data key, in one place. */
export const DATA_KEY_DEFAULTS = {
  /** Yearly automatic rotation: old key material stays available for decryption, new data uses the new one. */
  enableKeyRotation: true,
  /** The longest waiting period, so a mistaken deletion of a data service's key can still be cancelled. */
  deletionWindowInDays: 30,
} as const;

export interface DataKeyArgs {
  /** What the key protects, shown in the console and in CloudTrail. */
  description: string;
  /** The alias, without `alias/`, e.g. `eventstack-prod/database`. Unique per account and region. */
  alias: string;
  /**
   * The key policy. Default: none, so AWS applies its default policy (the account administers the key through IAM).
   * Set it when an AWS service must use the key without an IAM role of the account (CloudWatch Logs, SNS publishers).
   */
  policy?: pulumi.Input<string>;
}

export interface DataKey {
  key: aws.kms.Key;
  /** ARN of the key: what RDS, ElastiCache, MSK, Secrets Manager and IAM policies take. */
  arn: pulumi.Output<string>;
}

/**
 * Creates a symmetric encryption key with rotation on and an alias. `name` is the Pulumi name prefix; the
 * children are `${name}-key` and `${name}-key-alias`.
 */
export function createDataKey(name: string, args: DataKeyArgs, opts: { parent: pulumi.Resource; provider: aws.Provider }): DataKey {
  const key = new aws.kms.Key(
    `${name}-key`,
    {
      description: args.description,
      keyUsage: "ENCRYPT_DECRYPT",
      customerMasterKeySpec: "SYMMETRIC_DEFAULT",
      enableKeyRotation: DATA_KEY_DEFAULTS.enableKeyRotation,
      deletionWindowInDays: DATA_KEY_DEFAULTS.deletionWindowInDays,
      policy: args.policy,
      tags: { Name: args.alias },
    },
    opts,
  );
  new aws.kms.Alias(`${name}-key-alias`, { name: `alias/${args.alias}`, targetKeyId: key.keyId }, opts);
  return { key, arn: key.arn };
}
