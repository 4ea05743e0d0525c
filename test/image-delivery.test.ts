// How the program gets its images (components/images.ts) and who may push them (components/image-push-role.ts):
// by digest from config (what CI deploys) or built in `pulumi up` (images.build, a first deploy from a laptop), the
// one reference every workload takes, the config checks with their exact messages, and the GitHub OIDC push role,
// its trust and permissions evaluated by the IAM simulator (test/iam-simulation.ts).
import { ECR_PUSH_ACTIONS, imagePushPolicy, imagePushTrustPolicy } from "../components/image-push-role";
import { checkImagesArgs, digestVersion } from "../components/images";
import { decide, decideWebIdentity, OTHER_ACCOUNT, programRoles, sessionOf, type Policy, type ProgramRole } from "./iam-simulation";
import { configProblems as problems, loadedConfig } from "./loaded-config";
import { ACCOUNT, type RecordingMocks } from "./mocks";
import { policies } from "../policy/pack";
import { programStack, runPack, runProgramForPolicies, stackPolicyConfig } from "./policy-harness";
import { BUILD_IMAGES, engineConfig, runProgram, TEST_IMAGE_DIGESTS, TEST_REGION } from "./program";

const GITHUB = "acme/eventstack";
const PUSH = { "eventstack:delivery.githubRepository": GITHUB };
const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;

describe("config: images by digest or built, never both, never neither", () => {
  const NO_DIGEST = (service: string) =>
    `eventstack:images.${service} must be the digest of the image to deploy ("sha256:<64 hex digits>", from the images workflow's image-digests.json) when images.build is false; set images.build to true to build it in pulumi up instead (got "")`;

  test("the digests the deploy workflow passes are accepted and reach the config", () => {
    expect(loadedConfig("dev").images).toEqual({ build: false, digests: TEST_IMAGE_DIGESTS, githubRepository: "", githubOidcProviderArn: "" });
    expect(loadedConfig("dev", BUILD_IMAGES).images).toEqual({ build: true, digests: { ingest: "", processor: "" }, githubRepository: "", githubOidcProviderArn: "" });
  });

  test("no digest and no build: each missing digest is named with where it comes from", () => {
    expect(problems({ "eventstack:images.ingest": "", "eventstack:images.processor": "" })).toEqual([NO_DIGEST("ingest"), NO_DIGEST("processor")]);
    expect(problems({ "eventstack:images.processor": "" })).toEqual([NO_DIGEST("processor")]);
  });

  test("a digest beside images.build is refused, not ignored", () => {
    expect(problems({ "eventstack:images.build": true })).toEqual([
      `eventstack:images.ingest must be empty when images.build is true (pulumi up builds the image and deploys its digest) (got "${TEST_IMAGE_DIGESTS.ingest}")`,
      `eventstack:images.processor must be empty when images.build is true (pulumi up builds the image and deploys its digest) (got "${TEST_IMAGE_DIGESTS.processor}")`,
    ]);
  });

  test.each([
    "sha256:abc",
    `sha256:${"A".repeat(64)}`,
    `sha512:${"a".repeat(64)}`,
    `123456789012.dkr.ecr.eu-west-1.amazonaws.com/eventstack-dev/ingest@sha256:${"a".repeat(64)}`,
    "src-0123456789abcdef",
  ])("%j is not a digest", (value) => {
    expect(problems({ "eventstack:images.ingest": value })).toEqual([
      `eventstack:images.ingest must be an image digest "sha256:" followed by 64 lower-case hex digits, or empty (got ${JSON.stringify(value)})`,
    ]);
  });

  test("the GitHub repository is owner/name; the provider ARN is GitHub's, and only with a repository", () => {
    expect(problems({ "eventstack:delivery.githubRepository": "https://github.com/acme/eventstack" })).toEqual([
      'eventstack:delivery.githubRepository must be a GitHub repository as its OIDC subject names it: owner/name (acme/eventstack) or, with immutable subject claims, owner@<id>/name@<id> (acme@123456/eventstack@789012); or empty (got "https://github.com/acme/eventstack")',
    ]);
    expect(problems({ "eventstack:delivery.githubRepository": "acme@123456/eventstack@789012" })).toEqual([]);
    expect(problems({ ...PUSH, "eventstack:delivery.githubOidcProviderArn": `arn:aws:iam::${ACCOUNT}:oidc-provider/accounts.google.com` })).toEqual([
      `eventstack:delivery.githubOidcProviderArn must be the ARN of the account's IAM OIDC provider for token.actions.githubusercontent.com, or empty (got "arn:aws:iam::${ACCOUNT}:oidc-provider/accounts.google.com")`,
    ]);
    expect(problems({ "eventstack:delivery.githubOidcProviderArn": PROVIDER_ARN })).toEqual([
      `eventstack:delivery.githubOidcProviderArn must be empty when delivery.githubRepository is empty (no image push role uses it) (got "${PROVIDER_ARN}")`,
    ]);
    expect(problems({ ...PUSH, "eventstack:delivery.githubOidcProviderArn": PROVIDER_ARN })).toEqual([]);
  });
});

