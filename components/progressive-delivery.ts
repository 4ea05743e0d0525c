// Progressive delivery: the Argo Rollouts controller, which runs the services' canaries (components/workload/
// rollout.ts) in both delivery modes (docs/delivery.md, "Progressive rollout").
//
// Creates:
//   - the `argo-rollouts` namespace and the controller (Helm, on the system node group, restricted security context
//     as the chart sets it, the dashboard off, replicas with leader election once there are two system nodes);
//   - Argo Rollouts' CRDs as Pulumi-managed objects from the release's manifests/crds/ at the pinned tag, for the
//     same reason as KEDA's (components/autoscaling.ts): the Rollouts and AnalysisTemplates declared later must find
//     their kinds, and the chart's own copy is switched off (`installCRDs: false`), so each CRD has one owner
//     (the namespace, the CRDs and the Release: ./chart-with-crds.ts, shared with Argo CD);
//   - when the analysis reads Amazon Managed Prometheus (by default: the stack's own workspace, see
//     analysisPrometheus), the controller's IAM role through EKS Pod Identity, allowed to query that one workspace
//     (its exact ARN), so it can sign the analysis queries with SigV4.
//
// The controller is not meshed: it talks to the Kubernetes API and to Prometheus only, and a canary must still be
// abortable when the mesh is what broke.
//
// Expects from its caller: the Cluster, where the analyses read their metrics (analysisPrometheus) and the AWS provider.
import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { chartWithCrds } from "./chart-with-crds";
import type { Cluster } from "./cluster";
import type { PolicyDocument } from "./karpenter/policy";
import { createPodIdentityRole } from "./pod-identity";
import type { Ready } from "./ready";
import { systemPlacement } from "./system-nodes";
import { VERSIONS } from "./versions";
import { ampWorkspace, type AnalysisPrometheus } from "./workload/rollout";
import { PROGRESSIVE_DELIVERY_DEFAULTS, rolloutsControllerReplicas } from "./defaults/progressive-delivery";
export { PROGRESSIVE_DELIVERY_DEFAULTS, rolloutsControllerReplicas };

export interface ProgressiveDeliveryArgs {
  cluster: Cluster;
  /** Nodes in the system node group: 2 or more runs two controller replicas (one leads). */
  systemNodes: number;
  /**
   * Where the canary analyses read their metrics (analysisPrometheus): with `amp`, the controller gets a Pod
   * Identity role that may query that workspace only; without, no role.
   */
  prometheus: AnalysisPrometheus;
  /** Namespace of the controller. Default "argo-rollouts". */
  namespace?: string;
}

/**
 * The CRD files of the pinned release: argoproj/argo-rollouts manifests/crds/ at the tag (kustomization.yaml lists
 * exactly these five, read at v1.9.0 on 2026-12-06).
 */
export function rolloutsCrdUrls(appVersion: string): string[] {
  return ["rollout-crd", "analysis-template-crd", "cluster-analysis-template-crd", "analysis-run-crd", "experiment-crd"].map(
    (f) => `https://raw.githubusercontent.com/argoproj/argo-rollouts/${appVersion}/manifests/crds/${f}.yaml`,
  );
}

/**
 * The chart's values (argoproj/argo-helm charts/argo-rollouts/values.yaml at argo-rollouts-2.41.0, read
 * 2026-12-06): CRDs off (the program owns them), the dashboard off (it has no authentication of its own), the
 * controller on the system nodes with requests. `providerRBAC` stays as the chart sets it: the controller reads
 * TargetGroupBindings only when a traffic router asks, and none is configured.
 */
export function rolloutsValues(systemNodes: number) {
  const d = PROGRESSIVE_DELIVERY_DEFAULTS;
  return {
    installCRDs: false,
    dashboard: { enabled: false },
    controller: {
      replicas: rolloutsControllerReplicas(systemNodes),
      resources: d.controllerResources,
      nodeSelector: systemPlacement.nodeSelector,
      tolerations: systemPlacement.tolerations,
      pdb: { enabled: systemNodes >= 2, maxUnavailable: 1 },
    },
  };
}

/** Query access to one AMP workspace: what the Prometheus HTTP API (query, series, labels, metadata) needs. */
export function ampQueryPolicy(workspaceArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [{ Sid: "QueryTheWorkspace", Effect: "Allow", Action: ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"], Resource: workspaceArn }],
  };
}

/** The workspace's ARN, in the cluster's partition and account (the workspace must be in the cluster's account). */
export function ampWorkspaceArn(clusterArn: string, region: string, workspaceId: string): string {
  const m = /^arn:([^:]+):eks:[^:]+:(\d{12}):cluster\//.exec(clusterArn);
  if (!m) throw new Error(`ProgressiveDelivery: clusterArn "${clusterArn}" is not an EKS cluster ARN`);
  return `arn:${m[1]}:aps:${region}:${m[2]}:workspace/${workspaceId}`;
}

/**
 * Where the canary analyses read their metrics, from config delivery.analysisPrometheusUrl: "" (the default) is the
 * stack's own AMP workspace, which the collector writes the services' metrics to; an AMP workspace URL is that
 * workspace, in the cluster's account; any other URL is queried as it is, unsigned.
 */
export function analysisPrometheus(
  configuredUrl: string,
  stack: { region: string; clusterArn: pulumi.Input<string>; prometheusEndpoint: pulumi.Input<string>; workspaceArn: pulumi.Input<string> },
): AnalysisPrometheus {
  if (configuredUrl === "") return { url: stack.prometheusEndpoint, amp: { region: stack.region, workspaceArn: stack.workspaceArn } };
  const amp = ampWorkspace(configuredUrl);
  if (!amp) return { url: configuredUrl };
  return {
    url: configuredUrl,
    amp: { region: amp.region, workspaceArn: pulumi.output(stack.clusterArn).apply((arn) => ampWorkspaceArn(arn, amp.region, amp.workspaceId)) },
  };
}

export class ProgressiveDelivery extends pulumi.ComponentResource {
  readonly namespace: string;
  /** Before Rollouts or AnalysisTemplates: Argo Rollouts' CRDs exist and its controller runs. */
  readonly ready: Ready;

  constructor(name: string, args: ProgressiveDeliveryArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:delivery:ProgressiveDelivery", name, {}, opts);
    const d = PROGRESSIVE_DELIVERY_DEFAULTS;
    const namespace = args.namespace ?? d.namespace;
    const { cluster } = args;
    const pin = VERSIONS.charts.argoRollouts;

    const amp = args.prometheus.amp;
    const controllerIdentity = amp
      ? createPodIdentityRole(
          `${name}-controller`,
          {
            clusterName: cluster.name,
            clusterArn: cluster.clusterArn,
            namespace,
            serviceAccount: d.serviceAccount,
            description: "Argo Rollouts controller: queries the canary metrics in Amazon Managed Prometheus",
            policies: { amp: pulumi.output(amp.workspaceArn).apply(ampQueryPolicy) },
          },
          { parent: this, provider: opts.provider },
        )
      : undefined;

    const { crds, release } = chartWithCrds(
      name,
      {
        cluster,
        namespace: { name: namespace },
        crdUrls: rolloutsCrdUrls(pin.appVersion),
        releaseName: "argo-rollouts",
        chart: pin,
        values: rolloutsValues(args.systemNodes),
        // The association first: the controller's first analysis would otherwise run without credentials.
        dependsOn: controllerIdentity ? [controllerIdentity.association] : [],
      },
      this,
    );

    this.namespace = namespace;
    this.ready = [...crds, release];
    this.registerOutputs();
  }
}
