// What every eventstack pod runs as: its own ServiceAccount (no API token mounted) and the EKS Pod Identity
// association that hands that service account's pods the workload's IAM role (components/workload-iam.ts), plus the
// arguments the services and the migrate Job share.
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { Ready } from "../ready";
import type { Env } from "./pod";

/** Arguments of every workload that runs a service image (the Deployments and the migrate Job). */
export interface PodWorkloadArgs {
  namespace: pulumi.Input<string>;
  kubernetesProvider: k8s.Provider;
  /** The EKS cluster name, for the Pod Identity association. */
  clusterName: pulumi.Input<string>;
  /** `<repository>@sha256:…`. */
  image: pulumi.Input<string>;
  /** The image's content tag, shown as `app.kubernetes.io/version`. */
  version: string;
  /** IAM role the pods assume through EKS Pod Identity. */
  roleArn: pulumi.Input<string>;
  /** The role and its policies (WorkloadIam.roleReady): the association, and so the pods, wait for them. */
  roleReady: Ready;
  /** The service account that role trusts. Default: the workload's name. */
  serviceAccountName?: string;
  /** Environment: non-secret values only (components/service-env.ts). */
  env: Env;
  /** The VPC CIDR, for the NetworkPolicy. */
  vpcCidr: string;
  /**
   * Where the pods may open HTTPS to AWS APIs: the interface endpoints' reserved ranges (Network.awsApiCidrs). Default:
   * none, so HTTPS goes through NAT to public addresses only (see networkPolicy in ./manifests.ts).
   */
  awsApiCidrs?: pulumi.Input<string>[];
  /** Data-service ports the pods dial (and that bypass the proxy). */
  dataPorts: number[];
  /** Linkerd's CRDs and control plane (Linkerd.ready): the pods need the proxy injector. */
  meshReady: Ready;
  /** What else the pods wait for (the migrate Job, the data services, the Pod Identity agent). Default []. */
  dependsOn?: pulumi.Resource[];
}

export function createPodIdentity(
  name: string,
  a: {
    namespace: pulumi.Input<string>;
    serviceAccountName: string;
    labels: Record<string, string>;
    clusterName: pulumi.Input<string>;
    roleArn: pulumi.Input<string>;
    roleReady: Ready;
  },
  opts: { parent: pulumi.Resource; provider: aws.Provider; kubernetesProvider: k8s.Provider },
) {
  const serviceAccount = new k8s.core.v1.ServiceAccount(
    `${name}-service-account`,
    { metadata: { name: a.serviceAccountName, namespace: a.namespace, labels: a.labels }, automountServiceAccountToken: false },
    { parent: opts.parent, provider: opts.kubernetesProvider },
  );
  // The role's trust policy admits this cluster, namespace and service account only.
  const association = new aws.eks.PodIdentityAssociation(
    `${name}-pod-identity`,
    { clusterName: a.clusterName, namespace: a.namespace, serviceAccount: a.serviceAccountName, roleArn: a.roleArn },
    { parent: opts.parent, provider: opts.provider, dependsOn: [serviceAccount, ...a.roleReady] },
  );
  return { serviceAccount, association };
}
