// Security groups over both stacks: rules are standalone resources only. @pulumi/aws warns that a group's inline
// `ingress`/`egress` beside standalone rules for the same group overwrite each other after a refresh, which would cut
// API Gateway → NLB → pods (the NLB groups) or the data services off from the cluster.
import type { RecordingMocks } from "./mocks";
import { runProgram } from "./program";

const SG = "aws:ec2/securityGroup:SecurityGroup";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
  });

  test("no security group declares inline ingress or egress rules", () => {
    const groups = mocks.ofType(SG);
    expect(groups.length).toBeGreaterThanOrEqual(stack === "prod" ? 6 : 5);
    for (const sg of groups) {
      expect([sg.name, "ingress" in sg.inputs, "egress" in sg.inputs]).toEqual([sg.name, false, false]);
    }
    // The legacy rule resource, which has the same conflict with inline rules, is not used either.
    expect(mocks.ofType("aws:ec2/securityGroupRule:SecurityGroupRule")).toEqual([]);
  });

  test("each data service's group admits its one port from the nodes' group through a standalone rule", () => {
    const nodeSg = mocks.get("eks:index:Cluster", "cluster-eks").state.nodeSecurityGroupId;
    for (const [component, port] of [["database", 5432], ["cache", 6379], ["kafka", 9098]] as const) {
      const rules = mocks.ofType(INGRESS).filter((r) => r.inputs.securityGroupId === mocks.get(SG, `${component}-sg`).state.id);
      expect(rules.map((r) => [r.name, r.inputs])).toEqual([
        [`${component}-sg-client-1`, expect.objectContaining({ referencedSecurityGroupId: nodeSg, ipProtocol: "tcp", fromPort: port, toPort: port })],
        // MSK open monitoring for the collector (components/observability/collector.ts), from the same group only.
        ...(component === "kafka"
          ? [11001, 11002].map((p, i) => [`collector-msk-${["jmx", "node"][i]}-exporter`, expect.objectContaining({ referencedSecurityGroupId: nodeSg, ipProtocol: "tcp", fromPort: p, toPort: p })])
          : []),
      ]);
    }
  });

  if (stack === "prod") {
    test("the interface endpoints' group admits HTTPS from the VPC through a standalone rule", () => {
      const rule = mocks.get(INGRESS, "network-endpoints-https").inputs;
      expect(rule).toEqual({
        securityGroupId: mocks.get(SG, "network-endpoints").state.id,
        cidrIpv4: "10.0.0.0/16",
        ipProtocol: "tcp",
        fromPort: 443,
        toPort: 443,
        description: "HTTPS from the VPC",
      });
    });
  }
});
