// Karpenter: the node layer. Pods that do not fit become nodes within about a minute, and empty or
// underutilized nodes are consolidated away.
//
// Creates:
//   - the node IAM role and its EC2_LINUX access entry (so Karpenter's instances may join the cluster);
//   - the interruption queue (SQS, SSE, 5-minute retention, TLS only) and the EventBridge rules feeding it;
//   - the `karpenter.sh/discovery` tag on the one security group Karpenter's nodes get: the cluster's node
//     security group, which the system nodes already carry;
//   - the controller IAM role, delivered by EKS Pod Identity, with the policy of the pinned version;
//   - Karpenter's CRDs (karpenter-crd chart, as Pulumi-managed objects), the controller (karpenter chart) on
//     the system node group, and one EC2NodeClass and one NodePool.
//
// CRD ordering (pulumi-kubernetes #3188, #3176): the EC2NodeClass and NodePool are declared in the same program
// that installs their CRDs. A Helm *Release* installs CRDs inside Helm, invisibly to the Kubernetes provider,
// whose discovery cache then still lacks the new kinds when the custom resources are created. So the CRDs are
// rendered by the separate `karpenter-crd` chart through `helm.v4.Chart`, which makes each CRD a Pulumi
// resource: during preview the provider knows the kinds from their CRD resources (and skips the server-side
// dry run of a kind the cluster lacks instead of failing), and during update it creates the CRDs first and
// refreshes its discovery cache before creating the custom resources, which `dependsOn` the CRD chart. The
// controller's Release sets `skipCrds` so that Helm never owns (or deletes) the CRDs. The custom resources
// also depend on the Release, so on destroy they go first, while the controller can still drain nodes and
// remove its finalizers.
//
// Expects from its caller: the Cluster (its Kubernetes provider, name, node security group and system nodes)
// and the AWS provider. Subnets are found by the discovery tag components/network puts on private subnets.
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Cluster } from "../cluster";
import type { Architecture } from "../config";
import { createPodIdentityRole } from "../pod-identity";
import type { Ready } from "../ready";
import { createNodeRole, systemPlacement } from "../system-nodes";
import { VERSIONS } from "../versions";
import { controllerReplicas, KARPENTER_DEFAULTS } from "../defaults/karpenter";
export { controllerReplicas, KARPENTER_DEFAULTS };
import { DISCOVERY_TAG, ec2NodeClass, nodePool } from "./manifests";
import { controllerPolicies, INTERRUPTION_EVENTS, interruptionQueuePolicy } from "./policy";

export interface KarpenterArgs {
  cluster: Cluster;
  /** Capacity types the NodePool may launch. */
  capacityTypes: ("spot" | "on-demand")[];
  /** CPU architectures the NodePool may launch. */
  architectures: Architecture[];
  /** Total vCPUs the NodePool may hold. */
  cpuLimit: number;
  /** Total memory (GiB) the NodePool may hold. */
  memoryLimitGiB: number;
  /** Empty/underutilized time before consolidation, e.g. "1m". */
  consolidateAfter: string;
  /** Nodes disrupted at once, a count or a percentage. */
  disruptionBudget: string;
  /** Nodes in the system node group: 2 or more runs two controller replicas on different nodes. */
  systemNodes: number;
  /** Tags on every instance, volume and ENI Karpenter launches (the ownership tags). Default {}. */
  tags?: Record<string, string>;
  /** Namespace of the controller; kube-system, as Karpenter's docs recommend. */
  namespace?: string;
  /** Maximum node lifetime. Default "720h" (30 days), so nodes pick up AMI and kernel patches. */
  expireAfter?: string;
  /** Root volume of Karpenter's nodes (GiB). Default 50: image layers of two services and the system DaemonSets. */
  rootVolumeGiB?: number;
}

