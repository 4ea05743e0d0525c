// Karpenter's EC2NodeClass and NodePool builders (components/karpenter/manifests.ts), called directly with literal
// arguments: no program evaluation, no mocks. test/karpenter.test.ts checks the same objects as the program applies
// them and against the published CRD schemas.
import { DISCOVERY_TAG, ec2NodeClass, NODE_CLASS_NAME, NODE_POOL_NAME, nodePool } from "../components/karpenter/manifests";

const NODE_CLASS_ARGS = {
  clusterName: "eventstack-test",
  nodeRoleName: "karpenter-node-1234567",
  amiAlias: "al2023@v20260101",
  rootVolumeGiB: 80,
  tags: { Owner: "platform", ManagedBy: "karpenter" },
};

const NODE_POOL_ARGS = {
  capacityTypes: ["spot", "on-demand"] as ("spot" | "on-demand")[],
  architectures: ["arm64"] as ("arm64" | "amd64")[],
  cpuLimit: 64,
  memoryLimitGiB: 256,
  consolidateAfter: "2m",
  disruptionBudget: "20%",
  expireAfter: "336h",
  instanceCategories: ["c", "m"],
  minGenerationExclusive: 6,
};

test("the builders load no Pulumi package, so they run without an engine and cannot create a resource", () => {
  jest.isolateModules(() => {
    for (const pkg of ["@pulumi/pulumi", "@pulumi/aws", "@pulumi/kubernetes"]) {
      jest.doMock(pkg, () => {
        throw new Error(`${pkg} loaded`);
      });
    }
    expect(() => require("../components/karpenter/manifests")).not.toThrow();
    expect(() => require("../components/karpenter/policy")).not.toThrow();
  });
  for (const pkg of ["@pulumi/pulumi", "@pulumi/aws", "@pulumi/kubernetes"]) jest.dontMock(pkg);
});

describe("ec2NodeClass", () => {
  const nodeClass = ec2NodeClass(NODE_CLASS_ARGS);

  test("is the EC2NodeClass named `default`, for the node role by name (Karpenter makes the instance profile)", () => {
    expect(nodeClass.apiVersion).toBe("karpenter.k8s.aws/v1");
    expect(nodeClass.kind).toBe("EC2NodeClass");
    expect(nodeClass.metadata).toEqual({ name: "default" });
    expect(NODE_CLASS_NAME).toBe("default");
    expect(nodeClass.spec.role).toBe("karpenter-node-1234567");
  });

  test("selects subnets and security groups by the cluster's discovery tag", () => {
    const byTag = [{ tags: { "karpenter.sh/discovery": "eventstack-test" } }];
    expect(DISCOVERY_TAG).toBe("karpenter.sh/discovery");
    expect(nodeClass.spec.subnetSelectorTerms).toEqual(byTag);
    expect(nodeClass.spec.securityGroupSelectorTerms).toEqual(byTag);
  });

  test("pins the AMI alias, requires IMDSv2 with a hop limit of 1, and encrypts a gp3 root volume of the given size", () => {
    expect(nodeClass.spec.amiSelectorTerms).toEqual([{ alias: "al2023@v20260101" }]);
    expect(nodeClass.spec.metadataOptions).toEqual({ httpEndpoint: "enabled", httpProtocolIPv6: "disabled", httpPutResponseHopLimit: 1, httpTokens: "required" });
    expect(nodeClass.spec.blockDeviceMappings).toEqual([
      { deviceName: "/dev/xvda", ebs: { volumeSize: "80Gi", volumeType: "gp3", encrypted: true, deleteOnTermination: true } },
    ]);
  });

  test("tags what Karpenter launches with exactly the tags given", () => {
    expect(nodeClass.spec.tags).toEqual({ Owner: "platform", ManagedBy: "karpenter" });
  });
});

describe("nodePool", () => {
  const pool = nodePool(NODE_POOL_ARGS);
  const requirement = (key: string) => pool.spec.template.spec.requirements.find((r) => r.key === key);

  test("is the NodePool named `default`, labelling its nodes for the workloads and using the `default` EC2NodeClass", () => {
    expect(pool.apiVersion).toBe("karpenter.sh/v1");
    expect(pool.kind).toBe("NodePool");
    expect(pool.metadata).toEqual({ name: "default" });
    expect(NODE_POOL_NAME).toBe("default");
    expect(pool.spec.template.metadata.labels).toEqual({ "eventstack.io/pool": "workloads" });
    expect(pool.spec.template.spec.nodeClassRef).toEqual({ group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: "default" });
  });

  test("requires the given capacity types, architectures and instance categories, Linux, and generations above the floor", () => {
    expect(pool.spec.template.spec.requirements).toEqual([
      { key: "karpenter.sh/capacity-type", operator: "In", values: ["spot", "on-demand"] },
      { key: "kubernetes.io/arch", operator: "In", values: ["arm64"] },
      { key: "kubernetes.io/os", operator: "In", values: ["linux"] },
      { key: "karpenter.k8s.aws/instance-category", operator: "In", values: ["c", "m"] },
      { key: "karpenter.k8s.aws/instance-generation", operator: "Gt", values: ["6"] },
    ]);
  });

  test("copies its list arguments, so a caller's later change cannot reach the object", () => {
    const capacityTypes: ("spot" | "on-demand")[] = ["spot"];
    const built = nodePool({ ...NODE_POOL_ARGS, capacityTypes });
    capacityTypes.push("on-demand");
    expect(built.spec.template.spec.requirements[0]!.values).toEqual(["spot"]);
    expect(requirement("kubernetes.io/arch")!.values).not.toBe(NODE_POOL_ARGS.architectures);
  });

  test("limits CPU and memory, expires nodes, and consolidates empty or underutilized nodes within the budget", () => {
    expect(pool.spec.limits).toEqual({ cpu: "64", memory: "256Gi" });
    expect(pool.spec.template.spec.expireAfter).toBe("336h");
    expect(pool.spec.disruption).toEqual({ consolidationPolicy: "WhenEmptyOrUnderutilized", consolidateAfter: "2m", budgets: [{ nodes: "20%" }] });
  });
});
