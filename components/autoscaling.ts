// The pod layer of autoscaling: metrics-server (CPU and memory metrics, read by the ingest HPA) and KEDA
// (external metrics: the processor scales on its consumer group's lag in MSK).
//
// Creates:
//   - metrics-server (Helm, kube-system) and KEDA (Helm, namespace `keda`), both on the system node group;
//   - KEDA's CRDs as Pulumi-managed objects from the release's own manifest, for the same reason as Karpenter's
//     (see components/karpenter/index.ts): ScaledObjects declared later in this program must find their kind.
//     The chart's own copy is switched off (kedaValues), so each CRD has one owner;
//   - the KEDA operator's IAM role through EKS Pod Identity, allowed to read consumer-group lag from the MSK
//     cluster with IAM authentication: connect, describe the events topic and the processor's group, nothing
//     else, each on its exact ARN (the cluster's, with the UUID MSK assigned, and the topic's and group's derived
//     from it), so no other cluster of the account with the same name, no other topic and no other group.
//
// A ScaledObject authenticates with a TriggerAuthentication `podIdentity: { provider: aws }`, which makes the
// operator use its own (Pod Identity) credentials.
//
// Expects from its caller: the Cluster and the AWS provider.
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Cluster } from "./cluster";
import type { PolicyDocument } from "./karpenter/policy";
import { mskGroupArn, mskTopicArn } from "./kafka";
import { createPodIdentityRole } from "./pod-identity";
import type { Ready } from "./ready";
import { systemPlacement } from "./system-nodes";
import { VERSIONS } from "./versions";
import { metricsServerReplicas } from "./defaults/autoscaling";
export { metricsServerReplicas };

export interface PodAutoscalingArgs {
  cluster: Cluster;
  /** Nodes in the system node group: 2 or more runs two metrics-server replicas. */
  systemNodes: number;
  /** ARN of the MSK cluster (components/kafka.ts). */
  kafkaClusterArn: pulumi.Input<string>;
  /** Topic whose lag KEDA reads (the topic resource's name, so the policy waits for the topic). */
  eventsTopic: pulumi.Input<string>;
  /** Consumer group whose lag KEDA reads. */
  consumerGroup: string;
  /** Namespace of KEDA. Default "keda". */
  kedaNamespace?: string;
}

export const AUTOSCALING_DEFAULTS = {
  kedaNamespace: "keda",
  /** The KEDA chart's operator service account (the one that talks to scalers' sources). */
  kedaOperatorServiceAccount: "keda-operator",
};

export interface KedaPolicyRefs {
  kafkaClusterArn: string;
  eventsTopic: string;
  consumerGroup: string;
}

/**
 * What KEDA's Kafka scaler needs to compute lag over IAM auth: metadata, topic offsets (ListOffsets, Metadata:
 * DESCRIBE on the topic) and the group's committed offsets (OffsetFetch, FindCoordinator: DESCRIBE on the group),
 * which MSK maps to kafka-cluster:DescribeTopic and kafka-cluster:DescribeGroup, each requiring kafka-cluster:Connect
 * (MSK developer guide, "Semantics of IAM authorization policy actions and resources", read 2026-12-05).
 */
export function kedaMskPolicy(r: KedaPolicyRefs): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ConnectToTheCluster", Effect: "Allow", Action: ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], Resource: r.kafkaClusterArn },
      { Sid: "ReadTopicOffsets", Effect: "Allow", Action: "kafka-cluster:DescribeTopic", Resource: mskTopicArn(r.kafkaClusterArn, r.eventsTopic) },
      { Sid: "ReadGroupOffsets", Effect: "Allow", Action: "kafka-cluster:DescribeGroup", Resource: mskGroupArn(r.kafkaClusterArn, r.consumerGroup) },
    ],
  };
}

/**
 * The KEDA chart's values. The chart renders its CRDs from templates/crds/ under `crds.install` (default true;
 * kedacore/charts keda/templates/crds/*.yaml at v2.20.2, read 2026-12-05), which `skipCrds` does not skip: the
 * program owns them through the release's CRD manifest (kedaCrdsUrl), so the chart must not render them too, or
 * Helm refuses to adopt objects another owner created and the release never installs.
 */
