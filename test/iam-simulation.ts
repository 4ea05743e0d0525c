// IAM by evaluation: the program's trust and permission policies, read from the mock-evaluated stack, evaluated
// by an IAM policy simulator (@cloud-copilot/iam-simulate) with the request each AWS service sends, so that a
// condition no request ever satisfies, or a resource pattern wider than intended, shows up as a decision.
//
// Request contexts, as AWS documents them (read 2026-12-05):
//   - EKS Pod Identity: sts:AssumeRole and sts:TagSession by pods.eks.amazonaws.com with the session tags
//     eks-cluster-arn, eks-cluster-name, kubernetes-namespace, kubernetes-service-account, kubernetes-pod-name and
//     kubernetes-pod-uid (EKS user guide, pod-id-role and pod-id-abac). Whether it also sends aws:SourceAccount is
//     not documented, so trusts are evaluated both with and without it.
//   - MSK IAM access control: kafka-cluster:* on cluster, topic and group ARNs (MSK developer guide, "Semantics of
//     IAM authorization policy actions and resources").
//   - RDS IAM authentication: rds-db:connect on arn:…:rds-db:<region>:<account>:dbuser:<cluster resource id>/<user>.
//   - VPC Flow Logs: sts:AssumeRole by vpc-flow-logs.amazonaws.com with aws:SourceAccount and aws:SourceArn (the flow
//     log's ARN), then logs:* on the log group (VPC user guide, "IAM role for publishing flow logs to CloudWatch Logs").
//   - EventBridge to SQS: sqs:SendMessage by events.amazonaws.com with aws:SourceArn = the rule's ARN.
//   - GitHub Actions OIDC: sts:AssumeRoleWithWebIdentity by the account's OIDC provider for
//     token.actions.githubusercontent.com, with the token's claims as the keys `token.actions.githubusercontent.com:sub`
//     and `:aud` (IAM user guide, "Available keys for AWS web identity federation"; GitHub docs, "Configuring OpenID
//     Connect in Amazon Web Services", read 2026-12-06).
import { createValidatedPolicy, validateTrustPolicy } from "@cloud-copilot/iam-policy";
import { runSimulation, runUnsafeSimulation } from "@cloud-copilot/iam-simulate";
import type { RecordedResource, RecordingMocks } from "./mocks";
import { ACCOUNT } from "./mocks";

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";
export type Policy = { Version: string; Statement: any[] };
export type Context = Record<string, string | string[]>;

export interface Request {
  /** An ARN (role session, role) or a service principal (`pods.eks.amazonaws.com`). */
  principal: string;
  action: string;
  resource: string;
  /** Owner of the resource; default: the test account. */
  resourceAccount?: string;
  context?: Context;
  /** Identity policies of the principal (none for a service principal). */
  identity?: Policy[];
  /** The resource's policy: a role's trust policy, a queue's or a key's policy. */
  resourcePolicy?: Policy;
}

