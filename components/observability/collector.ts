// The in-cluster half of metrics and traces: an OpenTelemetry Collector that scrapes Prometheus endpoints and writes
// them to the AMP workspace, receives the services' spans over OTLP/HTTP and sends a tail-sampled share to X-Ray.
//
// Creates:
//   - the `observability` namespace (Grafana and the log agent run there too);
//   - kube-state-metrics and prometheus-node-exporter (pinned charts, components/versions.ts);
//   - the collector (chart opentelemetry-collector, contrib image, one replica: tail sampling needs every span of a
//     trace on one instance), meshed by Linkerd so that it has a mesh identity: the apps' namespace admits only
//     authenticated clients, and ingest's port admits this identity by name (components/workload, `collector`);
//   - its Pod Identity role: aps:RemoteWrite on the workspace ARN, and X-Ray's two write actions (./policies.ts);
//   - no CloudWatch access of its own: the CloudWatch exporter (./cloudwatch-exporter.ts) reads CloudWatch, and the
//     collector scrapes it like the other targets (scrapeTargets, job `cloudwatch`);
//   - a NetworkPolicy that admits OTLP from the apps' pods only, and lets the collector reach its scrape targets,
//     the Kubernetes API (pod discovery), the Pod Identity agent and AWS endpoints on 443, and nothing else;
//   - MSK open monitoring ingress (11001 JMX exporter, 11002 node exporter) on the brokers' security group, from the
//     nodes' security group (every node carries it; no narrower AWS identity exists for a pod without security groups
//     for pods, see docs/observability-aws.md), narrowed to the collector by NetworkPolicy inside the cluster.
//
// Expects from its caller: the cluster, the workspace, the MSK cluster's bootstrap string and security group, the
// apps' namespace, and what the releases wait for (Linkerd, the system nodes).
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Cluster } from "../cluster";
import { createPodIdentityRole } from "../pod-identity";
import type { Ready } from "../ready";
import { VERSIONS } from "../versions";
import { LINKERD_CONTROL_PLANE_PORTS, LINKERD_PROXY_PORTS, NON_PUBLIC_RANGES, POD_IDENTITY_AGENT } from "../workload/manifests";
import { WORKLOAD_NODE_SELECTOR } from "../workload/pod";
import { CLOUDWATCH_EXPORTER_PEER } from "./cloudwatch-exporter-config";
import { brokerHosts, collectorConfig, HEALTH_PORT, MSK_EXPORTER_PORTS, OTLP_HTTP_PORT, type PodScrapeTarget } from "./collector-config";
import { remoteWritePolicy, xrayPolicy } from "./policies";
import { COLLECTOR_DEFAULTS } from "../defaults/collector";
export { COLLECTOR_DEFAULTS };

/** The labels of the collector's pods (the chart's selector labels for release `COLLECTOR_DEFAULTS.name`). */
export const COLLECTOR_POD_LABELS = { "app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": COLLECTOR_DEFAULTS.name } as const;

/** What the services need to send spans to the collector and let it scrape them (components/workload `collector`). */
export const COLLECTOR_PEER = {
  namespace: COLLECTOR_DEFAULTS.namespace,
  serviceAccount: COLLECTOR_DEFAULTS.name,
  podLabels: COLLECTOR_POD_LABELS,
  otlpPort: OTLP_HTTP_PORT,
  otlpEndpoint: `http://${COLLECTOR_DEFAULTS.name}.${COLLECTOR_DEFAULTS.namespace}.svc.cluster.local:${OTLP_HTTP_PORT}`,
};

