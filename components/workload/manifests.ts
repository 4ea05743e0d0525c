// The Kubernetes objects around a workload's pods: Service, PodDisruptionBudget, the autoscaler (HPA or KEDA),
// NetworkPolicy, and the custom resources that bind it to the edge (TargetGroupBinding) and the mesh (Linkerd
// Server, NetworkAuthentication, AuthorizationPolicy). Pure functions, validated by the tests against the
// published schemas (test/k8s-schema.ts).
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { ROLLOUTS_API_VERSION } from "./rollout";

/** What the autoscalers scale: the workload's Argo Rollout, through its scale subresource (./rollout.ts). */
const scaleTarget = (name: string) => ({ apiVersion: ROLLOUTS_API_VERSION, kind: "Rollout", name });

type Meta = { name: string; namespace: string; labels: Record<string, string> };

export function service(meta: Meta, a: { selector: Record<string, string>; port: number; portName: string }) {
  return {
    apiVersion: "v1" as const,
    kind: "Service" as const,
    metadata: meta,
    spec: {
      type: "ClusterIP",
      selector: a.selector,
      // appProtocol "http" tells meshed clients' proxies the protocol, so they skip detection (docs/mesh.md).
      ports: [{ name: a.portName, port: a.port, targetPort: a.portName, protocol: "TCP", appProtocol: "http" }],
    },
  };
}

/** At most one pod down for voluntary disruptions (Karpenter consolidation, node upgrades). */
export function podDisruptionBudget(meta: Meta, selector: Record<string, string>) {
  return {
    apiVersion: "policy/v1" as const,
    kind: "PodDisruptionBudget" as const,
    metadata: meta,
    spec: { maxUnavailable: 1, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: "AlwaysAllow" },
  };
}

export interface HpaArgs {
  rolloutName: string;
  minReplicas: number;
  maxReplicas: number;
  targetCpuUtilization: number;
}

/**
 * autoscaling/v2 on CPU (% of request). Up fast (double or +4 pods per 15 s), down slowly (5-minute window, 10% a
 * minute) so a bursty producer does not make pods flap.
 */
export function horizontalPodAutoscaler(meta: Meta, a: HpaArgs) {
  return {
    apiVersion: "autoscaling/v2" as const,
    kind: "HorizontalPodAutoscaler" as const,
    metadata: meta,
    spec: {
      scaleTargetRef: scaleTarget(a.rolloutName),
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: a.targetCpuUtilization } } }],
      behavior: {
        scaleUp: {
          stabilizationWindowSeconds: 0,
          selectPolicy: "Max",
          policies: [
            { type: "Percent", value: 100, periodSeconds: 15 },
            { type: "Pods", value: 4, periodSeconds: 15 },
          ],
        },
        scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: "Max", policies: [{ type: "Percent", value: 10, periodSeconds: 60 }] },
      },
    },
  };
}

/** KEDA authenticates to MSK with the operator's own EKS Pod Identity role (components/autoscaling.ts). */
export function mskTriggerAuthentication(meta: Meta) {
  return { apiVersion: "keda.sh/v1alpha1" as const, kind: "TriggerAuthentication" as const, metadata: meta, spec: { podIdentity: { provider: "aws" } } };
}

export interface KafkaScaledObjectArgs {
  rolloutName: string;
  triggerAuthenticationName: string;
  minReplicas: number;
  maxReplicas: number;
  bootstrapServers: pulumi.Input<string>;
  consumerGroup: string;
  topic: string;
  lagThreshold: number;
  awsRegion: pulumi.Input<string>;
}

/**
 * A ScaledObject on the consumer group's lag over the events topic, read from MSK with IAM (SASL OAUTHBEARER with the
 * aws_msk_iam token provider, over TLS). KEDA creates and owns the HPA; replicas never exceed the partition count.
 * `earliest` matches the processor's fallback when the group has no committed offset yet.
 */
export function kafkaScaledObject(meta: Meta, a: KafkaScaledObjectArgs) {
  return {
    apiVersion: "keda.sh/v1alpha1" as const,
    kind: "ScaledObject" as const,
    metadata: meta,
    spec: {
      scaleTargetRef: scaleTarget(a.rolloutName),
      minReplicaCount: a.minReplicas,
      maxReplicaCount: a.maxReplicas,
      // KEDA's default poll; docs/autoscaling.md budgets 30-45 s from lag to new replicas with it.
      pollingInterval: 30,
      cooldownPeriod: 300,
      triggers: [
        {
          type: "kafka",
          authenticationRef: { name: a.triggerAuthenticationName },
          metadata: {
            bootstrapServers: a.bootstrapServers,
            consumerGroup: a.consumerGroup,
            topic: a.topic,
            lagThreshold: String(a.lagThreshold),
            offsetResetPolicy: "earliest",
            sasl: "oauthbearer",
            saslTokenProvider: "aws_msk_iam",
            tls: "enable",
            awsRegion: a.awsRegion,
          },
        },
      ],
    },
  };
}

