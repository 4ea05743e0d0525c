// The address plan of the fixed private IPs in the private subnets: the internal NLB's and the interface endpoints'.
//
// Why fixed addresses: pods take their IPs from the same private subnets (VPC CNI), so a rule that admits "the VPC"
// admits every pod. Ingest must admit only the NLB (the path through API Gateway's authorizer), and the pods' HTTPS
// must reach only the interface endpoints, not the EKS API's ENIs or the internet; both rules need addresses that no
// pod, node or AWS-managed ENI can ever get. So the last /28 of each private subnet is an `explicit` subnet CIDR
// reservation: "AWS does not use the IP addresses. You manually assign the IP addresses to resources" (VPC user guide,
// subnet-cidr-reservation.html, verified 2026-12-05). EC2 never hands them to nodes, pod IPs or prefixes, nor EKS to
// its control-plane ENIs; only resources given an address explicitly (below) get one.
//
// The /28's last address is the subnet's broadcast address, which AWS reserves, so offsets 0 to 14 are usable.
// Pure functions; network.ts creates the reservations, the NLB and the endpoints use the addresses.

/** The reservation's size and who holds which offset in it. */
export const FIXED_ADDRESSES = {
  prefixLength: 28,
  /** The internal NLB's node in this subnet. */
  loadBalancerOffset: 0,
  /** Interface endpoint n (INTERFACE_ENDPOINT_SERVICES order) sits at firstEndpointOffset + n. */
  firstEndpointOffset: 1,
  /** The highest usable offset: the block's last address is the subnet's broadcast address. */
  lastUsableOffset: 14,
} as const;

const toInt = (ip: string) => ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

function parse(cidr: string): { base: number; prefix: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new Error(`fixed addresses: "${cidr}" is not an IPv4 CIDR`);
  return { base: toInt(m[1]!), prefix: Number(m[2]) };
}

/** The last /28 of a subnet: where its fixed addresses live. The subnet must be larger than a /28. */
export function reservedBlock(subnetCidr: string): string {
  const { base, prefix } = parse(subnetCidr);
  if (prefix >= FIXED_ADDRESSES.prefixLength) throw new Error(`fixed addresses: subnet ${subnetCidr} must be larger than a /${FIXED_ADDRESSES.prefixLength}`);
  const size = 2 ** (32 - prefix);
  const block = 2 ** (32 - FIXED_ADDRESSES.prefixLength);
  return `${toIp(base + size - block)}/${FIXED_ADDRESSES.prefixLength}`;
}

/** The address at `offset` in a reserved block. */
export function addressAt(blockCidr: string, offset: number): string {
  if (!Number.isInteger(offset) || offset < 0 || offset > FIXED_ADDRESSES.lastUsableOffset)
    throw new Error(`fixed addresses: offset ${offset} is outside 0..${FIXED_ADDRESSES.lastUsableOffset} of ${blockCidr}`);
  return toIp(parse(blockCidr).base + offset);
}

/** The offset of interface endpoint `index`; throws when the block cannot hold that many endpoints. */
export function endpointOffset(index: number): number {
  const offset = FIXED_ADDRESSES.firstEndpointOffset + index;
  if (offset > FIXED_ADDRESSES.lastUsableOffset)
    throw new Error(`fixed addresses: the reserved /${FIXED_ADDRESSES.prefixLength} holds at most ${FIXED_ADDRESSES.lastUsableOffset - FIXED_ADDRESSES.firstEndpointOffset + 1} interface endpoints`);
  return offset;
}
