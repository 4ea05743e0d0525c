// One eventstack service on the cluster: ingest or the processor.
//
// Creates, in the apps' namespace:
//   - the ServiceAccount and its EKS Pod Identity association to the workload's IAM role (components/workload-iam.ts),
//     so the pods get exactly that role's credentials and nothing else;
//   - the Argo Rollout (./rollout.ts) in place of a Deployment: image by digest, configuration as environment variables (endpoints, names and modes; never a
//     secret value, see docs/mesh.md), requests and a memory limit, startup/liveness/readiness probes, the restricted
//     security context, zone spread, a preStop delay and a grace period that cover draining; no `replicas`, which the
//     autoscaler owns; a canary strategy and the AnalysisTemplate that judges it on the service's own metrics;
//   - a ClusterIP Service, a PodDisruptionBudget and a NetworkPolicy;
//   - the autoscaler: an autoscaling/v2 HPA on CPU, or a KEDA ScaledObject on consumer-group lag with MSK IAM through
//     a TriggerAuthentication that uses the KEDA operator's Pod Identity;
//   - when `edge` is set, the TargetGroupBinding that registers the pods in the NLB's target group, and the Linkerd
//     Server, NetworkAuthentication and AuthorizationPolicy that admit the NLB's (unmeshed) traffic, from its fixed
//     addresses only, on the HTTP port.
//
// In delivery mode "argocd" the component creates the identity only (ServiceAccount and Pod Identity association) and
// exposes every other object, resolved, as `manifests`: the program exports them, `npm run render:workloads` writes
// them where Argo CD syncs from (docs/delivery.md). Both modes build the objects with the same pure function
// (workloadObjects in ./objects.ts), so what Argo CD applies is what Pulumi would have applied.
//
// Custom resources (Rollout, AnalysisTemplate, ScaledObject, TriggerAuthentication, TargetGroupBinding, Linkerd policy) depend on the component
// that installs their CRDs, which Pulumi manages as resources (pulumi-kubernetes #3188/#3176, see
// components/karpenter/index.ts).
//
// Expects from its caller: the Kubernetes and AWS providers, the cluster's name, the namespace, the image reference, the
// role ARN, the mesh, and what else the pods must wait for (the migrate Job, the Pod Identity agent).
import type * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createPodIdentity } from "./identity";
import type { WorkloadArgs } from "./args";
import { groupKind, type GroupKind, type K8sObject, WORKLOAD_DEFAULTS, workloadObjects } from "./objects";
import { recommendedLabels } from "./pod";

export type { Autoscaler, WorkloadArgs, WorkloadEdge, WorkloadRollout } from "./args";

export class Workload extends pulumi.ComponentResource {
  readonly rolloutName: string;
  readonly serviceName: string;
  readonly serviceAccountName: string;
  /** In-cluster URL of the Service. */
  readonly serviceUrl: pulumi.Output<string>;
  readonly podIdentityAssociationId: pulumi.Output<string>;
  /** Every object of the workload but its identity, resolved: what Argo CD applies in delivery mode "argocd". */
  readonly manifests: pulumi.Output<K8sObject[]>;
  /** The API group and kind of each of those objects (Argo CD's AppProject admits exactly these). */
  readonly kinds: GroupKind[];

  constructor(name: string, args: WorkloadArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:apps:Workload", name, {}, opts);
    const serviceAccountName = args.serviceAccountName ?? args.name;
    const delivery = args.delivery ?? WORKLOAD_DEFAULTS.delivery;
    const labels = recommendedLabels({ name: args.name, component: args.component, version: args.version });
    const { serviceAccount, association } = createPodIdentity(
      name,
      { namespace: args.namespace, serviceAccountName, labels, clusterName: args.clusterName, roleArn: args.roleArn, roleReady: args.roleReady },
      { parent: this, provider: opts.provider, kubernetesProvider: args.kubernetesProvider },
    );
    const objects = workloadObjects(args);

    // Delivery mode "pulumi": one resource per object, each after what it needs.
    if (delivery === "pulumi") {
      const k8sOpts = { parent: this, provider: args.kubernetesProvider };
      const custom = (key: string, dependsOn: pulumi.Resource[]) =>
        new k8s.apiextensions.CustomResource(`${name}-${key}`, objects[key] as k8s.apiextensions.CustomResourceArgs, { ...k8sOpts, dependsOn });
      const analysis = custom("analysis", args.rollout.dependsOn);
      // The association first: a pod started before it would run without credentials until restarted.
      const rolloutResource = custom("rollout", [association, serviceAccount, analysis, ...args.rollout.dependsOn, ...args.meshReady, ...(args.dependsOn ?? [])]);
      const svc = new k8s.core.v1.Service(`${name}-service`, objects.service as k8s.core.v1.ServiceArgs, k8sOpts);
      new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, objects.pdb as k8s.policy.v1.PodDisruptionBudgetArgs, k8sOpts);
      new k8s.networking.v1.NetworkPolicy(`${name}-network-policy`, objects["network-policy"] as k8s.networking.v1.NetworkPolicyArgs, k8sOpts);
      const a = args.autoscaler;
      if (a.kind === "hpa") {
        new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-hpa`, objects.hpa as unknown as k8s.autoscaling.v2.HorizontalPodAutoscalerArgs, { ...k8sOpts, dependsOn: [rolloutResource] });
      } else {
        const triggerAuthentication = custom("trigger-auth", a.dependsOn);
        custom("scaled-object", [...a.dependsOn, triggerAuthentication, rolloutResource]);
      }
      if (args.edge) {
        custom("target-group-binding", [...args.edge.dependsOn, svc]);
        const meshServer = custom("mesh-server", args.meshReady);
        const meshNetworks = custom("mesh-networks", args.meshReady);
        custom("mesh-authorization", [...args.meshReady, meshServer, meshNetworks]);
        if (objects["mesh-collector-identity"]) {
          const meshCollectorIdentity = custom("mesh-collector-identity", args.meshReady);
          custom("mesh-collector-authorization", [...args.meshReady, meshServer, meshCollectorIdentity]);
        }
      }
    }

    this.rolloutName = args.name;
    this.serviceName = args.name;
    this.serviceAccountName = serviceAccountName;
    this.serviceUrl = pulumi.interpolate`http://${args.name}.${args.namespace}.svc.cluster.local:${args.port}`;
    this.podIdentityAssociationId = association.associationId;
    this.manifests = pulumi.output(Object.values(objects)) as unknown as pulumi.Output<K8sObject[]>;
    this.kinds = Object.values(objects).map(groupKind);
    this.registerOutputs();
  }
}
