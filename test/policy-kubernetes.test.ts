// Kubernetes workload rules: for each, a workload that passes and one that violates, with the exact message.
import * as k8s from "../policy/kubernetes";
import { FakeResource, urnOf, validateResource, validateStack } from "./policy-harness";

const restricted = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};
const container = (over: Record<string, any> = {}) => ({
  name: "ingest",
  image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ingest@sha256:" + "a".repeat(64),
  securityContext: restricted,
  resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } },
  readinessProbe: { httpGet: { path: "/readyz", port: 8080 } },
  livenessProbe: { httpGet: { path: "/healthz", port: 8080 } },
  ...over,
});
const deployment = (containers: Record<string, any>[], podSecurityContext?: Record<string, any>, labels: Record<string, string> = { app: "ingest" }) => ({
  metadata: { name: "ingest", namespace: "eventstack" },
  spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { securityContext: podSecurityContext, containers } } },
});
const check = async (policy: Parameters<typeof validateResource>[0], props: Record<string, any>, type = k8s.DEPLOYMENT, urn?: string) =>
  (await validateResource(policy, { type, name: "ingest", props, urn })).violations.map((v) => v.message);

describe("restricted security context", () => {
  test("a restricted container passes; pod-level runAsNonRoot and seccompProfile count", async () => {
    expect(await check(k8s.restrictedSecurityContext, deployment([container()]))).toEqual([]);
    const podLevel = container({ securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } } });
    expect(await check(k8s.restrictedSecurityContext, deployment([podLevel], { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } }))).toEqual([]);
  });

  test("each missing setting is named, for containers and init containers of any workload kind", async () => {
    const job = { spec: { template: { spec: { initContainers: [container({ name: "migrate", securityContext: undefined })], containers: [container()] } } } };
    expect(await check(k8s.restrictedSecurityContext, job, "kubernetes:batch/v1:Job")).toEqual([
      'init container "migrate": runAsNonRoot is not true; allowPrivilegeEscalation is not false; readOnlyRootFilesystem is not true; capabilities.drop does not include "ALL"; seccompProfile.type is not RuntimeDefault.',
    ]);
  });

  test("objects rendered from a Helm chart are out of scope", async () => {
    const urn = urnOf(k8s.DEPLOYMENT, "linkerd-destination", urnOf("kubernetes:helm.sh/v4:Chart", "linkerd-control-plane", urnOf("eventstack:mesh:Mesh", "mesh")));
    const outcome = await validateResource(k8s.restrictedSecurityContext, { type: k8s.DEPLOYMENT, name: "linkerd-destination", urn, props: deployment([container({ securityContext: {} })]) });
    expect(outcome).toEqual({ violations: [], notApplicable: [{ policy: "k8s-restricted-security-context", reason: "rendered from a chart or manifest" }] });
    expect(k8s.isRendered(urnOf(k8s.DEPLOYMENT, "ingest", urnOf("eventstack:workloads:Ingest", "ingest")))).toBe(false);
  });
});

describe("requests and memory limit", () => {
  test("CPU and memory requests plus a memory limit pass (no CPU limit needed)", async () => {
    expect(await check(k8s.resourceRequests, deployment([container()]))).toEqual([]);
  });

  test("missing ones are named", async () => {
    expect(await check(k8s.resourceRequests, deployment([container({ resources: { requests: { memory: "256Mi" } } })]))).toEqual(['container "ingest": resources lacks requests.cpu, limits.memory.']);
  });
});

describe("probes", () => {
  test("readiness and liveness probes pass; a Job needs none", async () => {
    expect(await check(k8s.probes, deployment([container()]))).toEqual([]);
    const job = { spec: { template: { spec: { containers: [container({ readinessProbe: undefined, livenessProbe: undefined })] } } } };
    expect(await check(k8s.probes, job, "kubernetes:batch/v1:Job")).toEqual([]);
  });

  test("a long-running container without probes is reported (advisory)", async () => {
    const outcome = await validateResource(k8s.probes, { type: k8s.DEPLOYMENT, name: "ingest", props: deployment([container({ livenessProbe: undefined, readinessProbe: undefined })]) });
    expect(outcome.violations).toEqual([{ policy: "k8s-probes", enforcementLevel: "advisory", message: 'container "ingest": no readinessProbe and no livenessProbe.', urn: urnOf(k8s.DEPLOYMENT, "ingest") }]);
  });
});

