// A controller installed from a Helm chart whose CRDs Pulumi owns: its namespace, the CRDs from the release's own
// manifests as Pulumi-managed objects, and the chart's Release with the chart's copy of the CRDs skipped, so that each
// CRD has one owner and custom resources declared later in the program find their kinds (components/karpenter/index.ts
// has the whole argument). Shared by Argo CD (./argocd.ts) and Argo Rollouts (./progressive-delivery.ts).
//
// Not a component: the resources are children of the caller's component, as they were before this helper existed,
// so their URNs stay what they are.
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { Cluster } from "./cluster";
import type { PinnedChart } from "./versions";

export interface ChartWithCrdsArgs {
  /** The cluster: its Kubernetes provider, and its `ready`, which the namespace and the Release wait for. */
  cluster: Cluster;
  /** The namespace's metadata (name and any labels); created here as `<name>-namespace`. */
  namespace: { name: string; labels?: Record<string, string> };
  /** The CRD manifests' URLs at the pinned release; each becomes the ConfigFile `<name>-<file name without .yaml>`. */
  crdUrls: string[];
  /** The Helm release's name; the Release resource is `<name>-<releaseName>`. */
  releaseName: string;
  chart: PinnedChart;
  values: pulumi.Inputs;
  /** What the Release waits for besides its CRDs and the cluster (its Pod Identity association, say). Default []. */
  dependsOn?: pulumi.Resource[];
}

/** Creates the namespace, the CRDs and the Release as children of `parent`, with the cluster's Kubernetes provider. */
export function chartWithCrds(name: string, args: ChartWithCrdsArgs, parent: pulumi.Resource) {
  const { cluster, chart } = args;
  const k8sOpts = { parent, provider: cluster.provider };
  const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: args.namespace }, { ...k8sOpts, dependsOn: cluster.ready });
  // Applied server-side (the provider's default): some CRDs (Argo CD's Application) are larger than the 256 KiB
  // annotation a client-side apply would keep.
  const crds = args.crdUrls.map((file) => new k8s.yaml.v2.ConfigFile(`${name}-${file.split("/").pop()!.replace(/\.yaml$/, "")}`, { file }, k8sOpts));
  const release = new k8s.helm.v3.Release(
    `${name}-${args.releaseName}`,
    {
      name: args.releaseName,
      chart: chart.chart,
      version: chart.version,
      repositoryOpts: { repo: chart.repo },
      namespace: namespace.metadata.name,
      skipCrds: true,
      values: args.values,
    },
    { ...k8sOpts, dependsOn: [...crds, ...(args.dependsOn ?? []), ...cluster.ready] },
  );
  return { namespace, crds, release };
}
