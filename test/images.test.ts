// Rebuild triggers: the image tag changes whenever anything the build reads changes (each file its Dockerfile copies,
// the Dockerfile and its ignore file, the platforms, the build arguments), and only then. ECR's tags are immutable:
// a changed build under an unchanged tag is refused at push, and an unchanged build under a new tag rolls out for
// nothing.
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { contextFiles, imageTag } from "../components/image-inputs";
import { ROOT } from "./program";

describe("the services' Dockerfiles", () => {
  const files = (service: string) => contextFiles(ROOT, path.join(ROOT, "apps", service, "Dockerfile"));

  test("ingest's inputs are what its Dockerfile copies, the processor's package.json, the event contract and the runtime included", () => {
    const ingest = files("ingest");
    expect(ingest.filter((f) => !f.startsWith("apps/ingest/src/") && !f.startsWith("packages/contract/src/") && !f.startsWith("packages/runtime/src/"))).toEqual([
      "apps/ingest/package.json",
      "apps/ingest/tsconfig.json",
      "apps/processor/package.json",
      "package-lock.json",
      "package.json",
      "packages/contract/package.json",
      "packages/contract/tsconfig.json",
      "packages/runtime/package.json",
      "packages/runtime/tsconfig.json",
      "tsconfig.base.json",
    ]);
    expect(ingest).toContain("apps/ingest/src/server.ts");
    // The shared contract is compiled into the image, so a change to it rebuilds both services; its tests and
    // corpus are not inputs.
    expect(ingest).toContain("packages/contract/src/rfc3339.ts");
    expect(ingest.some((f) => f.startsWith("packages/contract/test/") || f.startsWith("packages/contract/corpus/"))).toBe(false);
    // So is the shared runtime; its tests and test support are not.
    expect(ingest).toContain("packages/runtime/src/problem.ts");
    expect(ingest.some((f) => f.startsWith("packages/runtime/test/") || f.startsWith("packages/runtime/testing/"))).toBe(false);
    // Tests and benchmarks are neither copied nor in the context: editing them does not rebuild.
    expect(ingest.some((f) => f.startsWith("apps/ingest/test/") || f.startsWith("apps/ingest/bench/") || f.includes("node_modules"))).toBe(false);
  });

  test("the processor's inputs are what its Dockerfile copies: migrations, ingest's package.json, the event contract and the runtime included", () => {
    const processor = files("processor");
    expect(
      processor.filter((f) => !f.startsWith("apps/processor/src/") && !f.startsWith("apps/processor/migrations/") && !f.startsWith("packages/contract/src/") && !f.startsWith("packages/runtime/src/")),
    ).toEqual([
      "apps/ingest/package.json",
      "apps/processor/package.json",
      "apps/processor/tsconfig.json",
      "package-lock.json",
      "package.json",
      "packages/contract/package.json",
      "packages/contract/tsconfig.json",
      "packages/runtime/package.json",
      "packages/runtime/tsconfig.json",
      "tsconfig.base.json",
    ]);
    expect(processor).toContain("packages/contract/src/rfc3339.ts");
    expect(processor).toContain("packages/runtime/src/problem.ts");
    expect(processor.some((f) => f.startsWith("apps/processor/migrations/"))).toBe(true);
  });
});

