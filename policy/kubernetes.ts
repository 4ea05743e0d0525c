// Kubernetes workloads we declare: the Pod Security Standards "restricted" container settings, requests and a
// memory limit (Karpenter packs nodes and the HPA scales on requests), readiness and liveness probes, images
// pinned by tag or digest, and a PodDisruptionBudget for every Deployment and Argo Rollout (Karpenter consolidation
// evicts). In delivery mode "argocd" the services' objects are applied by Argo CD, not declared as resources, so these
// rules do not see them; test/delivery.test.ts proves the files Argo CD applies equal what delivery mode "pulumi"
// declares, which these rules check.
//
// Objects rendered from a Helm chart or a YAML manifest (children of kubernetes:helm.sh/* or kubernetes:yaml/*,
// e.g. Linkerd's or KEDA's control plane) are third-party software configured through its chart values; these
// rules do not apply to them, and the chart version and values are reviewed where they are pinned.
import type * as k8s from "@pulumi/kubernetes";
import type { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, forTypes, known, Props } from "./lib";

type PodSpec = Props<k8s.types.input.core.v1.PodSpec>;
type Container = Props<k8s.types.input.core.v1.Container>;
type LabelSelector = Props<k8s.types.input.meta.v1.LabelSelector>;

export const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
export const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
/** An Argo Rollout (components/workload/rollout.ts): a Deployment's pod template with a canary strategy. */
export const ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout";

/** Where each workload kind keeps its pod spec, and whether it runs long enough to need probes. */
export const WORKLOADS: Record<string, { podSpec: (props: any) => PodSpec | undefined; longRunning: boolean }> = {
  "kubernetes:core/v1:Pod": { podSpec: (p) => p.spec, longRunning: true },
  [DEPLOYMENT]: { podSpec: (p) => p.spec?.template?.spec, longRunning: true },
  [ROLLOUT]: { podSpec: (p) => p.spec?.template?.spec, longRunning: true },
  "kubernetes:apps/v1:StatefulSet": { podSpec: (p) => p.spec?.template?.spec, longRunning: true },
  "kubernetes:apps/v1:DaemonSet": { podSpec: (p) => p.spec?.template?.spec, longRunning: true },
  "kubernetes:apps/v1:ReplicaSet": { podSpec: (p) => p.spec?.template?.spec, longRunning: true },
  "kubernetes:batch/v1:Job": { podSpec: (p) => p.spec?.template?.spec, longRunning: false },
  "kubernetes:batch/v1:CronJob": { podSpec: (p) => p.spec?.jobTemplate?.spec?.template?.spec, longRunning: false },
};

/** True when the URN's type chain shows the object was rendered by a chart or manifest component. */
export function isRendered(urn: string): boolean {
  const chain = urn.split("::")[2]?.split("$") ?? [];
  return chain.slice(0, -1).some((t) => /^kubernetes:(helm\.sh|yaml|kustomize)\//.test(t));
}

type ContainerCheck = (c: Container, pod: PodSpec, where: string, report: ReportViolation) => void;

/** A workload validation that runs `check` on every container (and init container, if `initContainers`). */
function eachContainer(check: ContainerCheck, opts: { initContainers: boolean; longRunningOnly?: boolean }) {
  const perType = (type: string) => (props: Record<string, any>, args: ResourceValidationArgs, report: ReportViolation) => {
    const kind = WORKLOADS[type]!;
    if (isRendered(args.urn)) return args.notApplicable("rendered from a chart or manifest");
    if (opts.longRunningOnly && !kind.longRunning) return args.notApplicable("runs to completion");
    const pod = kind.podSpec(props);
    if (!pod) return;
    const containers: [string, Container][] = [
      ...asArray(pod.containers).map((c): [string, Container] => [`container "${c.name}"`, c]),
      ...(opts.initContainers ? asArray(pod.initContainers).map((c): [string, Container] => [`init container "${c.name}"`, c]) : []),
    ];
    for (const [where, c] of containers) check(c, pod, where, report);
  };
  return forTypes(Object.fromEntries(Object.keys(WORKLOADS).map((t) => [t, perType(t)])));
}

// ------------------------------------------------------------------ restricted security context

/** The container settings of the "restricted" Pod Security Standard that each container must meet. */
export function restrictedProblems(c: Container, pod: PodSpec): string[] {
  const sc = c.securityContext ?? {};
  const podSc = pod.securityContext ?? {};
  const problems: string[] = [];
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) problems.push("runAsNonRoot is not true");
  if (sc.allowPrivilegeEscalation !== false) problems.push("allowPrivilegeEscalation is not false");
  if (sc.readOnlyRootFilesystem !== true) problems.push("readOnlyRootFilesystem is not true");
  if (!asArray(sc.capabilities?.drop).includes("ALL")) problems.push('capabilities.drop does not include "ALL"');
  const seccomp = (sc.seccompProfile ?? podSc.seccompProfile)?.type;
  if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") problems.push("seccompProfile.type is not RuntimeDefault");
  return problems;
}

export const restrictedSecurityContext: ResourceValidationPolicy = {
  name: "k8s-restricted-security-context",
  description:
    "Every container runs as non-root, without privilege escalation, on a read-only root filesystem, with all capabilities dropped and the RuntimeDefault seccomp profile (pod-level runAsNonRoot and seccompProfile count). Checkov CKV_K8S_23, CKV_K8S_20, CKV_K8S_22, CKV_K8S_37, CKV_K8S_31; Trivy KSV012, KSV001, KSV014, KSV003, KSV030.",
  enforcementLevel: "mandatory",
  validateResource: eachContainer(
    (c, pod, where, report) => {
      const problems = restrictedProblems(c, pod);
      if (problems.length) report(`${where}: ${problems.join("; ")}.`);
    },
    { initContainers: true },
  ),
};

