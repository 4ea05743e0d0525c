// The system node group's sizing: the instance table follows nodeadm's formulas (awslabs/amazon-eks-ami v20260724,
// nodeadm/internal/kubelet), and what each stack runs there fits its nodes with a surge pod per release.
import { loadConfig } from "../components/config";
import { linkerdControllerReplicas } from "../components/linkerd";
import { allocatable, cpuMilli, INSTANCE_TYPES, maxPods, memoryMiB, SYSTEM_PODS, systemDemand, systemSizingProblem } from "../components/system-pods";
import { engineConfig } from "./program";

describe("nodeadm's numbers", () => {
  test.each([
    // ENIs × (IPv4 per ENI − 1) + 2, from instance-info.jsonl
    ["t4g.medium", 17],
    ["t4g.large", 35],
    ["m7g.large", 29],
    ["m7g.xlarge", 58],
  ])("%s takes %i pods", (type, pods) => {
    expect(maxPods(INSTANCE_TYPES[type]!)).toBe(pods);
  });

  test("kube-reserved CPU is 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above; memory 11Mi a pod + 255Mi, plus 100Mi eviction", () => {
    expect(allocatable(INSTANCE_TYPES["m7g.large"]!).cpuMilli).toBe(2000 - 60 - 10);
    expect(allocatable(INSTANCE_TYPES["m7g.xlarge"]!).cpuMilli).toBe(4000 - 60 - 10 - 10);
    expect(allocatable({ vcpus: 8, memoryMiB: 32768, enis: 4, ipv4PerEni: 15 }).cpuMilli).toBe(8000 - 60 - 10 - 10 - 10);
    expect(allocatable(INSTANCE_TYPES["m7g.large"]!).memoryMiB).toBe(Math.floor(8192 * 0.93) - (11 * 29 + 255) - 100);
  });

  test("quantities", () => {
    expect([cpuMilli("100m"), cpuMilli("1"), cpuMilli(undefined), memoryMiB("64Mi"), memoryMiB("1Gi"), memoryMiB(undefined)]).toEqual([100, 1000, 0, 64, 1024, 0]);
    expect(() => memoryMiB("1G")).toThrow('system-pods: unsupported memory quantity "1G" (use Mi or Gi)');
  });
});

describe("Linkerd's replicas leave a system node free to drain into", () => {
  test.each([
    [1, false, 1],
    [3, false, 1],
    [3, true, 2],
    [4, true, 3],
    [6, true, 3],
  ])("%i system nodes, HA %s: %i replicas", (nodes, ha, replicas) => {
    expect(linkerdControllerReplicas(nodes, ha)).toBe(replicas);
  });
});

describe.each(["dev", "prod"])("%s stack", (stack) => {
  const values = engineConfig(stack);
  const config = loadConfig((k) => values[k], {});
  const context = { systemNodes: config.cluster.systemNodes, meshHighAvailability: config.mesh.highAvailability, argocd: false };

  test("every system instance type holds the system pods with a surge pod per release", () => {
    for (const type of config.cluster.systemInstanceTypes) expect([type, systemSizingProblem(type, context)]).toEqual([type, undefined]);
  });

  test.each([false, true])("the demand counts every pod once, each DaemonSet on every node, and one surge pod per release (Argo CD: %s)", (argocd) => {
    const c = { ...context, argocd };
    const deployments = SYSTEM_PODS.filter((p) => p.kind === "Deployment" && p.replicas(c) > 0);
    const daemonSets = SYSTEM_PODS.filter((p) => p.kind === "DaemonSet");
    const releases = new Set(deployments.map((p) => p.release));
    const demand = systemDemand(c);
    // coredns, karpenter, metrics-server, load balancer controller, keda, argo-rollouts, linkerd, grafana; and argo-cd
    expect(demand.surgePods).toBe(argocd ? 9 : 8);
    expect(demand.pods).toBe(deployments.reduce((s, p) => s + p.replicas(c), 0) + daemonSets.length * context.systemNodes + releases.size);
  });

  test("delivery.mode argocd fits too", () => {
    for (const type of config.cluster.systemInstanceTypes) expect([type, systemSizingProblem(type, { ...context, argocd: true })]).toEqual([type, undefined]);
  });
});
