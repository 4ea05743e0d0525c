// The whole pack: every rule, in the order the README lists them. index.ts serves it to the Pulumi engine;
// the tests import this file, since constructing a PolicyPack starts the engine's gRPC server.
import type { PolicyPackArgs } from "@pulumi/policy";
import { apiGatewayPolicies } from "./apigateway";
import { auroraPolicies } from "./aurora";
import { eksPolicies } from "./eks";
import { elasticachePolicies } from "./elasticache";
import { kubernetesPolicies } from "./kubernetes";
import { mskPolicies } from "./msk";
import { networkIamPolicies } from "./network-iam";
import { observabilityPolicies } from "./observability";

export const PACK_NAME = "eventstack";

export const policies = [...eksPolicies, ...auroraPolicies, ...elasticachePolicies, ...mskPolicies, ...apiGatewayPolicies, ...observabilityPolicies, ...networkIamPolicies, ...kubernetesPolicies];

export const packArgs: PolicyPackArgs = {
  description: "eventstack's security and availability baseline for AWS (EKS, Aurora, ElastiCache, MSK, API Gateway, observability, network, IAM) and its Kubernetes workloads.",
  // Every policy states its own level; a policy added without one is held to the strict side.
  enforcementLevel: "mandatory",
  policies,
};