export interface CollectorArgs {
  cluster: Cluster;
  /** The AMP workspace (Metrics.workspaceArn, Metrics.prometheusEndpoint). */
  workspaceArn: pulumi.Input<string>;
  prometheusEndpoint: pulumi.Input<string>;
  /** The region spans and samples are sent in. */
  region: string;
  /** The VPC CIDR: the Kubernetes API's private ENIs, the nodes (node exporter) and the MSK brokers are in it. */
  vpcCidr: pulumi.Input<string>;
  /** Where HTTPS to AWS APIs may go (Network.awsApiCidrs); default: public addresses through NAT. */
  awsApiCidrs?: pulumi.Input<string>[];
  /** The MSK cluster: its bootstrap string (broker host names) and its security group. */
  kafka: { bootstrapBrokers: pulumi.Input<string>; securityGroupId: pulumi.Input<string> };
  /** The security group every node carries (Cluster.nodeSecurityGroupId), admitted on the MSK exporter ports. */
  nodeSecurityGroupId: pulumi.Input<string>;
  /** The apps' namespace, whose ingest and processor are scraped and may send spans. */
  appsNamespace: string;
  /** KEDA's namespace (PodAutoscaling.kedaNamespace). */
  kedaNamespace: string;
  /** Prometheus scrape interval. Default 30. Config `observability.scrapeIntervalSeconds`. */
  scrapeIntervalSeconds?: number;
  /** Traces slower than this are always kept. Default 1000. Config `observability.traceLatencyThresholdMs`. */
  traceLatencyThresholdMs?: number;
  /** The share of other traces kept, in percent. Default 10. Config `observability.traceSamplePercent`. */
  traceSamplePercent?: number;
  /** Linkerd (Linkerd.ready): the collector is meshed, so the injector must serve first. */
  meshReady: pulumi.Resource[];
}

/** What the collector scrapes, by job. */
export function scrapeTargets(appsNamespace: string, kedaNamespace: string, namespace: string): PodScrapeTarget[] {
  return [
    { job: "ingest", namespace: appsNamespace, value: "ingest", port: "http" },
    { job: "processor", namespace: appsNamespace, value: "processor", port: "http" },
    // Every meshed pod's proxy: the admin port serves Linkerd's golden metrics.
    { job: "linkerd-proxy", container: "linkerd-proxy", port: "linkerd-admin" },
    // The KEDA operator's metrics port (prometheus.operator.enabled in components/autoscaling.ts kedaValues).
    { job: "keda", namespace: kedaNamespace, value: "keda-operator", port: "metrics" },
    // Karpenter's chart names the port http-metrics (charts/karpenter/templates/deployment.yaml at v1.14.1).
    { job: "karpenter", namespace: "kube-system", value: "karpenter", port: "http-metrics" },
    { job: "kube-state-metrics", namespace, value: "kube-state-metrics", port: "http" },
    { job: "node-exporter", namespace, value: "prometheus-node-exporter", port: "metrics" },
    // CloudWatch metrics as YACE names them (./cloudwatch-exporter.ts; the chart's port name is `http`).
    { job: "cloudwatch", namespace, value: CLOUDWATCH_EXPORTER_PEER.podLabels["app.kubernetes.io/name"], port: CLOUDWATCH_EXPORTER_PEER.portName },
  ];
}

