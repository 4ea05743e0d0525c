// Creation order the cluster needs but the resource graph would not give by itself: a Kubernetes object that only
// works once something else is serving (a webhook, a NodePool, an IAM policy) must depend on it explicitly.
import type { RecordedResource, RecordingMocks } from "./mocks";
import { runProgram } from "./program";

const urnOf = (r: RecordedResource) => expect.stringMatching(new RegExp(`[$:]${r.type.replace(/[/.$]/g, "\\$&")}::${r.name}$`));

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
  });
  const job = () => mocks.ofType("kubernetes:batch/v1:Job").find((r) => r.name === "migrate-job")!;

  test("the migrate Job waits for the workload NodePool and its EC2NodeClass: its pod runs on nodes only Karpenter launches", () => {
    expect(job().dependencies).toEqual(
      expect.arrayContaining([
        urnOf(mocks.get("kubernetes:karpenter.sh/v1:NodePool", "karpenter-node-pool")),
        urnOf(mocks.get("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "karpenter-node-class")),
      ]),
    );
  });

  test("the migrate Job waits for the Load Balancer Controller, whose pod webhook (failing closed) the apps' namespace opts into", () => {
    expect(job().dependencies).toContainEqual(urnOf(mocks.get("kubernetes:helm.sh/v3:Release", "load-balancer-controller-release")));
  });

  test.each(["migrate", "ingest", "processor"])("%s: the Pod Identity association waits for the role's policy, and the pods wait for the association", (workload) => {
    const association = mocks.get("aws:eks/podIdentityAssociation:PodIdentityAssociation", `${workload}-pod-identity`);
    expect(association.dependencies).toEqual(
      expect.arrayContaining([urnOf(mocks.get("aws:iam/rolePolicy:RolePolicy", `workloads-${workload}`)), urnOf(mocks.get("aws:iam/role:Role", `workloads-${workload}`))]),
    );
    const pods = workload === "migrate" ? job() : mocks.get("kubernetes:argoproj.io/v1alpha1:Rollout", `${workload}-rollout`);
    expect(pods.dependencies).toContainEqual(urnOf(association));
  });
});
