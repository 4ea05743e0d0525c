// API Gateway: every stage writes access logs and throttles, and no route or method is open without an
// authorizer. HTTP APIs (apigatewayv2) are what eventstack runs; REST APIs are covered where the check
// means the same thing.
import type * as aws from "@pulumi/aws";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { forType, forTypes, present, Props } from "./lib";

export const V2_STAGE = "aws:apigatewayv2/stage:Stage";
export const V2_ROUTE = "aws:apigatewayv2/route:Route";
export const REST_STAGE = "aws:apigateway/stage:Stage";
export const REST_METHOD = "aws:apigateway/method:Method";

type V2Stage = Props<aws.apigatewayv2.StageArgs>;
type RestStage = Props<aws.apigateway.StageArgs>;
type V2Route = Props<aws.apigatewayv2.RouteArgs>;
type RestMethod = Props<aws.apigateway.MethodArgs>;

export const apiAccessLogging: ResourceValidationPolicy = {
  name: "apigateway-access-logging",
  description: "Every API Gateway stage (HTTP and REST) writes access logs to a destination in a set format. Checkov CKV_AWS_76; Trivy AVD-AWS-0001.",
  enforcementLevel: "mandatory",
  validateResource: forTypes<any>({
    [V2_STAGE]: (s: V2Stage, _args, report) => {
      if (!present(() => s.accessLogSettings?.destinationArn) || !present(() => s.accessLogSettings?.format)) report("accessLogSettings is not set: give it a destinationArn (a log group) and a format.");
    },
    [REST_STAGE]: (s: RestStage, _args, report) => {
      if (!present(() => s.accessLogSettings?.destinationArn) || !present(() => s.accessLogSettings?.format)) report("accessLogSettings is not set: give it a destinationArn (a log group) and a format.");
    },
  }),
};

export const apiThrottling: ResourceValidationPolicy = {
  name: "apigateway-throttling",
  description:
    "Every HTTP API stage sets a default rate and burst limit, so one client cannot spend the account's API Gateway quota or flood the cluster. No Checkov/Trivy equivalent. (REST stages throttle through MethodSettings or usage plans, which this rule does not read.)",
  enforcementLevel: "mandatory",
  validateResource: forType<V2Stage>(V2_STAGE, (s, _args, report) => {
    const d = s.defaultRouteSettings;
    const missing = [!(d?.throttlingRateLimit && d.throttlingRateLimit > 0) ? "throttlingRateLimit" : undefined, !(d?.throttlingBurstLimit && d.throttlingBurstLimit > 0) ? "throttlingBurstLimit" : undefined].filter(
      (m) => m !== undefined,
    );
    if (missing.length) report(`defaultRouteSettings lacks a positive ${missing.join(" and ")}: set both (config api.throttleRateLimit, api.throttleBurstLimit).`);
  }),
};

/** CORS preflight requests carry no credentials by design; API Gateway answers them before any authorizer. */
const isPreflight = (methodOrRouteKey: string | undefined) => typeof methodOrRouteKey === "string" && /^OPTIONS(\s|$)/i.test(methodOrRouteKey);

export const apiRouteAuthorization: ResourceValidationPolicy = {
  name: "apigateway-route-authorizer",
  description:
    "Every API route (HTTP API) and method (REST API) has an authorizer: authorizationType JWT, AWS_IAM or CUSTOM, never NONE. CORS preflight (OPTIONS) is exempt. Checkov CKV_AWS_309, CKV_AWS_59; Trivy AVD-AWS-0004.",
  enforcementLevel: "mandatory",
  validateResource: forTypes<any>({
    [V2_ROUTE]: (r: V2Route, args, report) => {
      if (isPreflight(r.routeKey)) return args.notApplicable("CORS preflight route");
      const type = r.authorizationType ?? "NONE";
      if (type === "NONE") report(`route "${r.routeKey}" has authorizationType NONE: set authorizationType to JWT (with authorizerId) or AWS_IAM.`);
    },
    [REST_METHOD]: (m: RestMethod, args, report) => {
      if (isPreflight(m.httpMethod)) return args.notApplicable("CORS preflight method");
      if ((m.authorization ?? "NONE") === "NONE") report(`method ${m.httpMethod} has authorization NONE: set authorization to AWS_IAM, CUSTOM or COGNITO_USER_POOLS.`);
    },
  }),
};

export const apiGatewayPolicies = [apiAccessLogging, apiThrottling, apiRouteAuthorization];
