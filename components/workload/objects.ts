// Every object of a workload but its identity, as plain data: what Pulumi applies in delivery mode "pulumi" and what
// Argo CD applies, from the files `npm run render:workloads` writes, in "argocd". Pure (no resource is created here),
// so that tests build the objects from literal arguments without a Pulumi engine.
import type * as pulumi from "@pulumi/pulumi";
import type { DeliveryMode } from "../config";
import type { WorkloadArgs } from "./args";
import {
  horizontalPodAutoscaler,
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
import { container, meshAnnotations, podSpec, recommendedLabels, selectorLabels, WORKLOAD_NODE_SELECTOR } from "./pod";
import { ingestAnalysisTemplate, ingestCanary, processorAnalysisTemplate, processorCanary, rollout } from "./rollout";

export const WORKLOAD_DEFAULTS = {
  portName: "http",
  awsApis: false,
  nodeSelector: WORKLOAD_NODE_SELECTOR,
  healthPath: "/healthz",
  readinessPath: "/readyz",
  revisionHistoryLimit: 5,
  delivery: "pulumi" as DeliveryMode,
};

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
