// EKS control plane: who can reach the API server, whether Secrets are envelope-encrypted with our key, and
// whether the control plane's security-relevant logs reach CloudWatch.
//
// The cluster is declared through @pulumi/eks's remote component `eks:index:Cluster` (flat inputs such as
// `endpointPublicAccess`); a real preview also shows the `aws:eks/cluster:Cluster` it creates (inputs nested
// under `vpcConfig` and `encryptionConfig`). Each rule reads both, so a cluster declared either way is held
// to the same baseline.
import type * as aws from "@pulumi/aws";
import type * as eks from "@pulumi/eks";
import type { ReportViolation, ResourceValidationPolicy } from "@pulumi/policy";
import { asArray, forTypes, isAnyAddress, present, Props } from "./lib";

const EKS_COMPONENT = "eks:index:Cluster";
const EKS_CLUSTER = "aws:eks/cluster:Cluster";

type Component = Props<eks.ClusterArgs>;
type Cluster = Props<aws.eks.ClusterArgs>;

/** The control-plane log types an incident needs: requests, who was authenticated, and the audit trail. */
export const REQUIRED_LOG_TYPES = ["api", "audit", "authenticator"] as const;

function checkPublicEndpoint(publicAccess: boolean | undefined, cidrs: string[] | undefined, fields: { access: string; cidrs: string }, report: ReportViolation) {
  // AWS turns the public endpoint on unless told otherwise, and opens it to 0.0.0.0/0 unless CIDRs are given.
  if (publicAccess === false) return;
  const list = cidrs ?? [];
  if (list.length === 0) {
    report(`${fields.access} is not false and ${fields.cidrs} is empty, so the API server is reachable from 0.0.0.0/0: set ${fields.access}: false, or list the allowed CIDRs in ${fields.cidrs}.`);
    return;
  }
  const open = list.filter(isAnyAddress);
  if (open.length) report(`${fields.cidrs} contains ${open.join(", ")}, so the API server is reachable from anywhere: list only the CIDRs that must reach it.`);
}

export const eksPublicEndpoint: ResourceValidationPolicy = {
  name: "eks-public-endpoint-restricted",
  description:
    "The EKS API server endpoint is private, or public only to listed CIDRs (never 0.0.0.0/0 or ::/0). Checkov CKV_AWS_39, CKV_AWS_38; Trivy AVD-AWS-0040, AVD-AWS-0041.",
  enforcementLevel: "mandatory",
  validateResource: forTypes<any>({
    [EKS_COMPONENT]: (c: Component, _args, report) =>
      checkPublicEndpoint(c.endpointPublicAccess, c.publicAccessCidrs, { access: "endpointPublicAccess", cidrs: "publicAccessCidrs" }, report),
    [EKS_CLUSTER]: (c: Cluster, _args, report) =>
      checkPublicEndpoint(c.vpcConfig?.endpointPublicAccess, c.vpcConfig?.publicAccessCidrs, { access: "vpcConfig.endpointPublicAccess", cidrs: "vpcConfig.publicAccessCidrs" }, report),
  }),
};

export const eksSecretsEncryption: ResourceValidationPolicy = {
  name: "eks-secrets-encryption",
  description: "Kubernetes Secrets are envelope-encrypted with a customer-managed KMS key. Checkov CKV_AWS_58; Trivy AVD-AWS-0039.",
  enforcementLevel: "mandatory",
  validateResource: forTypes<any>({
    [EKS_COMPONENT]: (c: Component, _args, report) => {
      if (!present(() => c.encryptionConfigKeyArn)) report("encryptionConfigKeyArn is not set: pass the ARN of a KMS key (with rotation on) to encrypt Secrets.");
    },
    [EKS_CLUSTER]: (c: Cluster, _args, report) => {
      const enc = c.encryptionConfig;
      if (!enc || !asArray(enc.resources).includes("secrets") || !present(() => enc.provider?.keyArn)) {
        report('encryptionConfig does not encrypt "secrets" with a KMS key: set encryptionConfig: { resources: ["secrets"], provider: { keyArn } }.');
      }
    },
  }),
};

function checkLogs(types: string[] | undefined, field: string, report: ReportViolation) {
  const missing = REQUIRED_LOG_TYPES.filter((t) => !asArray(types).includes(t));
  if (missing.length) report(`${field} lacks ${missing.map((t) => `"${t}"`).join(", ")}: enable at least ${REQUIRED_LOG_TYPES.map((t) => `"${t}"`).join(", ")}.`);
}

export const eksControlPlaneLogs: ResourceValidationPolicy = {
  name: "eks-control-plane-logs",
  description:
    "The EKS control plane sends its api, audit and authenticator logs to CloudWatch. Checkov CKV_AWS_37 (which asks for all five types); Trivy AVD-AWS-0038.",
  enforcementLevel: "mandatory",
  validateResource: forTypes<any>({
    [EKS_COMPONENT]: (c: Component, _args, report) => checkLogs(c.enabledClusterLogTypes, "enabledClusterLogTypes", report),
    [EKS_CLUSTER]: (c: Cluster, _args, report) => checkLogs(c.enabledClusterLogTypes, "enabledClusterLogTypes", report),
  }),
};

export const eksPolicies = [eksPublicEndpoint, eksSecretsEncryption, eksControlPlaneLogs];
