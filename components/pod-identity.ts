// An IAM role for one Kubernetes service account, delivered by EKS Pod Identity, and the one trust policy every
// Pod Identity role of the program carries (the controllers' here, the workloads' in ./workload-iam.ts).
//
// Pod Identity rather than IRSA: no OIDC provider to create or trust, the association lives in the EKS API
// (so the chart's ServiceAccount needs no annotation), and the credentials come from the node-local agent
// (169.254.170.23), not from IMDS, which is why nodes can keep an IMDS hop limit of 1.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface PodIdentityRoleArgs {
  /** Name of the EKS cluster the association is made in. */
  clusterName: pulumi.Input<string>;
  /** ARN of that cluster: the trust policy admits sessions tagged with this cluster only (podIdentityTrustPolicy). */
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

/** Who may hold a Pod Identity role: one service account of one namespace on one cluster. */
export interface PodIdentitySubject {
  /** `arn:<partition>:eks:<region>:<account>:cluster/<name>`. */
  clusterArn: string;
  namespace: string;
  serviceAccount: string;
}

/** The account of an EKS cluster ARN; a clear error for anything else. */
export function clusterAccount(clusterArn: string): string {
  const m = /^arn:[^:]+:eks:[^:]+:(\d{12}):cluster\/[^/]+$/.exec(clusterArn);
  if (!m) throw new Error(`Pod Identity: clusterArn "${clusterArn}" is not an EKS cluster ARN (arn:<partition>:eks:<region>:<account>:cluster/<name>)`);
  return m[1]!;
}

/**
 * The trust policy of every Pod Identity role: the EKS Pod Identity service may assume the role and tag the
 * session, for exactly one service account of one namespace on one cluster.
 *
 * What Pod Identity puts in the AssumeRole request is what this can be conditioned on: it calls
 * sts:AssumeRole and sts:TagSession with the session tags eks-cluster-arn, eks-cluster-name,
 * kubernetes-namespace, kubernetes-service-account, kubernetes-pod-name and kubernetes-pod-uid (EKS user guide,
 * pages pod-id-role and pod-id-abac, read 2026-12-05). AWS documents no aws:SourceArn for it, so a condition on
 * aws:SourceArn never matches and the role is never assumable. The cluster ARN tag pins the account too; the
 * aws:SourceAccount condition is a second guard, `IfExists` because that page does not say Pod Identity sends the
 * key: present and another account, the request is refused; absent, the tags alone decide.
 *
 * An association created with `disableSessionTags` carries no tags and is refused: keep session tags on.
 */
export function podIdentityTrustPolicy(s: PodIdentitySubject) {
  return {
    Version: "2012-10-17" as const,
    Statement: [
      {
        Sid: "EksPodIdentity",
        Effect: "Allow" as const,
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: {
            "aws:RequestTag/eks-cluster-arn": s.clusterArn,
            "aws:RequestTag/kubernetes-namespace": s.namespace,
            "aws:RequestTag/kubernetes-service-account": s.serviceAccount,
          },
          StringEqualsIfExists: { "aws:SourceAccount": clusterAccount(s.clusterArn) },
        },
      },
    ],
  };
}

/** podIdentityTrustPolicy as the JSON a Role's assumeRolePolicy takes, once the cluster ARN is known. */
export function podIdentityTrustPolicyJson(clusterArn: pulumi.Input<string>, namespace: string, serviceAccount: string): pulumi.Output<string> {
  return pulumi.output(clusterArn).apply((arn) => JSON.stringify(podIdentityTrustPolicy({ clusterArn: arn, namespace, serviceAccount })));
}

/** Creates the role, its inline policies and the Pod Identity association; returns the role and association. */
export function createPodIdentityRole(name: string, args: PodIdentityRoleArgs, opts: { parent: pulumi.Resource; provider: aws.Provider }) {
  const role = new aws.iam.Role(
    name,
    {
      description: args.description ?? `Pod Identity role for ${args.namespace}/${args.serviceAccount}`,
      assumeRolePolicy: podIdentityTrustPolicyJson(args.clusterArn, args.namespace, args.serviceAccount),
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
