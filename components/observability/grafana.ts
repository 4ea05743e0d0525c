// Dashboards: Grafana in the cluster, reading the AMP workspace with SigV4 through its own Pod Identity role.
//
// In-cluster Grafana rather than Amazon Managed Grafana: AMG authenticates users only through IAM Identity Center or a
// SAML identity provider, which this program cannot assume an account has (docs/observability-aws.md).
//
// Creates, in the collector's namespace:
//   - the admin credentials: a random password (a Pulumi secret, never in plain state) in a Kubernetes Secret the chart
//     reads through `admin.existingSecret`, so no password is in the chart's values;
//   - the Pod Identity role `observability/grafana`: aps:QueryMetrics, GetSeries, GetLabels, GetMetricMetadata on the
//     workspace ARN only (./policies.ts);
//   - one ConfigMap per dashboard of observability/dashboards (dashboards()), labelled for the chart's dashboard sidecar;
//   - the grafana chart on the system nodes: the datasource of uid `prometheus` (the uid the dashboards name), a
//     ClusterIP Service only (reach it with `kubectl port-forward`), no persistence (dashboards and the datasource are
//     provisioned; nothing else is kept), no test pod, no init container running as root;
//   - a NetworkPolicy: Grafana's port from the VPC only; egress to DNS, the Pod Identity agent and 443.
//
// Expects from its caller: the cluster, the workspace, the region and the namespace (Collector.namespace).
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { dashboards as repositoryDashboards } from "../../observability/dashboards";
import type { Cluster } from "../cluster";
import { createPodIdentityRole } from "../pod-identity";
import { systemPlacement } from "../system-nodes";
import { VERSIONS } from "../versions";
import { NON_PUBLIC_RANGES, POD_IDENTITY_AGENT } from "../workload/manifests";
import { queryPolicy } from "./policies";
import { GRAFANA_DEFAULTS } from "../defaults/grafana";
export { GRAFANA_DEFAULTS };

/** A dashboard as observability/dashboards provides it (only `dashboards()` is the interface, not a type name). */
export type Dashboard = ReturnType<typeof repositoryDashboards>[number];

export interface GrafanaArgs {
  cluster: Cluster;
  /** The namespace (Collector.namespace) and what its existence is (Collector.ready). */
  namespace: string;
  namespaceReady: pulumi.Resource[];
  /** The AMP workspace (Metrics.workspaceArn, Metrics.prometheusEndpoint). */
  workspaceArn: pulumi.Input<string>;
  prometheusEndpoint: pulumi.Input<string>;
  region: string;
  /** The VPC CIDR: the only network Grafana's port admits. */
  vpcCidr: pulumi.Input<string>;
  /** Where HTTPS to AWS APIs may go (Network.awsApiCidrs); default: public addresses through NAT. */
  awsApiCidrs?: pulumi.Input<string>[];
  /** The dashboards to provision. Default: dashboards() of observability/dashboards. */
  dashboards?: Dashboard[];
}

/** The datasource provisioning file: AMP as a Prometheus datasource, signed with the pod's credentials. */
export function datasources(prometheusEndpoint: string, region: string) {
  return {
    "datasources.yaml": {
      apiVersion: 1,
      datasources: [
        {
          name: "Amazon Managed Service for Prometheus",
          uid: GRAFANA_DEFAULTS.datasourceUid,
          type: "prometheus",
          access: "proxy",
          url: prometheusEndpoint.replace(/\/+$/, ""),
          isDefault: true,
          // "default": the AWS SDK's chain, which reads the Pod Identity credentials.
          jsonData: { httpMethod: "POST", sigV4Auth: true, sigV4AuthType: "default", sigV4Region: region },
        },
      ],
    },
  };
}

/** One ConfigMap per dashboard, named by uid; the sidecar writes each data key to a file Grafana provisions. */
export function dashboardConfigMap(d: Dashboard, namespace: string) {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(d.uid) || d.uid.length > 40) throw new Error(`Grafana: dashboard uid "${d.uid}" must be 1 to 40 lower-case letters, digits or - (it names a ConfigMap)`);
  return {
    apiVersion: "v1" as const,
    kind: "ConfigMap" as const,
    metadata: { name: `dashboard-${d.uid}`, namespace, labels: { [GRAFANA_DEFAULTS.dashboardLabel]: "1", "app.kubernetes.io/part-of": "eventstack" } },
    data: { [`${d.uid}.json`]: JSON.stringify({ ...d.json, uid: d.uid, title: d.title }) },
  };
}

