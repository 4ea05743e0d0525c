// The network over both stacks: subnet tiers and their discovery tags, NAT per stack, flow logs, endpoints.
import { subnetMasks } from "../components/network";
import type { RecordingMocks } from "./mocks";
import { runProgram, TEST_REGION } from "./program";

const VPC = "awsx:ec2:Vpc";
const ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint";

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  let outputs: Record<string, unknown>;
  beforeAll(async () => {
    ({ mocks, outputs } = await runProgram(stack));
  });

  test("the VPC spreads private, public and isolated subnets over three AZs", () => {
    const vpc = mocks.get(VPC, "network-vpc").inputs;
    expect(vpc.cidrBlock).toBe("10.0.0.0/16");
    expect(vpc.numberOfAvailabilityZones).toBe(3);
    expect(vpc.availabilityZoneNames).toBeUndefined(); // no AZ names in the program
    expect(vpc.subnetSpecs.map((s: any) => [s.type, s.cidrMask])).toEqual([
      ["Private", 19],
      ["Public", 24],
      ["Isolated", 24],
    ]);
    expect(outputs.privateSubnetIds).toHaveLength(3);
    expect(outputs.isolatedSubnetIds).toHaveLength(3);
  });

  test("subnets carry the load balancer and Karpenter discovery tags for this stack's cluster", () => {
    const specs = mocks.get(VPC, "network-vpc").inputs.subnetSpecs;
    const tags = (type: string) => specs.find((s: any) => s.type === type).tags;
    expect(tags("Private")).toEqual({
      "kubernetes.io/role/internal-elb": "1",
      [`kubernetes.io/cluster/eventstack-${stack}`]: "shared",
      "karpenter.sh/discovery": `eventstack-${stack}`,
    });
    expect(tags("Public")).toEqual({ "kubernetes.io/role/elb": "1", [`kubernetes.io/cluster/eventstack-${stack}`]: "shared" });
    expect(tags("Isolated")).not.toHaveProperty("karpenter.sh/discovery");
  });

  test("NAT gateways follow network.natGateways", () => {
    expect(mocks.get(VPC, "network-vpc").inputs.natGateways).toEqual({ strategy: stack === "dev" ? "Single" : "OnePerAz" });
  });

  test("S3 is reached through a gateway endpoint on every route table", () => {
    const s3 = mocks.get(ENDPOINT, "network-s3").inputs;
    expect(s3.vpcEndpointType).toBe("Gateway");
    expect(s3.serviceName).toBe(`com.amazonaws.${TEST_REGION}.s3`);
    expect(s3.routeTableIds).toHaveLength(9);
  });

  test("interface endpoints exist only where config enables them", () => {
    const interfaces = mocks.ofType(ENDPOINT).filter((e) => e.inputs.vpcEndpointType === "Interface");
    if (stack === "dev") expect(interfaces).toEqual([]);
    else {
      expect(interfaces.map((e) => e.inputs.serviceName).sort()).toEqual(
        ["aps-workspaces", "ecr.api", "ecr.dkr", "eks-auth", "logs", "secretsmanager", "sts", "xray"].map((s) => `com.amazonaws.${TEST_REGION}.${s}`),
      );
      // The collector, Grafana and the rollout analyses may send HTTPS only to the endpoints' fixed addresses here:
      // AMP's data plane and X-Ray must be among them, after the six older ones (whose addresses stay where they were).
      expect(mocks.get(ENDPOINT, "network-aps-workspaces").inputs.subnetConfigurations.map((c: any) => c.ipv4)).toEqual(["10.0.31.247", "10.0.63.247", "10.0.95.247"]);
      expect(mocks.get(ENDPOINT, "network-xray").inputs.subnetConfigurations.map((c: any) => c.ipv4)).toEqual(["10.0.31.248", "10.0.63.248", "10.0.95.248"]);
      // The Pod Identity agent takes every workload's credentials from the EKS Auth API, through its own endpoint
      // at the next fixed address after the five older ones (whose addresses stay where they were).
      const eksAuth = mocks.get(ENDPOINT, "network-eks-auth").inputs;
      expect(eksAuth).toMatchObject({ serviceName: `com.amazonaws.${TEST_REGION}.eks-auth`, vpcEndpointType: "Interface", privateDnsEnabled: true });
      expect(eksAuth.subnetConfigurations.map((c: any) => c.ipv4)).toEqual(["10.0.31.246", "10.0.63.246", "10.0.95.246"]);
      expect(mocks.get(ENDPOINT, "network-secretsmanager").inputs.subnetConfigurations.map((c: any) => c.ipv4)).toEqual(["10.0.31.245", "10.0.63.245", "10.0.95.245"]);
      for (const e of interfaces) expect(e.inputs.privateDnsEnabled).toBe(true);
      const rule = mocks.get("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "network-endpoints-https").inputs;
      expect(rule).toMatchObject({ cidrIpv4: "10.0.0.0/16", ipProtocol: "tcp", fromPort: 443, toPort: 443 });
    }
  });

  test("flow logs capture all traffic into this stack's own log group with the configured retention", () => {
    const flow = mocks.get("aws:ec2/flowLog:FlowLog", "network-flow-logs").inputs;
    expect(flow.trafficType).toBe("ALL");
    expect(flow.logDestinationType).toBe("cloud-watch-logs");
    const group = mocks.get("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs").inputs;
    // Named from the stack, so that dev and prod in one account do not both claim one group.
    expect(group.name).toBe(`/eventstack/eventstack-${stack}/vpc-flow-logs`);
    expect(group.retentionInDays).toBe(stack === "dev" ? 7 : 90);
    // The delivery role: the documented actions on this group and its streams; test/iam-simulation-*.test.ts evaluates it.
    const groupArn = mocks.get("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs").state.arn;
    const policy = JSON.parse(mocks.get("aws:iam/rolePolicy:RolePolicy", "network-flow-logs").inputs.policy);
    expect(policy.Statement.map((st: any) => [st.Action, st.Resource])).toEqual([
      [["logs:CreateLogGroup", "logs:DescribeLogStreams"], groupArn],
      [["logs:CreateLogStream", "logs:PutLogEvents"], `${groupArn}:log-stream:*`],
      ["logs:DescribeLogGroups", "*"],
    ]);
    const trust = JSON.parse(mocks.get("aws:iam/role:Role", "network-flow-logs").inputs.assumeRolePolicy);
    expect(trust.Statement[0].Condition).toEqual({
      StringEquals: { "aws:SourceAccount": "123456789012" },
      ArnLike: { "aws:SourceArn": `arn:aws:ec2:${TEST_REGION}:123456789012:vpc-flow-log/*` },
    });
    expect(mocks.get("aws:ec2/flowLog:FlowLog", "network-flow-logs").dependencies).toContainEqual(expect.stringMatching(/aws:iam\/rolePolicy:RolePolicy::network-flow-logs$/));
  });

  test("every resource has a parent component and every AWS resource uses the stack's tagged provider", () => {
    const provider = mocks.get("pulumi:providers:aws", "aws");
    expect(provider.inputs.region).toBe(TEST_REGION);
    expect(JSON.parse(provider.inputs.defaultTags).tags).toEqual({
      Project: "eventstack",
      Stack: stack,
      Owner: "platform",
      CostCenter: "eventstack",
      ManagedBy: "pulumi",
    });
    for (const r of mocks.resources.filter((r) => !r.type.startsWith("pulumi:providers:") && r.type.startsWith("aws:"))) {
      if (r.name.startsWith("network-")) expect([r.type, r.name, r.parent]).toEqual([r.type, r.name, expect.stringContaining("eventstack:network:Network")]);
      else expect([r.type, r.name, r.parent]).toEqual([r.type, r.name, expect.stringMatching(/eventstack:[a-z]+:[A-Za-z]+::/)]);
      expect([r.type, r.name, r.provider]).toEqual([r.type, r.name, expect.stringContaining("pulumi:providers:aws::aws")]);
    }
  });
});

describe("subnetMasks", () => {
  test.each([
    ["10.0.0.0/16", { private: 19, public: 24, isolated: 24 }],
    ["10.20.0.0/20", { private: 23, public: 28, isolated: 28 }],
  ])("%s", (cidr, masks) => {
    expect(subnetMasks(cidr)).toEqual(masks);
    // Three AZs of each tier fit inside the VPC.
    const prefix = Number(cidr.split("/")[1]);
    const used = 3 * (2 ** (32 - masks.private) + 2 ** (32 - masks.public) + 2 ** (32 - masks.isolated));
    expect(used).toBeLessThanOrEqual(2 ** (32 - prefix));
  });
});