/** The chart's values. */
export function collectorValues(config: object, region: string) {
  return {
    mode: "deployment",
    fullnameOverride: COLLECTOR_DEFAULTS.name,
    replicaCount: 1,
    image: { repository: COLLECTOR_DEFAULTS.image },
    // The whole configuration, not merged with the chart's default (jaeger, zipkin, debug exporters).
    alternateConfig: config,
    serviceAccount: { create: true, name: COLLECTOR_DEFAULTS.name },
    // Pod discovery for the prometheus receiver.
    clusterRole: {
      create: true,
      rules: [
        { apiGroups: [""], resources: ["pods", "nodes", "endpoints", "services"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
      ],
    },
    ports: {
      otlp: { enabled: false },
      "otlp-http": { enabled: true, containerPort: OTLP_HTTP_PORT, servicePort: OTLP_HTTP_PORT, protocol: "TCP" },
      "jaeger-compact": { enabled: false },
      "jaeger-thrift": { enabled: false },
      "jaeger-grpc": { enabled: false },
      zipkin: { enabled: false },
    },
    extraEnvs: [{ name: "AWS_REGION", value: region }],
    podAnnotations: {
      "linkerd.io/inject": "enabled",
      // Only meshed clients (the services' proxies) may send spans.
      "config.linkerd.io/default-inbound-policy": "all-authenticated",
      // TLS the collector opens itself to endpoints outside the cluster (AWS APIs, the brokers' exporters): the proxy
      // can add nothing there (docs/mesh.md, "Off-cluster TLS databases").
      "config.linkerd.io/skip-outbound-ports": ["443", String(MSK_EXPORTER_PORTS.jmx), String(MSK_EXPORTER_PORTS.node)].join(","),
    },
    podSecurityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, runAsNonRoot: true },
    resources: COLLECTOR_DEFAULTS.resources,
    nodeSelector: WORKLOAD_NODE_SELECTOR,
    livenessProbe: { httpGet: { port: HEALTH_PORT, path: "/" } },
    readinessProbe: { httpGet: { port: HEALTH_PORT, path: "/" } },
  };
}

const tcp = (port: number) => ({ protocol: "TCP", port });

/**
 * The collector's NetworkPolicy. Ingress: OTLP (and the proxy's inbound port) from the apps' pods, the proxy's admin
 * port from the VPC (kubelet probes of the proxy). Egress: DNS; the Linkerd control plane; the Pod Identity agent; the
 * scrape targets' ports and the MSK exporters inside the VPC; 443 inside the VPC (the Kubernetes API for discovery, the
 * interface endpoints) and, where AWS APIs are reached through NAT, to public addresses.
 */
export function collectorNetworkPolicy(a: { namespace: string; appsNamespace: string; vpcCidr: string; awsApiCidrs?: string[] }) {
  const vpc = [{ ipBlock: { cidr: a.vpcCidr } }];
  const p = COLLECTOR_DEFAULTS.scrapePorts;
  const scrapePorts = [...new Set([p.ingest, p.processor, p.karpenter, p.keda, p.kubeStateMetrics, p.nodeExporter, p.cloudWatchExporter, LINKERD_PROXY_PORTS.admin, MSK_EXPORTER_PORTS.jmx, MSK_EXPORTER_PORTS.node])].sort((x, y) => x - y);
  return {
    apiVersion: "networking.k8s.io/v1" as const,
    kind: "NetworkPolicy" as const,
    metadata: { name: COLLECTOR_DEFAULTS.name, namespace: a.namespace },
    spec: {
      podSelector: { matchLabels: { ...COLLECTOR_POD_LABELS } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": a.appsNamespace } } }], ports: [tcp(OTLP_HTTP_PORT), tcp(LINKERD_PROXY_PORTS.inbound)] },
        { from: vpc, ports: [tcp(LINKERD_PROXY_PORTS.admin)] },
      ],
      egress: [...agentEgress(a.vpcCidr, a.awsApiCidrs), { to: vpc, ports: scrapePorts.map(tcp) }],
    },
  };
}

/**
 * The egress every meshed agent of this namespace needs (the collector, the CloudWatch exporter): DNS; the Linkerd
 * control plane; the Pod Identity agent; 443 inside the VPC (the Kubernetes API, the interface endpoints) and, where
 * AWS APIs are reached through NAT (`awsApiCidrs` undefined), to public addresses.
 */
export function agentEgress(vpcCidr: string, awsApiCidrs?: string[]) {
  const vpc = [{ ipBlock: { cidr: vpcCidr } }];
  return [
    { ports: [{ protocol: "UDP", port: 53 }, tcp(53)] },
    { to: vpc, ports: LINKERD_CONTROL_PLANE_PORTS.map(tcp) },
    { to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT.cidr } }], ports: [tcp(POD_IDENTITY_AGENT.port)] },
    { to: vpc, ports: [tcp(443)] },
    ...(awsApiCidrs === undefined ? [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [...new Set([...NON_PUBLIC_RANGES, vpcCidr])] } }], ports: [tcp(443)] }] : []),
  ];
}

export class Collector extends pulumi.ComponentResource {
  readonly namespace: string;
  /** The OTLP/HTTP endpoint the services send spans to. */
  readonly otlpEndpoint: string;
  readonly roleArn: pulumi.Output<string>;
  /** Before anything in its namespace: the namespace exists (Grafana and the log agent wait for it). */
  readonly ready: Ready;

