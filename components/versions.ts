// The one table of pinned versions: EKS managed add-ons, Helm charts and the Karpenter node AMI.
//
// Nothing in the program floats to "latest": every version below is what a deployment installs, and changing
// one is a reviewed diff. Add an entry here (not a literal in a component) when you pin something new.
//
// How to find the next versions:
//   - EKS add-ons, for the cluster.kubernetesVersion in Pulumi.yaml:
//       aws eks describe-addon-versions --kubernetes-version 1.35 --addon-name <name> \
//         --query 'addons[].addonVersions[].addonVersion'
//     (the first entry is the newest; `--query 'addons[].addonVersions[?compatibilities[?defaultVersion]]'` the default)
//   - Helm charts: `helm show chart <repo or oci url> --version <v>`; for OCI charts
//     `aws ecr-public describe-image-tags --repository-name karpenter/karpenter --region us-east-1`.
//   - Karpenter's AMI alias: the AL2023 EKS AMI releases, https://github.com/awslabs/amazon-eks-ami/releases
//     (alias `al2023@<release>`); `al2023@latest` would roll every node on each AMI release, so it is pinned.

/** A Helm chart pinned to a version. `repo` is a classic chart repository; OCI charts carry their URL in `chart`. */
export interface PinnedChart {
  chart: string;
  version: string;
  repo?: string;
  /** The application release the chart installs, where the program fetches that release's files (CRDs). */
  appVersion?: string;
  /**
   * The Kubernetes minor versions this release supports, as its project documents them (`max` absent: no upper
   * bound documented). A cluster.kubernetesVersion outside any chart's range is not selectable.
   */
  kubernetes: { min: string; max?: string };
}

