// What an image build reads, and the tag that names it: a hash over every input, so that ECR's immutable tags never
// meet a rebuild that differs under the same name (ECR refuses the push) and an unchanged build keeps its tag (no
// push, no rollout).
//
// The inputs are derived from the Dockerfile itself rather than listed beside it, so a COPY added to a Dockerfile
// cannot be forgotten here: every local source of COPY and ADD, and of RUN's bind mounts from the context, expanded
// to files and filtered by the build's ignore file (`<Dockerfile>.dockerignore`, which BuildKit reads instead of the
// context's `.dockerignore`), plus the Dockerfile, the ignore file, the platforms and the build arguments.
// Sources from another stage or image (`--from=`) are outputs of the same build, so they are covered already.
//
// Pure apart from reading the build context; no Pulumi. Semantics checked against moby/buildkit's Dockerfile
// reference (COPY, ADD, RUN --mount) and moby/patternmatcher (ignore files: last match wins, `!` re-includes, a
// pattern that matches a directory excludes what is under it), 2026-12-05.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export interface ImageBuildInputs {
  /** The build context (the directory sent to BuildKit). */
  contextPath: string;
  /** The Dockerfile, absolute or relative to the context. */
  dockerfile: string;
  /** Target platforms, e.g. ["linux/arm64"]; their order does not matter. */
  platforms: readonly string[];
  /** `--build-arg` values. Default none. */
  buildArgs?: Readonly<Record<string, string>>;
}

/** A local source the Dockerfile reads: a path or glob relative to the context. */
export interface ContextSource {
  instruction: "COPY" | "ADD" | "RUN --mount";
  source: string;
}

/** The Dockerfile's logical lines (continuations joined, comments dropped), with their keyword upper-cased. */
function instructions(dockerfile: string): { keyword: string; rest: string }[] {
  const lines = dockerfile.split(/\r?\n/);
  const escape = /^#\s*escape\s*=\s*(\S)/i.exec(lines.find((l) => /^#\s*escape\s*=/i.test(l)) ?? "")?.[1] ?? "\\";
  if (escape !== "\\") throw new Error(`image inputs: only the default escape character is supported (found "# escape=${escape}")`);
  const out: { keyword: string; rest: string }[] = [];
  let current = "";
  for (const line of lines) {
    // Comment lines are removed before continuations are joined, also inside a continued instruction.
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const m = /^\s*(\S+)\s*(.*)$/.exec(current);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), rest: m[2]! });
    current = "";
  }
  return out;
}

/** Splits `--flag=value ... args` (shell form) or `--flag=value ["a", "b"]` (JSON form) into flags and arguments. */
function flagsAndArgs(rest: string): { flags: string[]; args: string[] } {
  const flags: string[] = [];
  let remaining = rest.trim();
  for (let m = /^--(\S+)\s*/.exec(remaining); m; m = /^--(\S+)\s*/.exec(remaining)) {
    flags.push(m[1]!);
    remaining = remaining.slice(m[0].length);
  }
  if (remaining.startsWith("[")) {
    const parsed: unknown = JSON.parse(remaining);
    if (Array.isArray(parsed) && parsed.every((a) => typeof a === "string")) return { flags, args: parsed };
  }
  return { flags, args: remaining.split(/\s+/).filter((a) => a !== "") };
}

/** Every local source the Dockerfile reads from the build context. Throws on a source it cannot resolve. */
export function contextSources(dockerfile: string): ContextSource[] {
  const out: ContextSource[] = [];
  for (const { keyword, rest } of instructions(dockerfile)) {
    if (keyword === "COPY" || keyword === "ADD") {
      const { flags, args } = flagsAndArgs(rest);
      // From another stage, image or named context: not the local context.
      if (flags.some((f) => f.startsWith("from="))) continue;
      for (const source of args.slice(0, -1)) {
        // A heredoc's content is in the Dockerfile, which is hashed whole; a URL or git source is not local.
        if (source.startsWith("<<") || /^(https?:\/\/|git@|git:\/\/)/.test(source)) continue;
        if (source.includes("$")) throw new Error(`image inputs: ${keyword} ${source} names a variable, which the tag cannot resolve; name the path`);
        out.push({ instruction: keyword, source });
      }
    } else if (keyword === "RUN") {
      for (const flag of flagsAndArgs(rest).flags) {
        if (!flag.startsWith("mount=")) continue;
        const options = Object.fromEntries(
          flag
            .slice("mount=".length)
            .split(",")
            .map((kv) => {
              const [k, ...v] = kv.split("=");
              return [k!, v.join("=")];
            }),
        );
        // type defaults to bind, and a bind mount without `from` mounts the context (source defaults to its root).
        if ((options.type ?? "bind") !== "bind" || options.from !== undefined) continue;
        out.push({ instruction: "RUN --mount", source: options.source ?? options.src ?? "." });
      }
    }
  }
  return out;
}

