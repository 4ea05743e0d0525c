// The IAM role the images workflow (.github/workflows/images.yml) assumes with GitHub's OIDC token to push the
// services' images to this stack's ECR repositories, and the account's IAM OIDC provider for GitHub Actions when
// the caller names no existing one. No long-lived key exists anywhere.
//
// Who: only workflow runs of one repository's `main` branch. GitHub's token carries `sub` =
// `repo:<owner>/<name>:ref:refs/heads/main` for a job on main that names no environment, and `aud` =
// `sts.amazonaws.com` as aws-actions/configure-aws-credentials requests it (GitHub docs "Configuring OpenID Connect
// in Amazon Web Services", "Example subject claims", read 2026-12-06). Both are matched exactly (StringEquals, no
// wildcard), so a pull request, another branch, a tag, an environment's job or a fork is refused.
//
// What: the ECR push actions on the two repositories' ARNs, plus ecr:GetAuthorizationToken, which has no resource
// type in IAM (the token is for the whole registry) and so can only be granted on "*" (Service Authorization
// Reference, Amazon ECR, read 2026-12-06); the token alone reads or writes nothing the repository actions do not allow.
//
// Expects from its caller: the AWS provider, the repositories' ARNs, the GitHub repository.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { GITHUB_REPOSITORY } from "./defaults/github";
export { GITHUB_REPOSITORY };

/** The issuer of GitHub Actions' OIDC tokens, and the IAM condition-key prefix AWS derives from it. */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
/** The audience aws-actions/configure-aws-credentials requests (its default `audience` input). */
export const GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com";
/** The branch whose runs may push: the images workflow pushes on push to main only. */
export const PUSH_BRANCH = "main";

/**
 * What pushing a multi-platform image with attestations needs, and nothing else: checking and uploading layers,
 * writing the manifests and the index (PutImage), and reading back a manifest (BatchGetImage: buildx checks the
 * manifests of the index it pushes). No delete, no policy or repository change, no pull of layers.
 * AWS's list for pushing an image (ECR user guide, "Pushing an image", IAM permissions, read 2026-12-06) plus
 * BatchGetImage.
 */
export const ECR_PUSH_ACTIONS = [
  "ecr:BatchCheckLayerAvailability",
  "ecr:BatchGetImage",
  "ecr:CompleteLayerUpload",
  "ecr:InitiateLayerUpload",
  "ecr:PutImage",
  "ecr:UploadLayerPart",
] as const;

export interface ImagePushRoleArgs {
  /** The ECR repositories' ARNs the role may push to (components/images.ts, `repositoryArns`). */
  repositoryArns: pulumi.Input<string>[];
  /** `owner/name` of the GitHub repository whose main branch pushes. Config `delivery.githubRepository`. */
  githubRepository: string;
  /**
   * ARN of an existing IAM OIDC provider for token.actions.githubusercontent.com. IAM allows one provider per URL in
   * an account, so a second stack in the same account names the first one's. Default: create it. Config
   * `delivery.githubOidcProviderArn`.
   */
  oidcProviderArn?: string;
  /** Longest session, in seconds. Default 3600 (a build of both images stays far below). */
  maxSessionDurationSeconds?: number;
}

export const IMAGE_PUSH_ROLE_DEFAULTS = { maxSessionDurationSeconds: 3600 };

/** The OIDC `sub` of a run on the push branch of a repository that names no environment. */
export const pushSubject = (githubRepository: string) => `repo:${githubRepository}:ref:refs/heads/${PUSH_BRANCH}`;

/** The trust policy: GitHub's token for that one repository's main branch, for STS, exactly. */
export function imagePushTrustPolicy(providerArn: string, githubRepository: string) {
  return {
    Version: "2012-10-17" as const,
    Statement: [
      {
        Sid: "GithubActionsMainBranch",
        Effect: "Allow" as const,
        Principal: { Federated: providerArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
            [`${GITHUB_OIDC_HOST}:sub`]: pushSubject(githubRepository),
          },
        },
      },
    ],
  };
}

/** The permission policy: the push actions on exactly these repositories, and the registry token. */
export function imagePushPolicy(repositoryArns: string[]) {
  return {
    Version: "2012-10-17" as const,
    Statement: [
      { Sid: "PushToTheServiceRepositories", Effect: "Allow" as const, Action: [...ECR_PUSH_ACTIONS], Resource: repositoryArns },
      // No resource type exists for this action: "*" is the only resource IAM accepts for it.
      { Sid: "RegistryLogin", Effect: "Allow" as const, Action: "ecr:GetAuthorizationToken", Resource: "*" },
    ],
  };
}

export class ImagePushRole extends pulumi.ComponentResource {
  readonly roleArn: pulumi.Output<string>;
  /** The OIDC provider trusted: the one created here, or the caller's. */
  readonly oidcProviderArn: pulumi.Output<string>;

  constructor(name: string, args: ImagePushRoleArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:images:ImagePushRole", name, {}, opts);
    const maxSessionDuration = args.maxSessionDurationSeconds ?? IMAGE_PUSH_ROLE_DEFAULTS.maxSessionDurationSeconds;
    if (!GITHUB_REPOSITORY.test(args.githubRepository))
      throw new Error(`ImagePushRole: githubRepository must be owner/name or owner@<id>/name@<id>, as GitHub's OIDC subject names it (got ${JSON.stringify(args.githubRepository)})`);
    if (args.repositoryArns.length === 0) throw new Error("ImagePushRole: repositoryArns must name at least one ECR repository");
    const childOpts = { parent: this, provider: opts.provider };

    this.oidcProviderArn =
      args.oidcProviderArn !== undefined
        ? pulumi.output(args.oidcProviderArn)
        : new aws.iam.OpenIdConnectProvider(
            `${name}-github`,
            // No thumbprint: IAM verifies GitHub's issuer through its own trusted root CAs (IAM user guide,
            // "Create an OpenID Connect (OIDC) identity provider", read 2026-12-06).
            { url: `https://${GITHUB_OIDC_HOST}`, clientIdLists: [GITHUB_OIDC_AUDIENCE] },
            childOpts,
          ).arn;

    const role = new aws.iam.Role(
      name,
      {
        // Auto-named like every role of the program: IAM names are account-wide, and the ARN is an output.
        description: `Pushes the service images from ${args.githubRepository} (branch ${PUSH_BRANCH}) to ECR`,
        assumeRolePolicy: this.oidcProviderArn.apply((arn) => JSON.stringify(imagePushTrustPolicy(arn, args.githubRepository))),
        maxSessionDuration,
      },
      childOpts,
    );
    new aws.iam.RolePolicy(name, { role: role.id, policy: pulumi.all(args.repositoryArns).apply((arns) => JSON.stringify(imagePushPolicy(arns))) }, childOpts);
    this.roleArn = role.arn;
    this.registerOutputs();
  }
}
