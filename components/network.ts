// The VPC every other component lives in.
//
// Creates an awsx VPC over N availability zones with three tiers of subnets per AZ:
//   - public   (small): NAT gateways and the internet-facing load balancers, nothing else;
//   - private  (large): EKS nodes and pods (the VPC CNI gives every pod a VPC address, hence the size),
//                       internal load balancers and the API Gateway VPC link; discovered by Karpenter;
//   - isolated (small): Aurora, ElastiCache and MSK, with no route to the internet at all.
// Plus VPC flow logs to CloudWatch, an S3 gateway endpoint (free; ECR image layers come from S3) and,
// when enabled, interface endpoints for the AWS APIs nodes and pods call most, so that traffic stays off
// the NAT gateways.
//
// The last /28 of each private subnet is reserved for fixed addresses (./fixed-addresses.ts): the internal NLB's,
// which ingest admits instead of the whole VPC, and the interface endpoints', the only HTTPS destinations pods have
// when the endpoints exist. `privateSubnetIds` resolves only after the reservations exist, so no node, pod or
// cluster ENI is placed in a subnet before its reserved range is closed to automatic assignment.
//
// Expects from its caller: the AWS provider (with the ownership tags as default tags) and the cluster name,
// which the subnet tags for load balancer and Karpenter discovery name and which names the flow log group.
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { addressAt, endpointOffset, FIXED_ADDRESSES, reservedBlock } from "./fixed-addresses";

export interface NetworkArgs {
  /** IPv4 CIDR of the VPC, /16 to /20. */
  cidr: string;
  /** Availability zones to use (2 or 3); the region's first N. */
  availabilityZones: number;
  /** `single`: one NAT gateway (dev); `onePerAz`: one per AZ so that one AZ's loss keeps egress elsewhere. */
  natGateways: "single" | "onePerAz";
  /** Send flow logs of all traffic to CloudWatch Logs. */
  flowLogs: boolean;
  /** Retention of the flow log group (days). */
  logRetentionDays: number;
  /** Create interface endpoints for ECR, STS, CloudWatch Logs, Secrets Manager, EKS Auth, AMP and X-Ray (INTERFACE_ENDPOINT_SERVICES). */
  interfaceEndpoints: boolean;
  /**
   * The stack's name in the account (the EKS cluster's, e.g. `eventstack-prod`): the `kubernetes.io/cluster/<name>`
   * and `karpenter.sh/discovery` tags, and the flow log group `/eventstack/<name>/vpc-flow-logs`, which another
   * stack in the same account and region must not share.
   */
  clusterName: string;
}

/**
 * AWS services whose interface endpoints pay off for an EKS cluster: image pulls, STS, logs, secrets, and the EKS Auth
 * API, from which the Pod Identity agent takes every workload's credentials ("Pods configured with EKS Pod Identity
 * acquire credentials from the EKS Auth API ... com.amazonaws.region-code.eks-auth": EKS user guide,
 * clusters/private-clusters, verified 2026-12-05), and the observability agents' two data planes: Amazon Managed
 * Service for Prometheus (`aps-workspaces`: the collector's remote write, Grafana's and the rollout analyses' queries;
 * AMP user guide, AMP-and-interface-VPC) and X-Ray (`xray`: the collector's traces), verified 2026-12-06. Where
 * endpoints exist, those pods may send HTTPS only to them (Network.awsApiCidrs), so without these two their writes
 * and queries would have nowhere to go. Endpoint n holds fixed address n (./fixed-addresses.ts), so a new service goes
 * last: inserting one would move the addresses of those after it.
 */
export const INTERFACE_ENDPOINT_SERVICES = ["ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "eks-auth", "aps-workspaces", "xray"] as const;

/** Subnet masks relative to the VPC prefix: private gets 1/8 of the space per AZ, public and isolated 1/256. */
export function subnetMasks(cidr: string): { private: number; public: number; isolated: number } {
  const prefix = Number(cidr.split("/")[1]);
  return { private: prefix + 3, public: prefix + 8, isolated: prefix + 8 };
}

/** The tags that let the AWS Load Balancer Controller and Karpenter find subnets. */
export function subnetTags(clusterName: string) {
  return {
    public: { "kubernetes.io/role/elb": "1", [`kubernetes.io/cluster/${clusterName}`]: "shared" },
    private: {
      "kubernetes.io/role/internal-elb": "1",
      [`kubernetes.io/cluster/${clusterName}`]: "shared",
      "karpenter.sh/discovery": clusterName,
    },
    isolated: { tier: "data" },
  };
}

/**
 * The trust of the flow-log delivery role: the VPC Flow Logs service, for flow logs of this account and region
 * only. AWS recommends both aws:SourceAccount (the flow log's owner) and aws:SourceArn (the flow log's ARN, its ID
 * as a wildcard when the role must exist first, as here): VPC user guide, "IAM role for publishing flow logs to
 * CloudWatch Logs", read 2026-12-05.
 */
export function flowLogTrustPolicy(r: { partition: string; region: string; accountId: string }) {
  return {
    Version: "2012-10-17" as const,
    Statement: [
      {
        Sid: "VpcFlowLogsDelivery",
        Effect: "Allow" as const,
        Principal: { Service: "vpc-flow-logs.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": r.accountId },
          ArnLike: { "aws:SourceArn": `arn:${r.partition}:ec2:${r.region}:${r.accountId}:vpc-flow-log/*` },
        },
      },
    ],
  };
}

