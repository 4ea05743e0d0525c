// The security group in front of a data service (Aurora, ElastiCache, MSK): one TCP port, admitted only from
// the given client security groups (the EKS nodes and pods), never from a CIDR, and no egress at all since
// none of these services opens connections into the VPC.
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

/** Creates `${name}-sg`: ingress on `port` from each client group only, and no egress rule. */
export function createDataSecurityGroup(
  name: string,
  args: DataSecurityGroupArgs,
  opts: { parent: pulumi.Resource; provider: aws.Provider },
): aws.ec2.SecurityGroup {
  requireClients(args.service, args.clientSecurityGroupIds);
  return new aws.ec2.SecurityGroup(
    `${name}-sg`,
    {
      vpcId: args.vpcId,
      description: `${args.service}: port ${args.port} from the EKS cluster only`,
      ingress: [
        {
          protocol: "tcp",
          fromPort: args.port,
          toPort: args.port,
          securityGroups: args.clientSecurityGroupIds,
          description: `${args.service} clients`,
        },
      ],
      // An explicit empty list removes AWS's default allow-all egress rule and keeps it removed.
      egress: [],
      tags: { Name: args.tagName },
    },
    opts,
  );
}
