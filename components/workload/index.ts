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
// them where Argo CD syncs from (docs/delivery.md). Both modes build the objects with the same function
// (workloadObjects), so what Argo CD applies is what Pulumi would have applied.
//
// Custom resources (Rollout, AnalysisTemplate, ScaledObject, TriggerAuthentication, TargetGroupBinding, Linkerd policy) depend on the component
// that installs their CRDs, which Pulumi manages as resources (pulumi-kubernetes #3188/#3176, see
// components/karpenter/index.ts).
//
// Expects from its caller: the Kubernetes and AWS providers, the cluster's name, the namespace, the image reference, the
// role ARN, the mesh, and what else the pods must wait for (the migrate Job, the Pod Identity agent).
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { DeliveryMode } from "../config";
import { createPodIdentity, type PodWorkloadArgs } from "./identity";
import {
  type CollectorPeer,
  type HpaArgs,
  horizontalPodAutoscaler,
  type KafkaScaledObjectArgs,
  kafkaScaledObject,
  linkerdAuthorizationPolicy,
  linkerdMeshTlsAuthentication,
  linkerdNetworkAuthentication,
  linkerdServer,
  mskTriggerAuthentication,
  networkPolicy,
  podDisruptionBudget,
  service,
  targetGroupBinding,
} from "./manifests";
import { ingestAnalysisTemplate, ingestCanary, type AnalysisPrometheus, processorAnalysisTemplate, processorCanary, rollout } from "./rollout";
import { container, meshAnnotations, podSpec, recommendedLabels, type Resources, selectorLabels, WORKLOAD_NODE_SELECTOR } from "./pod";

export type Autoscaler =
  | ({ kind: "hpa" } & Omit<HpaArgs, "rolloutName">)
  | ({
      kind: "keda";
      /** KEDA's CRDs and operator (PodAutoscaling.kedaReady). */
      dependsOn: pulumi.Resource[];
    } & Omit<KafkaScaledObjectArgs, "rolloutName" | "triggerAuthenticationName">);

export interface WorkloadEdge {
  targetGroupArn: pulumi.Input<string>;
  loadBalancerSecurityGroupId: pulumi.Input<string>;
  /**
   * The NLB's fixed addresses (Edge.loadBalancerCidrs): the only sources admitted on the HTTP port, by the
   * NetworkPolicy and, unauthenticated, by Linkerd. Never the VPC CIDR, which every pod's address is in.
   */
  clientCidrs: pulumi.Input<string>[];
  /** The AWS Load Balancer Controller (its CRDs and webhook). */
  dependsOn: pulumi.Resource[];
}

/** How a new version reaches the pods: Argo Rollouts' canary and the analysis that may abort it (./rollout.ts). */
export interface WorkloadRollout {
  /**
   * Which canary: "ingest" (traffic-weighted steps under a background analysis of its HTTP and produce metrics) or
   * "processor" (one canary pod judged on dead letters and its partitions' lag; needs a KEDA autoscaler, whose
   * lagThreshold is the lag ceiling).
   */
  canary: "ingest" | "processor";
  /** Where the analysis reads its metrics (analysisPrometheus in components/progressive-delivery.ts). */
  prometheus: AnalysisPrometheus;
  /** Argo Rollouts' CRDs and controller (ProgressiveDelivery.ready). */
  dependsOn: pulumi.Resource[];
}

