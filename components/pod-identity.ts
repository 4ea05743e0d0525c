// An IAM role for one Kubernetes service account, delivered by EKS Pod Identity.
//
// Pod Identity rather than IRSA: no OIDC provider to create or trust, the association lives in the EKS API
// (so the chart's ServiceAccount needs no annotation), and the credentials come from the node-local agent
// (169.254.170.23), not from IMDS, which is why nodes can keep an IMDS hop limit of 1.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface PodIdentityRoleArgs {
  /** Name of the EKS cluster the association is made in. */
  clusterName: pulumi.Input<string>;
  /** ARN of that cluster: the trust policy admits sessions for this cluster only (aws:SourceArn). */
  clusterArn: pulumi.Input<string>;
  /** Namespace of the service account. */
  namespace: string;
  /** Name of the service account (what the Helm chart creates). */
  serviceAccount: string;
  /** Inline policies by a short name (`${name}-<key>`), each a policy document object. */
  policies: Record<string, pulumi.Input<object>>;
  /** Description shown in IAM. Default: `Pod Identity role for <namespace>/<serviceAccount>`. */
  description?: string;
}

/** The trust policy of a Pod Identity role: the EKS Pod Identity service, for this account and cluster only. */
export function podIdentityTrustPolicy(accountId: string, clusterArn: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        // TagSession: Pod Identity tags each session with the cluster, namespace and service account.
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: { "aws:SourceAccount": accountId },
          ArnEquals: { "aws:SourceArn": clusterArn },
        },
      },
    ],
  };
}

/** Creates the role, its inline policies and the Pod Identity association; returns the role and association. */
export function createPodIdentityRole(name: string, args: PodIdentityRoleArgs, opts: { parent: pulumi.Resource; provider: aws.Provider }) {
  const account = aws.getCallerIdentityOutput({}, opts);
  const role = new aws.iam.Role(
    name,
    {
      description: args.description ?? `Pod Identity role for ${args.namespace}/${args.serviceAccount}`,
      assumeRolePolicy: pulumi
        .all([account.accountId, args.clusterArn])
        .apply(([accountId, clusterArn]) => JSON.stringify(podIdentityTrustPolicy(accountId, clusterArn))),
    },
    opts,
  );
  const policies = Object.entries(args.policies).map(
    ([key, document]) =>
      new aws.iam.RolePolicy(`${name}-${key}`, { role: role.id, policy: pulumi.output(document).apply((d) => JSON.stringify(d)) }, opts),
  );
  const association = new aws.eks.PodIdentityAssociation(
    name,
    { clusterName: args.clusterName, namespace: args.namespace, serviceAccount: args.serviceAccount, roleArn: role.arn },
    // The policies must be in place before a pod can get credentials through the association.
    { ...opts, dependsOn: policies },
  );
  return { role, policies, association };
}
