// One eventstack service on the cluster: ingest or the processor.
//
// Creates, in the apps' namespace:
//   - the ServiceAccount and its EKS Pod Identity association to the workload's IAM role (components/workload-iam.ts),
//     so the pods get exactly that role's credentials and nothing else;
//   - the Deployment: image by digest, configuration as environment variables (endpoints, names and modes; never a
//     secret value, see docs/mesh.md), requests and a memory limit, startup/liveness/readiness probes, the restricted
//     security context, zone spread, a preStop delay and a grace period that cover draining; no `replicas`, which the
//     autoscaler owns;
//   - a ClusterIP Service, a PodDisruptionBudget and a NetworkPolicy;
//   - the autoscaler: an autoscaling/v2 HPA on CPU, or a KEDA ScaledObject on consumer-group lag with MSK IAM through
//     a TriggerAuthentication that uses the KEDA operator's Pod Identity;
//   - when `edge` is set, the TargetGroupBinding that registers the pods in the NLB's target group, and the Linkerd
//     Server, NetworkAuthentication and AuthorizationPolicy that admit the NLB's (unmeshed) traffic, from its fixed
//     addresses only, on the HTTP port.
//
// Custom resources (ScaledObject, TriggerAuthentication, TargetGroupBinding, Linkerd policy) depend on the component
// that installs their CRDs, which Pulumi manages as resources (pulumi-kubernetes #3188/#3176, see
// components/karpenter/index.ts).
//
// Expects from its caller: the Kubernetes and AWS providers, the cluster's name, the namespace, the image reference, the
// role ARN, the mesh, and what else the pods must wait for (the migrate Job, the Pod Identity agent).
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
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
import { container, meshAnnotations, podSpec, recommendedLabels, type Resources, selectorLabels, WORKLOAD_NODE_SELECTOR } from "./pod";

export type Autoscaler =
  | ({ kind: "hpa" } & Omit<HpaArgs, "deploymentName">)
  | ({
      kind: "keda";
      /** KEDA's CRDs and operator (PodAutoscaling.kedaReady). */
      dependsOn: pulumi.Resource[];
    } & Omit<KafkaScaledObjectArgs, "deploymentName" | "triggerAuthenticationName">);

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

export interface WorkloadArgs extends PodWorkloadArgs {
  /** The workload's name: Deployment, Service, labels (`app.kubernetes.io/name`). */
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
}

export const WORKLOAD_DEFAULTS = {
  portName: "http",
  awsApis: false,
  nodeSelector: WORKLOAD_NODE_SELECTOR,
  healthPath: "/healthz",
  readinessPath: "/readyz",
  revisionHistoryLimit: 5,
};

export class Workload extends pulumi.ComponentResource {
  readonly deploymentName: string;
  readonly serviceName: string;
  readonly serviceAccountName: string;
  /** In-cluster URL of the Service. */
  readonly serviceUrl: pulumi.Output<string>;
  readonly podIdentityAssociationId: pulumi.Output<string>;

  constructor(name: string, args: WorkloadArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:apps:Workload", name, {}, opts);
    const out = createWorkload(name, args, this, opts.provider);
    this.deploymentName = out.names.deployment;
    this.serviceName = out.names.service;
    this.serviceAccountName = out.names.serviceAccount;
    this.serviceUrl = pulumi.interpolate`http://${out.names.service}.${args.namespace}.svc.cluster.local:${args.port}`;
    this.podIdentityAssociationId = out.association.associationId;
    this.registerOutputs({
      deploymentName: this.deploymentName,
      serviceName: this.serviceName,
      serviceAccountName: this.serviceAccountName,
      serviceUrl: this.serviceUrl,
      podIdentityAssociationId: this.podIdentityAssociationId,
    });
  }
}