export interface WorkloadArgs extends PodWorkloadArgs {
  /** The workload's name: Rollout, Service, labels (`app.kubernetes.io/name`). */
  name: string;
  /** `app.kubernetes.io/component`, e.g. "api" or "consumer". */
  component: string;
  /** The HTTP port (health, metrics, API). */
  port: number;
  resources: Resources;
  autoscaler: Autoscaler;
  /** Seconds between the pod being marked terminating and SIGTERM: the time endpoints and targets take to drain. */
  preStopSleepSeconds: number;
  /** preStop + the service's own shutdown (SHUTDOWN_TIMEOUT_MS) + a margin. */
  terminationGracePeriodSeconds: number;
  /** Whether the pods call AWS APIs over HTTPS (reading their secrets at start). Default false. */
  awsApis?: boolean;
  /** The NLB binding; only the workload behind the API has one. */
  edge?: WorkloadEdge;
  /** Node labels the pods require. Default: the workload NodePool's `eventstack.io/pool: workloads`. */
  nodeSelector?: Record<string, string>;
  /**
   * The OpenTelemetry Collector: the NetworkPolicy lets the pods send it spans and lets it scrape `port`; behind the edge,
   * ingest's Linkerd Server also admits the collector's mesh identity (a MeshTLSAuthentication of exactly its service
   * account). Default: none.
   */
  collector?: CollectorPeer;
  rollout: WorkloadRollout;
  /**
   * Who applies the objects: "pulumi" creates them; "argocd" creates only the ServiceAccount and the Pod Identity
   * association and leaves the rest to Argo CD (`manifests`). Default "pulumi".
   */
  delivery?: DeliveryMode;
}

export const WORKLOAD_DEFAULTS = {
  portName: "http",
  awsApis: false,
  nodeSelector: WORKLOAD_NODE_SELECTOR,
  healthPath: "/healthz",
  readinessPath: "/readyz",
  revisionHistoryLimit: 5,
  delivery: "pulumi" as DeliveryMode,
};

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
    const out = createWorkload(name, args, this, opts.provider);
    this.rolloutName = out.names.rollout;
    this.serviceName = out.names.service;
    this.serviceAccountName = out.names.serviceAccount;
    this.serviceUrl = pulumi.interpolate`http://${out.names.service}.${args.namespace}.svc.cluster.local:${args.port}`;
    this.podIdentityAssociationId = out.association.associationId;
    this.manifests = out.manifests;
    this.kinds = out.kinds;
    this.registerOutputs({
      rolloutName: this.rolloutName,
      serviceName: this.serviceName,
      serviceAccountName: this.serviceAccountName,
      serviceUrl: this.serviceUrl,
      podIdentityAssociationId: this.podIdentityAssociationId,
    });
  }
}

export type GroupKind = { group: string; kind: string };

/** An object's API group ("" for the core group) and kind. */
export function groupKind(o: { apiVersion: string; kind: string }): GroupKind {
  return { group: o.apiVersion.includes("/") ? o.apiVersion.split("/")[0]! : "", kind: o.kind };
}

/** A Kubernetes object as the program builds it: plain data whose values may still be Pulumi inputs. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name?: string; namespace?: pulumi.Input<string>; [k: string]: unknown }; [k: string]: unknown };

/**
 * Every object of a workload but its identity, keyed by the suffix of the Pulumi resource that applies it in
 * delivery mode "pulumi" (`<name>-<key>`), in the order Argo CD's files list them.
 */