// Every pin below was checked on 2026-12-05 against the source named in its comment: the upstream repository at
// the pinned tag (release tags and Chart.yaml read with git) or the AWS documentation. Renovate (renovate.json)
// proposes updates; each proposal still needs the same check, and the support range beside it.
export const VERSIONS = {
  /**
   * EKS managed add-on versions, per Kubernetes minor version (the cluster.kubernetesVersion config key). Each
   * version is the newest the EKS user guide lists for that Kubernetes version, or as noted; `npm run
   * verify:upstream` asks `aws eks describe-addon-versions` for each before a deploy.
   */
  eksAddons: {
    "1.35": {
      // NOT CONFIRMED on 2026-12-05: no stored EKS user guide page (managing-vpc-cni) lists 1.35. The upstream
      // release v1.21.1 exists (aws/eks-charts stable/aws-vpc-cni, 2025-12-18; upstream is at v1.22.4 since
      // 2026-07-22, whose eksbuild for 1.35 is unknown here). verify:upstream's describe-addon-versions decides.
      // renovate: eksAddonsFilter={"kubernetesVersion":"1.35","addonName":"vpc-cni"}
      "vpc-cni": "v1.21.1-eksbuild.7",
      // EKS user guide, managing-coredns (newest for 1.35 and 1.36), 2026-12-05.
      // renovate: eksAddonsFilter={"kubernetesVersion":"1.35","addonName":"coredns"}
      coredns: "v1.14.3-eksbuild.3",
      // EKS user guide, managing-kube-proxy (newest for 1.35), 2026-12-05.
      // renovate: eksAddonsFilter={"kubernetesVersion":"1.35","addonName":"kube-proxy"}
      "kube-proxy": "v1.35.3-eksbuild.13",
      // NOT CONFIRMED on 2026-12-05: the EKS user guide has no per-version table for this add-on; only
      // verify:upstream's describe-addon-versions confirms it.
      // renovate: eksAddonsFilter={"kubernetesVersion":"1.35","addonName":"eks-pod-identity-agent"}
      "eks-pod-identity-agent": "v1.3.9-eksbuild.3",
    },
    "1.34": {
      // NOT CONFIRMED on 2026-12-05 (see 1.35): the previous pin, upstream release v1.20.4 (aws/eks-charts, 2025-10-15).
      // renovate: eksAddonsFilter={"kubernetesVersion":"1.34","addonName":"vpc-cni"}
      "vpc-cni": "v1.20.4-eksbuild.1",
      // EKS user guide, managing-coredns (newest for 1.34), 2026-12-05.
      // renovate: eksAddonsFilter={"kubernetesVersion":"1.34","addonName":"coredns"}
      coredns: "v1.13.2-eksbuild.11",
      // EKS user guide, managing-kube-proxy (newest for 1.34), 2026-12-05.
      // renovate: eksAddonsFilter={"kubernetesVersion":"1.34","addonName":"kube-proxy"}
      "kube-proxy": "v1.34.6-eksbuild.13",
      // NOT CONFIRMED on 2026-12-05 (see 1.35).
      // renovate: eksAddonsFilter={"kubernetesVersion":"1.34","addonName":"eks-pod-identity-agent"}
      "eks-pod-identity-agent": "v1.3.9-eksbuild.3",
    },
  },
  charts: {
    /**
     * Karpenter 1.14.1 (aws/karpenter-provider-aws tag v1.14.1, the newest release; 2026-12-05) supports Kubernetes
     * 1.30 to 1.36 (website/content/en/v1.14/upgrading/compatibility.md). The controller IAM policy in
     * components/karpenter/policy.ts mirrors this version's cloudformation.yaml; bump them together.
     */
    karpenter: { chart: "oci://public.ecr.aws/karpenter/karpenter", version: "1.14.1", kubernetes: { min: "1.30", max: "1.36" } },
    /** Karpenter's CRDs as their own chart, same version as the controller (see docs/autoscaling.md, "CRD ordering"). */
    karpenterCrd: { chart: "oci://public.ecr.aws/karpenter/karpenter-crd", version: "1.14.1", kubernetes: { min: "1.30", max: "1.36" } },
    /**
     * metrics-server 0.8.1 (chart 3.13.1: kubernetes-sigs/metrics-server tag metrics-server-helm-chart-3.13.1, the
     * newest chart; 0.9.0 has no chart release yet; 2026-12-05): 0.8.x supports Kubernetes 1.31+ (README,
     * Compatibility Matrix). The resource metrics API the ingest HPA reads.
     */
    metricsServer: { chart: "metrics-server", version: "3.13.1", repo: "https://kubernetes-sigs.github.io/metrics-server/", kubernetes: { min: "1.31" } },
    /**
     * KEDA 2.20.2 (kedacore/charts and kedacore/keda tag v2.20.2, the newest release; 2026-12-05) is tested on
     * Kubernetes 1.33 to 1.35 (keda.sh/docs/2.20/operate/cluster). KEDA bounds the default cluster version: 1.36
     * waits for KEDA 2.21.
     */
    keda: { chart: "keda", version: "2.20.2", repo: "https://kedacore.github.io/charts", kubernetes: { min: "1.33", max: "1.35" } },
    /**
     * Linkerd publishes open-source builds as edge releases only (stable builds come from vendors); edge-26.8.3
     * (linkerd/linkerd2 tag, the newest; 2026-12-05) is chart 2026.8.3, `kubeVersion: ">=1.31.0-0"` in both
     * charts' Chart.yaml. The CRDs chart and the control plane are always the same release: bump them together.
     */
    linkerdCrds: { chart: "linkerd-crds", version: "2026.8.3", repo: "https://helm.linkerd.io/edge", kubernetes: { min: "1.31" } },
    linkerdControlPlane: { chart: "linkerd-control-plane", version: "2026.8.3", repo: "https://helm.linkerd.io/edge", kubernetes: { min: "1.31" } },
    /**
     * AWS Load Balancer Controller v3.5.0, chart 3.5.0 (kubernetes-sigs/aws-load-balancer-controller tag v3.5.0 and
     * aws/eks-charts stable/aws-load-balancer-controller, the newest; 2026-12-05); v2.5.0+ requires Kubernetes
     * 1.22+ (docs/deploy/installation.md). Its IAM policy in components/load-balancer-controller-policy.ts follows
     * this version's docs/install/iam_policy.json (unchanged from v2.14.0); bump them together.
     */
    awsLoadBalancerController: {
      chart: "aws-load-balancer-controller",
      version: "3.5.0",
      repo: "https://aws.github.io/eks-charts",
      appVersion: "v3.5.0",
      kubernetes: { min: "1.22" },
    },
    /**
     * OpenTelemetry Collector chart 0.170.0 (open-telemetry/opentelemetry-helm-charts tag opentelemetry-collector-0.170.0,
     * the newest; 2026-12-06), appVersion 0.158.0, installed with the contrib image (the prometheus receiver, the
     * prometheusremotewrite and awsxray exporters, sigv4auth and tail_sampling are contrib components). No kubeVersion
     * in Chart.yaml; the collector uses only core APIs (Deployment, Service, ConfigMap, RBAC).
     */
    openTelemetryCollector: {
      chart: "opentelemetry-collector",
      version: "0.170.0",
      repo: "https://open-telemetry.github.io/opentelemetry-helm-charts",
      appVersion: "0.158.0",
      kubernetes: { min: "1.24" },
    },
    /**
     * kube-state-metrics 2.20.0, chart 8.4.0 (prometheus-community/helm-charts tag kube-state-metrics-8.4.0, the newest;
     * 2026-12-06). The chart rather than the EKS community add-on: the add-on's versions per cluster version could not
     * be checked here, the chart's values can (verify:upstream renders them).
     */
    kubeStateMetrics: { chart: "kube-state-metrics", version: "8.4.0", repo: "https://prometheus-community.github.io/helm-charts", appVersion: "2.20.0", kubernetes: { min: "1.24" } },
    /** node_exporter 1.12.1, chart prometheus-node-exporter 4.56.1 (same repository, tag prometheus-node-exporter-4.56.1, the newest; 2026-12-06). */
    nodeExporter: { chart: "prometheus-node-exporter", version: "4.56.1", repo: "https://prometheus-community.github.io/helm-charts", appVersion: "1.12.1", kubernetes: { min: "1.24" } },
    /**
     * yet-another-cloudwatch-exporter v0.67.0, chart prometheus-yet-another-cloudwatch-exporter 0.47.0
     * (prometheus-community/helm-charts tag prometheus-yet-another-cloudwatch-exporter-0.47.0, the newest, appVersion
     * v0.67.0; prometheus-community/yet-another-cloudwatch-exporter tag v0.67.0, the newest release; both read
     * 2026-12-06): values.yaml (`config` as text, `extraArgs`, `podLabels`, `deployment.labels`,
     * `serviceAccount.automountServiceAccountToken`, `testConnection`) and templates/deployment.yaml. No kubeVersion in
     * Chart.yaml and no CRD; core APIs only (Deployment, Service, ConfigMap, ServiceAccount).
     */
    cloudWatchExporter: {
      chart: "prometheus-yet-another-cloudwatch-exporter",
      version: "0.47.0",
      repo: "https://prometheus-community.github.io/helm-charts",
      appVersion: "v0.67.0",
      kubernetes: { min: "1.24" },
    },
    /**
     * Grafana 13.2.0, chart 12.11.1 (grafana-community/helm-charts tag grafana-12.11.1, the newest; 2026-12-06): the chart
     * moved there from grafana/helm-charts, whose last release grafana-10.5.15 is marked deprecated. kubeVersion ^1.25.0-0.
     */
    grafana: { chart: "grafana", version: "12.11.1", repo: "https://grafana-community.github.io/helm-charts", appVersion: "13.2.0", kubernetes: { min: "1.25" } },
    /**
     * Fluent Bit 5.1.1, chart 0.58.1 (fluent/helm-charts tag fluent-bit-0.58.1, the newest; 2026-12-06). EKS Pod Identity
     * credentials are read by Fluent Bit's AWS credential chain since fluent/fluent-bit#10115 (merged 2025-03, Fluent Bit 4.0).
     */
    fluentBit: { chart: "fluent-bit", version: "0.58.1", repo: "https://fluent.github.io/helm-charts", appVersion: "5.1.1", kubernetes: { min: "1.24" } },
    /**
     * Argo CD v3.4.4, chart argo-cd 10.1.1 (argoproj/argo-helm tag argo-cd-10.1.1, the newest chart, appVersion
     * v3.4.4; argoproj/argo-cd tag v3.4.4; both read 2026-12-06). Argo CD 3.4 is tested on Kubernetes 1.32 to 1.35
     * (argo-cd docs/operator-manual/tested-kubernetes-versions.md at v3.4.4). Installed in delivery.mode "argocd"
     * only. Its CRDs come from the release's manifests/crds/ (argoCdCrdUrls, components/argocd.ts); the chart's
     * templates/crds/ are gated by `crds.install`.
     */
    argoCd: { chart: "argo-cd", version: "10.1.1", repo: "https://argoproj.github.io/argo-helm", appVersion: "v3.4.4", kubernetes: { min: "1.32", max: "1.35" } },
    /**
     * Argo Rollouts v1.9.0, chart argo-rollouts 2.41.0 (argoproj/argo-helm tag argo-rollouts-2.41.0, the newest
     * chart, appVersion v1.9.0; argoproj/argo-rollouts tag v1.9.0; both read 2026-12-06). Its end-to-end tests run
     * on Kubernetes 1.31 to 1.34 (.github/workflows/testing.yaml at v1.9.0, which docs/installation.md names as the
     * support statement); no upper bound is documented, so none is set. CRDs from the release's manifests/crds/
     * (rolloutsCrdUrls, components/progressive-delivery.ts); the chart's templates/crds/ are gated by `installCRDs`.
     */
    argoRollouts: { chart: "argo-rollouts", version: "2.41.0", repo: "https://argoproj.github.io/argo-helm", appVersion: "v1.9.0", kubernetes: { min: "1.31" } },
  },
  /**
   * The AL2023 EKS AMI release Karpenter's nodes boot (EC2NodeClass amiSelectorTerms alias). v20260714 is the
   * newest awslabs/amazon-eks-ami release whose notes (CHANGELOG.md at tag v20260724, read 2026-12-05) list
   * amazon-eks-node-al2023-{x86_64,arm64}-standard-{1.34,1.35}-v20260714; the tag v20260724 has no release notes
   * in that snapshot, so it is not pinned yet.
   */
  karpenterAmiAlias: "al2023@v20260714",
} as const satisfies {
  eksAddons: Record<string, Record<EksAddonName, string>>;
  charts: Record<string, PinnedChart>;
  karpenterAmiAlias: string;
};

/** The cluster.kubernetesVersion default (Pulumi.yaml): the newest EKS version in standard support that every pin supports. */
export const DEFAULT_KUBERNETES_VERSION = "1.35";

export type EksAddonName = "vpc-cni" | "coredns" | "kube-proxy" | "eks-pod-identity-agent";

/**
 * The pinned add-on versions for a Kubernetes minor version. Throws when the table has none, so that a
 * cluster.kubernetesVersion bump cannot silently install add-ons built for another version.
 */
export function eksAddonVersions(kubernetesVersion: string): Record<EksAddonName, string> {
  const table: Record<string, Record<EksAddonName, string>> = VERSIONS.eksAddons;
  const found = table[kubernetesVersion];
  if (!found) {
    throw new Error(
      `components/versions.ts pins no EKS add-on versions for Kubernetes ${kubernetesVersion} (pinned: ${Object.keys(table).join(", ")}); ` +
        `add an entry from \`aws eks describe-addon-versions --kubernetes-version ${kubernetesVersion}\``,
    );
  }
  return found;
}