export interface NetworkPolicyArgs {
  podSelector: Record<string, string>;
  /** Container ports that take traffic from anywhere in the VPC (meshed clients). */
  ingressPorts: number[];
  /** A container port that takes traffic from the NLB only: its fixed addresses. Default none. */
  loadBalancerIngress?: { port: number; cidrs: pulumi.Input<string>[] };
  /** The VPC CIDR: the NLB, the nodes and every pod take their addresses from it (VPC CNI). */
  vpcCidr: string;
  /** Ports of the data services the workload connects to (inside the VPC, in the isolated subnets). */
  dataPorts: number[];
  /** HTTPS to AWS APIs (Secrets Manager), for workloads that read their secrets at start. */
  awsApis: boolean;
  /** Where that HTTPS may go: the interface endpoints' reserved ranges. Default: public addresses only (through NAT). */
  awsApiCidrs?: pulumi.Input<string>[];
  /**
   * The telemetry collector: egress to its OTLP port, and ingress from it on `scrapePort` (the workload's metrics).
   * Default: none.
   */
  collector?: CollectorPeer & { scrapePort: number };
}

/** The OpenTelemetry Collector as the services see it (components/observability/collector.ts, COLLECTOR_PEER). */
export interface CollectorPeer {
  namespace: string;
  /** Its service account: the mesh identity ingest's Server admits. */
  serviceAccount: string;
  /** Labels of its pods. */
  podLabels: Readonly<Record<string, string>>;
  /** Its OTLP/HTTP port. */
  otlpPort: number;
  /** `http://<service>.<namespace>.svc.cluster.local:<otlpPort>`. */
  otlpEndpoint: string;
}

/** A NetworkPolicy peer for exactly the collector's pods. */
export function collectorPeerSelector(c: CollectorPeer) {
  return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": c.namespace } }, podSelector: { matchLabels: { ...c.podLabels } } };
}

/** Linkerd's proxy ports: inbound (meshed and opaque traffic arrives here) and admin (probes of the proxy, metrics). */
export const LINKERD_PROXY_PORTS = { inbound: 4143, admin: 4191 } as const;
/** The control-plane ports every proxy dials: identity 8080, destination 8086, policy 8090. */
export const LINKERD_CONTROL_PLANE_PORTS = [8080, 8086, 8090] as const;
/** The EKS Pod Identity agent, a link-local address served on every node. */
export const POD_IDENTITY_AGENT = { cidr: "169.254.170.23/32", port: 80 } as const;

/**
 * Addresses no public AWS API has: RFC 1918, shared (100.64/10) and link-local space. Excluding them from "the
 * internet" also excludes the cluster's Service range (EKS picks 10.100.0.0/16 or 172.20.0.0/16), so the
 * `kubernetes` Service's ClusterIP, which the policy agent sees before kube-proxy translates it, stays closed.
 */
export const NON_PUBLIC_RANGES = ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"] as const;

const tcp = (port: number) => ({ protocol: "TCP", port });

/**
 * Ingress from the VPC on the workload's own ports and the proxy's (a port behind the NLB from the NLB's fixed
 * addresses only); egress to DNS, the Linkerd control plane, the Pod Identity agent, the data services' ports in the
 * VPC and, where needed, HTTPS to AWS APIs. Everything else is dropped, so a compromised pod cannot reach IMDS.
 *
 * The HTTPS rule decides what else it can reach. With interface endpoints (`awsApiCidrs`), HTTPS goes only to their
 * reserved ranges, where nothing but the endpoints and the NLB has an address (components/fixed-addresses.ts): not the
 * Kubernetes API (neither its private ENIs, which EKS addresses outside those ranges, nor its public endpoint) and not
 * the internet. Without them (dev), AWS APIs are only on the internet, so HTTPS goes to any public address through
 * NAT (NON_PUBLIC_RANGES and the VPC excluded): the private API ENIs and the `kubernetes` Service are not reachable,
 * the cluster's public endpoint is, by network, if enabled and if its CIDRs admit the NAT addresses, but the pods carry
 * no Kubernetes credentials (no service account token is mounted, ./pod.ts). Enforced by the VPC CNI's network policy
 * agent (components/cluster.ts turns it on).
 */