export function workloadObjects(args: WorkloadArgs): Record<string, K8sObject> {
  const serviceAccountName = args.serviceAccountName ?? args.name;
  const awsApis = args.awsApis ?? WORKLOAD_DEFAULTS.awsApis;
  const nodeSelector = args.nodeSelector ?? WORKLOAD_DEFAULTS.nodeSelector;
  const namespace = args.namespace as string; // an input: resolved by the provider, typed as the object field expects
  const labels = recommendedLabels({ name: args.name, component: args.component, version: args.version });
  const selector = selectorLabels(args.name);
  const meta = (objectName: string) => ({ name: objectName, namespace, labels });
  const { portName } = WORKLOAD_DEFAULTS;
  const analysisName = `${args.name}-canary`;

  const template = {
    metadata: { labels, annotations: meshAnnotations(args.dataPorts) },
    spec: podSpec({
      serviceAccountName,
      terminationGracePeriodSeconds: args.terminationGracePeriodSeconds,
      spreadLabels: selector,
      nodeSelector,
      containers: [
        container({
          name: args.name,
          image: args.image,
          env: args.env,
          resources: args.resources,
          port: { name: portName, containerPort: args.port },
          probes: { port: portName, livenessPath: WORKLOAD_DEFAULTS.healthPath, readinessPath: WORKLOAD_DEFAULTS.readinessPath },
          preStopSleepSeconds: args.preStopSleepSeconds,
        }),
      ],
    }),
  };
  const a = args.autoscaler;
  const analysis =
    args.rollout.canary === "ingest"
      ? ingestAnalysisTemplate(meta(analysisName), { prometheus: args.rollout.prometheus, namespace: args.namespace, rolloutName: args.name })
      : processorAnalysisTemplate(meta(analysisName), {
          prometheus: args.rollout.prometheus,
          namespace: args.namespace,
          rolloutName: args.name,
          lagThreshold: a.kind === "keda" ? a.lagThreshold : checkProcessorCanary(args.name),
        });
  const objects: Record<string, K8sObject> = {
    analysis,
    rollout: rollout(meta(args.name), {
      selector,
      template,
      revisionHistoryLimit: WORKLOAD_DEFAULTS.revisionHistoryLimit,
      canary: args.rollout.canary === "ingest" ? ingestCanary(analysisName) : processorCanary(analysisName),
    }),
    service: service(meta(args.name), { selector, port: args.port, portName }),
    pdb: podDisruptionBudget(meta(args.name), selector),
    "network-policy": networkPolicy(meta(args.name), {
      podSelector: selector,
      // Behind the edge, the workload's port admits the NLB alone: from anywhere else in the VPC a request would skip
      // API Gateway's authorizer. Kubelet probes come from the node's own address, which the VPC CNI's policy agent
      // always admits (aws/aws-network-policy-agent#65, verified 2026-12-05).
      ingressPorts: args.edge ? [] : [args.port],
      loadBalancerIngress: args.edge ? { port: args.port, cidrs: args.edge.clientCidrs } : undefined,
      vpcCidr: args.vpcCidr,
      dataPorts: args.dataPorts,
      awsApis,
      awsApiCidrs: args.awsApiCidrs,
      collector: args.collector ? { ...args.collector, scrapePort: args.port } : undefined,
    }),
  };
  if (a.kind === "hpa") {
    objects.hpa = horizontalPodAutoscaler(meta(args.name), { rolloutName: args.name, minReplicas: a.minReplicas, maxReplicas: a.maxReplicas, targetCpuUtilization: a.targetCpuUtilization });
  } else {
    const auth = mskTriggerAuthentication(meta(`${args.name}-msk`));
    objects["trigger-auth"] = auth;
    objects["scaled-object"] = kafkaScaledObject(meta(args.name), {
      rolloutName: args.name,
      triggerAuthenticationName: auth.metadata.name,
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      bootstrapServers: a.bootstrapServers,
      consumerGroup: a.consumerGroup,
      topic: a.topic,
      lagThreshold: a.lagThreshold,
      awsRegion: a.awsRegion,
    });
  }
  if (args.edge) {
    objects["target-group-binding"] = targetGroupBinding(meta(args.name), {
      serviceName: args.name,
      servicePort: args.port,
      targetGroupArn: args.edge.targetGroupArn,
      loadBalancerSecurityGroupId: args.edge.loadBalancerSecurityGroupId,
      podPort: args.port,
    });
    const server = linkerdServer(meta(`${args.name}-${portName}`), { podSelector: selector, port: portName, proxyProtocol: "HTTP/1" });
    const networks = linkerdNetworkAuthentication(meta(`${args.name}-load-balancer`), args.edge.clientCidrs);
    objects["mesh-server"] = server;
    objects["mesh-networks"] = networks;
    objects["mesh-authorization"] = linkerdAuthorizationPolicy(meta(`${args.name}-load-balancer`), { serverName: server.metadata.name, networkAuthenticationName: networks.metadata.name });
    // The port denies everything else, the collector's scrapes included: admit its identity, and nobody else's.
    if (args.collector) {
      const identity = linkerdMeshTlsAuthentication(meta(`${args.name}-collector`), { serviceAccount: args.collector.serviceAccount, namespace: args.collector.namespace });
      objects["mesh-collector-identity"] = identity;
      objects["mesh-collector-authorization"] = linkerdAuthorizationPolicy(meta(`${args.name}-collector`), {
        serverName: server.metadata.name,
        networkAuthenticationName: identity.metadata.name,
        kind: "MeshTLSAuthentication",
      });
    }
  }
  return objects;
}

