// The AWS Load Balancer Controller, installed only to register pods in target groups the program owns.
//
// Creates:
//   - the controller's IAM role, delivered by EKS Pod Identity to `kube-system/aws-load-balancer-controller`, with
//     the policy the controller publishes for its version (components/load-balancer-controller-policy.ts);
//   - the controller's CRDs (TargetGroupBinding, IngressClassParams) as Pulumi-managed objects, from the chart's own
//     crds.yaml at the pinned version, for the reason Karpenter's are (components/karpenter/index.ts): the ingest
//     TargetGroupBinding is declared in this same program and the provider must know its kind;
//   - the Helm release (pinned in components/versions.ts, `skipCrds`), two replicas on the system node group.
//
// eventstack creates the internal NLB, its listener and target group in Pulumi (components/edge) and binds pods to
// the target group with a TargetGroupBinding. The controller is told the VPC and region explicitly: the nodes' IMDS
// hop limit of 1 keeps pods from discovering them through IMDS (components/system-nodes.ts). Its Service mutating
// webhook is off: no Service of type LoadBalancer is meant to exist, and with the webhook on, the controller would
// provision an NLB for any that appeared.
//
// Expects from its caller: the AWS provider, the cluster's name and ARN, its Kubernetes provider and the VPC.
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadBalancerControllerPolicy } from "./load-balancer-controller-policy";
import { createPodIdentityRole } from "./pod-identity";
import type { Ready } from "./ready";
import { systemPlacement } from "./system-nodes";
import { VERSIONS } from "./versions";
import { LOAD_BALANCER_CONTROLLER_DEFAULTS } from "./defaults/load-balancer-controller";
export { LOAD_BALANCER_CONTROLLER_DEFAULTS };

export interface LoadBalancerControllerArgs {
  /** The EKS cluster's name (an output of the cluster, so the release waits for it). */
  clusterName: pulumi.Input<string>;
  /** The EKS cluster's ARN: the Pod Identity role trusts sessions of this cluster only. */
  clusterArn: pulumi.Input<string>;
  /** The cluster's Kubernetes provider. */
  kubernetesProvider: k8s.Provider;
  /** The VPC the controller manages targets in. */
  vpcId: pulumi.Input<string>;
  /** Controller replicas; 2 survives a system node drain (the chart's PDB keeps one). Default 2. */
  replicas?: number;
  /** Resources to wait for (the system nodes, the Pod Identity agent). Default []. */
  dependsOn?: pulumi.Resource[];
}

/** The chart values: identity, placement, and nothing beyond what a TargetGroupBinding needs. */
export function loadBalancerControllerValues(v: { clusterName: string; region: string; vpcId: string; replicas: number }) {
  return {
    clusterName: v.clusterName,
    region: v.region,
    vpcId: v.vpcId,
    replicaCount: v.replicas,
    serviceAccount: { create: true, name: LOAD_BALANCER_CONTROLLER_DEFAULTS.serviceAccount },
    podDisruptionBudget: { maxUnavailable: 1 },
    enableServiceMutatorWebhook: false,
    nodeSelector: systemPlacement.nodeSelector,
    tolerations: systemPlacement.tolerations,
  };
}

/** The CRDs the chart ships (helm/aws-load-balancer-controller/crds/crds.yaml), at the controller's release tag. */
export function loadBalancerControllerCrdsUrl(appVersion: string): string {
  return `https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/${appVersion}/helm/aws-load-balancer-controller/crds/crds.yaml`;
}

export class LoadBalancerController extends pulumi.ComponentResource {
  readonly roleArn: pulumi.Output<string>;
  /** Before TargetGroupBindings, and pods its webhook sees: the CRDs exist and the controller's webhooks serve. */
  readonly ready: Ready;

  constructor(name: string, args: LoadBalancerControllerArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:edge:LoadBalancerController", name, {}, opts);
    const childOpts = { parent: this, provider: opts.provider };
    const replicas = args.replicas ?? LOAD_BALANCER_CONTROLLER_DEFAULTS.replicas;
    const partition = aws.getPartitionOutput({}, childOpts).partition;
    const region = aws.getRegionOutput({}, childOpts).region;

    const identity = createPodIdentityRole(
      `${name}-role`,
      {
        clusterName: args.clusterName,
        clusterArn: args.clusterArn,
        namespace: LOAD_BALANCER_CONTROLLER_DEFAULTS.namespace,
        serviceAccount: LOAD_BALANCER_CONTROLLER_DEFAULTS.serviceAccount,
        description: "AWS Load Balancer Controller: registers eventstack pods in their target groups",
        policies: { controller: partition.apply(loadBalancerControllerPolicy) },
      },
      childOpts,
    );

    const k8sOpts = { parent: this, provider: args.kubernetesProvider };
    const crds = new k8s.yaml.v2.ConfigFile(`${name}-crds`, { file: loadBalancerControllerCrdsUrl(VERSIONS.charts.awsLoadBalancerController.appVersion) }, k8sOpts);

    const release = new k8s.helm.v3.Release(
      `${name}-release`,
      {
        name: "aws-load-balancer-controller",
        chart: VERSIONS.charts.awsLoadBalancerController.chart,
        version: VERSIONS.charts.awsLoadBalancerController.version,
        repositoryOpts: { repo: VERSIONS.charts.awsLoadBalancerController.repo },
        namespace: LOAD_BALANCER_CONTROLLER_DEFAULTS.namespace,
        skipCrds: true,
        values: pulumi
          .all([args.clusterName, region, args.vpcId])
          .apply(([clusterName, r, vpcId]) => loadBalancerControllerValues({ clusterName, region: r, vpcId, replicas })),
      },
      // The controller must have its credentials before it starts reconciling.
      { ...k8sOpts, dependsOn: [crds, identity.association, ...(args.dependsOn ?? [])] },
    );

    this.roleArn = identity.role.arn;
    this.ready = [crds, release];
    this.registerOutputs();
  }
}
