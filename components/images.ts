// Container images of the services: one ECR repository each, and the image built and pushed by @pulumi/docker-build.
//
// Repositories: immutable tags (a tag names one image forever, so a rollback is exact), scan on push, encrypted with
// KMS (the AWS-managed ECR key), and a lifecycle policy that expires untagged layers after a week and keeps the last
// `keepImages` tagged images.
//
// Images, one of two ways (docs/delivery.md#images):
//   - `digests` (the default in CI): the images workflow (.github/workflows/images.yml) built, scanned and pushed
//     them to these repositories; the program deploys `repositoryUrl@<digest>` and builds nothing.
//   - `build: true` (a first deploy from a laptop): built from the repository root (the npm workspace and its
//     lockfile live there) with `apps/<service>/Dockerfile`, for every architecture the NodePools may launch
//     (`karpenter.architectures`), as one multi-platform manifest. The tag is a hash of everything the build reads
//     (./image-inputs.ts), so that an unchanged build keeps its tag (no push, no rollout) and any change gets a new
//     one, which immutable tags require. Needs a BuildKit-capable Docker engine where `pulumi up` runs;
//     `pulumi preview` does not build (buildOnPreview false).
// Either way the deployments reference `repositoryUrl@digest`, never a tag, and `reference(service)` is the one
// place they (and the rendered workloads) take it from.
//
// Expects from its caller: the AWS provider, the architectures, and either `build` or a digest per service.
import path from "node:path";
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import type { Architecture } from "./config";
import { imageTag } from "./image-inputs";
import { DIGEST_PATTERN } from "./defaults/images";
export { DIGEST_PATTERN };

export interface ServiceImagesArgs {
  /** Services to build: each has `apps/<service>/Dockerfile`. */
  services: string[];
  /** CPU architectures of the nodes the images run on. Config `karpenter.architectures`. */
  architectures: Architecture[];
  /** ECR repository name prefix; the repository is `<prefix>/<service>`. E.g. the stack name. */
  repositoryPrefix: string;
  /** The repository root (build context). Default: the folder above components/. */
  contextPath?: string;
  /** Tagged images kept per repository. Default 30. */
  keepImages?: number;
  /** Days an untagged image is kept. Default 7. */
  untaggedExpiryDays?: number;
  /** `--build-arg` values for every service's build; part of the tag. Default none (the Dockerfiles' ARG defaults). Only with `build`. */
  buildArgs?: Record<string, string>;
  /**
   * Build and push the images in `pulumi up`. Default false: deploy `digests`. Conflicts with `digests`. Config
   * `images.build`.
   */
  build?: boolean;
  /**
   * Per service, the manifest digest (`sha256:<64 hex>`) of an image already pushed to the service's repository (by
   * the images workflow). Required for every service unless `build`; conflicts with it. Config `images.<service>`.
   */
  digests?: Record<string, string>;
}

export const IMAGES_DEFAULTS = {
  contextPath: path.resolve(__dirname, ".."),
  keepImages: 30,
  untaggedExpiryDays: 7,
  buildArgs: {} as Record<string, string>,
  build: false,
};

/**
 * The `app.kubernetes.io/version` of an image deployed by digest: the digest's algorithm and first 12 hex digits
 * (a label value holds at most 63 characters and no colon), enough to tell two rollouts apart.
 */
export function digestVersion(digest: string): string {
  return digest.replace(":", "-").slice(0, "sha256-".length + 12);
}

/** The argument checks, with their exact messages: one mode, and a valid digest for every service in digest mode. */
export function checkImagesArgs(args: Pick<ServiceImagesArgs, "services" | "architectures" | "build" | "digests" | "buildArgs">): void {
  const build = args.build ?? IMAGES_DEFAULTS.build;
  if (args.architectures.length === 0) throw new Error("ServiceImages: architectures must name at least one of arm64, amd64 (config karpenter.architectures)");
  if (build && args.digests !== undefined) throw new Error("ServiceImages: build and digests are exclusive: a built image deploys its own digest (config images.build, images.<service>)");
  if (!build && args.buildArgs !== undefined) throw new Error("ServiceImages: buildArgs applies only with build: true");
  if (build) return;
  const digests = args.digests ?? {};
  for (const service of args.services) {
    const digest = digests[service];
    if (digest === undefined || !DIGEST_PATTERN.test(digest))
      throw new Error(`ServiceImages: digests.${service} must be "sha256:" and 64 lower-case hex digits when build is false (config images.${service}; got ${JSON.stringify(digest ?? null)})`);
  }
  const extra = Object.keys(digests).filter((s) => !args.services.includes(s));
  if (extra.length > 0) throw new Error(`ServiceImages: digests names services that are not built here: ${extra.join(", ")} (services: ${args.services.join(", ")})`);
}

/** `arm64` → `linux/arm64`: the platform names BuildKit uses. */
export function platformFor(arch: Architecture): dockerBuild.Platform {
  return arch === "arm64" ? "linux/arm64" : "linux/amd64";
}

