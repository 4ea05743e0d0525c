// Argo CD, in delivery mode "argocd" (docs/delivery.md, "Argo CD"): it applies the ingest and processor objects
// that `npm run render:workloads` writes to Git, while this program keeps the platform, the namespaces, the
// identities and everything AWS.
//
// Creates:
//   - the `argocd` namespace and Argo CD (Helm chart argo-cd, on the system node group): its API server a ClusterIP
//     Service only (no LoadBalancer, no Ingress), the local admin user off and no Dex, so no password exists to be
//     generated, stored or leaked (the chart's argocd-secret carries no data; Argo CD fills in its own server key in
//     the cluster). People reach it with their EKS access entry, i.e. their IAM identity: `argocd --core` and
//     `argocd admin dashboard` talk to the Kubernetes API with the caller's kubeconfig. Not meshed: it talks to the
//     Kubernetes API and to Git, and must keep syncing when the mesh is what a change broke. The chart's
//     NetworkPolicies are on, with ingress denied by default;
//   - Argo CD's CRDs from the release's manifests/crds/ at the pinned tag, as Pulumi-managed objects (the chart's
//     templates/crds/ are off: `crds.install: false`), like KEDA's in components/autoscaling.ts (the namespace, the CRDs
//     and the Release: ./chart-with-crds.ts, shared with Argo Rollouts);
//   - the AppProject `eventstack`: one source repository, one destination namespace, and only the kinds the
//     rendered workloads contain (no cluster-scoped kind at all), so a commit cannot make Argo CD create anything
//     else;
//   - the Application that syncs `gitPath` at `gitRevision` of `gitRepository` into the apps' namespace, pruning
//     what the files no longer hold and reverting changes made by hand (selfHeal).
//
// Expects from its caller: the Cluster, the apps' namespace, the kinds the workloads render, and what must exist
// before the first sync (the workloads' identities, the CRDs and controllers their objects need).
import type * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartWithCrds } from "./chart-with-crds";
import type { Cluster } from "./cluster";
import { systemPlacement } from "./system-nodes";
import { VERSIONS } from "./versions";
import { ARGOCD_DEFAULTS } from "./defaults/argocd";
export { ARGOCD_DEFAULTS };

export interface ArgoCdArgs {
  cluster: Cluster;
  /** The namespace the Application deploys into (the apps' namespace). */
  destinationNamespace: pulumi.Input<string>;
  /** The repository Argo CD syncs from (config delivery.gitRepository). */
  gitRepository: string;
  /** The directory in it (config delivery.gitPath). */
  gitPath: string;
  /** Branch, tag or commit (config delivery.gitRevision). */
  gitRevision: string;
  /** The group/kind pairs the rendered files contain: the AppProject admits these and nothing else. */
  kinds: { group: string; kind: string }[];
  /** What the first sync needs in place: the identities, the CRDs and controllers of the rendered kinds. */
  dependsOn: pulumi.Resource[];
}

/** The CRD files of the pinned release: argoproj/argo-cd manifests/crds/ at the tag (read at v3.4.4, 2026-12-06). */
export function argoCdCrdUrls(appVersion: string): string[] {
  return ["application-crd", "applicationset-crd", "appproject-crd"].map((f) => `https://raw.githubusercontent.com/argoproj/argo-cd/${appVersion}/manifests/crds/${f}.yaml`);
}

/**
 * The chart's values (argoproj/argo-helm charts/argo-cd/values.yaml at argo-cd-10.1.1, read 2026-12-06). Every
 * container already runs with the restricted settings there (Redis's runAsNonRoot and seccomp profile at pod level);
 * `helm template` of the chart with these values on 2026-12-06 rendered no CRD, four ClusterIP Services, an
 * argocd-secret without data and argocd-cm with admin.enabled "false".
 */