/**
 * What the flow-log role may do: the five actions the same page lists, on this log group and its streams only.
 * logs:DescribeLogGroups takes no resource (Service Authorization Reference, CloudWatch Logs), so it is the one
 * action on `*`; it lists groups' metadata, never their events.
 */
export function flowLogPolicy(logGroupArn: string) {
  return {
    Version: "2012-10-17" as const,
    Statement: [
      { Sid: "CreateAndDescribeTheGroup", Effect: "Allow" as const, Action: ["logs:CreateLogGroup", "logs:DescribeLogStreams"], Resource: logGroupArn },
      { Sid: "WriteItsStreams", Effect: "Allow" as const, Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `${logGroupArn}:log-stream:*` },
      { Sid: "FindTheGroup", Effect: "Allow" as const, Action: "logs:DescribeLogGroups", Resource: "*" },
    ],
  };
}

export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly vpcCidr: string;
  readonly publicSubnetIds: pulumi.Output<string[]>;
  readonly privateSubnetIds: pulumi.Output<string[]>;
  /** Subnets with no internet route, for the data services. */
  readonly isolatedSubnetIds: pulumi.Output<string[]>;
  readonly flowLogGroupName: pulumi.Output<string | undefined>;
  /** Per private subnet (in `privateSubnetIds` order): its reserved /28 of fixed addresses. */
  readonly fixedRanges: pulumi.Output<string>[];
  /** The internal NLB's subnet mappings: one fixed private address per private subnet. */
  readonly loadBalancerSubnetMappings: { subnetId: pulumi.Output<string>; privateIpv4Address: pulumi.Output<string> }[];
  /** Where pods reach AWS APIs over HTTPS: the reserved ranges holding the interface endpoints; undefined without endpoints. */
  readonly awsApiCidrs: pulumi.Output<string>[] | undefined;

  constructor(name: string, args: NetworkArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:network:Network", name, {}, opts);
    const { provider } = opts;
    const childOpts = { parent: this, provider };
    const masks = subnetMasks(args.cidr);
    const tags = subnetTags(args.clusterName);
    const region = aws.getRegionOutput({}, childOpts);

    const vpc = new awsx.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: args.cidr,
        numberOfAvailabilityZones: args.availabilityZones,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        subnetStrategy: "Auto",
        subnetSpecs: [
          { type: "Private", cidrMask: masks.private, tags: tags.private },
          { type: "Public", cidrMask: masks.public, tags: tags.public },
          { type: "Isolated", name: "data", cidrMask: masks.isolated, tags: tags.isolated },
        ],
        natGateways: { strategy: args.natGateways === "single" ? "Single" : "OnePerAz" },
        tags: { Name: `${name}-vpc` },
      },
      { parent: this, providers: { aws: provider } },
    );

    // The fixed-address range of each private subnet, read from the subnet AWS created (awsx chooses the layout).
    const reservations = Array.from({ length: args.availabilityZones }, (_, i) => {
      const subnetId = vpc.privateSubnetIds.apply((ids) => ids[i]!);
      const subnet = aws.ec2.getSubnetOutput({ id: subnetId }, childOpts);
      return new aws.ec2.SubnetCidrReservation(
        `${name}-fixed-${i + 1}`,
        {
          subnetId,
          cidrBlock: subnet.cidrBlock.apply(reservedBlock),
          reservationType: "explicit",
          description: "eventstack fixed addresses: internal NLB and interface endpoints",
        },
        childOpts,
      );
    });

    // S3 is reached through a gateway endpoint on every route table: free, and it carries ECR's image layers.
    const routeTableIds = pulumi.output(vpc.routeTables).apply((tables) => tables.map((t) => t.id));
    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      {
        vpcId: vpc.vpcId,
        serviceName: pulumi.interpolate`com.amazonaws.${region.region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds,
        tags: { Name: `${name}-s3` },
      },
      childOpts,
    );

    if (args.interfaceEndpoints) {
      const endpointSg = new aws.ec2.SecurityGroup(
        `${name}-endpoints`,
        {
          vpcId: vpc.vpcId,
          description: "HTTPS from inside the VPC to the AWS interface endpoints",
          tags: { Name: `${name}-endpoints` },
        },
        childOpts,
      );
      // A standalone rule, no inline blocks (see components/data-security-group.ts); no egress: endpoints only answer.
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-endpoints-https`,
        { securityGroupId: endpointSg.id, cidrIpv4: args.cidr, ipProtocol: "tcp", fromPort: 443, toPort: 443, description: "HTTPS from the VPC" },
        childOpts,
      );
      INTERFACE_ENDPOINT_SERVICES.forEach((service, index) => {
        const offset = endpointOffset(index);
        new aws.ec2.VpcEndpoint(
          `${name}-${service.replace(".", "-")}`,
          {
            vpcId: vpc.vpcId,
            serviceName: pulumi.interpolate`com.amazonaws.${region.region}.${service}`,
            vpcEndpointType: "Interface",
            privateDnsEnabled: true,
            subnetIds: reservations.map((r) => r.subnetId),
            // A fixed address in each reserved range, so pods' HTTPS can be limited to the endpoints (./fixed-addresses.ts).
            subnetConfigurations: reservations.map((r) => ({ subnetId: r.subnetId, ipv4: r.cidrBlock.apply((block) => addressAt(block, offset)) })),
            securityGroupIds: [endpointSg.id],
            tags: { Name: `${name}-${service}` },
          },
          childOpts,
        );
      });
    }

    let flowLogGroup: aws.cloudwatch.LogGroup | undefined;
    if (args.flowLogs) {
      flowLogGroup = new aws.cloudwatch.LogGroup(
        `${name}-flow-logs`,
        // Named from the stack, not the component: dev and prod in one account each need their own group.
        { name: `/eventstack/${args.clusterName}/vpc-flow-logs`, retentionInDays: args.logRetentionDays },
        childOpts,
      );
      const account = aws.getCallerIdentityOutput({}, childOpts);
      const partition = aws.getPartitionOutput({}, childOpts).partition;
      const role = new aws.iam.Role(
        `${name}-flow-logs`,
        {
          assumeRolePolicy: pulumi
            .all([partition, region.region, account.accountId])
            .apply(([p, r, accountId]) => JSON.stringify(flowLogTrustPolicy({ partition: p, region: r, accountId }))),
        },
        childOpts,
      );
      const rolePolicy = new aws.iam.RolePolicy(`${name}-flow-logs`, { role: role.id, policy: flowLogGroup.arn.apply((arn) => JSON.stringify(flowLogPolicy(arn))) }, childOpts);
      new aws.ec2.FlowLog(
        `${name}-flow-logs`,
        {
          vpcId: vpc.vpcId,
          trafficType: "ALL",
          logDestinationType: "cloud-watch-logs",
          logDestination: flowLogGroup.arn,
          iamRoleArn: role.arn,
          maxAggregationInterval: 60,
          tags: { Name: `${name}-flow-logs` },
        },
        // Delivery starts at once; without the policy its first attempts are refused.
        { ...childOpts, dependsOn: [rolePolicy] },
      );
    }

    this.vpcId = vpc.vpcId;
    this.vpcCidr = args.cidr;
    this.publicSubnetIds = vpc.publicSubnetIds;
    this.privateSubnetIds = pulumi.all([vpc.privateSubnetIds, pulumi.all(reservations.map((r) => r.id))]).apply(([ids]) => ids);
    this.isolatedSubnetIds = vpc.isolatedSubnetIds;
    this.flowLogGroupName = pulumi.output(flowLogGroup?.name);
    this.fixedRanges = reservations.map((r) => r.cidrBlock);
    this.loadBalancerSubnetMappings = reservations.map((r) => ({
      subnetId: r.subnetId,
      privateIpv4Address: r.cidrBlock.apply((block) => addressAt(block, FIXED_ADDRESSES.loadBalancerOffset)),
    }));
    this.awsApiCidrs = args.interfaceEndpoints ? this.fixedRanges : undefined;
    this.registerOutputs();
  }
}