export function grafanaValues(a: { prometheusEndpoint: string; region: string }) {
  return {
    fullnameOverride: GRAFANA_DEFAULTS.name,
    replicas: 1,
    admin: { existingSecret: GRAFANA_DEFAULTS.adminSecretName, userKey: "admin-user", passwordKey: "admin-password" },
    serviceAccount: { create: true, name: GRAFANA_DEFAULTS.name },
    // The dashboard sidecar watches ConfigMaps in this namespace only.
    rbac: { create: true, namespaced: true },
    service: { enabled: true, type: "ClusterIP", port: 80 },
    persistence: { enabled: false },
    testFramework: { enabled: false },
    initChownData: { enabled: false },
    env: { AWS_REGION: a.region },
    datasources: datasources(a.prometheusEndpoint, a.region),
    sidecar: {
      resources: GRAFANA_DEFAULTS.sidecarResources,
      dashboards: { enabled: true, label: GRAFANA_DEFAULTS.dashboardLabel, labelValue: "1", searchNamespace: null },
    },
    "grafana.ini": {
      analytics: { check_for_updates: false, reporting_enabled: false },
      auth: { sigv4_auth_enabled: true, disable_login_form: false },
      "auth.anonymous": { enabled: false },
      aws: { allowed_auth_providers: "default", assume_role_enabled: false },
      users: { allow_sign_up: false },
    },
    resources: GRAFANA_DEFAULTS.resources,
    nodeSelector: systemPlacement.nodeSelector,
    tolerations: systemPlacement.tolerations,
  };
}

const tcp = (port: number) => ({ protocol: "TCP", port });

export function grafanaNetworkPolicy(a: { namespace: string; vpcCidr: string; awsApiCidrs?: string[] }) {
  const vpc = [{ ipBlock: { cidr: a.vpcCidr } }];
  return {
    apiVersion: "networking.k8s.io/v1" as const,
    kind: "NetworkPolicy" as const,
    metadata: { name: GRAFANA_DEFAULTS.name, namespace: a.namespace },
    spec: {
      podSelector: { matchLabels: { "app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": GRAFANA_DEFAULTS.name } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: vpc, ports: [tcp(GRAFANA_DEFAULTS.port)] }],
      egress: [
        { ports: [{ protocol: "UDP", port: 53 }, tcp(53)] },
        { to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT.cidr } }], ports: [tcp(POD_IDENTITY_AGENT.port)] },
        // The Kubernetes API (the dashboard sidecar) and the interface endpoints are in the VPC.
        { to: vpc, ports: [tcp(443)] },
        ...(a.awsApiCidrs === undefined ? [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [...new Set([...NON_PUBLIC_RANGES, a.vpcCidr])] } }], ports: [tcp(443)] }] : []),
      ],
    },
  };
}

export class Grafana extends pulumi.ComponentResource {
  readonly roleArn: pulumi.Output<string>;
  /** In-cluster URL of the Grafana Service. */
  readonly url: string;
  /** The dashboards provisioned, by uid. */
  readonly dashboardUids: string[];

  constructor(name: string, args: GrafanaArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:observability:Grafana", name, {}, opts);
    const boards = args.dashboards ?? repositoryDashboards();
    const { cluster, namespace } = args;
    const awsOpts = { parent: this, provider: opts.provider };
    const k8sOpts = { parent: this, provider: cluster.provider, dependsOn: args.namespaceReady };

    const role = createPodIdentityRole(
      `${name}-grafana`,
      {
        clusterName: cluster.name,
        clusterArn: cluster.clusterArn,
        namespace,
        serviceAccount: GRAFANA_DEFAULTS.name,
        description: "Grafana: queries the AMP workspace",
        policies: { query: pulumi.output(args.workspaceArn).apply(queryPolicy) },
      },
      awsOpts,
    );

    // RandomPassword's result is a secret in state; the Secret's stringData is marked secret too.
    const password = new random.RandomPassword(`${name}-admin-password`, { length: 32, special: false }, { parent: this });
    const adminSecret = new k8s.core.v1.Secret(
      `${name}-admin`,
      { metadata: { name: GRAFANA_DEFAULTS.adminSecretName, namespace }, type: "Opaque", stringData: { "admin-user": "admin", "admin-password": pulumi.secret(password.result) } },
      k8sOpts,
    );
    const configMaps = boards.map((d) => new k8s.core.v1.ConfigMap(`${name}-dashboard-${d.uid}`, dashboardConfigMap(d, namespace), k8sOpts));

    new k8s.helm.v3.Release(
      `${name}-grafana`,
      {
        name: GRAFANA_DEFAULTS.name,
        chart: VERSIONS.charts.grafana.chart,
        version: VERSIONS.charts.grafana.version,
        repositoryOpts: { repo: VERSIONS.charts.grafana.repo },
        namespace,
        values: pulumi.output(args.prometheusEndpoint).apply((prometheusEndpoint) => grafanaValues({ prometheusEndpoint, region: args.region })),
      },
      { ...k8sOpts, dependsOn: [...args.namespaceReady, adminSecret, role.association, ...configMaps, ...cluster.ready] },
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-network-policy`,
      pulumi
        .all([args.vpcCidr, pulumi.output(args.awsApiCidrs)])
        .apply(([vpcCidr, awsApiCidrs]) => grafanaNetworkPolicy({ namespace, vpcCidr, awsApiCidrs: awsApiCidrs ?? undefined })),
      k8sOpts,
    );

    this.roleArn = role.role.arn;
    this.url = `http://${GRAFANA_DEFAULTS.name}.${namespace}.svc.cluster.local`;
    this.dashboardUids = boards.map((d) => d.uid);
    this.registerOutputs({ roleArn: this.roleArn, url: this.url, dashboardUids: this.dashboardUids });
  }
}