  constructor(name: string, args: CollectorArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:observability:Collector", name, {}, opts);
    const namespace = COLLECTOR_DEFAULTS.namespace;
    const scrapeIntervalSeconds = args.scrapeIntervalSeconds ?? COLLECTOR_DEFAULTS.scrapeIntervalSeconds;
    const traceLatencyThresholdMs = args.traceLatencyThresholdMs ?? COLLECTOR_DEFAULTS.traceLatencyThresholdMs;
    const traceSamplePercent = args.traceSamplePercent ?? COLLECTOR_DEFAULTS.traceSamplePercent;
    const { cluster } = args;
    const awsOpts = { parent: this, provider: opts.provider };
    const k8sOpts = { parent: this, provider: cluster.provider };

    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: namespace, labels: { "app.kubernetes.io/part-of": "eventstack", "app.kubernetes.io/managed-by": "pulumi" } } },
      { ...k8sOpts, dependsOn: cluster.ready },
    );

    const role = createPodIdentityRole(
      `${name}-collector`,
      {
        clusterName: cluster.name,
        clusterArn: cluster.clusterArn,
        namespace,
        serviceAccount: COLLECTOR_DEFAULTS.name,
        description: "OpenTelemetry Collector: remote write to the AMP workspace, spans to X-Ray",
        policies: { "remote-write": pulumi.output(args.workspaceArn).apply(remoteWritePolicy), xray: xrayPolicy(args.region) },
      },
      awsOpts,
    );

    // MSK open monitoring, from the nodes (see the header).
    for (const [exporter, port] of Object.entries(MSK_EXPORTER_PORTS)) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-msk-${exporter}-exporter`,
        {
          securityGroupId: args.kafka.securityGroupId,
          referencedSecurityGroupId: args.nodeSecurityGroupId,
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          description: `MSK open monitoring (${exporter} exporter) for the OpenTelemetry Collector`,
        },
        awsOpts,
      );
    }

    const chart = (key: "kubeStateMetrics" | "nodeExporter" | "openTelemetryCollector") => ({
      chart: VERSIONS.charts[key].chart,
      version: VERSIONS.charts[key].version,
      repositoryOpts: { repo: VERSIONS.charts[key].repo },
      namespace: ns.metadata.name,
    });
    new k8s.helm.v3.Release(
      `${name}-kube-state-metrics`,
      { name: "kube-state-metrics", ...chart("kubeStateMetrics"), values: { nodeSelector: WORKLOAD_NODE_SELECTOR, resources: COLLECTOR_DEFAULTS.kubeStateMetricsResources } },
      { ...k8sOpts, dependsOn: [ns] },
    );
    new k8s.helm.v3.Release(
      `${name}-node-exporter`,
      // The chart's DaemonSet tolerates NoSchedule taints (values.yaml), so it runs on the system nodes too.
      { name: "prometheus-node-exporter", ...chart("nodeExporter"), values: { resources: COLLECTOR_DEFAULTS.nodeExporterResources } },
      { ...k8sOpts, dependsOn: [ns] },
    );

    const config = pulumi.all([args.prometheusEndpoint, args.kafka.bootstrapBrokers]).apply(([prometheusEndpoint, bootstrap]) =>
      collectorConfig({
        region: args.region,
        prometheusEndpoint,
        pods: scrapeTargets(args.appsNamespace, args.kedaNamespace, namespace),
        kafkaBrokerHosts: brokerHosts(bootstrap),
        scrapeIntervalSeconds,
        latencyThresholdMs: traceLatencyThresholdMs,
        samplePercent: traceSamplePercent,
      }),
    );
    new k8s.helm.v3.Release(
      `${name}-collector`,
      { name: COLLECTOR_DEFAULTS.name, ...chart("openTelemetryCollector"), values: config.apply((c) => collectorValues(c, args.region)) },
      // The association first, or the collector starts without credentials; the mesh, or it starts unmeshed.
      { ...k8sOpts, dependsOn: [ns, role.association, ...args.meshReady] },
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-network-policy`,
      pulumi
        .all([args.vpcCidr, pulumi.output(args.awsApiCidrs)])
        .apply(([vpcCidr, awsApiCidrs]) => collectorNetworkPolicy({ namespace, appsNamespace: args.appsNamespace, vpcCidr, awsApiCidrs: awsApiCidrs ?? undefined })),
      { ...k8sOpts, dependsOn: [ns] },
    );

    this.namespace = namespace;
    this.otlpEndpoint = COLLECTOR_PEER.otlpEndpoint;
    this.roleArn = role.role.arn;
    this.ready = [ns];
    this.registerOutputs({ namespace, otlpEndpoint: this.otlpEndpoint, roleArn: this.roleArn });
  }
}
