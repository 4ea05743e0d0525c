// The internal Network Load Balancer between API Gateway's VPC link and the ingest pods.
//
// Pulumi owns the NLB, its listener and its target group (target type `ip`: pod IPs, no NodePort hop); the AWS Load
// Balancer Controller only registers and deregisters pods through a TargetGroupBinding (components/workload).
// No Service of type LoadBalancer exists, so nothing creates a second load balancer behind the program's back.
//
// Security groups, the whole path:
//   VPC link ENIs  [vpc-link sg]  --TCP listenerPort-->  [nlb sg]  NLB  --TCP targetPort-->  pods  [node sg]
// The NLB's group admits only the VPC link's group; its egress reaches only the nodes' group on the target port.
// The nodes' group gets its matching ingress rule from the TargetGroupBinding's `networking` block, which the
// controller reconciles (so the rule follows the binding's port, and goes away with it).
//
// Security groups cannot tell the NLB from a pod at the pods' end: pods share the nodes' group. What can is the
// source address, so the NLB has a fixed private address per subnet (`subnetMappings`, from the reserved ranges of
// components/fixed-addresses.ts) and its target group keeps client IP preservation off (the default for TCP to `ip`
// targets, set explicitly): pods see every flow, health checks included, come from those addresses, which ingest's
// NetworkPolicy and Linkerd NetworkAuthentication admit instead of the VPC CIDR ("Client IP preservation", NLB
// user guide, edit-target-group-attributes.html, verified 2026-12-05).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface InternalLoadBalancerArgs {
  vpcId: pulumi.Input<string>;
  /** Private subnets, one per AZ: the VPC link's ENIs live here. */
  privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The NLB's node in each private subnet and its fixed private address (Network.loadBalancerSubnetMappings). */
  subnetMappings: { subnetId: pulumi.Input<string>; privateIpv4Address: pulumi.Input<string> }[];
  /** The security group the pods' traffic arrives on (the EKS nodes' group; pods share it with the VPC CNI). */
  nodeSecurityGroupId: pulumi.Input<string>;
  /** EKS cluster name: tags the target group `elbv2.k8s.aws/cluster`, the tag the controller's IAM policy keys on. */
  clusterName: pulumi.Input<string>;
  /** The pods' container port. */
  targetPort: number;
  /** HTTP path the NLB health-checks on the target port. Default "/readyz". */
  healthCheckPath?: string;
  /** The listener's port. Default 80 (plain TCP inside the VPC; TLS ends at API Gateway). */
  listenerPort?: number;
  /** Seconds the NLB keeps draining a deregistered pod's connections. Default 60; index.ts keeps it within ingest's preStop delay plus its shutdown timeout. */
  deregistrationDelaySeconds?: number;
}

export const LOAD_BALANCER_DEFAULTS = {
  healthCheckPath: "/readyz",
  listenerPort: 80,
  deregistrationDelaySeconds: 60,
} as const;

export function createInternalLoadBalancer(name: string, args: InternalLoadBalancerArgs, opts: { parent: pulumi.Resource; provider: aws.Provider }) {
  const listenerPort = args.listenerPort ?? LOAD_BALANCER_DEFAULTS.listenerPort;
  const healthCheckPath = args.healthCheckPath ?? LOAD_BALANCER_DEFAULTS.healthCheckPath;
  const deregistrationDelay = args.deregistrationDelaySeconds ?? LOAD_BALANCER_DEFAULTS.deregistrationDelaySeconds;

  // Rules are separate resources and neither group declares inline `ingress`/`egress`: the two groups reference each
  // other, the Load Balancer Controller adds its own rule beside them, and inline blocks next to standalone rules
  // overwrite them after a refresh (@pulumi/aws securityGroup.d.ts). Without inline `egress` the provider still deletes
  // AWS's default allow-all egress rule when it creates a group, so each group's egress is exactly the rules below.
  const vpcLinkSg = new aws.ec2.SecurityGroup(
    `${name}-vpc-link-sg`,
    { vpcId: args.vpcId, description: "API Gateway VPC link ENIs: out to the internal NLB only", tags: { Name: `${name}-vpc-link` } },
    opts,
  );
  const nlbSg = new aws.ec2.SecurityGroup(
    `${name}-nlb-sg`,
    { vpcId: args.vpcId, description: "Internal NLB: in from the API Gateway VPC link only", tags: { Name: `${name}-nlb` } },
    opts,
  );
  const rules = [
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-vpc-link-to-nlb`,
      { securityGroupId: vpcLinkSg.id, referencedSecurityGroupId: nlbSg.id, ipProtocol: "tcp", fromPort: listenerPort, toPort: listenerPort, description: "To the internal NLB listener" },
      opts,
    ),
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-nlb-from-vpc-link`,
      { securityGroupId: nlbSg.id, referencedSecurityGroupId: vpcLinkSg.id, ipProtocol: "tcp", fromPort: listenerPort, toPort: listenerPort, description: "From the API Gateway VPC link" },
      opts,
    ),
    // Traffic and health checks both go to the target port.
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-nlb-to-pods`,
      { securityGroupId: nlbSg.id, referencedSecurityGroupId: args.nodeSecurityGroupId, ipProtocol: "tcp", fromPort: args.targetPort, toPort: args.targetPort, description: "To the ingest pods" },
      opts,
    ),
  ];

  const loadBalancer = new aws.lb.LoadBalancer(
    `${name}-nlb`,
    {
      internal: true,
      loadBalancerType: "network",
      subnetMappings: args.subnetMappings,
      securityGroups: [nlbSg.id],
      // Pods are spread over the AZs unevenly at times (scale-up, a zone's spot capacity); cross-zone keeps the
      // load per pod even instead of per AZ.
      enableCrossZoneLoadBalancing: true,
      enableDeletionProtection: false,
      tags: { Name: `${name}-nlb` },
    },
    opts,
  );

  const targetGroup = new aws.lb.TargetGroup(
    `${name}-tg`,
    {
      vpcId: args.vpcId,
      targetType: "ip",
      protocol: "TCP",
      port: args.targetPort,
      deregistrationDelay,
      // Pods must see the NLB's fixed addresses, not the VPC link's, to admit it alone (see the top of this file).
      preserveClientIp: "false",
      // When the drain window ends, close what is left rather than leave half-open flows to a pod that is gone.
      connectionTermination: true,
      healthCheck: {
        protocol: "HTTP",
        path: healthCheckPath,
        port: "traffic-port",
        matcher: "200",
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        interval: 10,
        timeout: 5,
      },
      tags: pulumi.output(args.clusterName).apply((cluster) => ({ Name: `${name}-tg`, "elbv2.k8s.aws/cluster": cluster })),
    },
    opts,
  );

  const listener = new aws.lb.Listener(
    `${name}-listener`,
    { loadBalancerArn: loadBalancer.arn, port: listenerPort, protocol: "TCP", defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }] },
    opts,
  );

  // What pods see as the source of every flow and health check: the NLB's fixed addresses.
  const sourceCidrs = args.subnetMappings.map((m) => pulumi.interpolate`${m.privateIpv4Address}/32`);
  return { vpcLinkSg, nlbSg, rules, loadBalancer, targetGroup, listener, listenerPort, sourceCidrs };
}