/** The simulator's decision; a request or policy it cannot validate fails the test with its errors. */
export async function decide(r: Request): Promise<Decision> {
  const result = await runSimulation(
    {
      request: {
        principal: r.principal,
        action: r.action,
        resource: { resource: r.resource, accountId: r.resourceAccount ?? ACCOUNT },
        contextVariables: r.context ?? {},
      },
      identityPolicies: (r.identity ?? []).map((policy, i) => ({ name: `identity-${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(r.resourcePolicy ? { resourcePolicy: r.resourcePolicy } : {}),
    },
    {},
  );
  if (result.resultType === "error") throw new Error(`the simulator refused ${r.action} on ${r.resource}: ${JSON.stringify(result.errors)}`);
  return result.overallResult as Decision;
}

/**
 * The decision on sts:AssumeRoleWithWebIdentity by an OIDC provider with these claims. runSimulation keeps only the
 * condition keys its service data lists for an action, and an OIDC provider's keys (`<host>:sub`) are named by the
 * provider, so it would drop them and refuse every request; runUnsafeSimulation evaluates the keys as sent. The
 * trust is still validated as a trust policy first, so a malformed one fails the test rather than being refused.
 */
export function decideWebIdentity(r: { providerArn: string; roleArn: string; claims: Record<string, string>; trust: Policy }): Decision {
  const trust = createValidatedPolicy(r.trust, validateTrustPolicy, { name: "trust" });
  if (trust.errors.length > 0) throw new Error(`invalid trust policy: ${JSON.stringify(trust.errors)}`);
  return runUnsafeSimulation(
    {
      request: {
        principal: r.providerArn,
        action: "sts:AssumeRoleWithWebIdentity",
        resource: { resource: r.roleArn, accountId: r.roleArn.split(":")[4]! },
        contextVariables: r.claims,
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: trust as unknown as Policy,
    },
    {},
  ) as Decision;
}

/** The Pod Identity session request for one pod of a service account, with the tags EKS sets. */
export function podIdentityContext(s: { clusterArn: string; namespace: string; serviceAccount: string }, sourceAccount?: string): Context {
  const tags: Record<string, string> = {
    "eks-cluster-arn": s.clusterArn,
    "eks-cluster-name": s.clusterArn.split("/").pop()!,
    "kubernetes-namespace": s.namespace,
    "kubernetes-service-account": s.serviceAccount,
    "kubernetes-pod-name": `${s.serviceAccount}-7d9c5b7f4-x2x9q`,
    "kubernetes-pod-uid": "0b4a3b0e-6f4c-4d2e-9d8e-2a1f3c5b7d90",
  };
  return {
    ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])),
    "aws:TagKeys": Object.keys(tags),
    ...(sourceAccount ? { "aws:SourceAccount": sourceAccount } : {}),
  };
}

/** Both calls Pod Identity makes to assume a role: the session is issued only if each is allowed. */
export async function podIdentityAssume(trust: Policy, roleArn: string, context: Context): Promise<Decision> {
  const decisions = await Promise.all(
    ["sts:AssumeRole", "sts:TagSession"].map((action) => decide({ principal: "pods.eks.amazonaws.com", action, resource: roleArn, context, resourcePolicy: trust })),
  );
  return decisions.find((d) => d !== "Allowed") ?? "Allowed";
}

/** The session ARN a role's credentials act as. */
export const sessionOf = (roleArn: string) => roleArn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/session";

export interface ProgramRole {
  name: string;
  arn: string;
  trust: Policy;
  /** Inline policies (RolePolicy resources) by their resource name. */
  inline: Record<string, Policy>;
  /** Managed policy ARNs attached (RolePolicyAttachment). */
  managed: string[];
}

/** Every IAM role the program declares, with its trust, inline policies and managed attachments. */
export function programRoles(mocks: RecordingMocks): Record<string, ProgramRole> {
  const roles: Record<string, ProgramRole> = {};
  for (const r of mocks.ofType("aws:iam/role:Role")) {
    roles[r.name] = { name: r.name, arn: r.state.arn, trust: JSON.parse(r.inputs.assumeRolePolicy), inline: {}, managed: [] };
  }
  const byReference = (ref: string): ProgramRole => {
    const role = mocks.ofType("aws:iam/role:Role").find((r) => r.state.id === ref || r.state.name === ref);
    if (!role) throw new Error(`no role with id or name "${ref}"`);
    return roles[role.name]!;
  };
  for (const p of mocks.ofType("aws:iam/rolePolicy:RolePolicy")) byReference(p.inputs.role).inline[p.name] = JSON.parse(p.inputs.policy);
  for (const a of mocks.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")) byReference(a.inputs.role).managed.push(a.inputs.policyArn);
  return roles;
}

/** Every Pod Identity association: who (cluster, namespace, service account) holds which role ARN. */
export function associations(mocks: RecordingMocks): { name: string; clusterName: string; namespace: string; serviceAccount: string; roleArn: string }[] {
  return mocks.ofType("aws:eks/podIdentityAssociation:PodIdentityAssociation").map((a: RecordedResource) => ({ name: a.name, ...a.inputs }) as any);
}

/** The EKS cluster's ARN, as EKS reports it. */
export const eksClusterArn = (mocks: RecordingMocks): string => mocks.get("eks:index:Cluster", "cluster-eks").state.eksCluster.arn;

/** The AWS default key policy (no `policy` given at creation): the account's IAM policies decide. */
export const defaultKeyPolicy = (accountId = ACCOUNT): Policy => ({
  Version: "2012-10-17",
  Statement: [{ Sid: "Enable IAM User Permissions", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: "kms:*", Resource: "*" }],
});

/** Another account, for the cross-account refusals. */
export const OTHER_ACCOUNT = "210987654321";
