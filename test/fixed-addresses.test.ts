// The address plan of the reserved ranges: the last /28 of each private subnet, offsets for the NLB and the endpoints.
import { addressAt, endpointOffset, FIXED_ADDRESSES, reservedBlock } from "../components/fixed-addresses";
import { INTERFACE_ENDPOINT_SERVICES, subnetMasks } from "../components/network";

describe("reservedBlock", () => {
  test.each([
    ["10.0.0.0/19", "10.0.31.240/28"],
    ["10.0.32.0/19", "10.0.63.240/28"],
    ["10.20.2.0/23", "10.20.3.240/28"],
    ["192.168.255.0/24", "192.168.255.240/28"],
  ])("%s → %s", (subnet, block) => {
    expect(reservedBlock(subnet)).toBe(block);
  });

  test("a subnet no larger than the block is refused", () => {
    expect(() => reservedBlock("10.0.0.0/28")).toThrow(new Error("fixed addresses: subnet 10.0.0.0/28 must be larger than a /28"));
  });

  test("every private subnet the network can carve is large enough (VPC /16 to /20 → private /19 to /23)", () => {
    for (const prefix of [16, 17, 18, 19, 20]) expect(() => reservedBlock(`10.0.0.0/${subnetMasks(`10.0.0.0/${prefix}`).private}`)).not.toThrow();
  });
});

describe("addresses in the block", () => {
  test("the NLB takes the first address, endpoint n the next ones; the subnet's broadcast address (offset 15) is never used", () => {
    expect(addressAt("10.0.31.240/28", FIXED_ADDRESSES.loadBalancerOffset)).toBe("10.0.31.240");
    expect(INTERFACE_ENDPOINT_SERVICES.map((_, i) => addressAt("10.0.31.240/28", endpointOffset(i)))).toEqual(
      INTERFACE_ENDPOINT_SERVICES.map((_, i) => `10.0.31.${241 + i}`),
    );
    expect(() => addressAt("10.0.31.240/28", 15)).toThrow(new Error("fixed addresses: offset 15 is outside 0..14 of 10.0.31.240/28"));
  });

  test("the block holds at most 14 endpoints beside the NLB", () => {
    expect(endpointOffset(13)).toBe(14);
    expect(() => endpointOffset(14)).toThrow(new Error("fixed addresses: the reserved /28 holds at most 14 interface endpoints"));
  });
});
