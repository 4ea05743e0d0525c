// The one AWS provider every component is handed. Explicit rather than the default provider so that no
// resource can be created without the ownership tags, which ride on the provider as default tags.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";

/** The tags that tell this stack's resources from every other's (the CloudWatch exporter selects by them). */
export function stackTags(): { Project: string; Stack: string } {
  return { Project: pulumi.getProject(), Stack: pulumi.getStack() };
}

/** Tags on every AWS resource; the policy pack requires Owner and CostCenter. */
export function ownershipTags(config: StackConfig): Record<string, string> {
  return {
    ...stackTags(),
    Owner: config.tags.owner,
    CostCenter: config.tags.costCenter,
    ManagedBy: "pulumi",
  };
}

export function awsProvider(config: StackConfig): aws.Provider {
  return new aws.Provider("aws", {
    region: config.region as aws.Region,
    defaultTags: { tags: ownershipTags(config) },
  });
}

/** Names that must be stable and unique per stack in an account (the EKS cluster, Karpenter's discovery tag). */
export function stackName(): string {
  return `${pulumi.getProject()}-${pulumi.getStack()}`;
}
