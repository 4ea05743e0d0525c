// The processor's V8 flags (package.json config.nodeFlags) are the same wherever it starts: `npm start`, the
// image's CMD, `npm run local` and the benchmark read or repeat them. No services needed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { packageDir } from "./helpers.js";

const pkg = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8")) as { config: { nodeFlags: string }; scripts: { start: string } };
const flags = pkg.config.nodeFlags.split(" ").filter(Boolean);

test("a young generation of 64 MiB semi-spaces (docs/processor.md#benchmark)", () => {
  assert.deepEqual(flags, ["--max-semi-space-size=64"]);
});

test("npm start passes config.nodeFlags", () => {
  assert.equal(pkg.scripts.start, "node $npm_package_config_nodeFlags dist/src/server.js");
});

test("the image's CMD passes the same flags to node before the server", () => {
  const dockerfile = readFileSync(path.join(packageDir, "Dockerfile"), "utf8");
  const cmd = dockerfile.split("\n").filter((l) => l.startsWith("CMD "));
  assert.equal(cmd.length, 1);
  assert.deepEqual(JSON.parse((cmd[0] as string).slice(4)), [...flags, "dist/src/server.js"]);
});