describe("imageTag", () => {
  let context: string;
  const write = (file: string, content: string) => {
    mkdirSync(path.dirname(path.join(context, file)), { recursive: true });
    writeFileSync(path.join(context, file), content);
  };
  const DOCKERFILE = [
    "# syntax=docker/dockerfile:1",
    "FROM node:20 AS build",
    "COPY package.json package-lock.json ./",
    "COPY --chown=1000:1000 apps/a/package.json \\",
    "  # a comment inside a continued instruction",
    "  apps/b/package.json apps/",
    'COPY ["apps/a/tsconfig.json", "apps/a/"]',
    "COPY apps/a/src apps/a/src",
    "COPY apps/*/schema.json schemas/",
    "RUN --mount=type=bind,source=scripts/build.sh,target=/build.sh --mount=type=cache,target=/root/.npm sh /build.sh",
    "ADD https://example.com/ca.pem /ca.pem",
    "FROM gcr.io/distroless/nodejs20",
    "COPY --from=build /repo/dist /app/dist",
    "",
  ].join("\n");
  const base: { dockerfile: string; platforms: string[]; buildArgs: Record<string, string> } = { dockerfile: "apps/a/Dockerfile", platforms: ["linux/arm64", "linux/amd64"], buildArgs: { NODE_IMAGE: "node:20" } };
  const tag = (over: Partial<typeof base> = {}) => imageTag({ contextPath: context, ...base, ...over });

  beforeEach(() => {
    context = mkdtempSync(path.join(os.tmpdir(), "image-inputs-"));
    write("apps/a/Dockerfile", DOCKERFILE);
    write("apps/a/Dockerfile.dockerignore", ["*", "!package.json", "!package-lock.json", "!apps/*/package.json", "!apps/a/tsconfig.json", "!apps/a/src/**", "apps/a/src/**/*.test.ts", "!apps/*/schema.json", "!scripts/build.sh"].join("\n"));
    write("package.json", "{}");
    write("package-lock.json", "{}");
    write("apps/a/package.json", '{"name":"a"}');
    write("apps/b/package.json", '{"name":"b"}');
    write("apps/a/tsconfig.json", "{}");
    write("apps/a/src/index.ts", "export {};");
    write("apps/a/src/lib/util.ts", "export const x = 1;");
    write("apps/a/src/lib/util.test.ts", "test");
    write("apps/a/schema.json", "{}");
    write("apps/b/schema.json", "{}");
    write("scripts/build.sh", "echo build");
    write("apps/a/README.md", "docs");
    write("apps/b/src/index.ts", "export {};");
  });
  afterEach(() => rmSync(context, { recursive: true, force: true }));

  test("the inputs are every local COPY/ADD source and bind-mounted file, expanded and filtered by the ignore file", () => {
    expect(contextFiles(context, path.join(context, base.dockerfile))).toEqual([
      "apps/a/package.json",
      "apps/a/schema.json",
      "apps/a/src/index.ts",
      "apps/a/src/lib/util.ts",
      "apps/a/tsconfig.json",
      "apps/b/package.json",
      "apps/b/schema.json",
      "package-lock.json",
      "package.json",
      "scripts/build.sh",
    ]);
  });

  test.each([
    "package.json",
    "package-lock.json",
    "apps/a/package.json",
    "apps/b/package.json",
    "apps/a/tsconfig.json",
    "apps/a/src/index.ts",
    "apps/a/src/lib/util.ts",
    "apps/a/schema.json",
    "apps/b/schema.json",
    "scripts/build.sh",
    "apps/a/Dockerfile",
    "apps/a/Dockerfile.dockerignore",
  ])("changing %s changes the tag", (file) => {
    const before = tag();
    write(file, `${readFileSync(path.join(context, file), "utf8")}\n# changed`);
    expect(tag()).not.toBe(before);
  });

  test("a new file under a copied directory changes the tag; making a copied file executable does too", () => {
    const before = tag();
    write("apps/a/src/new.ts", "export {};");
    const added = tag();
    expect(added).not.toBe(before);
    chmodSync(path.join(context, "scripts/build.sh"), 0o755);
    expect(tag()).not.toBe(added);
  });

  test.each(["apps/a/README.md", "apps/b/src/index.ts", "apps/a/src/lib/util.test.ts"])("changing %s, which the build does not read, keeps the tag", (file) => {
    const before = tag();
    write(file, "changed");
    expect(tag()).toBe(before);
  });

  test("platforms and build arguments are inputs; the platforms' order is not", () => {
    const before = tag();
    expect(tag({ platforms: ["linux/amd64", "linux/arm64"] })).toBe(before);
    expect(tag({ platforms: ["linux/arm64"] })).not.toBe(before);
    expect(tag({ buildArgs: { NODE_IMAGE: "node:22" } })).not.toBe(before);
    expect(tag({ buildArgs: { NODE_IMAGE: "node:20", EXTRA: "1" } })).not.toBe(before);
    expect(tag()).toMatch(/^src-[0-9a-f]{16}$/);
  });

  test("the same build in another checkout gets the same tag", () => {
    const copy = mkdtempSync(path.join(os.tmpdir(), "image-inputs-copy-"));
    cpSync(context, copy, { recursive: true });
    try {
      expect(imageTag({ contextPath: copy, ...base })).toBe(tag());
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  test("a source the tag cannot resolve, or that matches nothing, is refused with the instruction named", () => {
    write("apps/a/Dockerfile", "FROM node:20\nARG APP\nCOPY apps/${APP}/src /src\n");
    expect(() => tag()).toThrow(new Error("image inputs: COPY apps/${APP}/src names a variable, which the tag cannot resolve; name the path"));
    write("apps/a/Dockerfile", "FROM node:20\nCOPY apps/a/missing.json /x\n");
    expect(() => tag()).toThrow(new Error(`image inputs: COPY apps/a/missing.json in ${path.join(context, "apps/a/Dockerfile")} matches no file of the build context`));
  });
});
