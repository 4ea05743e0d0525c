// CloudWatch metrics into the AMP workspace: yet-another-cloudwatch-exporter (YACE) serves the stack's CloudWatch
// metrics (Aurora, ElastiCache, MSK, API Gateway, the NLB) as Prometheus series, and the collector scrapes it like any
// other target, so the data-services dashboard and the alarms' metrics are in the workspace beside everything else.
//
// Creates, in the collector's namespace:
//   - the Pod Identity role `observability/cloudwatch-exporter`: cloudwatch:GetMetricData and ListMetrics and
//     tag:GetResources in the stack's region, apigateway:GET on the region's two API collections (./policies.ts);
//   - the prometheus-yet-another-cloudwatch-exporter chart (components/versions.ts): one replica on the workload nodes,
//     meshed by Linkerd (only meshed clients, the collector, may scrape it), non-root with a read-only root filesystem,
//     no privilege escalation, no capabilities, seccomp RuntimeDefault, requests and a memory limit, no Kubernetes API
//     token (it reads nothing from the cluster), the Kubernetes recommended labels on its Deployment, pods and service
//     account (the chart's Service and ConfigMap take no labels of ours);
//   - its configuration (./cloudwatch-exporter-config.ts): discovery jobs limited to resources carrying the stack's
//     Project and Stack tags, at the exact dimensions the dashboards and alarms read;
//   - a NetworkPolicy: its metrics port from the collector's pods only; egress to DNS, the Linkerd control plane, the
//     Pod Identity agent and 443: in the VPC (STS's interface endpoint where there is one) and to public addresses
//     through NAT in both stacks, as CloudWatch, the tagging API and API Gateway have no interface endpoint here
//     (components/network.ts INTERFACE_ENDPOINT_SERVICES).
//
// Expects from its caller: the cluster, the namespace (Collector.namespace), the stack's tags, the region, the VPC CIDR
// and Linkerd (the pod is meshed, so the injector must serve first).
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Cluster } from "../cluster";
import { createPodIdentityRole } from "../pod-identity";
import { VERSIONS } from "../versions";
import { LINKERD_PROXY_PORTS } from "../workload/manifests";
import { WORKLOAD_NODE_SELECTOR } from "../workload/pod";
import { CLOUDWATCH_EXPORTER_PEER, cloudWatchExporterConfig } from "./cloudwatch-exporter-config";
import { agentEgress, COLLECTOR_POD_LABELS } from "./collector";
import { cloudWatchExporterPolicy } from "./policies";

export const CLOUDWATCH_EXPORTER_DEFAULTS = {
  /** Release, Deployment, Service and ServiceAccount name. */
  name: CLOUDWATCH_EXPORTER_PEER.name,
  /** The pods' app.kubernetes.io/name (the chart's `nameOverride`): the application, not the chart. */
  appName: CLOUDWATCH_EXPORTER_PEER.podLabels["app.kubernetes.io/name"],
  /**
   * How often YACE asks CloudWatch (its `scraping-interval`, 300 by default), and the period and window it asks for.
   * Every ask is billed per metric requested (GetMetricData): about 25 metrics a minute here, a few dollars a month.
   * The collector's scrapes in between are served from YACE's cache.
   */
  scrapingIntervalSeconds: 60,
  periodSeconds: 60,
  lengthSeconds: 300,
  resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } },
};

/** The recommended labels the chart does not set itself (it sets name, instance and version). */
const RECOMMENDED_LABELS = { "app.kubernetes.io/component": "metrics-exporter", "app.kubernetes.io/part-of": "eventstack", "app.kubernetes.io/managed-by": "Helm" };

export interface CloudWatchExporterArgs {
  cluster: Cluster;
  /** The namespace (Collector.namespace) and what its existence is (Collector.ready). */
  namespace: string;
  namespaceReady: pulumi.Resource[];
  /** The region CloudWatch is read in (the stack's). */
  region: string;
  /** Tags the stack's resources carry (the provider's default tags); only resources carrying all of them are exported. */
  searchTags: Record<string, string>;
  /** The VPC CIDR: the Linkerd control plane and the interface endpoints are in it. */
  vpcCidr: pulumi.Input<string>;
  /** Linkerd (Linkerd.ready): the exporter is meshed. */
  meshReady: pulumi.Resource[];
}

