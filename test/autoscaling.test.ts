// The pod layer over both stacks: metrics-server and KEDA pinned and on the system nodes, KEDA's CRDs installed
// as Pulumi objects before the chart, and the KEDA operator's MSK read access scoped to this stack's cluster,
// topic and group.
import { kedaCrdsUrl, kedaMskPolicy } from "../components/autoscaling";
import { VERSIONS } from "../components/versions";
import { objectOf, validateK8sObjects } from "./k8s-schema";
import type { RecordingMocks } from "./mocks";
import { ACCOUNT } from "./mocks";
import { runProgram, TEST_REGION } from "./program";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const system = {
  nodeSelector: { "eventstack.io/pool": "system" },
  tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists", effect: "NoSchedule" }],
};

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  const clusterName = `eventstack-${stack}`;
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
  });

  test("metrics-server is the pinned chart, on the system nodes, highly available where there are two system nodes", () => {
    const release = mocks.get(RELEASE, "autoscaling-metrics-server").inputs;
    expect([release.chart, release.version, release.repositoryOpts.repo, release.namespace]).toEqual([
      "metrics-server",
      VERSIONS.charts.metricsServer.version,
      VERSIONS.charts.metricsServer.repo,
      "kube-system",
    ]);
    expect(release.values).toEqual({
      replicas: stack === "dev" ? 1 : 2,
      podDisruptionBudget: { enabled: stack !== "dev", maxUnavailable: 1 },
      ...system,
    });
  });

  test("KEDA is the pinned chart on the system nodes; its CRDs are Pulumi objects from the same release, applied first", () => {
    const release = mocks.get(RELEASE, "autoscaling-keda");
    expect([release.inputs.chart, release.inputs.version, release.inputs.repositoryOpts.repo, release.inputs.namespace]).toEqual([
      "keda",
      VERSIONS.charts.keda.version,
      VERSIONS.charts.keda.repo,
      "keda",
    ]);
    // The operator's metrics port on, for the OpenTelemetry Collector (components/observability/collector.ts).
    expect(release.inputs.values).toEqual({ crds: { install: false }, prometheus: { operator: { enabled: true } }, ...system });
    expect(release.inputs.skipCrds).toBe(true);
    const crds = mocks.get("kubernetes:yaml/v2:ConfigFile", "autoscaling-keda-crds");
    expect(crds.inputs.file).toBe(`https://github.com/kedacore/keda/releases/download/v${VERSIONS.charts.keda.version}/keda-${VERSIONS.charts.keda.version}-crds.yaml`);
    expect(release.dependencies).toContainEqual(expect.stringMatching(/\$kubernetes:yaml\/v2:ConfigFile::autoscaling-keda-crds$/));
  });

  test("the KEDA operator reads MSK lag through Pod Identity, on this stack's exact cluster, events topic and processor group", () => {
    const role = mocks.get("aws:iam/role:Role", "autoscaling-keda-operator");
    const association = mocks.get("aws:eks/podIdentityAssociation:PodIdentityAssociation", "autoscaling-keda-operator").inputs;
    expect(association).toEqual({ clusterName, namespace: "keda", serviceAccount: "keda-operator", roleArn: role.state.arn });
    expect(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Condition.StringEquals).toEqual({
      "aws:RequestTag/eks-cluster-arn": `arn:aws:eks:${TEST_REGION}:${ACCOUNT}:cluster/${clusterName}`,
      "aws:RequestTag/kubernetes-namespace": "keda",
      "aws:RequestTag/kubernetes-service-account": "keda-operator",
    });
    const policy = JSON.parse(mocks.get("aws:iam/rolePolicy:RolePolicy", "autoscaling-keda-operator-msk").inputs.policy);
    // The ARNs AWS gave the cluster and topic, read from the mocks: the UUID is the one MSK assigned, not `*`.
    const cluster = mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").state.arn as string;
    const topic = mocks.get("aws:msk/topic:Topic", "kafka-events").state.arn as string;
    expect(policy.Statement).toEqual([
      { Sid: "ConnectToTheCluster", Effect: "Allow", Action: ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"], Resource: cluster },
      { Sid: "ReadTopicOffsets", Effect: "Allow", Action: "kafka-cluster:DescribeTopic", Resource: topic },
      { Sid: "ReadGroupOffsets", Effect: "Allow", Action: "kafka-cluster:DescribeGroup", Resource: cluster.replace(":cluster/", ":group/") + "/eventstack-processor" },
    ]);
  });

  test("the Kubernetes objects it declares directly are valid against the published schemas", () => {
    expect(validateK8sObjects([objectOf(mocks.get("kubernetes:core/v1:Namespace", "autoscaling-keda").inputs)])).toEqual([
      { kind: "Namespace", name: "keda", error: null },
    ]);
  });
});

describe("pure helpers", () => {
  test("the MSK policy never reads data or writes, whatever the names", () => {
    const policy = kedaMskPolicy({ kafkaClusterArn: "arn:aws-cn:kafka:cn-north-1:111122223333:cluster/c/uuid-1", eventsTopic: "t", consumerGroup: "g" });
    const actions = policy.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions).toEqual(["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:DescribeTopic", "kafka-cluster:DescribeGroup"]);
    expect(policy.Statement.map((s) => s.Resource)).toEqual([
      "arn:aws-cn:kafka:cn-north-1:111122223333:cluster/c/uuid-1",
      "arn:aws-cn:kafka:cn-north-1:111122223333:topic/c/uuid-1/t",
      "arn:aws-cn:kafka:cn-north-1:111122223333:group/c/uuid-1/g",
    ]);
  });

  test("KEDA's CRD manifest URL follows the release's asset naming", () => {
    expect(kedaCrdsUrl("2.20.2")).toBe("https://github.com/kedacore/keda/releases/download/v2.20.2/keda-2.20.2-crds.yaml");
  });
});
