// The public HTTP API (API Gateway v2) in front of ingest, integrated privately through a VPC link.
//
// Why an HTTP API and not a REST API (docs/edge.md has the whole comparison): it has native JWT authorizers and
// CORS, VPC links straight to an NLB/ALB listener without PrivateLink, lower latency and about a third of the
// price per request. What it lacks is AWS WAF; docs/edge.md says what stands in for it.
//
// Every route requires an authorizer (JWT when `jwtIssuer` is set, SigV4/IAM otherwise); CORS preflight is answered
// by API Gateway itself before any authorizer when `corsOrigins` is non-empty. The one stage throttles and writes a
// JSON access log line per request, keyed by the request id, which is also passed to ingest as `x-request-id` so the
// service's logs and the access log join on one id.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface HttpApiArgs {
  /** The integration target: the internal NLB's listener ARN. */
  listenerArn: pulumi.Input<string>;
  /** Security group of the VPC link's ENIs (the NLB admits only this group). */
  vpcLinkSecurityGroupId: pulumi.Input<string>;
  /** Subnets of the VPC link's ENIs: the private subnets. */
  privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Routes exposed, e.g. ["POST /v1/events"]; the health and metrics endpoints are deliberately not among them. */
  routes: string[];
  /** Stage default rate limit (requests/s). Config `api.throttleRateLimit`. */
  throttleRateLimit: number;
  /** Stage default burst limit. Config `api.throttleBurstLimit`. */
  throttleBurstLimit: number;
  /** Allowed CORS origins; [] turns CORS off. Config `api.corsOrigins`. */
  corsOrigins: string[];
  /** JWT issuer URL; "" means IAM (SigV4) authorization on every route. Config `api.jwtIssuer`. */
  jwtIssuer: string;
  /** Accepted JWT audiences (`aud`); required with a JWT issuer. Config `api.jwtAudiences`. */
  jwtAudiences: string[];
  /** Access log retention (days). Config `logRetentionDays`. */
  logRetentionDays: number;
  /** Custom domain; "" for none (the execute-api URL is then the API's URL). Config `api.domainName`. */
  domainName: string;
  /** The public Route 53 zone of `domainName`. Config `api.hostedZoneId`. */
  hostedZoneId: string;
  /** Integration timeout in ms (API Gateway allows 50 to 30000). Default 10000: ingest acknowledges within 5 s. */
  integrationTimeoutMs?: number;
}

export const HTTP_API_DEFAULTS = {
  integrationTimeoutMs: 10_000,
  corsAllowMethods: ["POST", "OPTIONS"],
  // CloudEvents binary mode sends its attributes as ce-* headers; browsers need each one allowed explicitly.
  corsAllowHeaders: ["authorization", "content-type", "x-request-id", "ce-id", "ce-source", "ce-specversion", "ce-type", "ce-subject", "ce-time", "ce-dataschema"],
  corsExposeHeaders: ["x-request-id", "retry-after"],
  corsMaxAgeSeconds: 600,
} as const;

/**
 * The access log line: one JSON object per request. `requestId` joins it with ingest's logs; the authorizer's error
 * and the integration's status/latency tell a rejected request from a failed one.
 */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  extendedRequestId: "$context.extendedRequestId",
  time: "$context.requestTime",
  ip: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
  method: "$context.httpMethod",
  routeKey: "$context.routeKey",
  path: "$context.path",
  protocol: "$context.protocol",
  status: "$context.status",
  responseLength: "$context.responseLength",
  latencyMs: "$context.responseLatency",
  integrationStatus: "$context.integration.status",
  integrationLatencyMs: "$context.integration.latency",
  integrationError: "$context.integrationErrorMessage",
  authorizerError: "$context.authorizer.error",
  principal: "$context.authorizer.claims.sub",
  iamPrincipal: "$context.identity.userArn",
});

/** Throws at once on configuration that would deploy an API nobody can call or a domain without its zone. */
export function checkHttpApiArgs(args: Pick<HttpApiArgs, "jwtIssuer" | "jwtAudiences" | "domainName" | "hostedZoneId" | "routes" | "throttleRateLimit" | "throttleBurstLimit">): void {
  const problems: string[] = [];
  if (args.jwtIssuer !== "" && args.jwtAudiences.length === 0) problems.push("jwtAudiences must name at least one audience when jwtIssuer is set (API Gateway rejects a JWT authorizer without one)");
  if ((args.domainName === "") !== (args.hostedZoneId === "")) problems.push("domainName and hostedZoneId must be set together (the certificate is validated and the alias created in that zone)");
  if (args.routes.length === 0) problems.push("routes must name at least one route");
  if (args.throttleBurstLimit < 1 || args.throttleRateLimit < 1) problems.push("throttleRateLimit and throttleBurstLimit must be positive");
  if (problems.length) throw new Error(`HttpApi: ${problems.join("; ")}`);
}