/** The chart's values. */
export function cloudWatchExporterValues(a: { region: string; searchTags: Record<string, string> }) {
  const d = CLOUDWATCH_EXPORTER_DEFAULTS;
  const config = cloudWatchExporterConfig({ region: a.region, searchTags: a.searchTags, periodSeconds: d.periodSeconds, lengthSeconds: d.lengthSeconds });
  return {
    fullnameOverride: d.name,
    nameOverride: d.appName,
    replicaCount: 1,
    image: { tag: VERSIONS.charts.cloudWatchExporter.appVersion },
    serviceAccount: { create: true, name: d.name, automountServiceAccountToken: false, labels: RECOMMENDED_LABELS },
    deployment: { labels: RECOMMENDED_LABELS },
    podLabels: RECOMMENDED_LABELS,
    podAnnotations: {
      "linkerd.io/inject": "enabled",
      // Only meshed clients (the collector) may scrape it.
      "config.linkerd.io/default-inbound-policy": "all-authenticated",
      // TLS YACE opens itself to AWS APIs: the proxy can add nothing there (docs/mesh.md, "Off-cluster TLS databases").
      "config.linkerd.io/skip-outbound-ports": "443",
    },
    // The image's user is nobody (65534; Dockerfile at v0.67.0).
    podSecurityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, runAsNonRoot: true },
    resources: d.resources,
    nodeSelector: WORKLOAD_NODE_SELECTOR,
    testConnection: false,
    extraArgs: { "scraping-interval": d.scrapingIntervalSeconds },
    extraEnv: [{ name: "AWS_REGION", value: a.region }],
    // The chart renders `config` through tpl into the ConfigMap YACE reads; JSON is YAML.
    config: JSON.stringify(config),
  };
}

const tcp = (port: number) => ({ protocol: "TCP", port });

/**
 * The exporter's NetworkPolicy: its port (and the proxy's) from the collector only, the proxy's admin port from the
 * VPC; the agents' egress with 443 to public addresses (none of its APIs has an interface endpoint here).
 */
export function cloudWatchExporterNetworkPolicy(a: { namespace: string; vpcCidr: string }) {
  return {
    apiVersion: "networking.k8s.io/v1" as const,
    kind: "NetworkPolicy" as const,
    metadata: { name: CLOUDWATCH_EXPORTER_DEFAULTS.name, namespace: a.namespace },
    spec: {
      podSelector: { matchLabels: { ...CLOUDWATCH_EXPORTER_PEER.podLabels } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        { from: [{ podSelector: { matchLabels: { ...COLLECTOR_POD_LABELS } } }], ports: [tcp(CLOUDWATCH_EXPORTER_PEER.port), tcp(LINKERD_PROXY_PORTS.inbound)] },
        { from: [{ ipBlock: { cidr: a.vpcCidr } }], ports: [tcp(LINKERD_PROXY_PORTS.admin)] },
      ],
      egress: agentEgress(a.vpcCidr, undefined),
    },
  };
}

export class CloudWatchExporter extends pulumi.ComponentResource {
  readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: CloudWatchExporterArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:observability:CloudWatchExporter", name, {}, opts);
    const { cluster, namespace } = args;
    const d = CLOUDWATCH_EXPORTER_DEFAULTS;
    const awsOpts = { parent: this, provider: opts.provider };
    const k8sOpts = { parent: this, provider: cluster.provider, dependsOn: args.namespaceReady };

    const role = createPodIdentityRole(
      `${name}-role`,
      {
        clusterName: cluster.name,
        clusterArn: cluster.clusterArn,
        namespace,
        serviceAccount: d.name,
        description: "yet-another-cloudwatch-exporter: reads the stack's CloudWatch metrics",
        // The partition from the cluster's ARN (arn:<partition>:eks:...).
        policies: { read: pulumi.output(cluster.clusterArn).apply((arn) => cloudWatchExporterPolicy({ partition: arn.split(":")[1]!, region: args.region })) },
      },
      awsOpts,
    );

    const chart = VERSIONS.charts.cloudWatchExporter;
    new k8s.helm.v3.Release(
      `${name}-release`,
      {
        name: d.name,
        chart: chart.chart,
        version: chart.version,
        repositoryOpts: { repo: chart.repo },
        namespace,
        values: cloudWatchExporterValues({ region: args.region, searchTags: args.searchTags }),
      },
      // The association first, or YACE starts without credentials; the mesh, or it starts unmeshed.
      { ...k8sOpts, dependsOn: [...args.namespaceReady, role.association, ...args.meshReady] },
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-network-policy`,
      pulumi.output(args.vpcCidr).apply((vpcCidr) => cloudWatchExporterNetworkPolicy({ namespace, vpcCidr })),
      k8sOpts,
    );

    this.roleArn = role.role.arn;
    this.registerOutputs({ roleArn: this.roleArn });
  }
}
