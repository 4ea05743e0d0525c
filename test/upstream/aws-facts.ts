// The AWS facts a first deploy depends on and no mock can see: that the Karpenter AMI alias resolves, and that
// each EKS add-on version is offered for the cluster's Kubernetes version. Asked through the AWS CLI with
// read-only credentials (ssm:GetParameter, eks:DescribeAddonVersions); the runner is injected so the tests can
// answer with recorded responses.
import { spawnSync } from "node:child_process";

export type AwsAnswer = { ok: true; json: unknown } | { ok: false; error: string };
/** Runs `aws <args> --output json` and returns its parsed answer or its error text. */
export type AwsRunner = (args: string[]) => AwsAnswer;

export const awsCli: AwsRunner = (args) => {
  const out = spawnSync("aws", [...args, "--output", "json"], { encoding: "utf8" });
  if (out.error) return { ok: false, error: `aws CLI: ${out.error.message}` };
  if (out.status !== 0) return { ok: false, error: (out.stderr || `aws exited ${out.status}`).trim() };
  return { ok: true, json: JSON.parse(out.stdout) };
};

/**
 * The SSM parameter Karpenter reads for `al2023@<release>` (karpenter-provider-aws
 * pkg/providers/amifamily/al2023.go, resolvePath, read at v1.10.0 and again at v1.14.1 on 2026-12-05): one per architecture and
 * variant; the standard variant is the one the program's NodePools use.
 */
export function al2023Parameter(kubernetesVersion: string, architecture: string, release: string): string {
  return `/aws/service/eks/optimized-ami/${kubernetesVersion}/amazon-linux-2023/${architecture}/standard/amazon-eks-node-al2023-${architecture}-standard-${kubernetesVersion}-${release}/image_id`;
}

export interface AwsCheck {
  subject: string;
  ok: boolean;
  detail: string;
}

/** Each AMI alias resolves to an image for each architecture the NodePools allow. */
export function checkAmiAliases(aws: AwsRunner, region: string, kubernetesVersion: string, aliases: string[], architectures: string[]): AwsCheck[] {
  return aliases.flatMap((alias) => {
    const [family, release] = alias.split("@");
    if (family !== "al2023" || !release) return [{ subject: alias, ok: false, detail: `only al2023@<release> aliases are checked, got ${alias}` }];
    return architectures.map((arch): AwsCheck => {
      const name = al2023Parameter(kubernetesVersion, arch, release);
      const answer = aws(["ssm", "get-parameter", "--name", name, "--region", region]);
      const image = answer.ok ? (answer.json as { Parameter?: { Value?: string } }).Parameter?.Value : undefined;
      return image
        ? { subject: `${alias} ${arch}`, ok: true, detail: `${name} = ${image}` }
        : { subject: `${alias} ${arch}`, ok: false, detail: `${name} does not resolve in ${region}: ${answer.ok ? "no value" : answer.error}` };
    });
  });
}

interface AddonVersions {
  addons?: { addonName?: string; addonVersions?: { addonVersion?: string; compatibilities?: { clusterVersion?: string }[] }[] }[];
}

/** Each add-on version is among those EKS offers for this Kubernetes version. */
export function checkAddonVersions(aws: AwsRunner, region: string, kubernetesVersion: string, addons: Record<string, string>): AwsCheck[] {
  return Object.entries(addons).map(([name, version]): AwsCheck => {
    const answer = aws(["eks", "describe-addon-versions", "--kubernetes-version", kubernetesVersion, "--addon-name", name, "--region", region]);
    const subject = `${name} ${version}`;
    if (!answer.ok) return { subject, ok: false, detail: answer.error };
    const offered = ((answer.json as AddonVersions).addons ?? [])
      .filter((a) => a.addonName === name)
      .flatMap((a) => a.addonVersions ?? [])
      .filter((v) => (v.compatibilities ?? []).some((c) => c.clusterVersion === kubernetesVersion))
      .map((v) => v.addonVersion);
    return offered.includes(version)
      ? { subject, ok: true, detail: `offered for Kubernetes ${kubernetesVersion}` }
      : { subject, ok: false, detail: `not offered for Kubernetes ${kubernetesVersion}; offered: ${offered.slice(0, 5).join(", ") || "none"}` };
  });
}