describe("ServiceImages argument checks", () => {
  const base = { services: ["ingest", "processor"], architectures: ["arm64" as const] };
  test("exact messages for each conflict", () => {
    expect(() => checkImagesArgs({ ...base, build: true, digests: TEST_IMAGE_DIGESTS })).toThrow(
      new Error("ServiceImages: build and digests are exclusive: a built image deploys its own digest (config images.build, images.<service>)"),
    );
    expect(() => checkImagesArgs({ ...base, digests: { ingest: TEST_IMAGE_DIGESTS.ingest } })).toThrow(
      new Error('ServiceImages: digests.processor must be "sha256:" and 64 lower-case hex digits when build is false (config images.processor; got null)'),
    );
    expect(() => checkImagesArgs({ ...base, digests: { ...TEST_IMAGE_DIGESTS, audit: TEST_IMAGE_DIGESTS.ingest } })).toThrow(
      new Error("ServiceImages: digests names services that are not built here: audit (services: ingest, processor)"),
    );
    expect(() => checkImagesArgs({ ...base, digests: TEST_IMAGE_DIGESTS, buildArgs: { A: "1" } })).toThrow(new Error("ServiceImages: buildArgs applies only with build: true"));
    expect(() => checkImagesArgs({ ...base, digests: TEST_IMAGE_DIGESTS })).not.toThrow();
    expect(() => checkImagesArgs({ ...base, build: true })).not.toThrow();
  });

  test("a digest's version label fits a Kubernetes label value", () => {
    expect(digestVersion(TEST_IMAGE_DIGESTS.ingest)).toBe("sha256-1a1a1a1a1a1a");
    expect(digestVersion(TEST_IMAGE_DIGESTS.ingest)).toMatch(/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/);
  });
});