export function networkPolicy(meta: Meta, a: NetworkPolicyArgs) {
  const vpc = [{ ipBlock: { cidr: a.vpcCidr } }];
  const egress: k8s.types.input.networking.v1.NetworkPolicyEgressRule[] = [
    { ports: [{ protocol: "UDP", port: 53 }, tcp(53)] },
    { to: vpc, ports: LINKERD_CONTROL_PLANE_PORTS.map(tcp) },
    { to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT.cidr } }], ports: [tcp(POD_IDENTITY_AGENT.port)] },
  ];
  if (a.dataPorts.length > 0) egress.push({ to: vpc, ports: a.dataPorts.map(tcp) });
  if (a.awsApis) {
    const except = [...new Set([...NON_PUBLIC_RANGES, a.vpcCidr])];
    const to = a.awsApiCidrs ? a.awsApiCidrs.map((cidr) => ({ ipBlock: { cidr } })) : [{ ipBlock: { cidr: "0.0.0.0/0", except } }];
    egress.push({ to, ports: [tcp(443)] });
  }
  if (a.collector) egress.push({ to: [collectorPeerSelector(a.collector)], ports: [tcp(a.collector.otlpPort)] });
  const ingress: k8s.types.input.networking.v1.NetworkPolicyIngressRule[] = [
    { from: vpc, ports: [...a.ingressPorts, LINKERD_PROXY_PORTS.inbound, LINKERD_PROXY_PORTS.admin].map(tcp) },
  ];
  if (a.collector) ingress.push({ from: [collectorPeerSelector(a.collector)], ports: [tcp(a.collector.scrapePort)] });
  if (a.loadBalancerIngress) ingress.push({ from: a.loadBalancerIngress.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [tcp(a.loadBalancerIngress.port)] });
  return {
    apiVersion: "networking.k8s.io/v1" as const,
    kind: "NetworkPolicy" as const,
    metadata: meta,
    spec: {
      podSelector: { matchLabels: a.podSelector },
      policyTypes: ["Ingress", "Egress"],
      ingress,
      egress,
    },
  };
}

export interface TargetGroupBindingArgs {
  serviceName: string;
  servicePort: number;
  targetGroupArn: pulumi.Input<string>;
  /** The NLB's security group, admitted on `podPort` by the rule the controller manages. */
  loadBalancerSecurityGroupId: pulumi.Input<string>;
  podPort: number;
}

/**
 * Binds the Service's pods (by IP) to the target group Pulumi owns. `networking` makes the controller add, and
 * remove with the binding, the rule that admits the NLB's security group on the pods' port in the nodes' group.
 */
export function targetGroupBinding(meta: Meta, a: TargetGroupBindingArgs) {
  return {
    apiVersion: "elbv2.k8s.aws/v1beta1" as const,
    kind: "TargetGroupBinding" as const,
    metadata: meta,
    spec: {
      serviceRef: { name: a.serviceName, port: a.servicePort },
      targetGroupARN: a.targetGroupArn,
      targetType: "ip",
      ipAddressType: "ipv4",
      networking: { ingress: [{ from: [{ securityGroup: { groupID: a.loadBalancerSecurityGroupId } }], ports: [{ protocol: "TCP", port: a.podPort }] }] },
    },
  };
}

/** A Linkerd Server: all traffic to one port of the selected pods; anything no policy authorizes is denied. */
export function linkerdServer(meta: Meta, a: { podSelector: Record<string, string>; port: string; proxyProtocol: "HTTP/1" | "HTTP/2" | "opaque" }) {
  return {
    apiVersion: "policy.linkerd.io/v1beta3" as const,
    kind: "Server" as const,
    metadata: meta,
    spec: { podSelector: { matchLabels: a.podSelector }, port: a.port, proxyProtocol: a.proxyProtocol, accessPolicy: "deny" },
  };
}

/** Clients identified by address rather than mesh identity: here, the NLB's fixed addresses. */
export function linkerdNetworkAuthentication(meta: Meta, cidrs: pulumi.Input<string>[]) {
  return { apiVersion: "policy.linkerd.io/v1alpha1" as const, kind: "NetworkAuthentication" as const, metadata: meta, spec: { networks: cidrs.map((cidr) => ({ cidr })) } };
}

/** Authorizes the clients of a NetworkAuthentication (or, with `kind`, a MeshTLSAuthentication) on a Server. */
export function linkerdAuthorizationPolicy(meta: Meta, a: { serverName: string; networkAuthenticationName: string; kind?: "NetworkAuthentication" | "MeshTLSAuthentication" }) {
  return {
    apiVersion: "policy.linkerd.io/v1alpha1" as const,
    kind: "AuthorizationPolicy" as const,
    metadata: meta,
    spec: {
      targetRef: { group: "policy.linkerd.io", kind: "Server", name: a.serverName },
      requiredAuthenticationRefs: [{ group: "policy.linkerd.io", kind: a.kind ?? "NetworkAuthentication", name: a.networkAuthenticationName }],
    },
  };
}

/** Clients identified by their mesh identity: exactly one service account of one namespace. */
export function linkerdMeshTlsAuthentication(meta: Meta, a: { serviceAccount: string; namespace: string }) {
  return {
    apiVersion: "policy.linkerd.io/v1alpha1" as const,
    kind: "MeshTLSAuthentication" as const,
    metadata: meta,
    spec: { identityRefs: [{ kind: "ServiceAccount", name: a.serviceAccount, namespace: a.namespace }] },
  };
}
