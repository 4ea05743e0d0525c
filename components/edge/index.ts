// The edge: the public HTTP API and the internal NLB it reaches ingest through.
//
// Creates the NLB, its listener, target group and security groups (./load-balancer.ts) and the HTTP API with its
// VPC link, authorizer, routes, stage, access logs and optional custom domain (./http-api.ts). The pods are bound
// to `targetGroupArn` by a TargetGroupBinding, created with ingest's Workload (components/workload), which admits
// `loadBalancerSecurityGroupId` on the pods' port, and whose NetworkPolicy and Linkerd policy admit only
// `loadBalancerCidrs`, the NLB's fixed addresses.
//
// Expects from its caller: the AWS provider, the VPC, its private subnets and the NLB's fixed address in each, the
// nodes' security group and the cluster name (tagged on the target group for the AWS Load Balancer Controller).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { checkHttpApiArgs, createHttpApi, type HttpApiArgs } from "./http-api";
import { createInternalLoadBalancer, type InternalLoadBalancerArgs } from "./load-balancer";

export { ACCESS_LOG_FORMAT, HTTP_API_DEFAULTS } from "./http-api";
export { checkHttpApiArgs };
export { LOAD_BALANCER_DEFAULTS } from "./load-balancer";

export interface EdgeArgs
  extends Omit<InternalLoadBalancerArgs, "healthCheckPath">,
    Omit<HttpApiArgs, "listenerArn" | "vpcLinkSecurityGroupId" | "privateSubnetIds" | "routes"> {
  /** Routes exposed by the API. Default ["POST /v1/events"], ingest's one public route. */
  routes?: string[];
  /** HTTP path the NLB health-checks. Default "/readyz". */
  healthCheckPath?: string;
}

export const EDGE_DEFAULTS = { routes: ["POST /v1/events"] };

export class Edge extends pulumi.ComponentResource {
  /** The URL clients call: https://<domainName> with a custom domain, else the execute-api endpoint. */
  readonly apiUrl: pulumi.Output<string>;
  readonly apiId: pulumi.Output<string>;
  readonly accessLogGroupName: pulumi.Output<string>;
  /** What the TargetGroupBinding binds ingest's pods to, and the group it must admit. */
  readonly targetGroupArn: pulumi.Output<string>;
  readonly loadBalancerSecurityGroupId: pulumi.Output<string>;
  readonly listenerArn: pulumi.Output<string>;
  /** The NLB's fixed addresses (/32): the only sources ingest's port admits. */
  readonly loadBalancerCidrs: pulumi.Output<string>[];

  constructor(name: string, args: EdgeArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:edge:Edge", name, {}, opts);
    const childOpts = { parent: this, provider: opts.provider };
    const routes = args.routes ?? EDGE_DEFAULTS.routes;
    // Before any resource: a bad combination must not leave a half-declared edge behind.
    checkHttpApiArgs({ ...args, routes });
    const lb = createInternalLoadBalancer(name, args, childOpts);
    const api = createHttpApi(
      name,
      { ...args, routes, listenerArn: lb.listener.arn, vpcLinkSecurityGroupId: lb.vpcLinkSg.id, privateSubnetIds: args.privateSubnetIds },
      childOpts,
    );

    this.apiUrl = api.url;
    this.apiId = api.api.id;
    this.accessLogGroupName = api.logGroup.name;
    this.targetGroupArn = lb.targetGroup.arn;
    this.loadBalancerSecurityGroupId = lb.nlbSg.id;
    this.listenerArn = lb.listener.arn;
    this.loadBalancerCidrs = lb.sourceCidrs;
    this.registerOutputs();
  }
}
