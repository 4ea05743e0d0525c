// Who can reach ingest and where pods' HTTPS goes, over both stacks.
//
// Ingest must be reached only through API Gateway (its authorizer), i.e. from the NLB. Every pod's address is in the
// VPC CIDR (VPC CNI), so no NetworkPolicy rule or Linkerd NetworkAuthentication may admit ingest's port from the VPC
// CIDR, or from any range wider than the NLB's fixed addresses. And the processor's and migrate Job's HTTPS, opened
// for AWS APIs, must not reach the Kubernetes API or the internet where interface endpoints exist.
import { SERVICE_PORTS } from "../components/service-env";
import type { RecordingMocks } from "./mocks";
import { runProgram } from "./program";

const POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const NETWORK_AUTH = "kubernetes:policy.linkerd.io/v1alpha1:NetworkAuthentication";
const RESERVATION = "aws:ec2/subnetCidrReservation:SubnetCidrReservation";

const toInt = (ip: string) => ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
/** Whether CIDR `inner` lies inside CIDR `outer`. */
function within(inner: string, outer: string): boolean {
  const [ib, ip] = inner.split("/");
  const [ob, op] = outer.split("/");
  if (Number(ip) < Number(op)) return false;
  const size = 2 ** (32 - Number(op));
  return Math.floor(toInt(ib!) / size) === Math.floor(toInt(ob!) / size);
}

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  let nlbCidrs: string[];
  let reserved: string[];
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
    nlbCidrs = mocks.get("aws:lb/loadBalancer:LoadBalancer", "edge-nlb").inputs.subnetMappings.map((m: any) => `${m.privateIpv4Address}/32`);
    reserved = mocks.ofType(RESERVATION).map((r) => r.inputs.cidrBlock);
  });

  test("the NLB's addresses sit in explicit reservations, one /28 per private subnet, that no automatic assignment uses", () => {
    expect(mocks.ofType(RESERVATION).map((r) => [r.inputs.subnetId, r.inputs.reservationType])).toEqual([1, 2, 3].map((n) => [`subnet-private-${n}`, "explicit"]));
    expect(nlbCidrs).toHaveLength(3);
    nlbCidrs.forEach((cidr, i) => expect(within(cidr, reserved[i]!)).toBe(true));
  });

  test("no NetworkPolicy rule admits ingest's port from the VPC CIDR or any range beyond the NLB's addresses", () => {
    const ingestPolicies = mocks.ofType(POLICY).filter((p) => p.inputs.spec.podSelector.matchLabels["app.kubernetes.io/name"] === "ingest");
    expect(ingestPolicies).toHaveLength(1);
    const sources = ingestPolicies.flatMap((p) =>
      (p.inputs.spec.ingress as any[]).filter((rule) => !rule.ports || rule.ports.some((port: any) => port.port === SERVICE_PORTS.ingest)).flatMap((rule) => rule.from ?? [{ ipBlock: { cidr: "0.0.0.0/0" } }]),
    );
    // Every source of the port is an ipBlock among the NLB's /32s, or exactly the OpenTelemetry Collector's pods
    // (its scrapes of /metrics, which shares the port): no other pod or namespace selector, no wider range.
    const collector = {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "observability" } },
      podSelector: { matchLabels: { "app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "otel-collector" } },
    };
    expect(sources).toEqual([collector, ...nlbCidrs.map((cidr) => ({ ipBlock: { cidr } }))]);
    // A policy that selects every pod of the namespace would add to what ingest admits: there is none.
    expect(mocks.ofType(POLICY).filter((p) => Object.keys(p.inputs.spec.podSelector.matchLabels ?? {}).length === 0)).toEqual([]);
  });

  test("Linkerd admits unauthenticated clients on ingest's port from the NLB's addresses only", () => {
    const networks = mocks.ofType(NETWORK_AUTH).flatMap((n) => n.inputs.spec.networks.map((net: any) => net.cidr));
    expect(networks).toEqual(nlbCidrs);
    expect(networks).not.toContain("10.0.0.0/16");
  });

  test("the processor's and migrate Job's HTTPS reaches the interface endpoints only where they exist, else public addresses only", () => {
    const https = (name: string) =>
      (mocks.get(POLICY, `${name}-network-policy`).inputs.spec.egress as any[]).filter((rule) => rule.ports?.some((p: any) => p.port === 443)).flatMap((rule) => rule.to);
    for (const name of ["processor", "migrate"]) {
      const to = https(name);
      if (stack === "prod") {
        // The endpoints' reserved ranges, nothing else: no EKS API ENI (EKS addresses them automatically, outside the
        // explicit reservations), no internet.
        expect(to).toEqual(reserved.map((cidr) => ({ ipBlock: { cidr } })));
        for (const endpoint of mocks.ofType("aws:ec2/vpcEndpoint:VpcEndpoint").filter((e) => e.inputs.vpcEndpointType === "Interface")) {
          (endpoint.inputs.subnetConfigurations as any[]).forEach((c, i) => {
            expect(c.subnetId).toBe(`subnet-private-${i + 1}`);
            expect(within(`${c.ipv4}/32`, reserved[i]!)).toBe(true);
          });
        }
      } else {
        expect(to).toHaveLength(1);
        expect(to[0].ipBlock.cidr).toBe("0.0.0.0/0");
        // Not the VPC (the private API ENIs), nor the Service range (the `kubernetes` ClusterIP), nor link-local.
        for (const closed of ["10.0.0.0/16", "172.20.0.0/16", "10.100.0.0/16", "169.254.169.254/32"]) {
          expect([closed, to[0].ipBlock.except.some((e: string) => within(closed, e))]).toEqual([closed, true]);
        }
      }
    }
  });

  test("nothing is placed in the private subnets before their reservations exist", () => {
    const reservationUrns = mocks.ofType(RESERVATION).map((r) => expect.stringMatching(new RegExp(`::${r.name}$`)));
    // The cluster (its ENIs and node groups) takes the private subnets from the network component's output.
    const deps = Object.values(mocks.propertyDependencies.get("eks:index:Cluster::cluster-eks") ?? {}).flat();
    expect(deps).toEqual(expect.arrayContaining(reservationUrns));
  });
});
