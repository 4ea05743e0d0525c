// The one table of pinned versions: EKS managed add-ons, Helm charts and the Karpenter node AMI.
//
// Nothing in the program floats to "latest": every version below is what a deployment installs, and changing
// one is a reviewed diff. Add an entry here (not a literal in a component) when you pin something new.
//
// How to find the next versions:
//   - EKS add-ons, for the cluster.kubernetesVersion in Pulumi.yaml:
//       aws eks describe-addon-versions --kubernetes-version 1.34 --addon-name <name> \
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
}

export const VERSIONS = {
  /** EKS managed add-on versions, per Kubernetes minor version (the cluster.kubernetesVersion config key). */
  eksAddons: {
    "1.34": {
      "vpc-cni": "v1.20.4-eksbuild.1",
      coredns: "v1.12.3-eksbuild.1",
      "kube-proxy": "v1.34.0-eksbuild.2",
      "eks-pod-identity-agent": "v1.3.9-eksbuild.3",
    },
  },
  charts: {
    /**
     * Karpenter 1.10 supports Kubernetes 1.29 to 1.35 (karpenter.sh/docs/upgrading/compatibility). The controller
     * IAM policy in components/karpenter/policy.ts mirrors this version's cloudformation.yaml; bump them together.
     */
    karpenter: { chart: "oci://public.ecr.aws/karpenter/karpenter", version: "1.10.0" },
    /** Karpenter's CRDs as their own chart, same version as the controller (see docs/autoscaling.md, "CRD ordering"). */
    karpenterCrd: { chart: "oci://public.ecr.aws/karpenter/karpenter-crd", version: "1.10.0" },
    /** metrics-server 0.8 (chart 3.13): the resource metrics API the ingest HPA reads. */
    metricsServer: { chart: "metrics-server", version: "3.13.0", repo: "https://kubernetes-sigs.github.io/metrics-server/" },
    /** KEDA 2.19 is tested on Kubernetes 1.32 to 1.34 (keda.sh/docs/operate/cluster). */
    keda: { chart: "keda", version: "2.19.0", repo: "https://kedacore.github.io/charts" },
    /**
     * Linkerd publishes open-source builds as edge releases only (stable builds come from vendors); edge-25.10.7
     * is chart 2025.10.7. The CRDs chart and the control plane are always the same release: bump them together.
     */
    linkerdCrds: { chart: "linkerd-crds", version: "2025.10.7", repo: "https://helm.linkerd.io/edge" },
    linkerdControlPlane: { chart: "linkerd-control-plane", version: "2025.10.7", repo: "https://helm.linkerd.io/edge" },
    /**
     * AWS Load Balancer Controller v2.14.0. Its IAM policy in components/load-balancer-controller-policy.ts follows
     * this version's docs/install/iam_policy.json; bump them together.
     */
    awsLoadBalancerController: { chart: "aws-load-balancer-controller", version: "1.14.0", repo: "https://aws.github.io/eks-charts", appVersion: "v2.14.0" },
  },
  /** The AL2023 EKS AMI release Karpenter's nodes boot (EC2NodeClass amiSelectorTerms alias). */
  karpenterAmiAlias: "al2023@v20251110",
} as const satisfies {
  eksAddons: Record<string, Record<EksAddonName, string>>;
  charts: Record<string, PinnedChart>;
  karpenterAmiAlias: string;
};

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
