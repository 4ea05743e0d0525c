// The public HTTP API (API Gateway v2) in front of ingest, integrated privately through a VPC link.
//
// Why an HTTP API and not a REST API (docs/edge.md has the whole comparison): it has native JWT authorizers and
// CORS, VPC links straight to an NLB/ALB listener without PrivateLink, lower latency and about a third of the
// price per request. What it lacks is AWS WAF; docs/edge.md says what stands in for it.
//
// Every route requires an authorizer (JWT when `jwtIssuer` is set, SigV4/IAM otherwise); CORS preflight is answered
// by API Gateway itself before any authorizer when `corsOrigins` is non-empty. The one stage throttles (within the
// account's declared throttle quota, whose raise it can request through Service Quotas) and writes a
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
  /** Stage default rate limit (requests/s), at most `accountRateLimit`. Config `api.throttleRateLimit`. */
  throttleRateLimit: number;
  /** Stage default burst limit, at most `accountBurstLimit`. Config `api.throttleBurstLimit`. */
  throttleBurstLimit: number;
  /**
   * The account's API Gateway throttle quota in the region (requests/s), shared by every API of the account there; a
   * stage's limits cannot exceed it. Declared, not read: the default quota is 10,000 (2,500 in some newer Regions).
   * Config `api.accountRateLimit`. https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
   */
  accountRateLimit: number;
  /** The account's burst quota in the region, which AWS derives from the rate quota (5,000 by default). Config `api.accountBurstLimit`. */
  accountBurstLimit: number;
  /**
   * Asks Service Quotas to raise the account's throttle quota to this rate (requests/s); 0 asks nothing. The request is
   * reviewed by AWS: raise `accountRateLimit` (and the stage) only once it is granted. One stack per account and region
   * should set it, since both would manage the same quota. Default 0. Config `api.requestRateQuota`.
   */
  requestRateQuota?: number;
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
  requestRateQuota: 0,
  /**
   * Service Quotas' name for "Throttle quota per account, per Region across HTTP APIs, REST APIs, WebSocket APIs, and
   * WebSocket callback APIs": the link in the API Gateway quotas page (developerguide/limits.html, verified 2026-12-05)
   * goes to servicequotas/home/services/apigateway/quotas/L-8A5B8E43. The burst quota has no code: AWS sets it.
   */
  throttleQuota: { serviceCode: "apigateway", quotaCode: "L-8A5B8E43" },
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
export function checkHttpApiArgs(
  args: Pick<
    HttpApiArgs,
    "jwtIssuer" | "jwtAudiences" | "domainName" | "hostedZoneId" | "routes" | "throttleRateLimit" | "throttleBurstLimit" | "accountRateLimit" | "accountBurstLimit" | "requestRateQuota"
  >,
): void {
  const problems: string[] = [];
  if (args.jwtIssuer !== "" && args.jwtAudiences.length === 0) problems.push("jwtAudiences must name at least one audience when jwtIssuer is set (API Gateway rejects a JWT authorizer without one)");
  if ((args.domainName === "") !== (args.hostedZoneId === "")) problems.push("domainName and hostedZoneId must be set together (the certificate is validated and the alias created in that zone)");
  if (args.routes.length === 0) problems.push("routes must name at least one route");
  if (args.throttleBurstLimit < 1 || args.throttleRateLimit < 1) problems.push("throttleRateLimit and throttleBurstLimit must be positive");
  // API Gateway applies the lower of the stage's and the account's limits: a stage above the quota promises callers a
  // rate they get 429s for, and shows in no console.
  if (args.throttleRateLimit > args.accountRateLimit)
    problems.push(`throttleRateLimit (${args.throttleRateLimit}) must be <= accountRateLimit (${args.accountRateLimit}), the account's throttle quota in the region; request a raise with requestRateQuota and raise accountRateLimit once AWS grants it`);
  if (args.throttleBurstLimit > args.accountBurstLimit)
    problems.push(`throttleBurstLimit (${args.throttleBurstLimit}) must be <= accountBurstLimit (${args.accountBurstLimit}), the account's burst quota in the region, which AWS sets from the rate quota`);
  const requested = args.requestRateQuota ?? HTTP_API_DEFAULTS.requestRateQuota;
  if (requested !== 0 && requested <= args.accountRateLimit)
    problems.push(`requestRateQuota (${requested}) must be 0 or above accountRateLimit (${args.accountRateLimit}): Service Quotas only raises a quota`);
  if (problems.length) throw new Error(`HttpApi: ${problems.join("; ")}`);
}

export function createHttpApi(name: string, args: HttpApiArgs, opts: { parent: pulumi.Resource; provider: aws.Provider }) {
  checkHttpApiArgs(args);
  const integrationTimeoutMs = args.integrationTimeoutMs ?? HTTP_API_DEFAULTS.integrationTimeoutMs;
  const requestRateQuota = args.requestRateQuota ?? HTTP_API_DEFAULTS.requestRateQuota;
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

  // A quota increase request, reviewed by AWS; the stage stays within accountRateLimit until the config says it is granted.
  const rateQuota =
    requestRateQuota > 0
      ? new aws.servicequotas.ServiceQuota(`${name}-throttle-quota`, { ...HTTP_API_DEFAULTS.throttleQuota, value: requestRateQuota }, opts)
      : undefined;

  const domain = hasDomain ? createCustomDomain(name, { domainName: args.domainName, hostedZoneId: args.hostedZoneId, apiId: api.id, stage: stage.name }, opts) : undefined;
  const url: pulumi.Output<string> = domain ? pulumi.output(`https://${args.domainName}`) : api.apiEndpoint;

  return { api, vpcLink, integration, authorizer, routes, logGroup, stage, rateQuota, domain, url };
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