describe("pinned images", () => {
  test.each([
    ["a digest", "ghcr.io/eventstack/ingest@sha256:" + "b".repeat(64), undefined],
    ["a version tag", "cr.l5d.io/linkerd/proxy:edge-25.1.1", undefined],
    ["a registry port and a tag", "registry.local:5000/ingest:1.4.2", undefined],
    ["no tag", "registry.local:5000/ingest", 'image "registry.local:5000/ingest" has no tag (it means :latest)'],
    [":latest", "nginx:latest", 'image "nginx:latest" uses :latest'],
  ])("%s", (_what, image, problem) => {
    expect(k8s.imageProblem(image)).toBe(problem);
  });

  test("a pinned image passes; :latest violates", async () => {
    expect(await check(k8s.pinnedImages, deployment([container()]))).toEqual([]);
    expect(await check(k8s.pinnedImages, { spec: { containers: [container({ image: "busybox:latest" })] } }, "kubernetes:core/v1:Pod")).toEqual([
      'container "ingest" image "busybox:latest" uses :latest: pin a version tag or, better, the digest.',
    ]);
  });
});

describe("a PodDisruptionBudget per Deployment", () => {
  const dep = (name: string, labels: Record<string, string>, namespace = "eventstack"): FakeResource => ({
    type: k8s.DEPLOYMENT,
    name,
    props: { ...deployment([container()], undefined, labels), metadata: { name, namespace } },
  });
  const pdb = (name: string, selector: Record<string, any>, namespace = "eventstack"): FakeResource => ({
    type: k8s.PDB,
    name,
    props: { metadata: { name, namespace }, spec: { maxUnavailable: 1, selector } },
  });

  test("a PDB whose selector matches the pod template labels, by labels or expressions, passes", async () => {
    const resources = [
      dep("ingest", { app: "ingest", tier: "edge" }),
      pdb("ingest", { matchLabels: { app: "ingest" } }),
      dep("processor", { app: "processor" }),
      pdb("processor", { matchExpressions: [{ key: "app", operator: "In", values: ["processor", "other"] }] }),
    ];
    expect((await validateStack(k8s.pdbPerDeployment, resources)).violations).toEqual([]);
  });

  test("a Deployment whose labels no PDB in its namespace selects violates", async () => {
    const resources = [dep("ingest", { app: "ingest" }), pdb("ingest", { matchLabels: { app: "ingest" } }, "other"), pdb("everything", {})];
    expect((await validateStack(k8s.pdbPerDeployment, resources)).violations.map((v) => [v.message, v.urn])).toEqual([
      ['Deployment "ingest" (namespace eventstack) has no PodDisruptionBudget selecting its pod labels {"app":"ingest"}: add one (maxUnavailable: 1).', urnOf(k8s.DEPLOYMENT, "ingest")],
    ]);
  });

  test("an Argo Rollout is held to the same rule, and its pod template to the container rules", async () => {
    const rollout = (name: string, labels: Record<string, string>): FakeResource => ({ ...dep(name, labels), type: k8s.ROLLOUT });
    expect((await validateStack(k8s.pdbPerDeployment, [rollout("processor", { app: "processor" })])).violations.map((v) => [v.message, v.urn])).toEqual([
      ['Rollout "processor" (namespace eventstack) has no PodDisruptionBudget selecting its pod labels {"app":"processor"}: add one (maxUnavailable: 1).', urnOf(k8s.ROLLOUT, "processor")],
    ]);
    expect((await validateStack(k8s.pdbPerDeployment, [rollout("processor", { app: "processor" }), pdb("processor", { matchLabels: { app: "processor" } })])).violations).toEqual([]);
    expect(await check(k8s.pinnedImages, deployment([container({ image: "busybox:latest" })]), k8s.ROLLOUT)).toEqual([
      'container "ingest" image "busybox:latest" uses :latest: pin a version tag or, better, the digest.',
    ]);
  });

  test("selector semantics", () => {
    expect(k8s.selects({ matchExpressions: [{ key: "app", operator: "NotIn", values: ["x"] }] }, { app: "y" })).toBe(true);
    expect(k8s.selects({ matchExpressions: [{ key: "canary", operator: "DoesNotExist" }] }, { app: "y" })).toBe(true);
    expect(k8s.selects({ matchExpressions: [{ key: "app", operator: "Exists" }] }, {})).toBe(false);
    expect(k8s.selects({ matchLabels: { app: "a" } }, { app: "b" })).toBe(false);
  });
});
