// Container images of the services: one ECR repository each, and the image built and pushed by @pulumi/docker-build.
//
// Repositories: immutable tags (a tag names one image forever, so a rollback is exact), scan on push, encrypted with
// KMS (the AWS-managed ECR key), and a lifecycle policy that expires untagged layers after a week and keeps the last
// `keepImages` tagged images.
//
// Images: built from the repository root (the npm workspace and its lockfile live there) with
// `apps/<service>/Dockerfile`, for every architecture the NodePools may launch (`karpenter.architectures`), as one
// multi-platform manifest. The tag is a hash of everything the build reads (./image-inputs.ts: each file the
// Dockerfile copies, read from the Dockerfile itself and filtered by its Dockerfile.dockerignore, the Dockerfile, the
// platforms and the build arguments), so that an unchanged build keeps its tag (no push, no rollout) and any change
// gets a new one, which immutable tags require. Deployments reference `repositoryUrl@digest`, never the tag.
//
// Expects from its caller: the AWS provider and the architectures. Needs a BuildKit-capable Docker engine where
// `pulumi up` runs (CI); `pulumi preview` does not build (buildOnPreview false).
import path from "node:path";
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import type { Architecture } from "./config";
import { imageTag } from "./image-inputs";

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
  /** `--build-arg` values for every service's build; part of the tag. Default none (the Dockerfiles' ARG defaults). */
  buildArgs?: Record<string, string>;
}

export const IMAGES_DEFAULTS = {
  contextPath: path.resolve(__dirname, ".."),
  keepImages: 30,
  untaggedExpiryDays: 7,
  buildArgs: {} as Record<string, string>,
};

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
  image: dockerBuild.Image;
  /** The content tag pushed (`src-<hash>`), also what `app.kubernetes.io/version` shows. */
  tag: string;
  /** `<repositoryUrl>@sha256:...`: what a Deployment references. */
  reference: pulumi.Output<string>;
}

export class ServiceImages extends pulumi.ComponentResource {
  /** Per service: `<repositoryUrl>@<digest>`. */
  readonly references: Record<string, pulumi.Output<string>>;
  readonly repositoryUrls: Record<string, pulumi.Output<string>>;
  /** Per service: the content tag of the image (see imageTag in ./image-inputs.ts). */
  readonly tags: Record<string, string>;

  constructor(name: string, args: ServiceImagesArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:images:ServiceImages", name, {}, opts);
    const built = createServiceImages(name, args, this, opts.provider);
    this.references = Object.fromEntries(Object.entries(built).map(([s, b]) => [s, b.reference]));
    this.repositoryUrls = Object.fromEntries(Object.entries(built).map(([s, b]) => [s, b.repository.repositoryUrl]));
    this.tags = Object.fromEntries(Object.entries(built).map(([s, b]) => [s, b.tag]));
    this.registerOutputs({ references: this.references, repositoryUrls: this.repositoryUrls, tags: this.tags });
  }

  /** The image reference of a service, or an error naming the services this component builds. */
  reference(service: string): pulumi.Output<string> {
    const found = this.references[service];
    if (!found) throw new Error(`ServiceImages: no image for "${service}" (built: ${Object.keys(this.references).join(", ")})`);
    return found;
  }
}

export function createServiceImages(name: string, args: ServiceImagesArgs, parent: pulumi.Resource, provider: aws.Provider): Record<string, BuiltImage> {
  const contextPath = args.contextPath ?? IMAGES_DEFAULTS.contextPath;
  const keepImages = args.keepImages ?? IMAGES_DEFAULTS.keepImages;
  const untaggedExpiryDays = args.untaggedExpiryDays ?? IMAGES_DEFAULTS.untaggedExpiryDays;
  const buildArgs = args.buildArgs ?? IMAGES_DEFAULTS.buildArgs;
  if (args.architectures.length === 0) throw new Error("ServiceImages: architectures must name at least one of arm64, amd64 (config karpenter.architectures)");
  const opts = { parent, provider };
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
      opts,
    );
    new aws.ecr.LifecyclePolicy(`${name}-${service}`, { repository: repository.name, policy: JSON.stringify(lifecyclePolicy(keepImages, untaggedExpiryDays)) }, opts);

    // A short-lived token (12 h) fetched at each deployment; Pulumi stores it as a secret.
    const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, opts);
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
      { parent },
    );
    out[service] = { repository, image, tag, reference: pulumi.interpolate`${repository.repositoryUrl}@${image.digest}` };
  }
  return out;
}
