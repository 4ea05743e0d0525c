// The EKS cluster over both stacks: the eks.Cluster inputs that matter (auth, endpoint, encryption, logs,
// add-ons), the system node group and its isolation, and the Kubernetes provider everything uses.
import { accessEntryKey, deployerAdmins, principalArnOfCaller, withoutCreatorBootstrap } from "../components/cluster";
import { eksAddonVersions, VERSIONS } from "../components/versions";
import type { RecordingMocks } from "./mocks";
import { ACCOUNT, DEFAULT_CALLER_ARN } from "./mocks";
import { runProgram, runWithMocks, TEST_PUBLIC_ENDPOINT_CIDRS, TEST_REGION } from "./program";

const EKS = "eks:index:Cluster";
const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";
const ADDON = "aws:eks/addon:Addon";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const ENTRY = "aws:eks/accessEntry:AccessEntry";
const ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation";
const ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

/**
 * Every access entry declared, by resource name, with its principal and the policy associated with it; checks that
 * each association belongs to its entry and that every Kubernetes step (the provider) waits for it.
 */
function adminAccess(mocks: RecordingMocks, clusterName: string): Record<string, { principalArn: string; policyArn: string; scope: unknown }> {
  expect(mocks.get(EKS, "cluster-eks").inputs).not.toHaveProperty("accessEntries");
  const provider = mocks.get("pulumi:providers:kubernetes", "cluster-k8s");
  const out: Record<string, { principalArn: string; policyArn: string; scope: unknown }> = {};
  // Karpenter's node role has an EC2_LINUX entry of its own (components/karpenter); these are the people and roles.
  for (const entry of mocks.ofType(ENTRY).filter((e) => e.inputs.type !== "EC2_LINUX")) {
    expect([entry.name, entry.inputs.clusterName, entry.inputs.type, entry.parent]).toEqual([entry.name, clusterName, "STANDARD", expect.stringMatching(/eventstack:cluster:Cluster::cluster$/)]);
    const association = mocks.get(ASSOCIATION, entry.name).inputs;
    expect([association.principalArn, association.clusterName]).toEqual([entry.inputs.principalArn, clusterName]);
    expect(provider.dependencies).toContainEqual(`urn:pulumi:${clusterName.replace("eventstack-", "")}::eventstack::eventstack:cluster:Cluster$${ASSOCIATION}::${entry.name}`);
    out[entry.name] = { principalArn: entry.inputs.principalArn, policyArn: association.policyArn, scope: association.accessScope };
  }
  return out;
}
const admin = (principalArn: string) => ({ principalArn, policyArn: ADMIN_POLICY, scope: { type: "cluster" } });
const pinned = VERSIONS.eksAddons["1.35"];

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  let outputs: Record<string, unknown>;
  const clusterName = `eventstack-${stack}`;
  beforeAll(async () => {
    ({ mocks, outputs } = await runProgram(stack));
  });

  test("the cluster authenticates through access entries only; by default both endpoints, the public one open to exactly the declared CIDRs", () => {
    const eks = mocks.get(EKS, "cluster-eks").inputs;
    expect(eks.name).toBe(clusterName);
    expect(eks.version).toBe("1.35");
    expect(eks.authenticationMode).toBe("API");
    // `pulumi up` runs from outside the VPC this run creates: the public endpoint admits where it runs, nothing else.
    expect(eks.endpointPrivateAccess).toBe(true);
    expect(eks.endpointPublicAccess).toBe(true);
    expect(eks.publicAccessCidrs).toEqual(TEST_PUBLIC_ENDPOINT_CIDRS);
    expect(mocks.ofType(INGRESS).filter((r) => r.name.startsWith("cluster-api-from-"))).toEqual([]);
    expect(eks.privateSubnetIds).toEqual(["subnet-private-1", "subnet-private-2", "subnet-private-3"]);
    expect(eks).not.toHaveProperty("publicSubnetIds"); // control-plane ENIs only in private subnets
  });

  test("the principal running `pulumi up` is an explicit cluster admin, and EKS's implicit creator entry is turned off", () => {
    // No admins in either stack file: the deployer's entry is the only one.
    expect(adminAccess(mocks, clusterName)).toEqual({ [`cluster-admin-${ACCOUNT}-user-ci`]: admin(DEFAULT_CALLER_ARN) });
    // withoutCreatorBootstrap (tested below) reaches the component's aws.eks.Cluster through this transform.
    expect(mocks.transforms.get(`${EKS}::cluster-eks`)).toBe(1);
  });

  test("no default node group, no Pulumi-made security groups, no OIDC provider, no self-managed add-ons", () => {
    const eks = mocks.get(EKS, "cluster-eks").inputs;
    expect(eks.skipDefaultNodeGroup).toBe(true);
    expect(eks.skipDefaultSecurityGroups).toBe(true);
    expect(eks.createOidcProvider).toBe(false);
    expect(eks.bootstrapSelfManagedAddons).toBe(false);
  });

  test("Secrets are envelope-encrypted with a rotating key that only this account administers", () => {
    const key = mocks.get("aws:kms/key:Key", "cluster-secrets");
    expect(key.inputs.enableKeyRotation).toBe(true);
    expect(mocks.get(EKS, "cluster-eks").inputs.encryptionConfigKeyArn).toBe(key.state.arn);
    const policy = JSON.parse(key.inputs.policy);
    expect(policy.Statement).toEqual([
      { Sid: "AccountAdministersViaIam", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" },
    ]);
    const rolePolicy = JSON.parse(mocks.get("aws:iam/rolePolicy:RolePolicy", "cluster-role-secrets").inputs.policy);
    expect(rolePolicy.Statement).toEqual([
      { Effect: "Allow", Action: ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"], Resource: key.state.arn },
    ]);
  });

  test("control-plane logs api, audit and authenticator go to a log group created first, with the stack's retention", () => {
    const eks = mocks.get(EKS, "cluster-eks");
    expect(eks.inputs.enabledClusterLogTypes).toEqual(["api", "audit", "authenticator"]);
    const group = mocks.get("aws:cloudwatch/logGroup:LogGroup", "cluster-logs");
    expect(group.inputs.name).toBe(`/aws/eks/${clusterName}/cluster`);
    expect(group.inputs.retentionInDays).toBe(stack === "dev" ? 7 : 90);
    expect(eks.dependencies).toContainEqual(expect.stringMatching(/::cluster-logs$/));
  });

  test("managed add-ons run at the versions pinned for the cluster's Kubernetes version", () => {
    const eks = mocks.get(EKS, "cluster-eks").inputs;
    expect(eks.vpcCniOptions.addonVersion).toBe(pinned["vpc-cni"]);
    expect(eks.kubeProxyAddonOptions.version).toBe(pinned["kube-proxy"]);
    expect(eks.corednsAddonOptions.enabled).toBe(false); // created after the node group instead
    const coredns = mocks.get(ADDON, "cluster-coredns");
    expect([coredns.inputs.addonName, coredns.inputs.addonVersion, coredns.inputs.clusterName]).toEqual(["coredns", pinned.coredns, clusterName]);
    expect(coredns.dependencies).toContainEqual(expect.stringMatching(/aws:eks\/nodeGroup:NodeGroup::cluster-system$/));
    const agent = mocks.get(ADDON, "cluster-eks-pod-identity-agent");
    expect([agent.inputs.addonName, agent.inputs.addonVersion]).toEqual(["eks-pod-identity-agent", pinned["eks-pod-identity-agent"]]);
  });

  test("the system node group is small, on-demand, AL2023 for its architecture, labelled and tainted for system pods", () => {
    const group = mocks.get(NODE_GROUP, "cluster-system").inputs;
    expect(group.capacityType).toBe("ON_DEMAND");
    expect(group.amiType).toBe("AL2023_ARM_64_STANDARD");
    expect(group.version).toBe("1.35");
    expect(group.instanceTypes).toEqual(stack === "dev" ? ["t4g.xlarge"] : ["m7g.large"]);
    // A fixed size: nothing scales this group, so min, desired and max are the one configured count.
    expect(group.scalingConfig).toEqual(stack === "dev" ? { minSize: 1, desiredSize: 1, maxSize: 1 } : { minSize: 3, desiredSize: 3, maxSize: 3 });
    expect(group.subnetIds).toEqual(["subnet-private-1", "subnet-private-2", "subnet-private-3"]);
    expect(group.labels).toEqual({ "eventstack.io/pool": "system" });
    expect(group.taints).toEqual([{ key: "CriticalAddonsOnly", value: "true", effect: "NO_SCHEDULE" }]);
    // CoreDNS follows the system nodes.
    const coredns = JSON.parse(mocks.get(ADDON, "cluster-coredns").inputs.configurationValues);
    expect(coredns).toEqual({ nodeSelector: { "eventstack.io/pool": "system" }, tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists" }] });
  });

  test("system nodes require IMDSv2 with a hop limit of 1 and boot from an encrypted gp3 volume, with no extra security group", () => {
    const template = mocks.get("aws:ec2/launchTemplate:LaunchTemplate", "cluster-system");
    expect(template.inputs.metadataOptions).toEqual({ httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 });
    expect(template.inputs.blockDeviceMappings).toEqual([
      { deviceName: "/dev/xvda", ebs: { volumeSize: 30, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } },
    ]);
    expect(template.inputs).not.toHaveProperty("vpcSecurityGroupIds"); // EKS attaches the cluster security group
    expect(mocks.get(NODE_GROUP, "cluster-system").inputs.launchTemplate.id).toBe("cluster-system-id");
  });

  test("system nodes' role can join, pull images, run the CNI and be reached through SSM", () => {
    const attached = mocks
      .ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
      .filter((a) => a.name.startsWith("cluster-system-node-"))
      .map((a) => a.inputs.policyArn)
      .sort();
    expect(attached).toEqual(
      ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore"].map((p) => `arn:aws:iam::aws:policy/${p}`),
    );
  });

  test("every Kubernetes resource and Helm release uses the cluster's provider", () => {
    const k8s = mocks.resources.filter((r) => r.type.startsWith("kubernetes:"));
    expect(k8s.length).toBeGreaterThan(5);
    for (const r of k8s) expect([r.type, r.name, r.provider]).toEqual([r.type, r.name, expect.stringContaining("pulumi:providers:kubernetes::cluster-k8s")]);
    const provider = mocks.get("pulumi:providers:kubernetes", "cluster-k8s");
    const kubeconfig = provider.inputs.kubeconfig; // a secret: recorded as the SDK's secret envelope
    expect(JSON.parse(typeof kubeconfig === "string" ? kubeconfig : kubeconfig.value)["current-context"]).toBe(clusterName);
  });

  test("the stack exports the cluster name and a kubeconfig for it", () => {
    expect(outputs.clusterName).toBe(clusterName);
    const kubeconfig = JSON.parse(outputs.kubeconfig as string);
    expect(kubeconfig.users[0].user.exec.args).toEqual(["eks", "get-token", "--cluster-name", clusterName, "--region", TEST_REGION]);
  });
});

describe("configuration-dependent cluster settings (prod with public CIDRs, admins and amd64 system nodes)", () => {
  const admins = [`arn:aws:iam::${ACCOUNT}:role/ci-deploy`, `arn:aws:iam::${ACCOUNT}:user/alice`];
  let mocks: RecordingMocks;
  let outputs: Record<string, unknown>;
  beforeAll(async () => {
    const overrides = {
      "eventstack:cluster.publicEndpointCidrs": ["203.0.113.0/24"],
      "eventstack:cluster.adminPrincipalArns": admins,
      "eventstack:cluster.systemArchitecture": "amd64",
      "eventstack:cluster.systemInstanceTypes": ["m7i.large"],
    };
    ({ mocks, outputs } = await runWithMocks("prod", overrides, () => {
      const program = require("../index") as { kubeconfig: { isSecret: Promise<boolean> } };
      const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
      return { kubeconfigIsSecret: pulumi.output(program.kubeconfig.isSecret) };
    }));
  });

  test("public endpoint CIDRs open the public endpoint to exactly those CIDRs", () => {
    const eks = mocks.get(EKS, "cluster-eks").inputs;
    expect(eks.endpointPublicAccess).toBe(true);
    expect(eks.publicAccessCidrs).toEqual(["203.0.113.0/24"]);
    expect(eks.endpointPrivateAccess).toBe(true);
  });

  test("admin principals get cluster-scoped AmazonEKSClusterAdminPolicy access entries, and so does the deployer", () => {
    expect(adminAccess(mocks, "eventstack-prod")).toEqual({
      [`cluster-admin-${ACCOUNT}-role-ci-deploy`]: admin(admins[0]!),
      [`cluster-admin-${ACCOUNT}-user-alice`]: admin(admins[1]!),
      [`cluster-admin-${ACCOUNT}-user-ci`]: admin(DEFAULT_CALLER_ARN),
    });
  });

  test("amd64 system nodes boot the x86_64 AL2023 AMI", () => {
    expect(mocks.get(NODE_GROUP, "cluster-system").inputs.amiType).toBe("AL2023_x86_64_STANDARD");
  });

  test("the exported kubeconfig is a secret", () => {
    expect(outputs.kubeconfigIsSecret).toBe(true);
  });
});

describe("a private-only API endpoint (prod with cluster.endpointAccess private)", () => {
  const privateCidrs = ["10.8.0.0/16", "172.20.4.0/24"];
  let mocks: RecordingMocks;
  beforeAll(async () => {
    ({ mocks } = await runProgram("prod", {
      "eventstack:cluster.endpointAccess": "private",
      "eventstack:cluster.publicEndpointCidrs": [],
      "eventstack:cluster.privateEndpointCidrs": privateCidrs,
    }));
  });

  test("there is no public endpoint", () => {
    const eks = mocks.get(EKS, "cluster-eks").inputs;
    expect(eks.endpointPublicAccess).toBe(false);
    expect(eks.endpointPrivateAccess).toBe(true);
    expect(eks).not.toHaveProperty("publicAccessCidrs");
  });

  test("the cluster security group admits the private endpoint CIDRs to the API on 443, and nothing else through those rules", () => {
    const clusterSg = mocks.get(EKS, "cluster-eks").state.clusterSecurityGroupId;
    const rules = mocks.ofType(INGRESS).filter((r) => r.inputs.securityGroupId === clusterSg);
    expect(rules.map((r) => [r.name, r.inputs])).toEqual(
      privateCidrs.map((cidr) => [
        `cluster-api-from-${cidr.replace(/[./]/g, "-")}`,
        { securityGroupId: clusterSg, cidrIpv4: cidr, ipProtocol: "tcp", fromPort: 443, toPort: 443, description: `Kubernetes API (HTTPS) from ${cidr}, where pulumi up runs` },
      ]),
    );
    for (const rule of rules) expect(rule.parent).toMatch(/eventstack:cluster:Cluster::cluster$/);
  });
});

describe("the CI deploy role listed as an admin and running `pulumi up` (an assumed-role session)", () => {
  const ciRole = `arn:aws:iam::${ACCOUNT}:role/ci-deploy`;
  let mocks: RecordingMocks;
  beforeAll(async () => {
    ({ mocks } = await runWithMocks(
      "prod",
      { "eventstack:cluster.adminPrincipalArns": [ciRole, `arn:aws:iam::${ACCOUNT}:user/alice`] },
      () => require("../index") as Record<string, unknown>,
      { callerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deploy/github-actions-1234` },
    ));
  });

  test("has exactly one access entry, for its role", () => {
    expect(adminAccess(mocks, "eventstack-prod")).toEqual({ [`cluster-admin-${ACCOUNT}-role-ci-deploy`]: admin(ciRole), [`cluster-admin-${ACCOUNT}-user-alice`]: admin(`arn:aws:iam::${ACCOUNT}:user/alice`) });
    expect(mocks.ofType(ENTRY).filter((e) => e.inputs.principalArn === ciRole)).toHaveLength(1);
  });
});

describe("pure helpers", () => {
  test("access entry keys are stable per principal and differ between principals", () => {
    // A role named with its path and the same role reached through a session (no path) keep one key.
    expect(accessEntryKey("arn:aws:iam::123456789012:role/path/ops-admin")).toBe("123456789012-role-ops-admin");
    expect(accessEntryKey(principalArnOfCaller("arn:aws:sts::123456789012:assumed-role/ops-admin/s"))).toBe("123456789012-role-ops-admin");
    // Same name in another account, or a user of that name: other keys.
    expect(accessEntryKey("arn:aws:iam::210987654321:role/ops-admin")).toBe("210987654321-role-ops-admin");
    expect(accessEntryKey("arn:aws:iam::123456789012:user/ops-admin")).toBe("123456789012-user-ops-admin");
  });

  test("a caller's ARN becomes the IAM principal an access entry can name", () => {
    expect(principalArnOfCaller("arn:aws:sts::123456789012:assumed-role/ci-deploy/github-actions-1234")).toBe("arn:aws:iam::123456789012:role/ci-deploy");
    expect(principalArnOfCaller("arn:aws-us-gov:sts::123456789012:assumed-role/Admin/alice@example.com")).toBe("arn:aws-us-gov:iam::123456789012:role/Admin");
    // The session ARN has no path: an Identity Center role comes out without aws-reserved/sso.amazonaws.com/.
    expect(principalArnOfCaller("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123abcd/alice")).toBe(
      "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0123abcd",
    );
    expect(principalArnOfCaller("arn:aws:iam::123456789012:user/ops/alice")).toBe("arn:aws:iam::123456789012:user/ops/alice");
    expect(principalArnOfCaller("arn:aws:iam::123456789012:role/ci-deploy")).toBe("arn:aws:iam::123456789012:role/ci-deploy");
  });

  test("the deployer is added to the admins once: not when listed, also under a path its session ARN drops", () => {
    const session = "arn:aws:sts::123456789012:assumed-role/ci-deploy/run-1";
    expect(deployerAdmins([], session)).toEqual(["arn:aws:iam::123456789012:role/ci-deploy"]);
    expect(deployerAdmins(["arn:aws:iam::123456789012:role/ci-deploy"], session)).toEqual(["arn:aws:iam::123456789012:role/ci-deploy"]);
    expect(deployerAdmins(["arn:aws:iam::123456789012:role/deploy/ci-deploy"], session)).toEqual(["arn:aws:iam::123456789012:role/deploy/ci-deploy"]);
    // Same name, other account or other kind: a different principal.
    expect(deployerAdmins(["arn:aws:iam::210987654321:role/ci-deploy", "arn:aws:iam::123456789012:user/ci-deploy"], session)).toEqual([
      "arn:aws:iam::210987654321:role/ci-deploy",
      "arn:aws:iam::123456789012:user/ci-deploy",
      "arn:aws:iam::123456789012:role/ci-deploy",
    ]);
  });

  test("the transform turns the creator bootstrap off on the component's aws.eks.Cluster only, keeping its options", () => {
    // What @pulumi/eks 4.3.0 registers (nodejs/eks/cluster/cluster.ts): accessConfig with the bootstrap hard-coded on,
    // and ignoreChanges on it, which must survive so that an existing cluster is not replaced.
    const opts = { ignoreChanges: ["accessConfig.bootstrapClusterCreatorAdminPermissions", "bootstrapSelfManagedAddons"] };
    const props = { name: "eventstack-prod", accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true }, version: "1.35" };
    expect(withoutCreatorBootstrap({ custom: true, type: "aws:eks/cluster:Cluster", name: "cluster-eks-eksCluster", props, opts })).toEqual({
      props: { name: "eventstack-prod", accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false }, version: "1.35" },
      opts,
    });
    expect(withoutCreatorBootstrap({ custom: true, type: "aws:eks/accessEntry:AccessEntry", name: "x", props: { principalArn: "arn" }, opts: {} })).toBeUndefined();
  });

  test("an unpinned Kubernetes version fails before anything is declared, saying how to fix it", () => {
    expect(() => eksAddonVersions("1.99")).toThrow(
      "components/versions.ts pins no EKS add-on versions for Kubernetes 1.99 (pinned: 1.35, 1.34); add an entry from `aws eks describe-addon-versions --kubernetes-version 1.99`",
    );
  });
});