function checkProcessorCanary(name: string): never {
  throw new Error(`Workload ${name}: rollout.canary "processor" needs autoscaler.kind "keda" (its lagThreshold bounds the canary's lag)`);
}

export function createWorkload(name: string, args: WorkloadArgs, parent: pulumi.Resource, provider: aws.Provider) {
  const serviceAccountName = args.serviceAccountName ?? args.name;
  const delivery = args.delivery ?? WORKLOAD_DEFAULTS.delivery;
  const labels = recommendedLabels({ name: args.name, component: args.component, version: args.version });
  const { serviceAccount, association } = createPodIdentity(
    name,
    { namespace: args.namespace, serviceAccountName, labels, clusterName: args.clusterName, roleArn: args.roleArn, roleReady: args.roleReady },
    { parent, provider, kubernetesProvider: args.kubernetesProvider },
  );
  const objects = workloadObjects(args);
  const names = { rollout: args.name, service: args.name, serviceAccount: serviceAccountName };
  const manifests = pulumi.output(Object.values(objects)) as unknown as pulumi.Output<K8sObject[]>;
  const kinds = Object.values(objects).map(groupKind);
  if (delivery === "argocd") return { names, serviceAccount, association, manifests, kinds, resources: {} };
  return { names, serviceAccount, association, manifests, kinds, resources: applyWorkload(name, args, objects, parent, { serviceAccount, association }) };
}

type K8sOpts = { parent: pulumi.Resource; provider: k8s.Provider };

/** Delivery mode "pulumi": one resource per object, each after what it needs. */
function applyWorkload(name: string, args: WorkloadArgs, objects: Record<string, K8sObject>, parent: pulumi.Resource, identity: { serviceAccount: pulumi.Resource; association: pulumi.Resource }) {
  const k8sOpts: K8sOpts = { parent, provider: args.kubernetesProvider };
  const custom = (key: string, dependsOn: pulumi.Resource[]) => new k8s.apiextensions.CustomResource(`${name}-${key}`, objects[key] as k8s.apiextensions.CustomResourceArgs, { ...k8sOpts, dependsOn });
  const analysis = custom("analysis", args.rollout.dependsOn);
  // The association first: a pod started before it would run without credentials until restarted.
  const rolloutResource = custom("rollout", [identity.association, identity.serviceAccount, analysis, ...args.rollout.dependsOn, ...args.meshReady, ...(args.dependsOn ?? [])]);
  const svc = new k8s.core.v1.Service(`${name}-service`, objects.service as k8s.core.v1.ServiceArgs, k8sOpts);
  new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, objects.pdb as k8s.policy.v1.PodDisruptionBudgetArgs, k8sOpts);
  new k8s.networking.v1.NetworkPolicy(`${name}-network-policy`, objects["network-policy"] as k8s.networking.v1.NetworkPolicyArgs, k8sOpts);
  const out: Record<string, pulumi.Resource> = { rollout: rolloutResource, service: svc, analysis };
  const a = args.autoscaler;
  if (a.kind === "hpa") {
    out.hpa = new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-hpa`, objects.hpa as unknown as k8s.autoscaling.v2.HorizontalPodAutoscalerArgs, { ...k8sOpts, dependsOn: [rolloutResource] });
  } else {
    out.triggerAuthentication = custom("trigger-auth", a.dependsOn);
    out.scaledObject = custom("scaled-object", [...a.dependsOn, out.triggerAuthentication, rolloutResource]);
  }
  if (args.edge) {
    out.targetGroupBinding = custom("target-group-binding", [...args.edge.dependsOn, svc]);
    out.meshServer = custom("mesh-server", args.meshReady);
    out.meshNetworks = custom("mesh-networks", args.meshReady);
    out.meshPolicy = custom("mesh-authorization", [...args.meshReady, out.meshServer, out.meshNetworks]);
    if (objects["mesh-collector-identity"]) {
      out.meshCollectorIdentity = custom("mesh-collector-identity", args.meshReady);
      out.meshCollectorAuthorization = custom("mesh-collector-authorization", [...args.meshReady, out.meshServer, out.meshCollectorIdentity]);
    }
  }
  return out;
}
