// The security group in front of a data service (Aurora, ElastiCache, MSK): one TCP port, admitted only from
// the given client security groups (the EKS nodes and pods), never from a CIDR, and no egress at all since
// none of these services opens connections into the VPC.
//
// Rules are standalone `aws.vpc.SecurityGroupIngressRule` resources and the group declares no inline `ingress` or
// `egress`: @pulumi/aws warns that inline rules beside standalone ones overwrite each other after a refresh, and a
// caller (the Load Balancer Controller, another component) may add standalone rules to any group. Without inline
// `egress` the provider still deletes the allow-all egress rule AWS adds to a new group (securityGroup.d.ts, "NOTE
// on Egress rules", @pulumi/aws 7.48.0, verified 2026-12-05), so the group has no egress at all.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface DataSecurityGroupArgs {
  vpcId: pulumi.Input<string>;
  /** What the group protects, e.g. "Aurora PostgreSQL"; becomes the group's description. */
  service: string;
  /** The one port clients use. */
  port: number;
  /** Security groups whose members may connect; at least one. */
  clientSecurityGroupIds: pulumi.Input<string>[];
  /** The Name tag. */
  tagName: string;
}

/** Throws when a data service would be reachable from nobody (a wiring mistake, not a safe default). */
export function requireClients(component: string, clientSecurityGroupIds: readonly unknown[]): void {
  if (clientSecurityGroupIds.length === 0) {
    throw new Error(`${component}: clientSecurityGroupIds must name at least one security group (the EKS cluster's node or pod security group); no client could connect otherwise`);
  }
}

/** Creates `${name}-sg` and `${name}-sg-client-<n>`: ingress on `port` from each client group only, and no egress rule. */
export function createDataSecurityGroup(
  name: string,
  args: DataSecurityGroupArgs,
  opts: { parent: pulumi.Resource; provider: aws.Provider },
): aws.ec2.SecurityGroup {
  requireClients(args.service, args.clientSecurityGroupIds);
  const group = new aws.ec2.SecurityGroup(
    `${name}-sg`,
    { vpcId: args.vpcId, description: `${args.service}: port ${args.port} from the EKS cluster only`, tags: { Name: args.tagName } },
    opts,
  );
  args.clientSecurityGroupIds.forEach(
    (clientId, i) =>
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-sg-client-${i + 1}`,
        {
          securityGroupId: group.id,
          referencedSecurityGroupId: clientId,
          ipProtocol: "tcp",
          fromPort: args.port,
          toPort: args.port,
          description: `${args.service} clients`,
        },
        opts,
      ),
  );
  return group;
}