/** The ECR lifecycle policy document: untagged images expire, the newest tagged ones are kept. */
export function lifecyclePolicy(keepImages: number, untaggedExpiryDays: number) {
  return {
    rules: [
      {
        rulePriority: 1,
        description: `Expire untagged images after ${untaggedExpiryDays} days`,
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: untaggedExpiryDays },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        description: `Keep the ${keepImages} most recent images`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keepImages },
        action: { type: "expire" },
      },
    ],
  };
}

export interface BuiltImage {
  repository: aws.ecr.Repository;
  /** The image built in `pulumi up`; undefined when deployed by digest. */
  image?: dockerBuild.Image;
  /**
   * What `app.kubernetes.io/version` shows: the content tag pushed (`src-<hash>`) when built here, else
   * digestVersion(digest).
   */
  tag: string;
  /** The manifest digest deployed. */
  digest: pulumi.Output<string>;
  /** `<repositoryUrl>@sha256:...`: what a Deployment references. */
  reference: pulumi.Output<string>;
}

export class ServiceImages extends pulumi.ComponentResource {
  /** Per service: `<repositoryUrl>@<digest>`. */
  readonly references: Record<string, pulumi.Output<string>>;
  /** Per service: the manifest digest deployed (`sha256:...`). */
  readonly digests: Record<string, pulumi.Output<string>>;
  readonly repositoryUrls: Record<string, pulumi.Output<string>>;
  /** Per service: the repository's ARN (what the image push role may push to). */
  readonly repositoryArns: Record<string, pulumi.Output<string>>;
  /** Per service: the version label of the image (BuiltImage.tag). */
  readonly tags: Record<string, string>;

  constructor(name: string, args: ServiceImagesArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:images:ServiceImages", name, {}, opts);
    const contextPath = args.contextPath ?? IMAGES_DEFAULTS.contextPath;
    const keepImages = args.keepImages ?? IMAGES_DEFAULTS.keepImages;
    const untaggedExpiryDays = args.untaggedExpiryDays ?? IMAGES_DEFAULTS.untaggedExpiryDays;
    const buildArgs = args.buildArgs ?? IMAGES_DEFAULTS.buildArgs;
    const build = args.build ?? IMAGES_DEFAULTS.build;
    checkImagesArgs(args);
    const childOpts = { parent: this, provider: opts.provider };
    const platforms = [...new Set(args.architectures.map(platformFor))];

    const out: Record<string, BuiltImage> = {};
    for (const service of args.services) {
      const repository = new aws.ecr.Repository(
        `${name}-${service}`,
        {
          name: `${args.repositoryPrefix}/${service}`,
          imageTagMutability: "IMMUTABLE",
          imageScanningConfiguration: { scanOnPush: true },
          encryptionConfigurations: [{ encryptionType: "KMS" }],
          // Deleting the stack must not silently delete the images running pods reference.
          forceDelete: false,
        },
        childOpts,
      );
      new aws.ecr.LifecyclePolicy(`${name}-${service}`, { repository: repository.name, policy: JSON.stringify(lifecyclePolicy(keepImages, untaggedExpiryDays)) }, childOpts);

      if (!build) {
        // Pushed by the images workflow; checked by checkImagesArgs above.
        const digest = args.digests![service]!;
        out[service] = { repository, tag: digestVersion(digest), digest: pulumi.output(digest), reference: pulumi.interpolate`${repository.repositoryUrl}@${digest}` };
        continue;
      }

      // A short-lived token (12 h) fetched at each deployment; Pulumi stores it as a secret.
      const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, childOpts);
      const dockerfile = path.join(contextPath, "apps", service, "Dockerfile");
      const tag = imageTag({ contextPath, dockerfile, platforms, buildArgs });
      const image = new dockerBuild.Image(
        `${name}-${service}`,
        {
          context: { location: contextPath },
          dockerfile: { location: dockerfile },
          platforms,
          buildArgs,
          push: true,
          buildOnPreview: false,
          tags: [pulumi.interpolate`${repository.repositoryUrl}:${tag}`],
          registries: [{ address: repository.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) }],
        },
        { parent: this },
      );
      out[service] = { repository, image, tag, digest: image.digest, reference: pulumi.interpolate`${repository.repositoryUrl}@${image.digest}` };
    }

    const each = <T>(pick: (b: BuiltImage) => T) => Object.fromEntries(Object.entries(out).map(([s, b]) => [s, pick(b)]));
    this.references = each((b) => b.reference);
    this.digests = each((b) => b.digest);
    this.repositoryUrls = each((b) => b.repository.repositoryUrl);
    this.repositoryArns = each((b) => b.repository.arn);
    this.tags = each((b) => b.tag);
    this.registerOutputs();
  }

  /** The image reference of a service, or an error naming the services this component builds. */
  reference(service: string): pulumi.Output<string> {
    const found = this.references[service];
    if (!found) throw new Error(`ServiceImages: no image for "${service}" (built: ${Object.keys(this.references).join(", ")})`);
    return found;
  }
}