export function createHttpApi(name: string, args: HttpApiArgs, opts: { parent: pulumi.Resource; provider: aws.Provider }) {
  checkHttpApiArgs(args);
  const integrationTimeoutMs = args.integrationTimeoutMs ?? HTTP_API_DEFAULTS.integrationTimeoutMs;
  const useJwt = args.jwtIssuer !== "";
  const hasDomain = args.domainName !== "";

  const api = new aws.apigatewayv2.Api(
    `${name}-api`,
    {
      protocolType: "HTTP",
      description: "eventstack: CloudEvents ingestion",
      corsConfiguration:
        args.corsOrigins.length > 0
          ? {
              allowOrigins: args.corsOrigins,
              allowMethods: [...HTTP_API_DEFAULTS.corsAllowMethods],
              allowHeaders: [...HTTP_API_DEFAULTS.corsAllowHeaders],
              exposeHeaders: [...HTTP_API_DEFAULTS.corsExposeHeaders],
              maxAge: HTTP_API_DEFAULTS.corsMaxAgeSeconds,
              allowCredentials: false,
            }
          : undefined,
      // With a custom domain, the execute-api URL would be a second door that bypasses whatever the domain
      // fronts (and its certificate pinning by clients): close it.
      disableExecuteApiEndpoint: hasDomain,
    },
    opts,
  );

  const vpcLink = new aws.apigatewayv2.VpcLink(`${name}-vpc-link`, { securityGroupIds: [args.vpcLinkSecurityGroupId], subnetIds: args.privateSubnetIds }, opts);

  const integration = new aws.apigatewayv2.Integration(
    `${name}-integration`,
    {
      apiId: api.id,
      integrationType: "HTTP_PROXY",
      integrationMethod: "ANY",
      connectionType: "VPC_LINK",
      connectionId: vpcLink.id,
      integrationUri: args.listenerArn,
      payloadFormatVersion: "1.0",
      timeoutMilliseconds: integrationTimeoutMs,
      requestParameters: { "overwrite:header.x-request-id": "$context.requestId" },
    },
    opts,
  );

  const authorizer = useJwt
    ? new aws.apigatewayv2.Authorizer(
        `${name}-jwt`,
        {
          apiId: api.id,
          authorizerType: "JWT",
          identitySources: ["$request.header.Authorization"],
          jwtConfiguration: { issuer: args.jwtIssuer, audiences: args.jwtAudiences },
        },
        opts,
      )
    : undefined;

  const routes = args.routes.map(
    (routeKey) =>
      new aws.apigatewayv2.Route(
        `${name}-route-${routeKey.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")}`,
        {
          apiId: api.id,
          routeKey,
          target: pulumi.interpolate`integrations/${integration.id}`,
          authorizationType: useJwt ? "JWT" : "AWS_IAM",
          authorizerId: authorizer?.id,
        },
        opts,
      ),
  );

  const logGroup = new aws.cloudwatch.LogGroup(`${name}-access-logs`, { name: pulumi.interpolate`/aws/apigateway/${api.name}/access`, retentionInDays: args.logRetentionDays }, opts);

  const stage = new aws.apigatewayv2.Stage(
    `${name}-stage`,
    {
      apiId: api.id,
      name: "$default",
      autoDeploy: true,
      defaultRouteSettings: { throttlingRateLimit: args.throttleRateLimit, throttlingBurstLimit: args.throttleBurstLimit, detailedMetricsEnabled: true },
      accessLogSettings: { destinationArn: logGroup.arn, format: ACCESS_LOG_FORMAT },
    },
    { ...opts, dependsOn: routes },
  );

  const domain = hasDomain ? createCustomDomain(name, { domainName: args.domainName, hostedZoneId: args.hostedZoneId, apiId: api.id, stage: stage.name }, opts) : undefined;
  const url: pulumi.Output<string> = domain ? pulumi.output(`https://${args.domainName}`) : api.apiEndpoint;

  return { api, vpcLink, integration, authorizer, routes, logGroup, stage, domain, url };
}

/** ACM certificate validated in Route 53, the regional custom domain, its mapping to the stage and the alias record. */
function createCustomDomain(
  name: string,
  args: { domainName: string; hostedZoneId: string; apiId: pulumi.Input<string>; stage: pulumi.Input<string> },
  opts: { parent: pulumi.Resource; provider: aws.Provider },
) {
  const certificate = new aws.acm.Certificate(`${name}-certificate`, { domainName: args.domainName, validationMethod: "DNS" }, opts);
  const validationRecord = new aws.route53.Record(
    `${name}-certificate-validation`,
    {
      zoneId: args.hostedZoneId,
      name: certificate.domainValidationOptions[0]!.resourceRecordName,
      type: certificate.domainValidationOptions[0]!.resourceRecordType,
      records: [certificate.domainValidationOptions[0]!.resourceRecordValue],
      ttl: 300,
      allowOverwrite: true,
    },
    opts,
  );
  const validation = new aws.acm.CertificateValidation(`${name}-certificate`, { certificateArn: certificate.arn, validationRecordFqdns: [validationRecord.fqdn] }, opts);
  const domainName = new aws.apigatewayv2.DomainName(
    `${name}-domain`,
    { domainName: args.domainName, domainNameConfiguration: { certificateArn: validation.certificateArn, endpointType: "REGIONAL", securityPolicy: "TLS_1_2" } },
    opts,
  );
  const mapping = new aws.apigatewayv2.ApiMapping(`${name}-mapping`, { apiId: args.apiId, domainName: domainName.id, stage: args.stage }, opts);
  const alias = new aws.route53.Record(
    `${name}-alias`,
    {
      zoneId: args.hostedZoneId,
      name: args.domainName,
      type: "A",
      aliases: [
        {
          name: domainName.domainNameConfiguration.targetDomainName.apply((d) => d ?? ""),
          zoneId: domainName.domainNameConfiguration.hostedZoneId.apply((z) => z ?? ""),
          evaluateTargetHealth: false,
        },
      ],
    },
    opts,
  );
  return { certificate, validationRecord, validation, domainName, mapping, alias };
}