/** The image of a Rollout's (or the Job's) first container, and its version label. */
function podImage(mocks: RecordingMocks, type: string, name: string): { image: string; version: string } {
  const r = mocks.get(type, name).inputs;
  return { image: r.spec.template.spec.containers[0].image, version: r.metadata.labels["app.kubernetes.io/version"] };
}
const WORKLOADS = [
  ["ingest", "kubernetes:argoproj.io/v1alpha1:Rollout", "ingest-rollout"],
  ["processor", "kubernetes:argoproj.io/v1alpha1:Rollout", "processor-rollout"],
  ["processor", "kubernetes:batch/v1:Job", "migrate-job"],
] as const;

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  describe("deployed by digest (the default in CI)", () => {
    let mocks: RecordingMocks;
    let outputs: Record<string, any>;
    beforeAll(async () => {
      ({ mocks, outputs } = await runProgram(stack));
    });

    test("nothing is built; every workload runs <its repository>@<the configured digest>, labelled with the digest", () => {
      expect(mocks.ofType("docker-build:index:Image")).toEqual([]);
      for (const [service, type, name] of WORKLOADS) {
        const repositoryUrl = mocks.get("aws:ecr/repository:Repository", `images-${service}`).state.repositoryUrl;
        expect(repositoryUrl).toBe(`${ACCOUNT}.dkr.ecr.${TEST_REGION}.amazonaws.com/eventstack-${stack}/${service}`);
        expect(podImage(mocks, type, name)).toEqual({ image: `${repositoryUrl}@${TEST_IMAGE_DIGESTS[service]}`, version: digestVersion(TEST_IMAGE_DIGESTS[service]) });
      }
      expect(outputs.imageDigests).toEqual(TEST_IMAGE_DIGESTS);
      expect(outputs.ingestImage).toBe(podImage(mocks, "kubernetes:argoproj.io/v1alpha1:Rollout", "ingest-rollout").image);
    });

    test("without delivery.githubRepository there is no push role and no OIDC provider", () => {
      expect(mocks.ofType("aws:iam/openIdConnectProvider:OpenIdConnectProvider")).toEqual([]);
      expect(Object.keys(programRoles(mocks)).filter((r) => r.startsWith("image-push"))).toEqual([]);
      expect(outputs.imagePushRoleArn).toBeUndefined();
    });
  });

  describe("built in pulumi up (images.build)", () => {
    let mocks: RecordingMocks;
    let outputs: Record<string, any>;
    beforeAll(async () => {
      ({ mocks, outputs } = await runProgram(stack, BUILD_IMAGES));
    });

    test("each image is built for the stack's architectures, pushed, and deployed by the digest the build reports", () => {
      const architectures: string[] = JSON.parse(engineConfig(stack)["eventstack:karpenter.architectures"]!);
      for (const [service, type, name] of WORKLOADS) {
        const repositoryUrl = mocks.get("aws:ecr/repository:Repository", `images-${service}`).state.repositoryUrl;
        const image = mocks.get("docker-build:index:Image", `images-${service}`);
        expect(image.inputs).toMatchObject({ push: true, buildOnPreview: false, platforms: architectures.map((a) => `linux/${a}`) });
        const { image: ref, version } = podImage(mocks, type, name);
        expect(ref).toBe(`${repositoryUrl}@${image.state.digest}`);
        expect(image.inputs.tags).toEqual([`${repositoryUrl}:${version}`]);
        expect(outputs.imageDigests[service]).toBe(image.state.digest);
      }
    });
  });

  describe("the image push role (delivery.githubRepository)", () => {
    let mocks: RecordingMocks;
    let outputs: Record<string, any>;
    let role: ProgramRole;
    let repositories: Record<"ingest" | "processor", string>;
    beforeAll(async () => {
      ({ mocks, outputs } = await runProgram(stack, PUSH));
      role = programRoles(mocks)["image-push"]!;
      repositories = {
        ingest: mocks.get("aws:ecr/repository:Repository", "images-ingest").state.arn,
        processor: mocks.get("aws:ecr/repository:Repository", "images-processor").state.arn,
      };
    });

    test("the stack creates GitHub's OIDC provider for STS, without a thumbprint, and the role trusts exactly it", () => {
      const provider = mocks.get("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "image-push-github");
      expect(provider.inputs).toEqual({ url: "https://token.actions.githubusercontent.com", clientIdLists: ["sts.amazonaws.com"] });
      expect(role.trust).toEqual(imagePushTrustPolicy(provider.state.arn, GITHUB));
      expect(role.trust.Statement[0].Condition).toEqual({
        StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": "repo:acme/eventstack:ref:refs/heads/main" },
      });
      expect(outputs.imagePushRoleArn).toBe(role.arn);
      expect(role.managed).toEqual([]);
      expect(Object.values(role.inline)).toEqual([imagePushPolicy([repositories.ingest, repositories.processor])]);
    });

    test("main of the repository may assume it; a pull request, another branch, a tag, an environment, a fork, another audience or provider may not", () => {
      const providerArn = mocks.get("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "image-push-github").state.arn;
      const assume = (sub: string, aud = "sts.amazonaws.com", provider = providerArn) =>
        decideWebIdentity({ providerArn: provider, roleArn: role.arn, trust: role.trust, claims: { "token.actions.githubusercontent.com:sub": sub, "token.actions.githubusercontent.com:aud": aud } });
      expect(assume("repo:acme/eventstack:ref:refs/heads/main")).toBe("Allowed");
      expect({
        pullRequest: assume("repo:acme/eventstack:pull_request"),
        branch: assume("repo:acme/eventstack:ref:refs/heads/feature"),
        branchPrefix: assume("repo:acme/eventstack:ref:refs/heads/main-hotfix"),
        tag: assume("repo:acme/eventstack:ref:refs/tags/v1.0.0"),
        environment: assume("repo:acme/eventstack:environment:prod"),
        fork: assume("repo:mallory/eventstack:ref:refs/heads/main"),
        // The same names with ids (an immutable claim) are another subject: the configured form must be the emitted one.
        immutableForm: assume("repo:acme@123456/eventstack@789012:ref:refs/heads/main"),
        audience: assume("repo:acme/eventstack:ref:refs/heads/main", "https://github.com/acme"),
        otherProvider: assume("repo:acme/eventstack:ref:refs/heads/main", "sts.amazonaws.com", providerArn.replace(ACCOUNT, OTHER_ACCOUNT)),
      }).toEqual({
        pullRequest: "ImplicitlyDenied",
        branch: "ImplicitlyDenied",
        branchPrefix: "ImplicitlyDenied",
        tag: "ImplicitlyDenied",
        environment: "ImplicitlyDenied",
        fork: "ImplicitlyDenied",
        immutableForm: "ImplicitlyDenied",
        audience: "ImplicitlyDenied",
        otherProvider: "ImplicitlyDenied",
      });
    });

    const asRole = (action: string, resource: string) =>
      decide({ principal: sessionOf(role.arn), action, resource, context: { "aws:SecureTransport": "true" }, identity: Object.values(role.inline) as Policy[] });

    test("it pushes to both repositories of this stack and logs in to the registry", async () => {
      const cases = [...ECR_PUSH_ACTIONS.flatMap((a) => [`${a} ${repositories.ingest}`, `${a} ${repositories.processor}`]), "ecr:GetAuthorizationToken *"];
      const decisions = Object.fromEntries(await Promise.all(cases.map(async (c) => [c, await asRole(...(c.split(" ") as [string, string]))])));
      expect(decisions).toEqual(Object.fromEntries(cases.map((c) => [c, "Allowed"])));
    });

    test("no other repository, no deleting, no policy or lifecycle change, no pulling layers", async () => {
      const other = stack === "dev" ? "eventstack-prod" : "eventstack-dev";
      const cases: [string, string][] = [
        ["ecr:PutImage", repositories.ingest.replace(`eventstack-${stack}/`, `${other}/`)],
        ["ecr:PutImage", `arn:aws:ecr:${TEST_REGION}:${ACCOUNT}:repository/audit`],
        ["ecr:PutImage", repositories.ingest.replace(ACCOUNT, OTHER_ACCOUNT)],
        ["ecr:BatchDeleteImage", repositories.ingest],
        ["ecr:DeleteRepository", repositories.processor],
        ["ecr:SetRepositoryPolicy", repositories.ingest],
        ["ecr:PutLifecyclePolicy", repositories.ingest],
        ["ecr:PutImageTagMutability", repositories.ingest],
        ["ecr:GetDownloadUrlForLayer", repositories.ingest],
        ["ecr:CreateRepository", `arn:aws:ecr:${TEST_REGION}:${ACCOUNT}:repository/audit`],
      ];
      const decisions = Object.fromEntries(await Promise.all(cases.map(async ([a, r]) => [`${a} ${r}`, await asRole(a, r)])));
      expect(decisions).toEqual(Object.fromEntries(cases.map(([a, r]) => [`${a} ${r}`, "ImplicitlyDenied"])));
    });
  });

  test("the policy pack finds no mandatory violation with the push role and with images built in pulumi up", async () => {
    for (const overrides of [PUSH, BUILD_IMAGES]) {
      const { mocks, dependencies } = await runProgramForPolicies(stack, overrides);
      const violations = await runPack(policies, programStack(mocks, stack, dependencies), stackPolicyConfig(stack));
      expect([overrides, violations.filter((v) => v.enforcementLevel === "mandatory")]).toEqual([overrides, []]);
    }
  });

  test("with an existing provider (the account's second stack), no provider is created and the role trusts that one", async () => {
    const { mocks } = await runProgram(stack, { ...PUSH, "eventstack:delivery.githubOidcProviderArn": PROVIDER_ARN });
    expect(mocks.ofType("aws:iam/openIdConnectProvider:OpenIdConnectProvider")).toEqual([]);
    expect(programRoles(mocks)["image-push"]!.trust).toEqual(imagePushTrustPolicy(PROVIDER_ARN, GITHUB));
  });
});