// ------------------------------------------------------------------ resources

export const resourceRequests: ResourceValidationPolicy = {
  name: "k8s-resource-requests-and-memory-limit",
  description:
    "Every container requests CPU and memory (Karpenter sizes nodes and the HPA scales on requests) and has a memory limit (a leak is OOM-killed in its own container, not the node). A CPU limit is deliberately not required: it throttles. Checkov CKV_K8S_10, CKV_K8S_12, CKV_K8S_13; Trivy KSV015, KSV016, KSV018.",
  enforcementLevel: "mandatory",
  validateResource: eachContainer(
    (c, _pod, where, report) => {
      const r = c.resources ?? {};
      const missing = [
        r.requests?.cpu === undefined ? "requests.cpu" : undefined,
        r.requests?.memory === undefined ? "requests.memory" : undefined,
        r.limits?.memory === undefined ? "limits.memory" : undefined,
      ].filter((m) => m !== undefined);
      if (missing.length) report(`${where}: resources lacks ${missing.join(", ")}.`);
    },
    { initContainers: true },
  ),
};

// ------------------------------------------------------------------ probes

export const probes: ResourceValidationPolicy = {
  name: "k8s-probes",
  description:
    "Every container of a long-running workload has a readiness and a liveness probe. Advisory: a sidecar or a pure queue worker may legitimately have no endpoint to probe; eventstack's services all serve /healthz and /readyz. Checkov CKV_K8S_9, CKV_K8S_8; no Trivy equivalent.",
  enforcementLevel: "advisory",
  validateResource: eachContainer(
    (c, _pod, where, report) => {
      const missing = [!c.readinessProbe ? "readinessProbe" : undefined, !c.livenessProbe ? "livenessProbe" : undefined].filter((m) => m !== undefined);
      if (missing.length) report(`${where}: no ${missing.join(" and no ")}.`);
    },
    { initContainers: false, longRunningOnly: true },
  ),
};

// ------------------------------------------------------------------ images

/** Why an image reference is not pinned, or undefined when it names a digest or an explicit tag other than latest. */
export function imageProblem(image: string | undefined): string | undefined {
  if (!image) return "has no image";
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
  const lastSlash = image.lastIndexOf("/");
  const colon = image.indexOf(":", lastSlash + 1);
  if (colon < 0) return `image "${image}" has no tag (it means :latest)`;
  if (image.slice(colon + 1) === "latest") return `image "${image}" uses :latest`;
  return undefined;
}

export const pinnedImages: ResourceValidationPolicy = {
  name: "k8s-pinned-images",
  description: "Every container image is pinned by digest (@sha256:...) or an explicit tag other than latest. Checkov CKV_K8S_14, CKV_K8S_43; Trivy KSV013.",
  enforcementLevel: "mandatory",
  validateResource: eachContainer(
    (c, _pod, where, report) => {
      const problem = imageProblem(c.image);
      if (problem) report(`${where} ${problem}: pin a version tag or, better, the digest.`);
    },
    { initContainers: true },
  ),
};

// ------------------------------------------------------------------ PodDisruptionBudget per Deployment

/** True when `selector` selects pods labelled `labels`, as the Kubernetes API evaluates a LabelSelector. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const matchLabels = Object.entries(selector.matchLabels ?? {});
  const expressions = asArray(selector.matchExpressions);
  if (matchLabels.length === 0 && expressions.length === 0) return false; // an empty selector in policy/v1 selects every pod; never what one means per Deployment
  return (
    matchLabels.every(([k, v]) => labels[k] === v) &&
    expressions.every((e) => {
      const has = Object.prototype.hasOwnProperty.call(labels, e.key ?? "");
      const value = labels[e.key ?? ""];
      switch (e.operator) {
        case "In":
          return has && asArray(e.values).includes(value!);
        case "NotIn":
          return !has || !asArray(e.values).includes(value!);
        case "Exists":
          return has;
        case "DoesNotExist":
          return !has;
        default:
          return false;
      }
    })
  );
}

const namespaceOf = (r: PolicyResource) => known(() => r.props.metadata?.namespace) ?? known(() => r.provider?.props.namespace) ?? "default";

export const pdbPerDeployment: StackValidationPolicy = {
  name: "k8s-pdb-per-deployment",
  description:
    "Every Deployment and Argo Rollout has a PodDisruptionBudget in its namespace whose selector matches its pod template labels, so Karpenter consolidation and node upgrades never evict all its pods at once. No Checkov/Trivy equivalent (a relation between two objects).",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const deployments = args.resources.filter((r) => (r.type === DEPLOYMENT || r.type === ROLLOUT) && !isRendered(r.urn));
    if (deployments.length === 0) return args.notApplicable("no Deployment or Rollout declared by the program");
    const pdbs = args.resources.filter((r) => r.type === PDB);
    for (const d of deployments) {
      const labels: Record<string, string> = d.props.spec?.template?.metadata?.labels ?? {};
      const ns = namespaceOf(d);
      const covered = pdbs.some((p) => namespaceOf(p) === ns && selects(p.props.spec?.selector, labels));
      if (!covered) {
        report(`${d.type === ROLLOUT ? "Rollout" : "Deployment"} "${d.name}" (namespace ${ns}) has no PodDisruptionBudget selecting its pod labels ${JSON.stringify(labels)}: add one (maxUnavailable: 1).`, d.urn);
      }
    }
  },
};

export const kubernetesPolicies = [restrictedSecurityContext, resourceRequests, probes, pinnedImages, pdbPerDeployment];