export function argoCdValues() {
  const r = ARGOCD_DEFAULTS.resources;
  return {
    crds: { install: false },
    global: {
      nodeSelector: systemPlacement.nodeSelector,
      tolerations: systemPlacement.tolerations,
      networkPolicy: { create: true, defaultDenyIngress: true },
    },
    configs: {
      cm: { "admin.enabled": false, "exec.enabled": false, "users.anonymous.enabled": false },
      // No default role: without SSO nobody logs in to the API server; `argocd --core` is bound by Kubernetes RBAC.
      rbac: { "policy.default": "" },
      // The Secret exists (the server writes its own key into it) but carries nothing from this program.
      secret: { createSecret: true },
    },
    dex: { enabled: false },
    notifications: { enabled: false },
    server: { service: { type: "ClusterIP" }, resources: r.server },
    controller: { resources: r.controller },
    repoServer: { resources: r.repoServer },
    applicationSet: { resources: r.applicationSet },
    redis: { resources: r.redis },
  };
}

/** The AppProject: one repository, one namespace of this cluster, the rendered kinds only. */
export function appProject(a: { namespace: string; sourceRepo: string; destinationNamespace: pulumi.Input<string>; kinds: { group: string; kind: string }[] }) {
  const d = ARGOCD_DEFAULTS;
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AppProject",
    metadata: { name: d.project, namespace: a.namespace },
    spec: {
      description: "eventstack's ingest and processor workloads",
      sourceRepos: [a.sourceRepo],
      destinations: [{ server: d.destinationServer, namespace: a.destinationNamespace }],
      clusterResourceWhitelist: [],
      namespaceResourceWhitelist: a.kinds,
    },
  };
}

/**
 * The Application. Automated sync with prune and selfHeal: Git is the only way to change the workloads. No
 * resources finalizer: deleting the Application (switching back to delivery mode "pulumi") leaves the running
 * objects for Pulumi to take over instead of deleting them first.
 */
export function application(a: { namespace: string; repoURL: string; path: string; targetRevision: string; destinationNamespace: pulumi.Input<string> }) {
  const d = ARGOCD_DEFAULTS;
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata: { name: d.application, namespace: a.namespace },
    spec: {
      project: d.project,
      source: { repoURL: a.repoURL, path: a.path, targetRevision: a.targetRevision, directory: { recurse: false } },
      destination: { server: d.destinationServer, namespace: a.destinationNamespace },
      syncPolicy: {
        automated: { prune: true, selfHeal: true },
        // PruneLast: objects a commit removes go only after the rest is healthy.
        syncOptions: ["PruneLast=true"],
        retry: { limit: 5, backoff: { duration: "30s", factor: 2, maxDuration: "5m" } },
      },
    },
  };
}

export class ArgoCd extends pulumi.ComponentResource {
  readonly namespace: string;
  readonly applicationName: string;

  constructor(name: string, args: ArgoCdArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:delivery:ArgoCd", name, {}, opts);
    const d = ARGOCD_DEFAULTS;
    const { cluster } = args;
    const k8sOpts = { parent: this, provider: cluster.provider };
    const pin = VERSIONS.charts.argoCd;

    const { crds, release } = chartWithCrds(
      name,
      {
        cluster,
        namespace: { name: d.namespace, labels: { "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted" } },
        crdUrls: argoCdCrdUrls(pin.appVersion),
        releaseName: "argo-cd",
        chart: pin,
        values: argoCdValues(),
      },
      this,
    );
    const project = new k8s.apiextensions.CustomResource(
      `${name}-project`,
      appProject({ namespace: d.namespace, sourceRepo: args.gitRepository, destinationNamespace: args.destinationNamespace, kinds: args.kinds }),
      { ...k8sOpts, dependsOn: [...crds, release] },
    );
    new k8s.apiextensions.CustomResource(
      `${name}-application`,
      application({ namespace: d.namespace, repoURL: args.gitRepository, path: args.gitPath, targetRevision: args.gitRevision, destinationNamespace: args.destinationNamespace }),
      { ...k8sOpts, dependsOn: [project, release, ...args.dependsOn] },
    );
    this.namespace = d.namespace;
    this.applicationName = d.application;
    this.registerOutputs();
  }
}