export function createWorkload(name: string, args: WorkloadArgs, parent: pulumi.Resource, provider: aws.Provider) {
  const serviceAccountName = args.serviceAccountName ?? args.name;
  const awsApis = args.awsApis ?? WORKLOAD_DEFAULTS.awsApis;
  const nodeSelector = args.nodeSelector ?? WORKLOAD_DEFAULTS.nodeSelector;
  const k8sOpts = { parent, provider: args.kubernetesProvider };
  const namespace = args.namespace as string; // an input: resolved by the provider, typed as the object field expects
  const labels = recommendedLabels({ name: args.name, component: args.component, version: args.version });
  const selector = selectorLabels(args.name);
  const meta = (objectName: string) => ({ name: objectName, namespace, labels });
  const { portName } = WORKLOAD_DEFAULTS;

  const { serviceAccount, association } = createPodIdentity(
    name,
    { namespace: args.namespace, serviceAccountName, labels, clusterName: args.clusterName, roleArn: args.roleArn, roleReady: args.roleReady },
    { parent, provider, kubernetesProvider: args.kubernetesProvider },
  );

  const deployment = new k8s.apps.v1.Deployment(
    `${name}-deployment`,
    {
      metadata: meta(args.name),
      spec: {
        selector: { matchLabels: selector },
        revisionHistoryLimit: WORKLOAD_DEFAULTS.revisionHistoryLimit,
        // Never fewer ready pods than wanted during a rollout; new pods must pass readiness first.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
        template: {
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
        },
      },
    },
    // The association first: a pod started before it would run without credentials until restarted.
    { ...k8sOpts, dependsOn: [association, serviceAccount, ...args.meshReady, ...(args.dependsOn ?? [])] },
  );

  const svc = new k8s.core.v1.Service(`${name}-service`, service(meta(args.name), { selector, port: args.port, portName }), k8sOpts);
  new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, podDisruptionBudget(meta(args.name), selector), k8sOpts);
  new k8s.networking.v1.NetworkPolicy(
    `${name}-network-policy`,
    networkPolicy(meta(args.name), {
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
    k8sOpts,
  );

  const autoscalerResources = createAutoscaler(name, args, meta, k8sOpts, deployment);
  const edgeResources = args.edge ? createEdgeBinding(name, args, args.edge, meta, selector, k8sOpts, svc) : undefined;

  return {
    names: { deployment: args.name, service: args.name, serviceAccount: serviceAccountName },
    serviceAccount,
    association,
    deployment,
    service: svc,
    ...autoscalerResources,
    ...edgeResources,
  };
}

type MetaFn = (objectName: string) => { name: string; namespace: string; labels: Record<string, string> };
type K8sOpts = { parent: pulumi.Resource; provider: k8s.Provider };

function createAutoscaler(name: string, args: WorkloadArgs, meta: MetaFn, k8sOpts: K8sOpts, deployment: k8s.apps.v1.Deployment) {
  const a = args.autoscaler;
  if (a.kind === "hpa") {
    const hpa = new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      `${name}-hpa`,
      horizontalPodAutoscaler(meta(args.name), { deploymentName: args.name, minReplicas: a.minReplicas, maxReplicas: a.maxReplicas, targetCpuUtilization: a.targetCpuUtilization }),
      { ...k8sOpts, dependsOn: [deployment] },
    );
    return { hpa };
  }
  const crOpts = { ...k8sOpts, dependsOn: a.dependsOn };
  const auth = mskTriggerAuthentication(meta(`${args.name}-msk`));
  const triggerAuthentication = new k8s.apiextensions.CustomResource(`${name}-trigger-auth`, auth, crOpts);
  const scaled = kafkaScaledObject(meta(args.name), {
    deploymentName: args.name,
    triggerAuthenticationName: auth.metadata.name,
    minReplicas: a.minReplicas,
    maxReplicas: a.maxReplicas,
    bootstrapServers: a.bootstrapServers,
    consumerGroup: a.consumerGroup,
    topic: a.topic,
    lagThreshold: a.lagThreshold,
    awsRegion: a.awsRegion,
  });
  const scaledObject = new k8s.apiextensions.CustomResource(`${name}-scaled-object`, scaled, { ...k8sOpts, dependsOn: [...a.dependsOn, triggerAuthentication, deployment] });
  return { triggerAuthentication, scaledObject };
}

function createEdgeBinding(
  name: string,
  args: WorkloadArgs,
  edge: WorkloadEdge,
  meta: MetaFn,
  selector: Record<string, string>,
  k8sOpts: K8sOpts,
  svc: k8s.core.v1.Service,
) {
  const binding = targetGroupBinding(meta(args.name), {
    serviceName: args.name,
    servicePort: args.port,
    targetGroupArn: edge.targetGroupArn,
    loadBalancerSecurityGroupId: edge.loadBalancerSecurityGroupId,
    podPort: args.port,
  });
  const targetGroupBindingResource = new k8s.apiextensions.CustomResource(`${name}-target-group-binding`, binding, { ...k8sOpts, dependsOn: [...edge.dependsOn, svc] });

  const meshOpts = { ...k8sOpts, dependsOn: args.meshReady };
  const server = linkerdServer(meta(`${args.name}-${WORKLOAD_DEFAULTS.portName}`), { podSelector: selector, port: WORKLOAD_DEFAULTS.portName, proxyProtocol: "HTTP/1" });
  const networks = linkerdNetworkAuthentication(meta(`${args.name}-load-balancer`), edge.clientCidrs);
  const policy = linkerdAuthorizationPolicy(meta(`${args.name}-load-balancer`), { serverName: server.metadata.name, networkAuthenticationName: networks.metadata.name });
  const meshServer = new k8s.apiextensions.CustomResource(`${name}-mesh-server`, server, meshOpts);
  const meshNetworks = new k8s.apiextensions.CustomResource(`${name}-mesh-networks`, networks, meshOpts);
  const meshPolicy = new k8s.apiextensions.CustomResource(`${name}-mesh-authorization`, policy, { ...meshOpts, dependsOn: [...meshOpts.dependsOn, meshServer, meshNetworks] });
  // The port denies everything else, the collector's scrapes included: admit its identity, and nobody else's.
  const scraper = args.collector ? createScraperAuthorization(name, args.name, args.collector, meta, server.metadata.name, meshOpts, meshServer) : undefined;
  return { targetGroupBinding: targetGroupBindingResource, meshServer, meshNetworks, meshPolicy, ...scraper };
}

function createScraperAuthorization(
  name: string,
  workload: string,
  collector: CollectorPeer,
  meta: MetaFn,
  serverName: string,
  meshOpts: K8sOpts & { dependsOn: pulumi.Resource[] },
  meshServer: pulumi.Resource,
) {
  const identity = linkerdMeshTlsAuthentication(meta(`${workload}-collector`), { serviceAccount: collector.serviceAccount, namespace: collector.namespace });
  const authorization = linkerdAuthorizationPolicy(meta(`${workload}-collector`), { serverName, networkAuthenticationName: identity.metadata.name, kind: "MeshTLSAuthentication" });
  const meshCollectorIdentity = new k8s.apiextensions.CustomResource(`${name}-mesh-collector-identity`, identity, meshOpts);
  const meshCollectorAuthorization = new k8s.apiextensions.CustomResource(`${name}-mesh-collector-authorization`, authorization, {
    ...meshOpts,
    dependsOn: [...meshOpts.dependsOn, meshServer, meshCollectorIdentity],
  });
  return { meshCollectorIdentity, meshCollectorAuthorization };
}