export class Karpenter extends pulumi.ComponentResource {
  readonly nodeRoleName: pulumi.Output<string>;
  readonly nodeRoleArn: pulumi.Output<string>;
  readonly controllerRoleArn: pulumi.Output<string>;
  readonly interruptionQueueName: pulumi.Output<string>;
  readonly nodePoolName: pulumi.Output<string>;
  readonly nodeClassName: pulumi.Output<string>;
  /** Before pods for the workload nodes: the NodePool and EC2NodeClass exist. */
  readonly ready: Ready;

  constructor(name: string, args: KarpenterArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:karpenter:Karpenter", name, {}, opts);
    const childOpts = { parent: this, provider: opts.provider };
    const namespace = args.namespace ?? KARPENTER_DEFAULTS.namespace;
    const expireAfter = args.expireAfter ?? KARPENTER_DEFAULTS.expireAfter;
    const rootVolumeGiB = args.rootVolumeGiB ?? KARPENTER_DEFAULTS.rootVolumeGiB;
    const tags = args.tags ?? KARPENTER_DEFAULTS.tags;
    const { cluster } = args;
    const k8sOpts = { parent: this, provider: cluster.provider };
    const account = aws.getCallerIdentityOutput({}, childOpts);
    const partition = aws.getPartitionOutput({}, childOpts).partition;
    const region = aws.getRegionOutput({}, childOpts).region;

    // ---------------------------------------------------------------- nodes' identity
    const { role: nodeRole, attachments } = createNodeRole(`${name}-node`, "Nodes launched by Karpenter", childOpts);
    const nodeAccess = new aws.eks.AccessEntry(`${name}-node`, { clusterName: cluster.name, principalArn: nodeRole.arn, type: "EC2_LINUX" }, { ...childOpts, dependsOn: attachments });

    // ---------------------------------------------------------------- interruption handling
    const queue = new aws.sqs.Queue(`${name}-interruption`, { name: cluster.name, messageRetentionSeconds: 300, sqsManagedSseEnabled: true }, childOpts);
    const rules = Object.entries(INTERRUPTION_EVENTS).map(([event, pattern]) => {
      const rule = new aws.cloudwatch.EventRule(`${name}-${event}`, { description: `Karpenter interruption handling: ${pattern["detail-type"][0]}`, eventPattern: JSON.stringify(pattern) }, childOpts);
      new aws.cloudwatch.EventTarget(`${name}-${event}`, { rule: rule.name, arn: queue.arn, targetId: "KarpenterInterruptionQueueTarget" }, childOpts);
      return rule;
    });
    // Only these rules may deliver to the queue (their ARNs), so the policy follows them.
    new aws.sqs.QueuePolicy(
      `${name}-interruption`,
      { queueUrl: queue.url, policy: pulumi.all([queue.arn, pulumi.all(rules.map((r) => r.arn))]).apply(([arn, ruleArns]) => JSON.stringify(interruptionQueuePolicy(arn, ruleArns))) },
      childOpts,
    );

    // ---------------------------------------------------------------- the one discoverable security group
    // The cluster's node security group (the EKS cluster security group) is the only group tagged for discovery,
    // so Karpenter's nodes carry exactly what the system nodes carry, and data services admit both by one id.
    new aws.ec2.Tag(`${name}-discovery`, { resourceId: cluster.nodeSecurityGroupId, key: DISCOVERY_TAG, value: cluster.name }, childOpts);

    // ---------------------------------------------------------------- controller identity
    const policies = pulumi
      .all([partition, region, account.accountId, cluster.name, nodeRole.arn, queue.arn])
      .apply(([p, r, accountId, clusterName, nodeRoleArn, queueArn]) =>
        controllerPolicies({ partition: p, region: r, accountId, clusterName, nodeRoleArn, interruptionQueueArn: queueArn }),
      );
    const controller = createPodIdentityRole(
      `${name}-controller`,
      {
        clusterName: cluster.name,
        clusterArn: cluster.clusterArn,
        namespace,
        serviceAccount: KARPENTER_DEFAULTS.serviceAccount,
        description: "Karpenter controller",
        policies: {
          "node-lifecycle": policies["node-lifecycle"],
          "iam-integration": policies["iam-integration"],
          "eks-integration": policies["eks-integration"],
          interruption: policies.interruption,
          "resource-discovery": policies["resource-discovery"],
          "zonal-shift": policies["zonal-shift"],
        },
      },
      childOpts,
    );

    // ---------------------------------------------------------------- CRDs, controller, custom resources
    const crds = new k8s.helm.v4.Chart(`${name}-crd`, { chart: VERSIONS.charts.karpenterCrd.chart, version: VERSIONS.charts.karpenterCrd.version, namespace }, k8sOpts);

    const release = new k8s.helm.v3.Release(
      name,
      {
        name: KARPENTER_DEFAULTS.releaseName,
        chart: VERSIONS.charts.karpenter.chart,
        version: VERSIONS.charts.karpenter.version,
        namespace,
        skipCrds: true,
        values: {
          settings: { clusterName: cluster.name, interruptionQueue: queue.name },
          serviceAccount: { create: true, name: KARPENTER_DEFAULTS.serviceAccount },
          replicas: controllerReplicas(args.systemNodes),
          // The chart's own affinity (not on a node with karpenter.sh/nodepool; one replica per host) stays.
          nodeSelector: { "kubernetes.io/os": "linux", ...systemPlacement.nodeSelector },
          tolerations: systemPlacement.tolerations,
          controller: {
            // The region from the environment, not IMDS (which the hop limit of 1 keeps out of pods' reach).
            env: [{ name: "AWS_REGION", value: region }],
            resources: KARPENTER_DEFAULTS.controllerResources,
          },
        },
      },
      { ...k8sOpts, dependsOn: [crds, controller.association, nodeAccess, ...cluster.ready] },
    );

    const customResourceOpts = { ...k8sOpts, dependsOn: [crds, release] };
    const nodeClassObject = pulumi
      .all([cluster.name, nodeRole.name])
      .apply(([clusterName, nodeRoleName]) =>
        ec2NodeClass({ clusterName, nodeRoleName, amiAlias: VERSIONS.karpenterAmiAlias, rootVolumeGiB, tags: { ...tags, ManagedBy: "karpenter" } }),
      );
    const nodeClass = new k8s.apiextensions.CustomResource(
      `${name}-node-class`,
      { apiVersion: "karpenter.k8s.aws/v1", kind: "EC2NodeClass", metadata: nodeClassObject.metadata, spec: nodeClassObject.spec },
      customResourceOpts,
    );
    const poolObject = nodePool({
      capacityTypes: args.capacityTypes,
      architectures: args.architectures,
      cpuLimit: args.cpuLimit,
      memoryLimitGiB: args.memoryLimitGiB,
      consolidateAfter: args.consolidateAfter,
      disruptionBudget: args.disruptionBudget,
      expireAfter,
      instanceCategories: KARPENTER_DEFAULTS.instanceCategories,
      minGenerationExclusive: KARPENTER_DEFAULTS.minGenerationExclusive,
    });
    const pool = new k8s.apiextensions.CustomResource(
      `${name}-node-pool`,
      { apiVersion: poolObject.apiVersion, kind: poolObject.kind, metadata: poolObject.metadata, spec: poolObject.spec },
      { ...customResourceOpts, dependsOn: [crds, release, nodeClass] },
    );

    this.nodeRoleName = nodeRole.name;
    this.nodeRoleArn = nodeRole.arn;
    this.controllerRoleArn = controller.role.arn;
    this.interruptionQueueName = queue.name;
    this.nodePoolName = pool.metadata.name;
    this.nodeClassName = nodeClass.metadata.name;
    this.ready = [nodeClass, pool];
    this.registerOutputs();
  }
}
