// What `verify:upstream` checks against the outside world, read off one evaluation of the program under the
// resource mocks: the Helm releases with the values the program passes, the CRDs the program applies itself,
// the Kubernetes version, the EKS add-on versions and the Karpenter AMI alias. Everything is taken from the
// recorded resource inputs, not from components/versions.ts, so a component that passes something other than
// the table says is checked as deployed.
import type { RecordedResource } from "../mocks";

/** A Helm release as the program declares it (kubernetes:helm.sh/v4:Chart or kubernetes:helm.sh/v3:Release). */
export interface HelmRelease {
  /** The Pulumi resource name, used in findings. */
  resource: string;
  /** Release name: the `name` input, or the resource name (as the provider does). */
  release: string;
  namespace: string;
  /** Chart name or OCI URL. */
  chart: string;
  version: string;
  /** Classic chart repository URL; undefined for OCI charts. */
  repo?: string;
  values: Record<string, unknown>;
  /** `skipCrds`: the chart's crds/ folder is not applied (templates are still rendered). */
  skipCrds: boolean;
}

/** A manifest file the program applies itself (kubernetes:yaml/v2:ConfigFile), e.g. a release's CRDs. */
export interface ManifestFile {
  resource: string;
  /** Path or URL, as passed. */
  file: string;
}

export interface ProgramFacts {
  stack: string;
  kubernetesVersion: string;
  releases: HelmRelease[];
  manifestFiles: ManifestFile[];
  /** CRDs declared directly as CustomResourceDefinition resources (metadata.name). */
  directCrds: string[];
  /** EKS add-on name → version, as the program installs them (aws:eks/addon:Addon and the cluster's own options). */
  addons: Record<string, string>;
  /** Karpenter AMI aliases (EC2NodeClass amiSelectorTerms), e.g. `al2023@v20251112`. */
  amiAliases: string[];
  /** Node architectures as the AL2023 SSM parameters name them (x86_64, arm64), from the NodePools' requirements. */
  amiArchitectures: string[];
}

const HELM_TYPES = ["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release"];
const CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile";
const CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition";
const EKS_CLUSTER = "eks:index:Cluster";
const EKS_ADDON = "aws:eks/addon:Addon";
const NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass";
const NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool";

/** Pulumi's marker of a secret value in serialized inputs (sdk/nodejs/runtime/rpc.ts, specialSigKey / specialSecretSig). */
const SECRET_SIG = { key: "4dabf18193072939515e22adb298388d", value: "1b47061264138c4ac30d75fd1eb44270" };

/** Values as Helm receives them: secret-wrapped parts replaced by their plain value. */
function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  if (o[SECRET_SIG.key] === SECRET_SIG.value) return unwrapSecrets(o.value);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
}

/** Kubernetes' architecture names → the names in the AL2023 AMI SSM parameter paths. */
const SSM_ARCH: Record<string, string> = { amd64: "x86_64", arm64: "arm64" };

export function programFacts(stack: string, resources: RecordedResource[]): ProgramFacts {
  const of = (type: string) => resources.filter((r) => r.type === type);
  const clusters = of(EKS_CLUSTER);
  if (clusters.length !== 1) throw new Error(`expected one ${EKS_CLUSTER} in stack ${stack}, found ${clusters.length}`);
  const cluster = clusters[0]!.inputs;

  const addons: Record<string, string> = {};
  if (cluster.vpcCniOptions?.addonVersion) addons["vpc-cni"] = cluster.vpcCniOptions.addonVersion;
  if (cluster.kubeProxyAddonOptions?.version) addons["kube-proxy"] = cluster.kubeProxyAddonOptions.version;
  if (cluster.corednsAddonOptions?.version) addons.coredns = cluster.corednsAddonOptions.version;
  for (const a of of(EKS_ADDON)) addons[a.inputs.addonName] = a.inputs.addonVersion;

  const releases = resources.filter((r) => HELM_TYPES.includes(r.type)).map(
    (r): HelmRelease => ({
      resource: r.name,
      release: r.inputs.name ?? r.name,
      namespace: r.inputs.namespace ?? "default",
      chart: r.inputs.chart,
      version: r.inputs.version,
      repo: r.inputs.repositoryOpts?.repo,
      values: (unwrapSecrets(r.inputs.values) ?? {}) as Record<string, unknown>,
      skipCrds: r.inputs.skipCrds === true,
    }),
  );

  const amiAliases = [...new Set(of(NODE_CLASS).flatMap((r) => (r.inputs.spec?.amiSelectorTerms ?? []).map((t: { alias?: string }) => t.alias).filter(Boolean)))];
  const archs = of(NODE_POOL).flatMap((r) =>
    (r.inputs.spec?.template?.spec?.requirements ?? []).filter((q: { key: string }) => q.key === "kubernetes.io/arch").flatMap((q: { values: string[] }) => q.values),
  );
  const amiArchitectures = [...new Set(archs.map((a: string) => SSM_ARCH[a] ?? a))].sort();

  return {
    stack,
    kubernetesVersion: String(cluster.version),
    releases,
    manifestFiles: of(CONFIG_FILE).map((r) => ({ resource: r.name, file: r.inputs.file })),
    directCrds: of(CRD).map((r) => r.inputs.metadata?.name).filter(Boolean),
    addons,
    amiAliases: amiAliases as string[],
    amiArchitectures,
  };
}