/** A dockerignore pattern as a regular expression over slash-separated context paths (moby/patternmatcher). */
function patternRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      // `**` matches any number of directories, including none; `**/` at a boundary keeps the slash optional.
      i++;
      if (pattern[i + 1] === "/") {
        i++;
        re += "(?:.*/)?";
      } else re += ".*";
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** The ignore file's rules, in order; `exclude(p)` says whether context path `p` is left out of the context. */
export function dockerignore(text: string): { exclude: (file: string) => boolean } {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, "");
      return { negate, re: patternRegExp(pattern) };
    });
  return {
    exclude(file: string) {
      // A pattern matches a path or any directory above it; the last matching rule decides.
      const parts = file.split("/");
      const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
      let excluded = false;
      for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
      return excluded;
    },
  };
}

/** Every regular file under `dir` of the context, as slash-separated context paths. */
function filesUnder(contextPath: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const full = path.join(contextPath, rel);
    const stat = statSync(full, { throwIfNoEntry: false });
    if (stat?.isFile()) out.push(rel);
    else if (stat?.isDirectory()) for (const entry of readdirSync(full)) walk(rel === "." ? entry : path.posix.join(rel, entry));
  };
  walk(dir);
  return out;
}

/** The ignore file BuildKit applies: `<Dockerfile>.dockerignore` beside the Dockerfile, else the context's `.dockerignore`. */
export function ignoreFileFor(contextPath: string, dockerfilePath: string): string | undefined {
  return [`${dockerfilePath}.dockerignore`, path.join(contextPath, ".dockerignore")].find((f) => existsSync(f));
}

/**
 * The context files a build reads: each local source of the Dockerfile expanded (a directory to its files, a glob to
 * its matches) and filtered by the ignore file. Sorted, slash-separated, relative to the context. Throws when a
 * source matches nothing, as the build itself would.
 */
export function contextFiles(contextPath: string, dockerfilePath: string): string[] {
  const ignoreFile = ignoreFileFor(contextPath, dockerfilePath);
  const ignore = dockerignore(ignoreFile ? readFileSync(ignoreFile, "utf8") : "");
  const files = new Set<string>();
  for (const { instruction, source } of contextSources(readFileSync(dockerfilePath, "utf8"))) {
    const clean = path.posix.normalize(source).replace(/^\/+|\/+$/g, "") || ".";
    const re = patternRegExp(clean);
    // Walk only below the part of the source before its first wildcard, not the whole context (node_modules).
    const base = clean.split("/").filter((_, i, parts) => !parts.slice(0, i + 1).some((p) => /[*?[]/.test(p))).join("/") || ".";
    // A source names a file, a directory (everything under it) or a glob over either.
    const under = (f: string) => clean === "." || f.split("/").some((_, i, parts) => re.test(parts.slice(0, i + 1).join("/")));
    const matched = filesUnder(contextPath, base).filter((f) => under(f) && !ignore.exclude(f));
    if (matched.length === 0) throw new Error(`image inputs: ${instruction} ${source} in ${dockerfilePath} matches no file of the build context`);
    for (const f of matched) files.add(f);
  }
  return [...files].sort();
}

/**
 * `src-<16 hex>`: a SHA-256 over the Dockerfile, its ignore file, each context file it reads (path, executable bit
 * and content), the platforms and the build arguments. Changing any of them changes the tag.
 */
export function imageTag(inputs: ImageBuildInputs): string {
  const dockerfilePath = path.resolve(inputs.contextPath, inputs.dockerfile);
  const ignoreFile = ignoreFileFor(inputs.contextPath, dockerfilePath);
  const hash = createHash("sha256");
  const field = (name: string, value: string | Buffer) => hash.update(name).update("\0").update(value).update("\0");
  field("dockerfile", readFileSync(dockerfilePath));
  field("dockerignore", ignoreFile ? readFileSync(ignoreFile) : "");
  for (const platform of [...new Set(inputs.platforms)].sort()) field("platform", platform);
  for (const [name, value] of Object.entries(inputs.buildArgs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) field(`arg:${name}`, value);
  for (const file of contextFiles(inputs.contextPath, dockerfilePath)) {
    const full = path.join(inputs.contextPath, file);
    field(`file:${file}:${statSync(full).mode & 0o111 ? "x" : "-"}`, readFileSync(full));
  }
  return `src-${hash.digest("hex").slice(0, 16)}`;
}