export function kedaValues() {
  return {
    crds: { install: false },
    // The operator's own metrics (scaler errors, loop latency) on port 8080, named `metrics`, which the OpenTelemetry
    // Collector scrapes (components/observability/collector.ts); kedacore/charts v2.20.2 keda/values.yaml
    // prometheus.operator and templates/manager/deployment.yaml, read 2026-12-06.
    prometheus: { operator: { enabled: true } },
    nodeSelector: systemPlacement.nodeSelector,
    tolerations: systemPlacement.tolerations,
  };
}

/** KEDA's CRD manifest, published with every release (`kustomize build config/crd` of kedacore/keda at the tag). */
export function kedaCrdsUrl(version: string): string {
  return `https://github.com/kedacore/keda/releases/download/v${version}/keda-${version}-crds.yaml`;
}

export class PodAutoscaling extends pulumi.ComponentResource {
  readonly kedaNamespace: string;
  readonly kedaOperatorRoleArn: pulumi.Output<string>;
  /** Before ScaledObjects or TriggerAuthentications: KEDA's CRDs exist and its operator serves. */
  readonly ready: Ready;

  constructor(name: string, args: PodAutoscalingArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:autoscaling:PodAutoscaling", name, {}, opts);
    const childOpts = { parent: this, provider: opts.provider };
    const kedaNamespace = args.kedaNamespace ?? AUTOSCALING_DEFAULTS.kedaNamespace;
    const { cluster } = args;
    const k8sOpts = { parent: this, provider: cluster.provider };
    const replicas = metricsServerReplicas(args.systemNodes);

    const metricsServer = new k8s.helm.v3.Release(
      `${name}-metrics-server`,
      {
        name: "metrics-server",
        chart: VERSIONS.charts.metricsServer.chart,
        version: VERSIONS.charts.metricsServer.version,
        repositoryOpts: { repo: VERSIONS.charts.metricsServer.repo },
        namespace: "kube-system",
        values: {
          replicas,
          // With two replicas the APIService survives a node drain; the PDB keeps one up.
          podDisruptionBudget: { enabled: replicas > 1, maxUnavailable: 1 },
          nodeSelector: systemPlacement.nodeSelector,
          tolerations: systemPlacement.tolerations,
        },
      },
      { ...k8sOpts, dependsOn: cluster.ready },
    );

    const kedaOperator = createPodIdentityRole(
      `${name}-keda-operator`,
      {
        clusterName: cluster.name,
        clusterArn: cluster.clusterArn,
        namespace: kedaNamespace,
        serviceAccount: AUTOSCALING_DEFAULTS.kedaOperatorServiceAccount,
        description: "KEDA operator: reads MSK consumer-group lag",
        policies: {
          msk: pulumi
            .all([args.kafkaClusterArn, args.eventsTopic])
            .apply(([kafkaClusterArn, eventsTopic]) => kedaMskPolicy({ kafkaClusterArn, eventsTopic, consumerGroup: args.consumerGroup })),
        },
      },
      childOpts,
    );

    const namespace = new k8s.core.v1.Namespace(`${name}-keda`, { metadata: { name: kedaNamespace } }, k8sOpts);
    const kedaCrds = new k8s.yaml.v2.ConfigFile(`${name}-keda-crds`, { file: kedaCrdsUrl(VERSIONS.charts.keda.version) }, k8sOpts);
    const keda = new k8s.helm.v3.Release(
      `${name}-keda`,
      {
        name: "keda",
        chart: VERSIONS.charts.keda.chart,
        version: VERSIONS.charts.keda.version,
        repositoryOpts: { repo: VERSIONS.charts.keda.repo },
        namespace: namespace.metadata.name,
        skipCrds: true,
        values: kedaValues(),
      },
      { ...k8sOpts, dependsOn: [kedaCrds, kedaOperator.association, metricsServer, ...cluster.ready] },
    );

    this.kedaNamespace = kedaNamespace;
    this.kedaOperatorRoleArn = kedaOperator.role.arn;
    this.ready = [kedaCrds, keda];
    this.registerOutputs();
  }
}
